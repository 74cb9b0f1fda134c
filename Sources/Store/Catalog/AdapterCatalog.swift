import Foundation
import Locking
import Logging

/// The store's metadata layer: adapters, base models, their names, the squeeze cache, jobs and
/// tokens, in a database (`CatalogDatabase`: a SQLite file by default, or PostgreSQL shared by
/// replicas) beside a `BlobStore` that holds the bytes.
///
/// Layout under `directory`: `catalog.sqlite` (+ its WAL files, SQLite only), and unless the
/// configuration names another blob directory, `blobs/` and `tmp/`.
///
/// Invariants:
/// - A row never points at a missing blob: `put` and `cacheInsert` check the blob files inside their
///   transaction, and blob files are removed only after the transaction that dropped their last
///   reference committed, while the database's writer lock is still held, so no other write can
///   slip between (on PostgreSQL the lock is fleet-wide: see `PostgresDatabase`).
/// - Blobs are reference-counted by query: when an adapter, base model or cache entry goes, each blob
///   it used is removed if no adapter, base file or cache entry still refers to it.
/// - Opening cleans this process's `tmp/` (what a crash left) and, by default, removes blob files no
///   row refers to (blobs committed by a process that died before storing the row, or whose row the
///   catalog refused). On a shared blob directory only those unreferenced for `sharedOrphanAge`: a
///   younger one may be another replica's, committed and about to be recorded.
///
/// Thread safety: every method may be called from any thread; writes take turns on the database's
/// writer lock. Calls block briefly — a few milliseconds for a commit with its fsync, or a network
/// round trip — and never suspend: call them off Swift's cooperative threads.
public final class AdapterCatalog: Sendable {
    /// Settings for opening a catalog.
    public struct Configuration: Sendable, Equatable {
        /// SQLite's settings (when `postgres` is nil).
        public var database: SQLiteDatabase.Configuration
        /// The SQLite file's name inside the catalog directory.
        public var databaseFileName: String
        /// The SQLite file's path when it is not in the catalog directory (`--catalog sqlite:PATH`).
        public var databasePath: String?
        /// A PostgreSQL catalog instead of the SQLite file (`--catalog postgresql://…`).
        public var postgres: PostgresDatabase.Configuration?
        /// Where the blobs live, when not in the catalog directory (`--blobs`): a directory every
        /// replica mounts. Nil keeps them beside the SQLite file.
        public var blobDirectory: URL?
        /// This process's name on a shared blob directory (`--replica-id`): its temporary files go
        /// to `tmp/<replica>/`. Required with `postgres`, where the directory is shared.
        public var replica: String?
        /// Remove blob files no row refers to when opening; on a PostgreSQL catalog, whose blob
        /// directory other replicas share, only those unreferenced for `sharedOrphanAge`.
        public var removeOrphanBlobsAtOpen: Bool
        /// Empty this process's `tmp/` when opening (what a crashed writer left).
        public var cleanTemporaryFilesAtOpen: Bool

        public init(database: SQLiteDatabase.Configuration = .init(), databaseFileName: String = "catalog.sqlite",
                    postgres: PostgresDatabase.Configuration? = nil, blobDirectory: URL? = nil, replica: String? = nil,
                    removeOrphanBlobsAtOpen: Bool = true, cleanTemporaryFilesAtOpen: Bool = true) {
            self.database = database
            self.databaseFileName = databaseFileName
            self.databasePath = nil
            self.postgres = postgres
            self.blobDirectory = blobDirectory
            self.replica = replica
            self.removeOrphanBlobsAtOpen = removeOrphanBlobsAtOpen
            self.cleanTemporaryFilesAtOpen = cleanTemporaryFilesAtOpen
        }

        /// For a tool opening the catalog while a server may be running on it (`token`, `scrub`):
        /// `tmp/` holds that server's uploads in progress, and a blob without a row may be one it has
        /// committed and not yet recorded, so neither is touched.
        public static let besideRunningServer = Configuration(removeOrphanBlobsAtOpen: false,
                                                              cleanTemporaryFilesAtOpen: false)

        /// The same, on the catalog this configuration names (for tools given `--catalog`).
        public var besideRunningServer: Configuration {
            var copy = self
            copy.removeOrphanBlobsAtOpen = false
            copy.cleanTemporaryFilesAtOpen = false
            return copy
        }
    }

    /// The blob files. Write blobs through it, then record them with `put` or `cacheInsert`.
    public let blobs: BlobStore
    let database: any CatalogDatabase
    let logger: Logger
    let clock: @Sendable () -> Date
    let counters = Locked(CacheCounters())
    /// Cache hits not yet written (see `CacheTouches`). Lock order: a database lock, then this one.
    let touches = Locked(CacheTouches())
    /// `quarantine`'s file moves, handed from `write`'s post-commit step to the caller.
    let quarantineMoves = Locked([SHA256Digest: Bool]())

    /// Where the catalog's rows are: the SQLite file's path, or the PostgreSQL URL without its password.
    public var location: String { database.location }

    /// Opens (creating if needed) the catalog in `directory`: migrates the schema, cleans `tmp/`,
    /// and removes orphan blobs if configured. Call once at start-up, before any writer exists.
    ///
    /// - Parameter clock: the time recorded in rows and used for LRU order; tests inject their own.
    public init(directory: URL, configuration: Configuration = .init(), logger: Logger,
                clock: @escaping @Sendable () -> Date = { Date() }) throws {
        if configuration.postgres != nil, configuration.replica == nil {
            throw CatalogError.invalidConfiguration("a PostgreSQL catalog needs a replica name (--replica-id), for its own tmp/ on the shared blob directory")
        }
        if let replica = configuration.replica { try Self.validateReplica(replica) }
        blobs = try BlobStore(root: configuration.blobDirectory ?? directory, replica: configuration.replica, logger: logger)
        if configuration.cleanTemporaryFilesAtOpen {
            try blobs.cleanTemporaryFiles()
            try blobs.cleanAbandonedTemporaryFiles()
        }
        if let postgres = configuration.postgres {
            database = try PostgresDatabase(configuration: postgres, logger: logger)
        } else {
            database = try SQLiteDatabase(path: configuration.databasePath ?? directory.appendingPathComponent(configuration.databaseFileName).path,
                                          configuration: configuration.database, logger: logger)
        }
        self.logger = logger
        self.clock = clock
        try database.migrateCatalog()
        if configuration.removeOrphanBlobsAtOpen {
            // Shared blobs: only files left unreferenced for longer than any upload takes from its
            // commit to its row (a replica that died in between, or an upload the catalog refused).
            try removeOrphanBlobs(olderThan: configuration.postgres == nil ? nil : Self.sharedOrphanAge)
        }
    }

    /// The settings for a catalog at `location`; `blobDirectory` and `replica` as in `Configuration`.
    public static func configuration(_ location: CatalogLocation, poolSize: Int = 4, blobDirectory: URL? = nil,
                                     replica: String? = nil) -> Configuration {
        var configuration = Configuration(blobDirectory: blobDirectory)
        switch location {
        case .sqlite(let path):
            configuration.databasePath = path
        case .postgres(let url):
            configuration.postgres = PostgresDatabase.Configuration(url: url, poolSize: poolSize,
                                                                    applicationName: String((replica.map { "lora-squeeze \($0)" } ?? "lora-squeeze").prefix(63)))
            configuration.replica = replica
        }
        return configuration
    }

    /// How long an unreferenced blob file on a shared blob directory must have gone uncommitted
    /// before a replica's sweep removes it.
    public static let sharedOrphanAge: TimeInterval = 3600

    /// `text` (a host name) reduced to a valid replica name: the allowed characters, at most 63;
    /// `replica` when nothing valid is left.
    public static func replicaName(from text: String) -> String {
        let kept = String(decoding: text.utf8.filter(AdapterName.isAllowed).prefix(63), as: UTF8.self)
        return (try? validateReplica(kept)) != nil ? kept : "replica"
    }

    /// A replica name: 1 to 63 of `A-Z a-z 0-9 . _ -`, not `.` or `..` (it names a directory).
    public static func validateReplica(_ replica: String) throws {
        guard (1...63).contains(replica.utf8.count), replica.utf8.allSatisfy(AdapterName.isAllowed),
              replica != ".", replica != ".." else {
            throw CatalogError.invalidConfiguration("replica name \(quoted(replica)) must be 1 to 63 of A-Z a-z 0-9 . _ - (and not . or ..)")
        }
    }

    /// Writes pending cache hits and closes the database. Later calls throw the backend's `closed` error.
    public func close() {
        do { try flushCacheTouches() } catch where database.isClosedError(error) {} catch {
            logger.warning("cache hits could not be written at close", metadata: ["error": "\(error)"])
        }
        database.close()
    }

    /// The schema version the catalog is at.
    public func schemaVersion() throws -> Int { try database.schemaVersion() }

    /// The number of migrations this build knows (the version a fresh catalog reaches).
    public static var currentSchemaVersion: Int { CatalogSchema.migrations.count }

    /// Removes blob files that no row refers to and that this process is not about to record
    /// (committed, not yet `put`). Correct at any time, but it holds the database lock while it
    /// lists `blobs/`, so run it at start-up (the default) or rarely.
    ///
    /// - Parameter age: on a blob directory other replicas share, only files committed (written,
    ///   or committed again by a deduplicated upload) longer ago than this: a younger one may be
    ///   another replica's, between its commit and its row. nil: every unreferenced file (a
    ///   directory this process owns).
    @discardableResult
    public func removeOrphanBlobs(olderThan age: TimeInterval? = nil) throws -> [SHA256Digest] {
        let cutoff = age.map { Date().addingTimeInterval(-$0) }   // file times are the wall clock's
        let removed: [SHA256Digest] = try database.withConnection { connection in
            let known = Set(try connection.query("SELECT digest FROM blobs") { try self.digest($0, 0, table: "blobs", column: "digest") })
            var removed: [SHA256Digest] = []
            for digest in try blobs.digests() where !known.contains(digest) {
                if let cutoff, let committed = try blobs.lastCommitted(digest), committed > cutoff { continue }
                if try blobs.removeUnlessAwaitingClaim(digest) { removed.append(digest) }
            }
            return removed
        }
        if !removed.isEmpty {
            logger.info("removed blob files no row refers to", metadata: ["count": "\(removed.count)"])
        }
        return removed
    }

    /// Adapter, blob, job and cache totals for metrics, read under one hold of the database lock so
    /// they agree with each other.
    public func statistics() throws -> CatalogStatistics {
        try database.read { connection in
            let adapters = try connection.queryFirst("SELECT count(*), coalesce(sum(total_bytes), 0) FROM adapters") {
                (try $0.column(0) as Int, try $0.column(1) as Int64)
            } ?? (0, 0)
            let blobTotals = try connection.queryFirst("SELECT count(*), coalesce(sum(size), 0) FROM blobs") {
                (try $0.column(0) as Int, try $0.column(1) as Int64)
            } ?? (0, 0)
            var jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for (state, count) in try connection.query("SELECT state, count(*) FROM jobs GROUP BY state", [], {
                (try $0.column(0) as String, try $0.column(1) as Int)
            }) {
                guard let state = JobState(rawValue: state) else {
                    throw CatalogError.corruptRow(table: "jobs", column: "state", value: state)
                }
                jobs[state] = count
            }
            return CatalogStatistics(adapterCount: adapters.0, adapterBytes: adapters.1, blobCount: blobTotals.0,
                                     blobBytes: blobTotals.1, jobsByState: jobs, cache: try cacheCounters(connection))
        }
    }

    // MARK: Shared by the extensions

    /// Blob bookkeeping a write transaction hands back, applied once it has committed.
    struct BlobEffects {
        /// Blobs the transaction recorded in rows (their commits are no longer awaiting a claim).
        var claimed: [SHA256Digest] = []
        /// Blobs whose rows lost a reference; each is removed if nothing refers to it any more.
        var released: [SHA256Digest] = []
        /// Damaged blobs to move to `quarantine/` once the transaction has committed.
        var quarantined: [SHA256Digest] = []
    }

    /// Runs `body` in a write transaction; after COMMIT, still under the database lock, claims the
    /// blobs it recorded, quarantines those it found damaged and removes the files of blobs it left
    /// unreferenced. When the transaction fails, the blobs it was to record are released all the same
    /// (and removed unless a row or another pending commit uses them): a failed `put` or
    /// `cacheInsert` leaves no blob waiting for a claim that will never come.
    func write<T>(_ body: (any DatabaseConnection, inout BlobEffects) throws -> T) throws -> (T, removed: [SHA256Digest]) {
        try database.withConnection { connection in
            var effects = BlobEffects()
            let (result, unreferenced): (T, [SHA256Digest])
            do {
                (result, unreferenced) = try connection.transaction {
                    let result = try body(connection, &effects)
                    return (result, try dropUnreferencedBlobs(Set(effects.released), connection))
                }
            } catch {
                releaseUnrecorded(effects.claimed, connection)
                throw error
            }
            for digest in effects.claimed { blobs.claim(digest) }
            for digest in effects.quarantined {
                // Committed: the damage is on record. A file that cannot be moved stays where the next scrub finds it.
                let moved: Bool
                do { moved = try blobs.quarantine(digest) } catch {
                    logger.error("could not move a damaged blob to quarantine", metadata: ["digest": "\(digest)", "error": "\(error)"])
                    moved = false
                }
                quarantineMoves.withLock { $0[digest] = moved }
            }
            var removed: [SHA256Digest] = []
            for digest in unreferenced {
                // The rows are gone and committed; a file that cannot be removed now is an orphan
                // that `removeOrphanBlobs` takes later, not a reason to fail the caller.
                do { if try blobs.removeUnlessAwaitingClaim(digest) { removed.append(digest) } } catch {
                    logger.error("could not remove an unreferenced blob", metadata: ["digest": "\(digest)", "error": "\(error)"])
                }
            }
            return (result, removed)
        }
    }

    /// Checks that the blob file exists, records it in `blobs`, and returns its size.
    func registerBlob(_ digest: SHA256Digest, _ connection: any DatabaseConnection) throws -> Int64 {
        guard let size = try blobs.size(of: digest) else { throw CatalogError.missingBlob(digest) }
        try connection.run("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                           [digest.hex, size, clock().timeIntervalSince1970])
        return size
    }

    /// Deletes the `blobs` rows of the candidates nothing refers to any more; returns those digests.
    private func dropUnreferencedBlobs(_ candidates: Set<SHA256Digest>, _ connection: any DatabaseConnection) throws -> [SHA256Digest] {
        var dropped: [SHA256Digest] = []
        for digest in candidates.sorted() {
            let references = try connection.queryFirst("""
                SELECT (SELECT count(*) FROM adapters WHERE config_digest = ?1 OR weights_digest = ?1)
                     + (SELECT count(*) FROM squeeze_cache WHERE config_digest = ?1 OR weights_digest = ?1)
                     + (SELECT count(*) FROM base_files WHERE blob_digest = ?1)
                """, [digest.hex]) { try $0.column(0) as Int } ?? 0
            guard references == 0 else { continue }
            try connection.run("DELETE FROM blobs WHERE digest = ?", [digest.hex])
            dropped.append(digest)
        }
        return dropped
    }

    /// Reads a digest column, refusing a value that is not one.
    func digest(_ row: any DatabaseRow, _ column: Int, table: String, column name: String) throws -> SHA256Digest {
        let text = try row.column(column) as String
        guard let digest = SHA256Digest(text) else { throw CatalogError.corruptRow(table: table, column: name, value: text) }
        return digest
    }

    /// Reads a nullable digest column.
    func optionalDigest(_ row: any DatabaseRow, _ column: Int, table: String, column name: String) throws -> SHA256Digest? {
        row.isNull(column) ? nil : try digest(row, column, table: table, column: name)
    }

    func now() -> Double { clock().timeIntervalSince1970 }
}
