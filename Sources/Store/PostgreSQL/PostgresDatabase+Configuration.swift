import Foundation

extension PostgresDatabase {
    /// How to reach the database and how the pool behaves.
    public struct Configuration: Sendable, Equatable {
        /// A libpq connection URL: `postgresql://user[:password]@host[:port]/database[?param=value…]`
        /// (`sslmode`, `options=-csearch_path%3Dschema`, … as libpq documents them).
        public var url: String
        /// Connections kept at most (`poolSize` concurrent calls; more wait for one to come back).
        public var poolSize: Int
        /// How long a call waits for a free connection before `PostgresError.poolExhausted`.
        public var checkoutTimeout: Duration
        /// How long a statement waits for a lock (another replica's writer turn, a row lock) before
        /// failing with SQLSTATE 55P03: the SQLite backend's busy timeout.
        public var lockTimeout: Duration
        /// libpq's `connect_timeout`, in seconds.
        public var connectTimeoutSeconds: Int
        /// The longest wait between connection attempts after failures.
        public var maxBackoff: Duration
        /// `application_name`, shown in `pg_stat_activity` (the replica's id, so a DBA sees who is who).
        public var applicationName: String

        /// The largest pool: PostgreSQL's default `max_connections` is 100, shared by every replica.
        public static let maxPoolSize = 64
        /// The longest checkout and lock timeouts accepted.
        public static let maxTimeout: Duration = .seconds(3600)

        public init(url: String, poolSize: Int = 4, checkoutTimeout: Duration = .seconds(10),
                    lockTimeout: Duration = .seconds(10), connectTimeoutSeconds: Int = 5,
                    maxBackoff: Duration = .seconds(5), applicationName: String = "lora-squeeze") {
            self.url = url
            self.poolSize = poolSize
            self.checkoutTimeout = checkoutTimeout
            self.lockTimeout = lockTimeout
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.maxBackoff = maxBackoff
            self.applicationName = applicationName
        }

        /// Throws `PostgresError.invalidConfiguration` naming the first value out of range.
        func validate() throws {
            guard Self.isPostgresURL(url) else {
                throw PostgresError.invalidConfiguration("the catalog URL must start with postgresql:// or postgres://, not \(quoted(Self.redacted(url)))")
            }
            guard (1...Self.maxPoolSize).contains(poolSize) else {
                throw PostgresError.invalidConfiguration("poolSize \(poolSize) is outside 1...\(Self.maxPoolSize)")
            }
            for (name, value) in [("checkoutTimeout", checkoutTimeout), ("lockTimeout", lockTimeout), ("maxBackoff", maxBackoff)] {
                guard value >= .zero, value <= Self.maxTimeout else {
                    throw PostgresError.invalidConfiguration("\(name) \(value) is outside 0...\(Self.maxTimeout)")
                }
            }
            guard (1...3600).contains(connectTimeoutSeconds) else {
                throw PostgresError.invalidConfiguration("connectTimeoutSeconds \(connectTimeoutSeconds) is outside 1...3600")
            }
            guard !applicationName.utf8.contains(0), applicationName.utf8.count <= 63 else {
                throw PostgresError.invalidConfiguration("applicationName must be at most 63 bytes without NUL")
            }
        }

        /// True for a URL libpq reads as a connection URI.
        public static func isPostgresURL(_ text: String) -> Bool {
            text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
        }

        /// The URL with its password (in the user part, and in `password=` or `sslpassword=`
        /// parameters) replaced by `***`, for logs.
        public static func redacted(_ url: String) -> String {
            guard var components = URLComponents(string: url) else { return "<a URL that does not parse>" }
            if components.password != nil { components.password = "***" }
            components.queryItems = components.queryItems.map { items in
                items.map { ["password", "sslpassword"].contains($0.name.lowercased()) ? URLQueryItem(name: $0.name, value: "***") : $0 }
            }
            if components.queryItems?.isEmpty == true { components.queryItems = nil }
            return components.string ?? "<a URL that does not parse>"
        }
    }
}
