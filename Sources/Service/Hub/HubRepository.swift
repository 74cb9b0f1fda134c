import Foundation
import Store

/// One adapter as a Hub model repository shows it through one view: its files (every one served as
/// LFS-tracked, so its ETag is its SHA-256), and a commit id derived from their content — the same
/// bytes give the same commit on every server and restart, other bytes another commit, so a client's
/// per-commit cache is never stale.
struct HubRepository: Sendable, Equatable {
    struct File: Sendable, Equatable {
        let path: String
        let pointer: GitLFSPointer
        /// The Git blob id of the LFS pointer (the listing's `oid`).
        let oid: String
    }

    /// As the client asked for it (`team-a/chat-v2`, or a digest).
    let id: String
    let files: [File]
    let commit: String
    let lastModified: Date
    /// Whether a token is needed to read it (authentication on).
    let isPrivate: Bool

    /// Characters in a commit id.
    static let commitLength = 40

    init(id: String, files: [(path: String, digest: SHA256Digest, size: Int64)], lastModified: Date,
         isPrivate: Bool) throws {
        self.id = id
        self.files = try files.map { f in
            let pointer = GitLFSPointer(sha256: f.digest, size: f.size)
            return File(path: f.path, pointer: pointer, oid: try pointer.gitBlobID())
        }
        commit = try Self.commit(of: self.files)
        self.lastModified = lastModified
        self.isPrivate = isPrivate
    }

    /// The first 40 hex characters of the SHA-256 of every file's path and content digest, in order.
    static func commit(of files: [File]) throws -> String {
        let manifest = "lora-squeeze hub repository v1\n" + files.map { "\($0.path) \($0.pointer.sha256.hex)\n" }.joined()
        return String(try SHA256.hash(Array(manifest.utf8)).hex.prefix(commitLength))
    }

    func file(_ path: String) -> File? { files.first { $0.path == path } }

    /// `lastModified` as the Hub writes it (`2024-05-01T12:00:00.000Z`): the one form every client
    /// version parses.
    var lastModifiedText: String {
        lastModified.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
