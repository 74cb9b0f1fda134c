import Foundation

/// Why `checkWritable` failed: which part refused a write, and the error that said so. The part is
/// fit to show anyone (an open readiness probe); the underlying error, with its paths and database
/// messages, is for the log.
public struct WriteCheckFailure: Error, CustomStringConvertible {
    public enum Part: String, Sendable {
        case catalog
        case blobStore = "blob store"
    }
    public let part: Part
    public let underlying: any Error

    public init(part: Part, underlying: any Error) {
        self.part = part
        self.underlying = underlying
    }

    public var description: String { "the \(part.rawValue) does not take writes: \(underlying)" }
}

extension AdapterCatalog {
    /// Proves the catalog can take writes, for a readiness probe: takes the database's write lock
    /// (`BEGIN IMMEDIATE`, then rolls back) and writes and removes a temp file in `tmp/`.
    /// Throws a `WriteCheckFailure` naming the part, around the error that would stop an upload.
    public func checkWritable() throws(WriteCheckFailure) {
        struct Probe: Error {}
        do {
            try database.transaction { _ in throw Probe() }
        } catch is Probe {
            // Rolled back as intended: the write lock was obtained.
        } catch {
            throw WriteCheckFailure(part: .catalog, underlying: error)
        }
        do {
            let writer = try blobs.makeWriter()
            defer { writer.abort() }
            try writer.append(Data("probe".utf8))
        } catch {
            throw WriteCheckFailure(part: .blobStore, underlying: error)
        }
    }
}
