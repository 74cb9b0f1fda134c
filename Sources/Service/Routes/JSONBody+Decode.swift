import AdapterFormats
import Foundation

extension JSONBody {
    /// Decodes a request body, refusing it with a 400 `invalid-body` whose detail names the field at
    /// fault in the API's words (never Swift's type names) after `expected`, an example of the form.
    /// The body is first read by the strict parser uploads use (`JSONValue.parse`: a key twice, bad
    /// UTF-8 or a syntax error is named with its offset), then decoded.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], expected: String) throws -> T {
        do { _ = try JSONValue.parse(bytes) } catch {
            throw ServiceError.badRequest("the body \(error.description); the body must be JSON like \(expected)", type: "invalid-body")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw ServiceError.badRequest("\(describe(error)); the body must be JSON like \(expected)", type: "invalid-body")
        }
    }

    /// What is wrong with a JSON body, from a decoding error.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as NullField:
            return "\"\(e.name)\" must not be null (leave it out instead)"
        case let DecodingError.keyNotFound(key, context):
            return "\"\(path(context.codingPath + [key]))\" is required"
        case let DecodingError.typeMismatch(type, context):
            return "\"\(path(context.codingPath))\" must be \(kind(type))"
        case let DecodingError.valueNotFound(_, context):
            return "\"\(path(context.codingPath))\" must not be null"
        case let DecodingError.dataCorrupted(context):
            if !context.codingPath.isEmpty { return "\"\(path(context.codingPath))\" is out of range or not valid" }
            // The strict parser accepted the document, so Foundation refused a number too large for
            // its field (it says "not valid JSON", without the field's name).
            return "a number in the body is out of range for its field"
        default:
            return "the body cannot be read as JSON"
        }
    }

    /// A key that is present with `null`, where the API wants the key left out.
    struct NullField: Error {
        let name: String
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key.intValue { out += "[\(index)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
        }
        return out.isEmpty ? "(the body)" : out
    }

    private static func kind(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.contains("Int") { return "an integer" }
        if name.contains("Double") || name.contains("Float") { return "a number" }
        if name.contains("String") { return "a string" }
        if name.contains("Bool") { return "true or false" }
        if name.contains("Array") { return "an array" }
        if name.contains("Dictionary") { return "an object" }
        return "of another type"
    }
}

extension KeyedDecodingContainer where Key: CaseIterable {
    /// Refuses (`JSONBody.NullField`) a known key given as `null`: the request bodies have no nullable
    /// field, and a `null` beside another field that says the same thing would be ambiguous.
    func refuseNulls() throws {
        for key in Key.allCases where contains(key) {
            if try decodeNil(forKey: key) { throw JSONBody.NullField(name: key.stringValue) }
        }
    }
}
