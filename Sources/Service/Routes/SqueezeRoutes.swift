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

    /// The client a request counts against for fairness: its address, without the port.
    static func client(_ request: HTTPRequest) -> String { request.remoteAddress?.host ?? "unknown" }

    func squeezeRequest(_ rankText: String, _ request: HTTPRequest) throws -> SqueezeRequest {
        try SqueezeRequest(rankText: rankText, request: request, maxRank: limits.maxRank)
    }

    func addSqueezeRoutes(_ t: inout RouteTable) {
        // …/squeezed/{rank}/adapter_config.json and …/squeezed/{rank}/adapter_model.safetensors: a PEFT
        // directory at one deployment rank, so a host fetches two URLs into a folder and loads it.
        t.add(.get, "/v1/adapters/:ref/squeezed/:rank/:file") { [self] request in
            let r = try record(request)
            let squeeze = try squeezeRequest(request.pathParameters["rank"] ?? "", request)
            let file = request.pathParameters["file"] ?? ""
            guard file == PEFTFiles.config || file == PEFTFiles.weights else {
                throw HTTPError(.notFound, type: "not-found", detail: "a squeezed adapter has adapter_config.json and adapter_model.safetensors, not \"\(file.prefix(80))\"")
            }
            if file == PEFTFiles.config && r.format == .kohya {
                throw HTTPError(.notFound, type: "not-found", detail: "adapter \(r.digest.hex) is a kohya file: it has no adapter_config.json")
            }
            return try await withCached(r, { try await squeezed(r, squeeze, client: Self.client(request)) }) { entry in
                guard let blob = file == PEFTFiles.config ? entry.configBlob : entry.weightsBlob else {
                    throw HTTPError(.notFound, type: "not-found", detail: "the squeezed adapter has no \(file)")
                }
                return try await blobResponse(blob, contentType: Self.contentType(file), request: request,
                                              cacheControl: Self.cacheControl(request, r))
            }
        }

        // …/squeezed/{rank}/pin: keep a squeeze out of eviction (computing it first if needed), or let it go.
        t.add(.put, "/v1/adapters/:ref/squeezed/:rank/pin") { [self] request in
            let r = try record(request)
            let squeeze = try squeezeRequest(request.pathParameters["rank"] ?? "", request)
            let entry = try await squeezed(r, squeeze, client: Self.client(request))
            let pinned: CacheEntry
            do { pinned = try catalog.pin(entry.key, maxPinnedBytes: limits.pinnedBytesCap) } catch let e as CatalogError {
                guard case .pinnedBytesExceeded = e else { throw e }
                throw HTTPError(.conflict, type: "pinned-bytes-exceeded", detail: e.description)
            }
            return .json(try JSONBody.encode(CacheEntryResponse(pinned)))
        }

        t.add(.delete, "/v1/adapters/:ref/squeezed/:rank/pin") { [self] request in
            let r = try record(request)
            let (key, _, _) = try cacheKey(r, try squeezeRequest(request.pathParameters["rank"] ?? "", request))
            guard try catalog.cachePeek(key) != nil else {
                throw HTTPError(.notFound, type: "not-found", detail: "no cached squeeze of \(r.digest.hex) at rank \(key.rank) with these options")
            }
            return .json(try JSONBody.encode(CacheEntryResponse(try catalog.unpin(key))))
        }

        // …/squeezed/{rank}.tar: both files in one ustar archive, streamed.
        t.add(.get, "/v1/adapters/:ref/squeezed/:archive") { [self] request in
            let r = try record(request)
            let archive = request.pathParameters["archive"] ?? ""
            guard archive.hasSuffix(".tar") else {
                throw HTTPError(.notFound, type: "not-found", detail: "ask for …/squeezed/{rank}.tar or …/squeezed/{rank}/{file}")
            }
            let squeeze = try squeezeRequest(String(archive.dropLast(4)), request)
            return try await withCached(r, { try await squeezed(r, squeeze, client: Self.client(request)) }) { entry in
                var files: [(name: String, digest: SHA256Digest)] = []
                if let c = entry.configBlob { files.append((PEFTFiles.config, c)) }
                files.append((PEFTFiles.weights, entry.weightsBlob))
                // Open every file before answering: eviction may unlink a blob, an open descriptor keeps it readable.
                var segments: [BodySegment] = []
                for f in files {
                    guard let file = try? OpenFile(path: catalog.blobs.path(for: f.digest)) else { throw BlobMissing(digest: f.digest) }
                    let size = try file.status().size
                    segments += [.bytes(try TarWriter.header(name: f.name, size: size)), .file(file, offset: 0, length: size),
                                 .bytes(TarWriter.padding(forSize: size))]
                }
                segments.append(.bytes(TarWriter.trailer))
                let etag = "\"\(entry.weightsBlob.hex)-\(entry.configBlob?.hex.prefix(16) ?? "kohya")-tar\""
                var response = HTTPResponse.segments(segments, contentType: "application/x-tar", etag: etag, request: request)
                response.headers["Cache-Control"] = Self.cacheControl(request, r)
                response.headers["Content-Disposition"] = "attachment; filename=\"\(r.digest.hex.prefix(12))-r\(squeeze.rank).tar\""
                return response
            }
        }

        // merged.safetensors: the dense ΔW of every module (of the squeezed form with ?rank=),
        // computed once into the cache like a squeeze, then served as a file.
        t.add(.get, "/v1/adapters/:ref/merged.safetensors") { [self] request in
            let r = try record(request)
            var squeeze: SqueezeRequest?
            if let rankText = request.queryValue("rank") {
                squeeze = try squeezeRequest(rankText, request)
            } else if let stray = SqueezeRequest.parameters.first(where: { $0 != "dtype" && request.queryValue($0) != nil }) {
                throw ServiceError.badRequest("\(stray) applies to the squeezed form: give ?rank= too", type: "invalid-options")
            }
            let dtype = try request.queryValue("dtype").map { text -> DType in
                guard let d = ["f32": DType.f32, "f16": .f16, "bf16": .bf16][text.lowercased()] else {
                    throw ServiceError.badRequest("dtype \"\(text.prefix(40))\" must be f32, f16 or bf16", type: "invalid-options")
                }
                return d
            }
            return try await withCached(r, { try await merged(r, squeeze: squeeze, dtype: dtype, client: Self.client(request)) }) { entry in
                try await blobResponse(entry.weightsBlob, contentType: "application/octet-stream", request: request,
                                       cacheControl: Self.cacheControl(request, r))
            }
        }
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
