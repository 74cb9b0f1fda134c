import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    /// Runs `body` on a cached entry; if a cache eviction removed its files in between, computes
    /// again once (the second computation is then served, spared by its own eviction).
    func withCached(_ r: AdapterRecord, _ compute: () async throws -> CacheEntry,
                    _ body: (CacheEntry) async throws -> HTTPResponse) async throws -> HTTPResponse {
        do {
            return try await body(try await compute())
        } catch is BlobMissing {
            logger.info("cached files of \(r.digest.hex.prefix(12)) were evicted while being requested; computing again")
            return try await body(try await compute())
        }
    }

    /// HEAD of a squeezed or merged URL not computed yet: 200 with what a GET would say but for the
    /// file's length and ETag, which nobody knows before computing — so neither is sent (no
    /// `Content-Length` promise that could not be kept). Nothing is computed; a GET computes it.
    static func notComputedYet(contentType: String) -> HTTPResponse {
        var response = HTTPResponse(status: .ok, body: .stream(length: nil) { _ in })
        response.headers["Content-Type"] = contentType
        response.headers["Cache-Control"] = computedCacheControl
        return response
    }

    /// The client a request counts against for fairness: its address, without the port.
    static func client(_ request: HTTPRequest) -> String { request.remoteAddress?.host ?? "unknown" }

    func squeezeRequest(_ rankText: String, _ request: HTTPRequest) throws -> SqueezeRequest {
        try SqueezeRequest(rankText: rankText, request: request, maxRank: limits.maxRank)
    }

    func addSqueezeRoutes(_ t: inout RouteTable) {
        // …/squeezed/{rank}/adapter_config.json and …/squeezed/{rank}/adapter_model.safetensors: a PEFT
        // directory at one deployment rank, so a host fetches two URLs into a folder and loads it.
        t.addNamed(.get, "/v1/adapters/:ref/squeezed/:rank/:file", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let squeeze = try squeezeRequest(request.pathParameters["rank"] ?? "", request)
            let file = request.pathParameters["file"] ?? ""
            if file == Self.projectionsFile {
                // The squeeze's T_A, T_B per module, for a trainer annealing the rank (exact method).
                func respond(_ entry: CacheEntry) async throws -> HTTPResponse {
                    try await blobResponse(entry.weightsBlob, contentType: "application/octet-stream", request: request,
                                           cacheControl: Self.computedCacheControl, of: nil)
                }
                if request.method == .head {
                    guard let entry = try await cachedProjections(r, squeeze) else { return Self.notComputedYet(contentType: "application/octet-stream") }
                    return try await respond(entry)
                }
                return try await withCached(r, { try await projections(r, squeeze, client: Self.client(request)) }, respond)
            }
            guard file == PEFTFiles.config || file == PEFTFiles.weights else {
                throw HTTPError(.notFound, type: "not-found", detail: "a squeezed adapter has adapter_config.json, adapter_model.safetensors and projections.safetensors, not \"\(file.prefix(80))\"")
            }
            if file == PEFTFiles.config && r.format == .kohya {
                throw HTTPError(.notFound, type: "not-found", detail: "adapter \(r.digest.hex) is a kohya file: it has no adapter_config.json")
            }
            func respond(_ entry: CacheEntry) async throws -> HTTPResponse {
                guard let blob = file == PEFTFiles.config ? entry.configBlob : entry.weightsBlob else {
                    throw HTTPError(.notFound, type: "not-found", detail: "the squeezed adapter has no \(file)")
                }
                return try await blobResponse(blob, contentType: Self.contentType(file), request: request,
                                              cacheControl: Self.computedCacheControl, of: nil)
            }
            if request.method == .head {
                guard let entry = try await cachedSqueeze(r, squeeze) else { return Self.notComputedYet(contentType: Self.contentType(file)) }
                return try await respond(entry)
            }
            return try await withCached(r, { try await squeezed(r, squeeze, client: Self.client(request)) }, respond)
        }

        // …/squeezed/{rank}/pin: keep a squeeze out of eviction (computing it first if needed), or let it go.
        t.addNamed(.put, "/v1/adapters/:ref/squeezed/:rank/pin", access: .scope(.write)) { [self] request, caller in
            let r = try await record(request, caller)
            let squeeze = try squeezeRequest(request.pathParameters["rank"] ?? "", request)
            let entry = try await squeezed(r, squeeze, client: Self.client(request))
            let pinned: CacheEntry
            let cap = limits.pinnedBytesCap
            do { pinned = try await store.write { try $0.pin(entry.key, maxPinnedBytes: cap) } } catch let e as CatalogError {
                guard case .pinnedBytesExceeded = e else { throw e }
                throw HTTPError(.conflict, type: "pinned-bytes-exceeded", detail: e.description)
            }
            return .json(try JSONBody.encode(CacheEntryResponse(pinned)))
        }

        t.addNamed(.delete, "/v1/adapters/:ref/squeezed/:rank/pin", access: .scope(.write)) { [self] request, caller in
            let r = try await record(request, caller)
            let (key, _, _) = try cacheKey(r, try squeezeRequest(request.pathParameters["rank"] ?? "", request))
            let unpinned: CacheEntry
            do { unpinned = try await store.write { try $0.unpin(key) } } catch CatalogError.unknownCacheEntry {
                throw HTTPError(.notFound, type: "not-found", detail: "no cached squeeze of \(r.digest.hex) at rank \(key.rank) with these options")
            }
            return .json(try JSONBody.encode(CacheEntryResponse(unpinned)))
        }

        // …/squeezed/{rank}.tar: both files in one ustar archive, streamed.
        t.addNamed(.get, "/v1/adapters/:ref/squeezed/:archive", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let archive = request.pathParameters["archive"] ?? ""
            guard archive.hasSuffix(".tar") else {
                throw HTTPError(.notFound, type: "not-found", detail: "ask for …/squeezed/{rank}.tar or …/squeezed/{rank}/{file}")
            }
            let squeeze = try squeezeRequest(String(archive.dropLast(4)), request)
            func respond(_ entry: CacheEntry) async throws -> HTTPResponse {
                var files: [(name: String, digest: SHA256Digest)] = []
                if let c = entry.configBlob { files.append((PEFTFiles.config, c)) }
                files.append((PEFTFiles.weights, entry.weightsBlob))
                if request.method != .head {
                    // Verified like every other read: a damaged output is dropped and computed again.
                    let digests = files.map(\.digest)
                    try await io.run { [self] in for d in digests { try checkBlob(d, of: nil) } }
                }
                let etag = "\"\(entry.weightsBlob.hex)-\(entry.configBlob?.hex.prefix(16) ?? "kohya")-tar\""
                return try tarResponse(files, etag: etag, fileName: "\(r.digest.hex.prefix(12))-r\(squeeze.rank).tar", request: request)
            }
            if request.method == .head {
                guard let entry = try await cachedSqueeze(r, squeeze) else { return Self.notComputedYet(contentType: "application/x-tar") }
                return try await respond(entry)
            }
            return try await withCached(r, { try await squeezed(r, squeeze, client: Self.client(request)) }, respond)
        }

        // delta.safetensors: the dense ΔW of every module (of the squeezed form with ?rank=), each
        // tensor named delta.<base weight>, computed once into the cache like a squeeze, then served
        // as a file.
        t.addNamed(.get, "/v1/adapters/:ref/delta.safetensors", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            var squeeze: SqueezeRequest?
            if let rankText = request.queryValue("rank") {
                squeeze = try squeezeRequest(rankText, request)
            } else if let stray = SqueezeRequest.parameters.first(where: { $0 != "dtype" && request.queryValue($0) != nil }) {
                throw ServiceError.badRequest("\(stray) applies to the squeezed form: give ?rank= too", type: "invalid-options")
            }
            let dtype = try request.queryValue("dtype").map(SqueezeRequest.outputDType)
            func respond(_ entry: CacheEntry) async throws -> HTTPResponse {
                try await blobResponse(entry.weightsBlob, contentType: "application/octet-stream", request: request,
                                       cacheControl: Self.computedCacheControl, of: nil)
            }
            if request.method == .head {
                guard let entry = try await cachedDelta(r, squeeze: squeeze, dtype: dtype) else {
                    return Self.notComputedYet(contentType: "application/octet-stream")
                }
                return try await respond(entry)
            }
            return try await withCached(r, { try await delta(r, squeeze: squeeze, dtype: dtype, client: Self.client(request)) }, respond)
        }

        // merged.safetensors was the delta's first name, a trap: its tensors were named like the base
        // weights, so loading it as weights replaced each weight by its update. It moved for good;
        // clients that follow redirects get the delta, under its new tensor names.
        // The adapter is resolved first, so a bad or unknown reference gets its own 400 or 404.
        t.addNamed(.get, "/v1/adapters/:ref/merged.safetensors", access: .scope(.read)) { [self] request, caller in
            _ = try await record(request, caller)
            return try Self.movedDelta(query: request.head.query)
        }
    }

    /// Stored blobs as one ustar archive of plain file names, streamed (sendfile for the bodies), with
    /// `etag`, revalidated like every computed file. Every file is opened before answering: an eviction
    /// may unlink a blob, and an open descriptor keeps it readable (`BlobMissing` when one is gone already).
    func tarResponse(_ files: [(name: String, digest: SHA256Digest)], etag: String, fileName: String,
                     request: HTTPRequest) throws -> HTTPResponse {
        var segments: [BodySegment] = []
        for f in files {
            guard let file = try? OpenFile(path: catalog.blobs.path(for: f.digest)) else { throw BlobMissing(digest: f.digest) }
            let size = try file.status().size
            segments += [.bytes(try TarWriter.header(name: f.name, size: size)), .file(file, offset: 0, length: size),
                         .bytes(TarWriter.padding(forSize: size))]
        }
        segments.append(.bytes(TarWriter.trailer))
        var response = HTTPResponse.segments(segments, contentType: "application/x-tar", etag: etag, request: request)
        response.headers["Cache-Control"] = Self.computedCacheControl
        response.headers["Content-Disposition"] = "attachment; filename=\"\(fileName)\""
        return response
    }

    /// 301 to `delta.safetensors` in the same directory, the query kept (a relative reference, so it
    /// holds for the namespaced form and behind a proxy's path prefix). The query is the parser's
    /// validated request-target, so it is safe in a header.
    static func movedDelta(query: String?) throws -> HTTPResponse {
        let location = DenseDelta.fileName + (query.map { "?" + $0 } ?? "")
        var response = HTTPResponse.json(try JSONBody.encode(["moved": location,
            "detail": "merged.safetensors is now delta.safetensors: the same dense updates, each tensor named delta.<base weight name> so that it can never be loaded as weights"]),
            status: .movedPermanently)
        response.headers["Location"] = location
        response.headers["Link"] = "<\(location)>; rel=\"successor-version\""
        response.headers["Cache-Control"] = "no-cache"
        return response
    }
}

/// A cache entry as the pin routes report it.
struct CacheEntryResponse: Encodable {
    let adapter: String
    let rank: Int
    let options: String
    let bytes: Int64
    let pinned: Bool
    let hitCount: Int64

    init(_ e: CacheEntry) {
        adapter = e.key.adapter.hex
        rank = e.key.rank
        options = e.key.options
        bytes = e.bytes
        pinned = e.pinned
        hitCount = e.hitCount
    }
}
