/// A request the catalog refuses, naming what is at fault. (Database and file system failures
/// arrive as `SQLiteError` or `PostgresError`, and `BlobStoreError`.)
public enum CatalogError: Error, Equatable, CustomStringConvertible {
    /// The text is neither a digest nor a valid name.
    case invalidReference(String, AdapterNameError)
    /// No adapter has this digest or name.
    case unknownReference(String)
    /// No adapter has this digest.
    case unknownAdapter(SHA256Digest)
    /// A row would point at a blob that is not in the blob store.
    case missingBlob(SHA256Digest)
    /// The adapter's fields contradict each other.
    case invalidAdapter(SHA256Digest, String)
    case invalidQuery(String)
    case invalidCacheKey(String)
    case unknownCacheEntry(CacheKey)
    /// A byte budget below zero.
    case invalidBudget(Int64)
    /// Pinning would make pinned cache entries hold `wouldBe` bytes, past `limit`.
    case pinnedBytesExceeded(wouldBe: Int64, limit: Int64)
    case invalidJobID(String)
    case invalidJobKind(String)
    case unknownJob(JobID)
    /// The job cannot move from its state to the requested one.
    case invalidJobTransition(JobID, from: JobState, to: JobState)
    /// Progress outside 0 ≤ done ≤ total.
    case invalidProgress(JobID, done: Int, total: Int)
    /// An item outcome that cannot be recorded.
    case invalidJobItem(JobID, position: Int, String)
    /// `limit` jobs are already queued or running.
    case tooManyJobs(unfinished: Int, limit: Int)
    case invalidTokenID(String)
    /// A token's fields are refused (name, namespace, expiry).
    case invalidToken(String)
    case unknownToken(TokenID)
    /// Another token already has this secret (a seed given twice, or a collision of 256 random bits).
    case duplicateToken
    /// The adapter has names outside the namespace a deletion was limited to.
    case namesOutsideNamespace(SHA256Digest, namespace: String)
    /// No base model has this digest or name.
    case unknownBase(String)
    /// Cached merges were computed from the base; delete them with it (force) or leave it.
    case baseInUse(SHA256Digest, cacheEntries: Int)
    /// The base's fields contradict each other.
    case invalidBase(SHA256Digest, String)
    /// The base has names outside the namespace a deletion was limited to.
    case baseNamesOutsideNamespace(SHA256Digest, namespace: String)
    /// A stored value that fails validation: the database was edited by hand or is damaged.
    case corruptRow(table: String, column: String, value: String)
    /// The catalog cannot be opened as configured.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidReference(let text, let reason):
            "\(quoted(text)) is neither a SHA-256 digest nor a valid name: \(reason)"
        case .unknownReference(let text):
            "no adapter has the digest or name \(quoted(text))"
        case .unknownAdapter(let digest):
            "no adapter has the digest \(digest)"
        case .missingBlob(let digest):
            "blob \(digest) is not in the blob store; commit it before referring to it"
        case .invalidAdapter(let digest, let why):
            "adapter \(digest): \(why)"
        case .invalidConfiguration(let why):
            "catalog configuration: \(why)"
        case .invalidQuery(let why):
            "invalid adapter query: \(why)"
        case .invalidCacheKey(let why):
            "invalid cache key: \(why)"
        case .unknownCacheEntry(let key):
            "no cache entry for \(key)"
        case .invalidBudget(let bytes):
            "cache budget \(bytes) bytes is negative"
        case .pinnedBytesExceeded(let wouldBe, let limit):
            "pinning this entry would make pinned squeezes hold \(wouldBe) bytes, more than the \(limit) allowed (max pinned bytes); unpin others first"
        case .invalidJobID(let text):
            "\(quoted(text)) is not a job id (\(JobID.hexLength) lowercase hex characters)"
        case .invalidJobKind(let text):
            "job kind \(quoted(text)) must be 1...\(JobRecord.maxKindBytes) characters of a-z 0-9 . _ -"
        case .unknownJob(let id):
            "no job \(id)"
        case .invalidJobTransition(let id, let from, let to):
            "job \(id) cannot move from \(from.rawValue) to \(to.rawValue)"
        case .invalidProgress(let id, let done, let total):
            "job \(id): progress \(done)/\(total) is outside 0 ≤ done ≤ total"
        case .invalidJobItem(let id, let position, let why):
            "job \(id) item \(position): \(why)"
        case .tooManyJobs(let unfinished, let limit):
            "\(unfinished) jobs are queued or running; at most \(limit) may be (max jobs): wait for one to finish"
        case .invalidTokenID(let text):
            "\(quoted(text)) is not a token id (\(TokenID.hexLength) lowercase hex characters)"
        case .invalidToken(let why):
            "invalid token: \(why)"
        case .unknownToken(let id):
            "no token \(id)"
        case .duplicateToken:
            "a token with this secret already exists"
        case .namesOutsideNamespace(let digest, let namespace):
            "adapter \(digest.hex) also has names outside the namespace \"\(namespace)\"; only a token without a namespace may delete it"
        case .unknownBase(let text):
            "no base model has the digest or name \(quoted(text))"
        case .baseInUse(let digest, let entries):
            "base model \(digest.hex) has \(entries) cached merged files computed from it; delete with ?force=true to remove them too"
        case .invalidBase(let digest, let why):
            "base model \(digest): \(why)"
        case .baseNamesOutsideNamespace(let digest, let namespace):
            "base model \(digest.hex) also has names outside the namespace \"\(namespace)\"; only a token without a namespace may delete it"
        case .corruptRow(let table, let column, let value):
            "the catalog's \(table).\(column) holds \(quoted(value)), which is not valid; the database was damaged or edited"
        }
    }
}
