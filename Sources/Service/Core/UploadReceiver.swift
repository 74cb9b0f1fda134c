import Foundation
import AdapterFormats
import HTTPServer
import Store

/// Streams an upload into the blob store's temporary files as it arrives (never whole in memory),
/// hashing on the way: `multipart/form-data` with the two PEFT files, `application/x-tar` of a PEFT
/// directory, or a bare `.safetensors` (a kohya file). Nothing is committed here.
///
/// The request's chunks are parsed on the handler's task; the weights' bytes are gathered into
/// `writeBatchBytes` batches and written and hashed on the I/O pool, so no file write or SHA-256
/// runs on Swift's cooperative threads. At most one batch is in memory besides the one being written.
struct UploadReceiver {
    /// The files found in an upload: the config in memory (it is small), the weights in a blob writer.
    struct Files {
        var config: [UInt8]?
        var weights: BlobWriter?
        /// Weight bytes received and not yet handed to the writer.
        var pending: [UInt8] = []
    }

    /// Bytes gathered before a write on the I/O pool.
    static let writeBatchBytes = 1 << 20

    enum Kind: Equatable { case multipart(boundary: String), tar, safetensors }

    static let configName = PEFTFiles.config
    static let weightsName = PEFTFiles.weights

    let blobs: BlobStore
    let io: ComputePool
    let maxConfigBytes: Int
    /// `spaceCheck(received)` runs each time another `spaceCheckInterval` bytes have arrived; it
    /// throws (507) to stop an upload the disk cannot take.
    let spaceCheckInterval: Int
    let spaceCheck: @Sendable (_ received: Int) async throws -> Void

    init(blobs: BlobStore, io: ComputePool, maxConfigBytes: Int, spaceCheckInterval: Int = .max,
         spaceCheck: @escaping @Sendable (Int) async throws -> Void = { _ in }) {
        self.blobs = blobs
        self.io = io
        self.maxConfigBytes = maxConfigBytes
        self.spaceCheckInterval = max(1, spaceCheckInterval)
        self.spaceCheck = spaceCheck
    }

    /// The kind of upload from its Content-Type, or a 415 naming what is accepted.
    static func kind(of request: HTTPRequest) throws -> Kind {
        let type = request.headers["Content-Type"] ?? ""
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if media == "multipart/form-data" {
            guard let boundary = MultipartParser.boundary(fromContentType: type), !boundary.isEmpty else {
                throw ServiceError.badRequest("multipart/form-data needs a boundary parameter (RFC 7578 §4.1)", type: "invalid-multipart")
            }
            return .multipart(boundary: boundary)
        }
        switch media {
        case "application/x-tar", "application/tar": return .tar
        case "application/octet-stream", "application/vnd.safetensors": return .safetensors
        default:
            throw HTTPError(.unsupportedMediaType, type: "unsupported-media-type",
                            detail: "Content-Type \"\(type)\" is not accepted: send multipart/form-data (adapter_config.json and adapter_model.safetensors parts), application/x-tar of a PEFT directory, or application/octet-stream of a kohya .safetensors file")
        }
    }

    /// Reads the whole body into `Files`. On any error every temporary file is removed.
    func receive(_ request: HTTPRequest, kind: Kind) async throws -> Files {
        var files = Files()
        do {
            let body = SpaceCheckedBody(body: request.body, interval: spaceCheckInterval, check: spaceCheck)
            switch kind {
            case let .multipart(boundary): try await receiveMultipart(body, boundary: boundary, into: &files)
            case .tar: try await receiveTar(body, into: &files)
            case .safetensors:
                files.weights = try blobs.makeWriter()
                for try await chunk in body {
                    files.pending += chunk
                    try await flush(&files, ifAtLeast: Self.writeBatchBytes)
                }
            }
            try await flush(&files, ifAtLeast: 0)
        } catch {
            files.weights?.abort()
            throw error
        }
        guard files.weights != nil else {
            throw ServiceError.badRequest("the upload has no \(Self.weightsName)", type: "missing-file")
        }
        return files
    }

    private enum Target { case config, weights, ignored }

    /// Which upload file a part or entry is: by its exact name, or (multipart only) any other
    /// `.safetensors` file name. AppleDouble entries (`._name`, which macOS tar adds) are ignored.
    private func target(named name: String?, filename: String?, files: Files, exactOnly: Bool = false) throws -> Target {
        let names = [name, filename].compactMap { $0 }.map { String($0.split(separator: "/").last ?? "") }
            .filter { !$0.hasPrefix("._") }
        if names.contains(Self.configName) {
            guard files.config == nil else { throw ServiceError.badRequest("the upload has two \(Self.configName)", type: "duplicate-file") }
            return .config
        }
        if names.contains(Self.weightsName) || (!exactOnly && names.contains(where: { $0.hasSuffix(".safetensors") })) {
            guard files.weights == nil else { throw ServiceError.badRequest("the upload has two weight files", type: "duplicate-file") }
            return .weights
        }
        return .ignored
    }

    private func append(_ bytes: [UInt8], to target: Target, _ files: inout Files) throws {
        switch target {
        case .config:
            files.config = (files.config ?? []) + bytes
            guard files.config!.count <= maxConfigBytes else {
                throw HTTPError(.contentTooLarge, type: "config-too-large",
                                detail: "\(Self.configName) is larger than \(maxConfigBytes) bytes")
            }
        case .weights: files.pending += bytes
        case .ignored: break
        }
    }

    private func open(_ target: Target, _ files: inout Files) throws {
        switch target {
        case .config: files.config = []
        case .weights: files.weights = try blobs.makeWriter()
        case .ignored: break
        }
    }

    private func receiveMultipart(_ body: SpaceCheckedBody, boundary: String, into files: inout Files) async throws {
        var parser = try MultipartParser(boundary: boundary)
        var current = Target.ignored
        func handle(_ events: [MultipartParser.Event], _ files: inout Files) throws {
            for e in events {
                switch e {
                case let .partBegin(head):
                    current = try target(named: head.name, filename: head.filename, files: files)
                    try open(current, &files)
                case let .partData(bytes): try append(bytes, to: current, &files)
                case .partEnd: current = .ignored
                }
            }
        }
        for try await chunk in body {
            try handle(try parser.feed(chunk), &files)
            try await flush(&files, ifAtLeast: Self.writeBatchBytes)
        }
        try handle(try parser.finish(), &files)
    }

    /// Writes the pending weight bytes on the I/O pool once there are at least `threshold`.
    private func flush(_ files: inout Files, ifAtLeast threshold: Int) async throws {
        guard !files.pending.isEmpty, files.pending.count >= threshold, let writer = files.weights else { return }
        let batch = files.pending
        files.pending = []
        let target = UnsafeSendable(writer)
        try await io.run { try target.value.append(batch) }
    }

    private func receiveTar(_ body: SpaceCheckedBody, into files: inout Files) async throws {
        var reader = TarReader()
        var current = Target.ignored
        func handle(_ events: [TarReader.Event], _ files: inout Files) throws {
            for e in events {
                switch e {
                case let .entryBegin(entry):
                    current = entry.kind == .file ? try target(named: entry.name, filename: nil, files: files, exactOnly: true) : .ignored
                    try open(current, &files)
                case let .entryData(bytes): try append(bytes, to: current, &files)
                case .entryEnd: current = .ignored
                }
            }
        }
        for try await chunk in body {
            try handle(try reader.feed(chunk), &files)
            try await flush(&files, ifAtLeast: Self.writeBatchBytes)
        }
        try handle(try reader.finish(), &files)
    }
}

/// A request body whose iterator runs `check(received)` each time another `interval` bytes have
/// arrived — inline in `next()`, so the body's backpressure is the reader's, as before.
struct SpaceCheckedBody: AsyncSequence {
    typealias Element = [UInt8]
    let body: HTTPRequestBody
    let interval: Int
    let check: @Sendable (Int) async throws -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: HTTPRequestBody.AsyncIterator
        let interval: Int
        let check: @Sendable (Int) async throws -> Void
        var received = 0
        var nextCheck: Int

        mutating func next() async throws -> [UInt8]? {
            guard let chunk = try await inner.next() else { return nil }
            received += chunk.count
            if received >= nextCheck {
                try await check(received)
                nextCheck = received.addingReportingOverflow(interval).overflow ? .max : received + interval
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: body.makeAsyncIterator(), interval: interval, check: check, nextCheck: interval)
    }
}
