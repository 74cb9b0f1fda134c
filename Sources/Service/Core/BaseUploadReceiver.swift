import AdapterFormats
import HTTPServer
import Store

/// Streams a model directory upload into the blob store's temporary files as it arrives, one blob
/// writer per file, hashing on the way (never a file whole in memory): `multipart/form-data` with a
/// part per file (named by its filename, or by the part's name), or `application/x-tar` of the
/// directory (each regular file by its last path component; directories and macOS `._` entries
/// skipped). Nothing is committed here; on any error every temporary file is removed.
///
/// File names are checked as each file begins (`ModelDirectory.validateFileName`, no name twice,
/// at most `ModelLimits.maxFiles`), so a hostile upload cannot make more temporary files than that.
struct BaseUploadReceiver {
    struct File {
        let name: String
        let writer: BlobWriter
        /// Bytes received for it, counted here (the writer's own count is written on the I/O pool).
        var size: Int64 = 0
    }

    let blobs: BlobStore
    let io: ComputePool
    let limits: ModelLimits
    let spaceCheckInterval: Int
    let spaceCheck: @Sendable (Int) async throws -> Void

    /// Reads the whole body; the files in the order they arrived.
    func receive(_ request: HTTPRequest, kind: UploadReceiver.Kind) async throws -> [File] {
        var state = State(limits: limits)
        do {
            let body = SpaceCheckedBody(body: request.body, interval: max(1, spaceCheckInterval), check: spaceCheck)
            switch kind {
            case let .multipart(boundary):
                var parser = try MultipartParser(boundary: boundary)
                for try await chunk in body {
                    try state.handle(try parser.feed(chunk), blobs: blobs)
                    try await flush(&state, ifAtLeast: UploadReceiver.writeBatchBytes)
                }
                try state.handle(try parser.finish(), blobs: blobs)
            case .tar:
                var tarLimits = TarReader.Limits()
                tarLimits.maxEntries = 2 * limits.maxFiles + 16   // files, their directories, a few extras
                var reader = TarReader(limits: tarLimits)
                for try await chunk in body {
                    try state.handle(try reader.feed(chunk), blobs: blobs)
                    try await flush(&state, ifAtLeast: UploadReceiver.writeBatchBytes)
                }
                try state.handle(try reader.finish(), blobs: blobs)
            case .safetensors:
                throw HTTPError(.unsupportedMediaType, type: "unsupported-media-type",
                                detail: "a base model is a directory: send multipart/form-data with a part per file, or application/x-tar of the directory")
            }
            try await flush(&state, ifAtLeast: 0)
        } catch {
            for f in state.files { f.writer.abort() }
            throw error
        }
        return state.files
    }

    /// Writes the current file's pending bytes on the I/O pool once there are at least `threshold`.
    private func flush(_ state: inout State, ifAtLeast threshold: Int) async throws {
        for (index, batch) in state.takePending(ifAtLeast: threshold) {
            let writer = UnsafeSendable(state.files[index].writer)
            try await io.run { try writer.value.append(batch) }
        }
    }

    /// The receiving state: files opened so far, and bytes not yet written (per file, since a file
    /// can end inside the chunk that begins the next).
    private struct State {
        let limits: ModelLimits
        var files: [File] = []
        var names: Set<String> = []
        var current: Int?
        var pending: [(index: Int, bytes: [UInt8])] = []

        init(limits: ModelLimits) { self.limits = limits }

        mutating func begin(_ name: String?, blobs: BlobStore) throws {
            guard let name, !name.hasPrefix("._") else { current = nil; return }
            try ModelDirectory.validateFileName(name, limits: limits)
            guard names.insert(name).inserted else { throw ModelDirectoryError.duplicateFile(name) }
            guard files.count < limits.maxFiles else { throw ModelDirectoryError.tooManyFiles(count: files.count + 1, limit: limits.maxFiles) }
            files.append(File(name: name, writer: try blobs.makeWriter()))
            current = files.count - 1
        }

        mutating func append(_ bytes: [UInt8]) {
            guard let current else { return }
            files[current].size += Int64(bytes.count)
            if let last = pending.last, last.index == current { pending[pending.count - 1].bytes += bytes } else { pending.append((current, bytes)) }
        }

        mutating func takePending(ifAtLeast threshold: Int) -> [(Int, [UInt8])] {
            let total = pending.reduce(0) { $0 + $1.bytes.count }
            guard total > 0, total >= threshold else { return [] }
            defer { pending = [] }
            return pending.map { ($0.index, $0.bytes) }
        }

        mutating func handle(_ events: [MultipartParser.Event], blobs: BlobStore) throws {
            for e in events {
                switch e {
                case let .partBegin(head): try begin(Self.lastComponent(head.filename ?? head.name), blobs: blobs)
                case let .partData(bytes): append(bytes)
                case .partEnd: current = nil
                }
            }
        }

        mutating func handle(_ events: [TarReader.Event], blobs: BlobStore) throws {
            for e in events {
                switch e {
                case let .entryBegin(entry): try begin(entry.kind == .file ? entry.name : nil, blobs: blobs)
                case let .entryData(bytes): append(bytes)
                case .entryEnd: current = nil
                }
            }
        }

        static func lastComponent(_ text: String?) -> String? {
            guard let text else { return nil }
            return String(text.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        }
    }
}
