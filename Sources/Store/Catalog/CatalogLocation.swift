/// Where the catalog's rows live, as `--catalog` names it: `sqlite` (the file in the data
/// directory, the default), `sqlite:PATH` (a SQLite file elsewhere), or a PostgreSQL URL
/// (`postgresql://user@host:port/db?sslmode=…`, or `postgres://…`) that replicas share.
public enum CatalogLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file: `path`, or `catalog.sqlite` in the data directory when nil.
    case sqlite(path: String?)
    /// A PostgreSQL database, by libpq connection URL.
    case postgres(url: String)

    /// The accepted forms, for error messages.
    public static let forms = "sqlite, sqlite:PATH, or a postgresql:// URL"

    /// Parses `--catalog`'s value; throws `CatalogError.invalidConfiguration` naming the forms.
    public init(parsing text: String) throws {
        if text == "sqlite" {
            self = .sqlite(path: nil)
        } else if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty, !path.utf8.contains(0) else {
                throw CatalogError.invalidConfiguration("sqlite: needs a file path after it (sqlite:/var/lib/lora/catalog.sqlite)")
            }
            self = .sqlite(path: path)
        } else if PostgresDatabase.Configuration.isPostgresURL(text) {
            self = .postgres(url: text)
        } else {
            throw CatalogError.invalidConfiguration("\(quoted(PostgresDatabase.Configuration.redacted(text))) is not a catalog: expected \(Self.forms)")
        }
    }

    /// True for PostgreSQL: the catalog, and so the blob directory, is shared with other replicas.
    public var isShared: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// For logs: the SQLite path, or the URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite at \(path ?? "DATA/catalog.sqlite")"
        case .postgres(let url): "PostgreSQL at \(PostgresDatabase.Configuration.redacted(url))"
        }
    }
}
