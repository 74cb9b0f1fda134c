import HTTPServer
import Store

/// Who is making a request, as authentication found it: the token (nil for an open route, or with
/// authentication off), the scope it grants, and the namespace it is limited to.
struct Caller: Sendable {
    let token: TokenRecord?
    let scope: TokenScope?
    /// When set, the caller sees and acts only on adapters with a name in `namespace/`.
    var namespace: String? { token?.namespace }

    /// An open route's caller: no token was asked for.
    static let anonymous = Caller(token: nil, scope: nil)
    /// With `--auth off`: everyone may do everything.
    static let unrestricted = Caller(token: nil, scope: .admin)

    /// Whether the caller may see this adapter: always without a namespace, else when one of its
    /// names lies in the namespace.
    func sees(_ record: AdapterRecord) -> Bool {
        guard let namespace else { return true }
        return record.names.contains { $0.isIn(namespace: namespace) }
    }

    /// The adapter's names the caller may see.
    func visibleNames(_ record: AdapterRecord) -> [AdapterName] { visible(record.names) }

    /// Of `names` (an adapter's), those the caller may see.
    func visible(_ names: [AdapterName]) -> [AdapterName] {
        guard let namespace else { return names }
        return names.filter { $0.isIn(namespace: namespace) }
    }

    /// The record as the caller may see it: its names outside the namespace left out.
    func view(_ record: AdapterRecord) -> AdapterRecord {
        var shown = record
        shown.names = visibleNames(record)
        return shown
    }

    /// For what a caller creates (an upload, an extracted adapter): a caller limited to a namespace
    /// must name it there (403 `outside-namespace` without a name, or with one outside); `how` says
    /// where the name goes (`?name=`).
    func requireCreatedName(_ name: AdapterName?, how: String) throws {
        guard let namespace else { return }
        guard let name else {
            throw HTTPError(.forbidden, type: "outside-namespace",
                            detail: "this token is limited to the namespace \"\(namespace)\": name it with \(how)\(namespace)/<name>")
        }
        try requireNameAllowed(name)
    }

    /// Refuses (403 `outside-namespace`) to create, move or remove a name outside the namespace.
    func requireNameAllowed(_ name: AdapterName) throws {
        guard let namespace, !name.isIn(namespace: namespace) else { return }
        throw HTTPError(.forbidden, type: "outside-namespace",
                        detail: "this token is limited to the namespace \"\(namespace)\": names it creates or changes must be \(namespace)/<name>, not \"\(name)\"")
    }
}
