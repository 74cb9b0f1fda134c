// libFuzzer entry for FormBody (the dashboard's application/x-www-form-urlencoded forms). Built by
// Fuzz/run.sh with Sources/HTTPServer/Request/FormBody.swift and the parser sources it uses
// (Parser/HTTPByteClass.swift for ASCII, Parser/PercentDecoding.swift), so no Package.swift target.
//
// Input: byte 0 bit 0 picks a small field limit (3) so the limit path is reached by short inputs;
// the rest is the body. Invariants, besides no trap and no sanitizer report:
//   - a parsed form has at most its limit of fields, and only `tooManyFields` names that limit;
//   - re-encoding the fields (every byte but unreserved ones as %XX) and parsing again gives the same
//     fields: what was decoded is exactly what the body said.

func encode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(UnicodeScalar(byte))
        default:
            let hex = Array("0123456789ABCDEF")
            out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = input[0] & 1 == 1 ? 3 : FormBody.maxFields
    let body = input.dropFirst()
    let form: FormBody
    do throws(FormBodyError) {
        form = try FormBody(parsing: body, maxFields: limit)
    } catch {
        if case .tooManyFields(let named) = error, named != limit { fatalError("tooManyFields names \(named), not \(limit)") }
        return 0
    }
    if form.fields.count > limit { fatalError("\(form.fields.count) fields past the limit \(limit)") }
    let again = form.fields.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    guard let reparsed = try? FormBody(parsing: Array(again.utf8), maxFields: limit) else {
        fatalError("the re-encoded form does not parse: \(again)")
    }
    if reparsed != form { fatalError("round trip changed the fields: \(form.fields) → \(reparsed.fields)") }
    return 0
}
