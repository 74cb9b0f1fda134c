import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

/// A stored file of a base model does not match its SHA-256 (500 `blob-damaged`).
struct BaseDamaged: Error {
    let blob: SHA256Digest?
    let base: SHA256Digest
}

extension AdapterService {
    /// Reads a model directory upload, validates it (`ModelDirectory`'s rules), and only then commits
    /// its blobs and rows. Disk space is checked as for adapters; nothing is left behind on failure.
    func ingestBase(_ request: HTTPRequest, name: AdapterName?) async throws -> (BaseRecord, created: Bool) {
        let kind = try UploadReceiver.kind(of: request)
        if let length = request.body.expectedLength {
            try await ensureFreeSpace(for: Int64(length), what: "an upload of \(length) bytes")
        }
        let receiver = BaseUploadReceiver(blobs: catalog.blobs, io: io, limits: limits.model,
                                          spaceCheckInterval: Self.spaceCheckIntervalBytes) { [self] received in
            let remaining = request.body.expectedLength.map { max(0, $0 - received) } ?? 0
            try await ensureFreeSpace(for: Int64(remaining), what: "an upload (\(received) bytes received so far)")
        }
        let files = try await receiver.receive(request, kind: kind)
        let pending = UnsafeSendable(files)
        let described = files.map { (name: $0.name, path: $0.writer.temporaryPath, size: $0.size) }
        let modelLimits = limits.model
        let validated: ValidatedBase
        do {
            validated = try await io.run { try ValidatedBase(files: described, limits: modelLimits) }
        } catch {
            for f in files { f.writer.abort() }
            throw error
        }
        let catalog = self.catalog
        let result = try await io.run {
            var committed: [String: SHA256Digest] = [:]
            do {
                for f in pending.value { committed[f.name] = try f.writer.commit().digest }
                let digest = try ValidatedBase.digest(files: committed)
                return try catalog.putBase(NewBase(digest: digest, files: committed, tensorCount: validated.directory.tensorCount,
                                                   descriptionJSON: validated.descriptionJSON), name: name)
            } catch {
                for f in pending.value { f.writer.abort() }
                catalog.abandon(Array(Set(committed.values)))
                throw error
            }
        }
        metrics.baseUploaded(bytes: result.base.totalBytes)
        return (result.base, result.created)
    }

    /// The base `text` names, as the caller may see it; 404 when there is none or it is outside the
    /// caller's namespace.
    func visibleBase(_ text: String, _ caller: Caller) async throws -> BaseRecord {
        let reference = try AdapterReference(parsing: text)
        if let namespace = caller.namespace, case .name(let name) = reference, !name.isIn(namespace: namespace) {
            throw CatalogError.unknownBase(text)
        }
        let base = try await store.read { try $0.base(reference) }
        guard caller.sees(base) else { throw CatalogError.unknownBase(text) }
        return caller.view(base)
    }

    /// The base an adapter merges into: `?base=` when given, else the stored base named like the
    /// adapter's `base_model_name_or_path`.
    func mergeBase(for record: AdapterRecord, _ request: HTTPRequest, _ caller: Caller) async throws -> BaseRecord {
        if let text = request.queryValue("base") { return try await visibleBase(text, caller) }
        let missing = HTTPError(.notFound, type: "base-not-found",
                                detail: "no ?base= was given and no stored base model is named \(record.baseModel.map { "\"\($0.prefix(200))\"" } ?? "(the adapter names no base_model_name_or_path)") (the adapter's base_model_name_or_path): upload the base with POST /v1/bases?name=<that name>, or name one with ?base=<name or digest>")
        guard let named = record.baseModel, (try? AdapterName(validating: named)) != nil else { throw missing }
        do { return try await visibleBase(named, caller) } catch let e as CatalogError {
            guard case .unknownBase = e else { throw e }
            throw missing
        }
    }

    /// Checks a base file's blob before its bytes are used (rehashed on its first read since start);
    /// a damaged one is quarantined and the base answers 500 `blob-damaged` until re-uploaded.
    func checkBaseBlob(_ digest: SHA256Digest, of base: BaseRecord) throws {
        if base.damaged { throw BaseDamaged(blob: nil, base: base.digest) }
        switch try catalog.blobs.verifyIfCold(digest) {
        case .intact:
            return
        case .missing:
            if (try? catalog.base(.digest(base.digest))) == nil { throw CatalogError.unknownBase(base.digest.hex) }
            throw StoredFileError(digest: base.digest, what: "base model")
        case let .corrupt(actual, size):
            metrics.blobDamaged(foundBy: "read")
            logger.error("a stored file does not match its digest", metadata: [
                "digest": "\(digest.hex)", "actual": "\(actual.hex)", "bytes": "\(size)", "base": "\(base.digest.hex)"])
            _ = try catalog.quarantine(digest, actual: actual)
            throw BaseDamaged(blob: digest, base: base.digest)
        }
    }

    /// A base's own file, like an adapter's: verified on first read, SHA-256 ETag, Range, sendfile.
    func baseFileResponse(_ base: BaseRecord, _ file: BaseRecord.File, request: HTTPRequest, cacheControl: String) async throws -> HTTPResponse {
        if request.method != .head {
            try await io.run { [self] in try checkBaseBlob(file.blob, of: base) }
        } else if base.damaged {
            throw BaseDamaged(blob: nil, base: base.digest)
        }
        let response: HTTPResponse
        do {
            response = try HTTPResponse.file(path: catalog.blobs.path(for: file.blob), contentType: Self.contentType(file.path),
                                             etag: "\"\(file.blob.hex)\"", request: request)
        } catch let e as HTTPError where e.status == .notFound {
            throw StoredFileError(digest: base.digest, what: "base model")
        }
        var withCaching = response
        withCaching.headers["Cache-Control"] = cacheControl
        withCaching.headers["Content-Location"] = "/v1/blobs/\(file.blob.hex)"
        return withCaching
    }
}

extension BaseRecord {
    /// The file names for an error message: the first 20, then how many more.
    var fileList: String {
        let names = files.prefix(20).map(\.path).joined(separator: ", ")
        return files.count > 20 ? names + ", and \(files.count - 20) more" : names
    }
}

extension Caller {
    /// Whether the caller may see this base: always without a namespace, else when one of its names
    /// lies in the namespace.
    func sees(_ base: BaseRecord) -> Bool {
        guard let namespace else { return true }
        return base.names.contains { $0.isIn(namespace: namespace) }
    }

    /// The base with its names outside the caller's namespace left out.
    func view(_ base: BaseRecord) -> BaseRecord {
        guard let namespace else { return base }
        var shown = base
        shown.names = base.names.filter { $0.isIn(namespace: namespace) }
        return shown
    }
}
