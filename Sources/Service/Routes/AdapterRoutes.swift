import AdapterFormats
import Foundation
import HTTPServer
import Store

extension AdapterService {
    func addAdapterRoutes(_ t: inout RouteTable) {
        t.add(.post, "/v1/adapters", access: .scope(.write), maxBodyBytes: limits.maxUploadBytes) { [self] request, caller in
            let name = try request.queryValue("name").map { try AdapterName(validating: $0) }
            try caller.requireCreatedName(name, how: "?name=")
            let (record, created) = try await ingest(request, name: name)
            var response = HTTPResponse.json(try JSONBody.encode(AdapterResponse(caller.view(record), detailed: true)),
                                             status: created ? .created : .ok)
            response.headers["Location"] = "/v1/adapters/\(record.digest.hex)"
            return response
        }

        t.add(.get, "/v1/adapters", access: .scope(.read)) { [self] request, caller in
            let limit = try Self.intQuery(request, "limit", default: 100, range: 1...AdapterQuery.maxLimit)
            let offset = try Self.intQuery(request, "offset", default: 0, range: 0...Int.max)
            let query = AdapterQuery(limit: limit, offset: offset, namePrefix: request.queryValue("name"),
                                     baseModel: request.queryValue("base_model"), namespace: caller.namespace)
            let page = try await store.read { try $0.list(query) }
            struct Page: Encodable { let items: [AdapterResponse]; let total: Int; let nextOffset: Int? }
            return .json(try JSONBody.encode(Page(items: page.items.map { AdapterResponse(caller.view($0), detailed: false) },
                                                  total: page.total, nextOffset: page.nextOffset)))
        }

        t.addNamed(.get, "/v1/adapters/:ref", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            var response = HTTPResponse.json(try JSONBody.encode(AdapterResponse(r, detailed: true)))
            response.headers["Cache-Control"] = "no-cache"  // its names can change
            return response
        }

        t.addNamed(.delete, "/v1/adapters/:ref", access: .scope(.admin)) { [self] request, caller in
            let visible = try await record(request, caller)
            // A namespace's admin deletes only what is wholly its own: an adapter that another team
            // also names is theirs too. Checked in the deleting transaction, so no name slips in between.
            let (reference, namespace) = (AdapterReference.digest(visible.digest), caller.namespace)
            let deletion = try await store.write { try $0.delete(reference, onlyIfAllNamesIn: namespace) }
            struct Deleted: Encodable { let digest: String; let removedCacheEntries: Int; let removedBlobs: Int }
            return .json(try JSONBody.encode(Deleted(digest: deletion.adapter.digest.hex,
                                                     removedCacheEntries: deletion.removedCacheEntries.count,
                                                     removedBlobs: deletion.removedBlobs.count)))
        }

        t.addNamed(.put, "/v1/names/:name", access: .scope(.write), maxBodyBytes: 4096) { [self] request, caller in
            let name = try AdapterName(validating: request.pathParameters["name"] ?? "")
            try caller.requireNameAllowed(name)
            struct Body: Decodable { let adapter: String }
            let bytes = try await request.body.collect(upTo: 4096)
            guard let body = try? JSONDecoder().decode(Body.self, from: Data(bytes)) else {
                throw ServiceError.badRequest("the body must be JSON {\"adapter\": \"<digest or name>\"}", type: "invalid-body")
            }
            let visible = try await visibleRecord(body.adapter, caller)
            let (target, previous) = try await store.write { catalog in
                let target = try catalog.resolve(.digest(visible.digest))
                return (target, try catalog.setName(name, to: .digest(target.digest)))
            }
            struct Moved: Encodable { let name: String; let digest: String; let previous: String? }
            return .json(try JSONBody.encode(Moved(name: name.description, digest: target.digest.hex, previous: previous?.hex)),
                         status: previous == nil ? .created : .ok)
        }

        t.addNamed(.delete, "/v1/names/:name", access: .scope(.write)) { [self] request, caller in
            // A name made before its second part was reserved can still be removed.
            let name = try AdapterName(stored: request.pathParameters["name"] ?? "")
            try caller.requireNameAllowed(name)
            guard try await store.write({ try $0.removeName(name) }) != nil else {
                throw HTTPError(.notFound, type: "not-found", detail: "no adapter is named \(name)")
            }
            return .status(.noContent)
        }

        t.addNamed(.get, "/v1/adapters/:ref/files/:file", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let file = request.pathParameters["file"] ?? ""
            let blob: SHA256Digest?
            switch file {
            case PEFTFiles.config: blob = r.configBlob
            case PEFTFiles.weights: blob = r.weightsBlob
            default: blob = nil
            }
            guard let blob else {
                throw HTTPError(.notFound, type: "not-found",
                                detail: "adapter \(r.digest.hex) has no file \"\(file.prefix(80))\" (files: \(r.format == .peft ? "adapter_config.json, " : "")adapter_model.safetensors)")
            }
            return try await blobResponse(blob, contentType: Self.contentType(file), request: request,
                                          cacheControl: Self.cacheControl(request, r), of: r)
        }

        // A blob by its SHA-256: the content-addressed, immutable URL of any stored file (squeezed
        // outputs included), so clients and CDNs can cache it for good.
        t.add(.get, "/v1/blobs/:digest", access: .scope(.read)) { [self] request, caller in
            let text = request.pathParameters["digest"] ?? ""
            guard let digest = SHA256Digest(text) else {
                throw HTTPError(.badRequest, type: "invalid-digest", detail: "\"\(text.prefix(80))\" is not a SHA-256 digest (64 lowercase hex characters)")
            }
            let notFound = HTTPError(.notFound, type: "not-found", detail: "no stored file has the digest \(digest.hex)")
            if let namespace = caller.namespace {
                // Only files of the namespace's adapters and of their cached squeezes.
                guard try await store.read({ try $0.blobVisible(digest, namespace: namespace) }) else { throw notFound }
            }
            guard let known = try await store.read({ try $0.blobInfo(digest) }) else { throw notFound }
            if known.damaged {
                throw HTTPError(.internalServerError, type: "blob-damaged",
                                detail: "stored file \(digest.hex) does not match its SHA-256; it was quarantined")
            }
            do {
                return try await blobResponse(digest, contentType: "application/octet-stream", request: request,
                                              cacheControl: Self.immutable, of: nil)
            } catch is BlobMissing {
                throw notFound   // evicted, or a cache entry's file found damaged and removed
            }
        }
    }

    /// For URLs whose content can never change: the adapter files and blobs addressed by digest.
    static let immutable = "public, max-age=31536000, immutable"

    /// A stored blob with its SHA-256 as ETag (so If-None-Match and If-Range work across restarts and
    /// whatever URL it was fetched by), Range support and sendfile(2), and `Content-Location` naming
    /// its content-addressed URL. A blob read for the first time since start is verified first
    /// (`checkBlob`; `of` is the adapter whose file it is, nil for a cache entry's); a HEAD reads no
    /// bytes, so it skips that.
    func blobResponse(_ digest: SHA256Digest, contentType: String, request: HTTPRequest, cacheControl: String,
                      of adapter: AdapterRecord?) async throws -> HTTPResponse {
        if let adapter, adapter.damaged { throw BlobDamaged(blob: nil, adapter: adapter.digest) }
        if request.method != .head {
            try await io.run { [self] in try checkBlob(digest, of: adapter) }
        }
        let response: HTTPResponse
        do {
            response = try HTTPResponse.file(path: catalog.blobs.path(for: digest), contentType: contentType,
                                             etag: "\"\(digest.hex)\"", request: request)
        } catch let e as HTTPError where e.status == .notFound {
            throw BlobMissing(digest: digest)  // removed (evicted) between verification and opening
        }
        var withCaching = response
        withCaching.headers["Cache-Control"] = cacheControl
        withCaching.headers["Content-Location"] = "/v1/blobs/\(digest.hex)"
        return withCaching
    }


    /// A blob that was there when its row was read and is gone now (a cache eviction raced the
    /// request). Squeeze routes recompute once; elsewhere it is a server error.
    struct BlobMissing: Error {
        let digest: SHA256Digest
    }


    static func contentType(_ file: String) -> String {
        file.hasSuffix(".json") ? "application/json" : "application/octet-stream"
    }

    static func intQuery(_ request: HTTPRequest, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.queryValue(name) else { return value }
        guard let v = Int(text), range.contains(v) else {
            throw ServiceError.badRequest("query parameter \(name)=\"\(text.prefix(40))\" must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }
}
