/// What rehashing a blob found.
public enum BlobVerification: Equatable, Sendable {
    /// The content hashes to its name.
    case intact(size: Int64)
    /// The content hashes to `actual`, not to its name: the file was damaged after it was written.
    case corrupt(actual: SHA256Digest, size: Int64)
    /// No file for this digest.
    case missing

    public var isIntact: Bool { if case .intact = self { true } else { false } }
}
