import Foundation
import HTTPServer
import Logging
import Service
import Testing

/// openapi.json against the code: the routes the service registers are exactly the documented
/// operations, every path template's parameters are declared, operationIds are unique, every `$ref`
/// resolves, and the service serves this very file. (Tests/Interop/check_openapi.py validates the
/// document against the OpenAPI 3.1 schema with openapi-spec-validator.)
@Suite("OpenAPI document")
struct OpenAPITests {
    /// The document as committed: Tests/ServiceTests/ → ../../Sources/Service/Resources/openapi.json.
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Service/Resources/openapi.json")

    /// Path-item keys that are operations (OpenAPI 3.1 §4.8.9); the rest (`parameters`, `summary`, …) are not.
    static let operationKeys: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    struct Operation: Hashable, CustomStringConvertible {
        let method: String  // lowercase, as OpenAPI spells it
        let path: String
        var description: String { "\(method.uppercased()) \(path)" }
    }

    // MARK: Checks

    @Test("every registered route is documented and every documented operation is registered")
    func routesEqualPaths() async throws {
        let document = try Self.document()
        let registered = try await Self.withService { $0.registeredRoutes }
        let routes = registered.map { Operation(method: $0.method.lowercased(), path: $0.path) }
        #expect(!routes.isEmpty)
        #expect(Set(routes).count == routes.count, "a route is registered twice: \(routes)")

        let documented = Set(try Self.operations(document).map(\.operation))
        let undocumented = Set(routes).subtracting(documented).map(\.description).sorted()
        let unregistered = documented.subtracting(routes).map(\.description).sorted()
        #expect(undocumented.isEmpty, "registered but not in openapi.json: \(undocumented)")
        #expect(unregistered.isEmpty, "in openapi.json but not registered: \(unregistered)")
        // GET routes answer HEAD by themselves (HTTPRouter); the document lists GET only.
        #expect(!documented.contains { $0.method == "head" })
    }

    @Test("every path template parameter is declared, required, by the operation or its path item")
    func pathParametersDeclared() throws {
        let document = try Self.document()
        for (operation, item, body) in try Self.operations(document) {
            let declared = try ((item["parameters"] as? [Any] ?? []) + (body["parameters"] as? [Any] ?? []))
                .map { try Self.dereference($0, in: document) }
                .filter { $0["in"] as? String == "path" }
            let declaredNames = Set(declared.compactMap { $0["name"] as? String })
            let templateNames = Self.templateParameters(operation.path)
            #expect(!templateNames.isEmpty || !operation.path.contains("{"), "\(operation): unbalanced braces")
            for name in templateNames {
                #expect(declaredNames.contains(name), "\(operation): {\(name)} is not declared in parameters")
            }
            for parameter in declared {
                let name = parameter["name"] as? String ?? "?"
                #expect(templateNames.contains(name), "\(operation): path parameter \(name) is not in the template")
                #expect(parameter["required"] as? Bool == true, "\(operation): path parameter \(name) must be required")
            }
        }
    }

    @Test("operationIds are present and unique")
    func operationIDsUnique() throws {
        let document = try Self.document()
        var seen: [String: Operation] = [:]
        let operations = try Self.operations(document)
        #expect(!operations.isEmpty)
        for (operation, _, body) in operations {
            let id = try #require(body["operationId"] as? String, "\(operation) has no operationId")
            #expect(!id.isEmpty, "\(operation) has an empty operationId")
            if let other = seen[id] {
                Issue.record("operationId \(id) is used by \(other) and \(operation)")
            }
            seen[id] = operation
        }
    }

    @Test("every $ref resolves to a node of the document")
    func referencesResolve() throws {
        let document = try Self.document()
        var references: [(ref: String, at: String)] = []
        Self.collectReferences(document, at: "#", into: &references)
        #expect(references.count > 0)
        for (ref, at) in references {
            #expect(Self.resolve(ref, in: document) != nil, "\(ref) (at \(at)) does not resolve")
        }
    }

    @Test("GET /openapi.json serves this file, byte for byte")
    func servesTheDocument() async throws {
        let expected = try Array(Data(contentsOf: Self.documentURL))
        let response = try await Self.withService { service in
            try await service.makeHandler().handle(HTTPRequest(head: HTTPRequestHead(method: .get, target: "/openapi.json")))
        }
        #expect(response.status.code == 200)
        #expect(response.headers["Content-Type"] == "application/json")
        guard case let .bytes(served) = response.body else {
            Issue.record("GET /openapi.json answered a \(response.body) body, not bytes")
            return
        }
        // Compared as one Bool so a mismatch reports sizes, not two 70 kB byte arrays.
        let identical = served == expected
        #expect(identical, "the embedded openapi.json (\(served.count) bytes) differs from the file (\(expected.count) bytes); rebuild the Service module")
    }

    @Test("the resolver and template reader catch what they should", arguments: [
        ("#/components/schemas/Problem", true),
        ("#/components/schemas/NoSuchSchema", false),
        ("#/paths/~1healthz/get", true),
        ("#/paths/~1healthz/get/responses/999", false),
        ("other.json#/components/schemas/Problem", false),
    ])
    func resolverRejectsDanglingReferences(ref: String, resolves: Bool) throws {
        let document = try Self.document()
        #expect((Self.resolve(ref, in: document) != nil) == resolves)
        #expect(Self.templateParameters("/v1/adapters/{ref}/squeezed/{rank}/{file}") == ["ref", "rank", "file"])
    }

    // MARK: Helpers

    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: documentURL)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any],
                            "openapi.json is not a JSON object")
    }

    /// Each operation with its path item and its own object.
    static func operations(_ document: [String: Any]) throws -> [(operation: Operation, item: [String: Any], body: [String: Any])] {
        let paths = try #require(document["paths"] as? [String: Any], "openapi.json has no paths object")
        var out: [(Operation, [String: Any], [String: Any])] = []
        for (path, value) in paths.sorted(by: { $0.key < $1.key }) {
            let item = try #require(value as? [String: Any], "paths[\(path)] is not an object")
            for (key, body) in item where operationKeys.contains(key) {
                out.append((Operation(method: key, path: path), item, try #require(body as? [String: Any])))
            }
        }
        return out
    }

    /// `{name}` segments of a path template, in order.
    static func templateParameters(_ path: String) -> [String] {
        var names: [String] = []
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    static func collectReferences(_ node: Any, at pointer: String, into out: inout [(ref: String, at: String)]) {
        if let object = node as? [String: Any] {
            if let ref = object["$ref"] as? String { out.append((ref, pointer)) }
            for (key, value) in object {
                let token = key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                collectReferences(value, at: pointer + "/" + token, into: &out)
            }
        } else if let array = node as? [Any] {
            for (i, value) in array.enumerated() { collectReferences(value, at: "\(pointer)/\(i)", into: &out) }
        }
    }

    /// The node a local reference (`#/a/b~1c`, RFC 6901) points at, or nil.
    static func resolve(_ ref: String, in document: [String: Any]) -> Any? {
        if ref == "#" { return document }
        guard ref.hasPrefix("#/") else { return nil }
        var node: Any = document
        for raw in ref.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = node as? [String: Any], let next = object[token] {
                node = next
            } else if let array = node as? [Any], let i = Int(token), array.indices.contains(i) {
                node = array[i]
            } else {
                return nil
            }
        }
        return node
    }

    /// Follows `$ref`s to the object they name.
    static func dereference(_ node: Any, in document: [String: Any]) throws -> [String: Any] {
        var current = node
        for _ in 0..<16 {
            let object = try #require(current as? [String: Any], "a parameter is not an object")
            guard let ref = object["$ref"] as? String else { return object }
            current = try #require(resolve(ref, in: document), "\(ref) does not resolve")
        }
        throw ReferenceCycle(start: "\(node)")
    }

    struct ReferenceCycle: Error { let start: String }

    /// A service on a fresh data directory, closed and removed afterwards.
    static func withService<T>(_ body: (AdapterService) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("openapi-tests-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try AdapterService(configuration: ServiceConfiguration(dataDirectory: directory),
                                         logger: Logger(label: "test"))
        defer { service.close() }
        return try await body(service)
    }
}
