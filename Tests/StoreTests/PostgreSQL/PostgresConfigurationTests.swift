import Foundation
import Testing
@testable import Store

/// A TCP port on 127.0.0.1 that nothing listens on: bound to port 0 to get a free one, then closed.
func closedLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `PostgresDatabase.Configuration`: each limit at its bound and one past. `PostgresDatabase.init`
/// validates before it connects, so a refused value throws `.invalidConfiguration` even with nothing
/// listening at the URL; an accepted one gets past validation and fails to connect (`.connect`)
/// instead. No server needed.
@Suite("PostgresDatabase.Configuration: limits, URLs, redaction")
struct PostgresConfigurationTests {
    typealias Configuration = PostgresDatabase.Configuration

    /// A URL nothing answers at (port 1 on loopback refuses at once).
    static let unreachable = "postgresql://lora@127.0.0.1:1/catalog"

    /// The message of the `.invalidConfiguration` that `init` throws, or nil (recording an issue) if it
    /// threw something else or nothing.
    func refusal(_ configuration: Configuration, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            _ = try PostgresDatabase(configuration: configuration, logger: makeLogger())
            Issue.record("accepted \(configuration)", sourceLocation: sourceLocation)
        } catch PostgresError.invalidConfiguration(let message) {
            return message
        } catch {
            Issue.record("expected .invalidConfiguration, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// Checks `validate()` accepts `configuration`, and that `init` gets past validation to the connect.
    func expectAccepted(_ configuration: Configuration, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: Never.self, sourceLocation: sourceLocation) { try configuration.validate() }
        do {
            _ = try PostgresDatabase(configuration: configuration, logger: makeLogger())
            Issue.record("connected to \(configuration.url)", sourceLocation: sourceLocation)
        } catch PostgresError.connect {
            // Validated, then refused by the closed port: what an accepted value should reach.
        } catch {
            Issue.record("expected .connect after validation, got \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: poolSize

    @Test("poolSize 1 and maxPoolSize are accepted", arguments: [1, Configuration.maxPoolSize])
    func poolSizeAccepted(_ size: Int) {
        expectAccepted(Configuration(url: Self.unreachable, poolSize: size))
    }

    @Test("poolSize 0, maxPoolSize + 1 and negative sizes are refused",
          arguments: [0, Configuration.maxPoolSize + 1, -1, Int.min, Int.max])
    func poolSizeRefused(_ size: Int) {
        let message = refusal(Configuration(url: Self.unreachable, poolSize: size))
        #expect(message?.contains("poolSize \(size)") == true)
    }

    // MARK: timeouts

    enum TimeoutField: String, CaseIterable, Sendable {
        case checkoutTimeout, lockTimeout, maxBackoff

        func configuration(_ value: Duration) -> Configuration {
            var configuration = Configuration(url: PostgresConfigurationTests.unreachable)
            switch self {
            case .checkoutTimeout: configuration.checkoutTimeout = value
            case .lockTimeout: configuration.lockTimeout = value
            case .maxBackoff: configuration.maxBackoff = value
            }
            return configuration
        }
    }

    @Test("timeouts at 0 and at maxTimeout are accepted",
          arguments: TimeoutField.allCases, [Duration.zero, Configuration.maxTimeout])
    func timeoutAccepted(_ field: TimeoutField, _ value: Duration) {
        expectAccepted(field.configuration(value))
    }

    @Test("timeouts 1 ns below 0 and 1 ns past maxTimeout are refused, naming the field",
          arguments: TimeoutField.allCases,
          [Duration.nanoseconds(-1), Configuration.maxTimeout + .nanoseconds(1), .seconds(-3600), .seconds(Int64.max)])
    func timeoutRefused(_ field: TimeoutField, _ value: Duration) {
        let message = refusal(field.configuration(value))
        #expect(message?.hasPrefix(field.rawValue + " ") == true, "\(message ?? "nil")")
    }

    // MARK: connectTimeoutSeconds

    @Test("connectTimeoutSeconds 1 and 3600 are accepted", arguments: [1, 3600])
    func connectTimeoutAccepted(_ seconds: Int) {
        expectAccepted(Configuration(url: Self.unreachable, connectTimeoutSeconds: seconds))
    }

    @Test("connectTimeoutSeconds 0, 3601 and negative values are refused", arguments: [0, 3601, -1, Int.min, Int.max])
    func connectTimeoutRefused(_ seconds: Int) {
        let message = refusal(Configuration(url: Self.unreachable, connectTimeoutSeconds: seconds))
        #expect(message?.contains("connectTimeoutSeconds \(seconds)") == true)
    }

    // MARK: applicationName (PostgreSQL keeps NAMEDATALEN - 1 = 63 bytes)

    @Test("applicationName up to 63 bytes is accepted, counting bytes not characters",
          arguments: ["", "replica-a", String(repeating: "a", count: 63), String(repeating: "é", count: 31) + "a"])
    func applicationNameAccepted(_ name: String) {
        #expect(name.utf8.count <= 63)
        expectAccepted(Configuration(url: Self.unreachable, applicationName: name))
    }

    @Test("applicationName of 64 bytes, or holding NUL, is refused",
          arguments: [String(repeating: "a", count: 64), String(repeating: "é", count: 32), "a\u{0}b", "\u{0}", "replica\u{0}"])
    func applicationNameRefused(_ name: String) {
        let message = refusal(Configuration(url: Self.unreachable, applicationName: name))
        #expect(message?.contains("applicationName") == true)
    }

    // MARK: URLs

    @Test("postgresql:// and postgres:// URLs are accepted",
          arguments: ["postgresql://127.0.0.1:1/catalog", "postgres://127.0.0.1:1/catalog",
                      "postgresql://lora:secret@127.0.0.1:1/catalog?sslmode=disable&application_name=x"])
    func urlAccepted(_ url: String) {
        expectAccepted(Configuration(url: url))
    }

    @Test("forms libpq reads as URIs pass validation", arguments: ["postgresql://", "postgresql:///catalog?host=/nonexistent"])
    func urlValidatesWithoutHost(_ url: String) throws {
        try Configuration(url: url).validate()
        #expect(Configuration.isPostgresURL(url))
    }

    @Test("anything that is not a postgresql:// or postgres:// URL is refused",
          arguments: ["", "sqlite:///var/lib/lora/catalog.sqlite", "sqlite:catalog.sqlite", "http://127.0.0.1:1/catalog",
                      "https://db.example/catalog", "POSTGRESQL://127.0.0.1:1/catalog", " postgresql://127.0.0.1:1/catalog",
                      "postgresql:/127.0.0.1/catalog", "postgresql:127.0.0.1", "postgre://127.0.0.1/catalog",
                      "host=127.0.0.1 port=1 dbname=catalog", "/var/lib/lora/catalog.sqlite"])
    func urlRefused(_ url: String) {
        #expect(!Configuration.isPostgresURL(url))
        let message = refusal(Configuration(url: url))
        #expect(message?.contains("postgresql://") == true)
    }

    @Test("a refused URL is named in the error without its password")
    func refusedURLIsRedacted() {
        let message = refusal(Configuration(url: "http://lora:hunter2@db.example/catalog?password=hunter3"))
        #expect(message?.contains("hunter") == false)
        #expect(message?.contains("db.example") == true)
    }

    @Test("the URL is checked first, then each field in turn")
    func firstValueOutOfRangeIsNamed() {
        let everythingWrong = Configuration(url: "sqlite:x", poolSize: 0, checkoutTimeout: .seconds(-1),
                                            connectTimeoutSeconds: 0, applicationName: "\u{0}")
        #expect(refusal(everythingWrong)?.contains("URL") == true)
        var configuration = everythingWrong
        configuration.url = Self.unreachable
        #expect(refusal(configuration)?.contains("poolSize") == true)
    }

    @Test("the defaults are valid")
    func defaults() throws {
        let configuration = Configuration(url: Self.unreachable)
        try configuration.validate()
        #expect(configuration.poolSize == 4 && configuration.connectTimeoutSeconds == 5)
        #expect(configuration.applicationName == "lora-squeeze")
    }

    // MARK: redacted

    struct Redaction: Sendable, CustomTestStringConvertible {
        let url: String
        let expected: String
        init(_ url: String, _ expected: String) {
            self.url = url
            self.expected = expected
        }
        var testDescription: String { url }
    }

    static let redactions: [Redaction] = [
        .init("postgresql://lora:secret@db.example:5432/catalog?sslmode=require",
              "postgresql://lora:***@db.example:5432/catalog?sslmode=require"),
        .init("postgresql://lora@db.example/catalog?password=secret&sslmode=require",
              "postgresql://lora@db.example/catalog?password=***&sslmode=require"),
        .init("postgresql://lora:secret@db.example/catalog?password=other",
              "postgresql://lora:***@db.example/catalog?password=***"),
        .init("postgresql://db.example/catalog?PASSWORD=secret", "postgresql://db.example/catalog?PASSWORD=***"),
        .init("postgresql://lora:p%40ss%2Fw@db.example/catalog", "postgresql://lora:***@db.example/catalog"),
        .init("postgresql://lora:@db.example/catalog", "postgresql://lora:***@db.example/catalog"),
        .init("postgresql://db.example/catalog?password=a%26b&sslmode=require",
              "postgresql://db.example/catalog?password=***&sslmode=require"),
        .init("postgresql://lora:secret@[::1]:5432/catalog", "postgresql://lora:***@[::1]:5432/catalog"),
        .init("postgresql:///catalog?host=/var/run/postgresql&password=secret",
              "postgresql:///catalog?host=/var/run/postgresql&password=***"),
        // Nothing to hide: left exactly as written.
        .init("postgresql://lora@db.example:5432/catalog", "postgresql://lora@db.example:5432/catalog"),
        .init("postgres://db.example/catalog?options=-csearch_path%3Dt_x&sslmode=verify-full",
              "postgres://db.example/catalog?options=-csearch_path%3Dt_x&sslmode=verify-full"),
        .init("postgresql://%2Fvar%2Frun%2Fpostgresql/catalog", "postgresql://%2Fvar%2Frun%2Fpostgresql/catalog"),
        .init("postgresql://", "postgresql://"),
        .init("postgresql://db.example/catalog?passfile=/etc/lora/pgpass",
              "postgresql://db.example/catalog?passfile=/etc/lora/pgpass"),
    ]

    @Test("redacted hides the password in userinfo and in password=, and leaves everything else", arguments: redactions)
    func redacted(_ redaction: Redaction) {
        #expect(Configuration.redacted(redaction.url) == redaction.expected)
    }

    /// libpq's multi-host form (`host1:port1,host2:port2`) does not parse as a URL for Foundation: today
    /// the whole location becomes "<a URL that does not parse>", which hides the password (and, less
    /// helpfully, the hosts).
    @Test("a URL Foundation cannot parse is replaced whole, never shown with its password",
          arguments: ["postgresql://lora:secret@h1:5432,h2:5433/catalog", "postgresql://lora:secret@db.example:port/catalog"])
    func unparsable(_ url: String) {
        let redacted = Configuration.redacted(url)
        #expect(!redacted.contains("secret"))
        #expect(redacted != url)
    }

    /// `sslpassword` (libpq 13+: the passphrase of the client key in `sslkey`) is a secret too, and may
    /// be given in the URL's query like any connection parameter.
    @Test("redacted hides sslpassword=")
    func sslPassword() {
        let redacted = Configuration.redacted("postgresql://db.example/catalog?sslkey=/etc/lora/key.pem&sslpassword=secret")
        #expect(!redacted.contains("secret"))
    }
}

/// The values that only the server can show: what the session was given.
@Suite("PostgresDatabase.Configuration on the server", .enabled(if: CatalogFixture.onPostgres))
struct PostgresConfigurationServerTests {
    @Test("applicationName of exactly 63 bytes reaches pg_stat_activity whole")
    func applicationNameAtBound() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        // ASCII only: PostgreSQL rewrites other bytes in application_name (as '?' before 16, as \xNN since).
        let name = scratch.tag + String(repeating: "a", count: 63 - scratch.tag.utf8.count)
        #expect(name.utf8.count == 63)
        let database = try scratch.open(applicationName: name)
        defer { database.close() }
        let shown = try database.read { connection in
            try connection.queryFirst("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()") {
                try $0.column(0) as String
            }
        }
        #expect(shown == name)
    }

    @Test("lockTimeout is the session's lock_timeout, in whole milliseconds",
          arguments: [(Duration.milliseconds(1), "1ms"), (.milliseconds(250), "250ms"),
                      (.microseconds(1500), "1ms"), (PostgresDatabase.Configuration.maxTimeout, "1h")])
    func lockTimeoutSetting(_ timeout: Duration, _ shown: String) throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(lockTimeout: timeout)
        defer { database.close() }
        #expect(try database.read { try $0.queryFirst("SHOW lock_timeout") { try $0.column(0) as String } } == shown)
    }

    /// `lock_timeout = 0` means *no* timeout in PostgreSQL, where a zero busy timeout in SQLite means
    /// "fail at once"; a lockTimeout under 1 ms is truncated to that same 0. Shown in full by
    /// PostgresWriterLockTests.zeroLockTimeoutFailsAtOnce.
    @Test("lockTimeout zero or under a millisecond does not turn lock_timeout off",
          arguments: [Duration.zero, .microseconds(999)])
    func lockTimeoutNeverOff(_ timeout: Duration) throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(lockTimeout: timeout)
        defer { database.close() }
        #expect(try database.read { try $0.queryFirst("SHOW lock_timeout") { try $0.column(0) as String } } != "0")
    }

    @Test("the configured applicationName overrides one given in the URL")
    func applicationNameOverridesURL() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try PostgresDatabase(
            configuration: .init(url: scratch.url + "&application_name=from-url", applicationName: scratch.tag + "-config"),
            logger: makeLogger())
        defer { database.close() }
        #expect(try database.read { try $0.queryFirst("SHOW application_name") { try $0.column(0) as String } } == scratch.tag + "-config")
    }
}
