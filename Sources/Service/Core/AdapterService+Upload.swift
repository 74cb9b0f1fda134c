import AdapterFormats
import HTTPServer
import Store

extension AdapterService {
    /// Free space is checked again after every this many bytes of an upload.
    static let spaceCheckIntervalBytes = 16 << 20

    /// Reads an upload, validates it fully, and only then commits its blobs and row. A body that
    /// would leave the disk under `minFreeDiskBytes` is refused with 507 before it is read (from its
    /// Content-Length) or while it is read (chunked); nothing is left behind either way.
    func ingest(_ request: HTTPRequest, name: AdapterName?) async throws -> (AdapterRecord, created: Bool) {
        let kind = try UploadReceiver.kind(of: request)
        if let length = request.body.expectedLength {
            try await ensureFreeSpace(for: Int64(length), what: "an upload of \(length) bytes")
        }
        let receiver = UploadReceiver(blobs: catalog.blobs, io: io, maxConfigBytes: limits.maxConfigBytes,
                                      spaceCheckInterval: Self.spaceCheckIntervalBytes) { [self] received in
            // The bytes still to come, when the length is known; what arrived so far is on disk already.
            let remaining = request.body.expectedLength.map { max(0, $0 - received) } ?? 0
            try await ensureFreeSpace(for: Int64(remaining), what: "an upload (\(received) bytes received so far)")
        }
        let files = try await receiver.receive(request, kind: kind)
        guard let writer = files.weights else {
            throw ServiceError.badRequest("the upload has no \(UploadReceiver.weightsName)", type: "missing-file")
        }
        return try await storeAdapter(config: files.config, weights: writer, name: name)
    }

    /// Validates an adapter whose weights are in `writer` (not committed yet) and stores it: the
    /// blobs committed, the row put, `name` pointed at it. The writer is aborted on any error.
    func storeAdapter(config: [UInt8]?, weights writer: BlobWriter, name: AdapterName?) async throws -> (AdapterRecord, created: Bool) {
        let path = writer.temporaryPath
        let (workers, limits) = (configuration.workers, self.limits)
        let validated: ValidatedUpload
        do {
            validated = try await pool.run { try ValidatedUpload(config: config, weightsPath: path, workers: workers, limits: limits) }
        } catch {
            writer.abort()
            throw error
        }
        let pending = UnsafeSendable(writer)
        let catalog = self.catalog
        let (result, size) = try await io.run {
            let weights = try pending.value.commit()
            let configBlob: StoredBlob?
            do { configBlob = try validated.canonicalConfig.map { try catalog.blobs.write($0) } } catch {
                catalog.abandon([weights.digest])   // committed, never to be recorded
                throw error
            }
            let digest = try ValidatedUpload.adapterDigest(format: validated.format, config: configBlob?.digest, weights: weights.digest)
            let result = try catalog.put(NewAdapter(digest: digest, format: validated.format, configBlob: configBlob?.digest,
                                                    weightsBlob: weights.digest, baseModel: validated.baseModel,
                                                    moduleCount: validated.moduleCount, descriptionJSON: validated.descriptionJSON),
                                         name: name)
            return (result, weights.size)
        }
        metrics.adapterUploaded(bytes: Int(size))
        return (result.adapter, result.created)
    }
}
