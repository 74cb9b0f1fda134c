import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    /// Runs `body` on the squeezed entry; if a cache eviction removed its files in between, squeezes
    /// again once (the second computation is then served, spared by its own eviction).
    func withSqueezed(_ r: AdapterRecord, _ squeeze: SqueezeRequest,
                      _ body: (CacheEntry) async throws -> HTTPResponse) async throws -> HTTPResponse {
        do {
            return try await body(try await squeezed(r, squeeze))
        } catch is BlobMissing {
            logger.info("squeezed files of \(r.digest.hex.prefix(12)) were evicted while being requested; computing again")
            return try await body(try await squeezed(r, squeeze))
        }
    }

    func addSqueezeRoutes(_ t: inout RouteTable) {
        // …/squeezed/{rank}/adapter_config.json and …/squeezed/{rank}/adapter_model.safetensors: a PEFT
        // directory at one deployment rank, so a host fetches two URLs into a folder and loads it.
        t.add(.get, "/v1/adapters/:ref/squeezed/:rank/:file") { [self] request in
            let r = try record(request)
            let squeeze = try SqueezeRequest(rankText: request.pathParameters["rank"] ?? "", request: request,
                                             maxRank: configuration.maxRank)
            let file = request.pathParameters["file"] ?? ""
            guard file == PEFTFiles.config || file == PEFTFiles.weights else {
                throw HTTPError(.notFound, type: "not-found", detail: "a squeezed adapter has adapter_config.json and adapter_model.safetensors, not \"\(file.prefix(80))\"")
            }
            if file == PEFTFiles.config && r.format == .kohya {
                throw HTTPError(.notFound, type: "not-found", detail: "adapter \(r.digest.hex) is a kohya file: it has no adapter_config.json")
            }
            return try await withSqueezed(r, squeeze) { entry in
                let blob = file == PEFTFiles.config ? entry.configBlob! : entry.weightsBlob
                return try await blobResponse(blob, contentType: Self.contentType(file), request: request,
                                              cacheControl: Self.cacheControl(request, r))
            }
        }

        // …/squeezed/{rank}/pin: keep a squeeze out of eviction (computing it first if needed), or let it go.
        t.add(.put, "/v1/adapters/:ref/squeezed/:rank/pin") { [self] request in
            let r = try record(request)
            let squeeze = try SqueezeRequest(rankText: request.pathParameters["rank"] ?? "", request: request,
                                             maxRank: configuration.maxRank)
            let entry = try await squeezed(r, squeeze)
            let pinned = try catalog.pin(entry.key)
            return .json(try JSONBody.encode(CacheEntryResponse(pinned)))
        }

        t.add(.delete, "/v1/adapters/:ref/squeezed/:rank/pin") { [self] request in
            let r = try record(request)
            let squeeze = try SqueezeRequest(rankText: request.pathParameters["rank"] ?? "", request: request,
                                             maxRank: configuration.maxRank)
            let key = try CacheKey(adapter: r.digest, rank: squeeze.rank, options: squeeze.canonicalOptions)
            guard try catalog.cachePeek(key) != nil else {
                throw HTTPError(.notFound, type: "not-found", detail: "no cached squeeze of \(r.digest.hex) at rank \(squeeze.rank) with these options")
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
            let squeeze = try SqueezeRequest(rankText: String(archive.dropLast(4)), request: request, maxRank: configuration.maxRank)
            return try await withSqueezed(r, squeeze) { entry in
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

        // merged.safetensors: the dense ΔW of every module (optionally of the squeezed form, ?rank=),
        // computed and sent module by module.
        t.add(.get, "/v1/adapters/:ref/merged.safetensors") { [self] request in
            let r = try record(request)
            var adapterRecord = r
            var tag = "source"
            if let rankText = request.queryValue("rank") {
                var squeeze = try SqueezeRequest(rankText: rankText, request: request, maxRank: configuration.maxRank)
                squeeze.dtype = nil
                let entry = try await squeezed(r, squeeze)
                adapterRecord.configBlob = entry.configBlob
                adapterRecord.weightsBlob = entry.weightsBlob
                tag = "r\(squeeze.rank)-\(squeeze.canonicalOptions)"
            } else if let stray = SqueezeRequest.parameters.first(where: { $0 != "dtype" && request.queryValue($0) != nil }) {
                throw ServiceError.badRequest("\(stray) applies to the squeezed form: give ?rank= too", type: "invalid-options")
            }
            let dtype = try request.queryValue("dtype").map { text -> DType in
                guard let d = ["f32": DType.f32, "f16": .f16, "bf16": .bf16][text.lowercased()] else {
                    throw ServiceError.badRequest("dtype \"\(text.prefix(40))\" must be f32, f16 or bf16", type: "invalid-options")
                }
                return d
            }
            // The same adapter, squeeze and dtype always give the same bytes.
            let variant = try SHA256.hash(Array((tag + "-" + (dtype?.rawValue ?? "input")).utf8)).hex.prefix(16)
            let etag = "\"\(r.digest.hex)-merged-\(variant)\""
            if request.ifNoneMatchMatches(etag) {
                return HTTPResponse(status: .notModified, headers: ["ETag": etag, "Cache-Control": Self.cacheControl(request, r)])
            }
            let source = try load(adapterRecord)
            let merged = try MergedDelta(adapter: source, dtype: dtype)
            let pool = self.pool
            var response = HTTPResponse.stream(contentType: "application/octet-stream", length: merged.totalBytes) { writer in
                try await writer.write(merged.header)
                for entry in merged.entries {
                    // One module at a time on the compute pool: memory stays bounded by a module.
                    let bytes = try await pool.run {
                        var out: [UInt8] = []
                        try merged.write(entry) { out += $0 }
                        return out
                    }
                    try await writer.write(bytes)
                }
            }
            response.headers["ETag"] = etag
            response.headers["Cache-Control"] = Self.cacheControl(request, r)
            return response
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
