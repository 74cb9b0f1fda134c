import Foundation
import Store

/// Throwaway schemas on the test cluster (`LORA_SQUEEZE_TEST_POSTGRES`): one per fixture, so suites
/// running in parallel never see each other's rows, and each catalog's advisory locks (keyed by
/// database and schema) are its own.
enum PostgresTestSchemas {
    /// A connection to the cluster's default schema, for creating and dropping the others.
    static let admin: PostgresDatabase? = {
        guard let url = CatalogFixture.postgresURL else { return nil }
        do { return try PostgresDatabase(configuration: .init(url: url, poolSize: 2), logger: makeLogger()) } catch {
            fatalError("LORA_SQUEEZE_TEST_POSTGRES=\(url) is set but unreachable: \(error)")
        }
    }()

    /// Creates a fresh, empty schema and returns its name.
    static func create() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        guard let admin else { throw PostgresError.invalidConfiguration("no test cluster") }
        try admin.withConnection { try $0.execute("CREATE SCHEMA \(name)") }
        return name
    }

    /// Drops a schema and everything in it.
    static func drop(_ name: String) {
        _ = try? admin?.withConnection { try $0.execute("DROP SCHEMA IF EXISTS \(name) CASCADE") }
    }

    /// `url` with `schema` first on the search path (libpq's `options` parameter).
    static func url(_ url: String, schema: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
    }
}
