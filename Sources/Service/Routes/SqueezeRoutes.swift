import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
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
            let entry = try await squeezed(r, squeeze)
            let blob = file == PEFTFiles.config ? entry.configBlob! : entry.weightsBlob
            return try blobResponse(blob, contentType: Self.contentType(file), request: request,
                                    cacheControl: Self.cacheControl(request, r))
        }

        // …/squeezed/{rank}.tar: both files in one ustar archive, streamed.
        t.add(.get, "/v1/adapters/:ref/squeezed/:archive") { [self] request in
            let r = try record(request)
            let archive = request.pathParameters["archive"] ?? ""
            guard archive.hasSuffix(".tar") else {
                throw HTTPError(.notFound, type: "not-found", detail: "ask for …/squeezed/{rank}.tar or …/squeezed/{rank}/{file}")
            }
            let squeeze = try SqueezeRequest(rankText: String(archive.dropLast(4)), request: request, maxRank: configuration.maxRank)
            let entry = try await squeezed(r, squeeze)
            var files: [(name: String, digest: SHA256Digest)] = []
            if let c = entry.configBlob { files.append((PEFTFiles.config, c)) }
            files.append((PEFTFiles.weights, entry.weightsBlob))
            // Open every file before answering: eviction may unlink a blob, an open descriptor keeps it readable.
            let handles = try files.map { try FileHandle(forReadingFrom: catalog.blobs.url(for: $0.digest)) }
            let sizes = try handles.map { Int(try $0.seekToEnd()) }
            for h in handles { try h.seek(toOffset: 0) }
            let etag = "\"\(entry.weightsBlob.hex)-tar\""
            if let match = request.headers["If-None-Match"], match.contains(etag) || match == "*" {
                return HTTPResponse(status: .notModified, headers: ["ETag": etag])
            }
            let names = files.map(\.name)
            var response = HTTPResponse.stream(contentType: "application/x-tar",
                                               length: TarWriter.archiveSize(fileSizes: sizes)) { writer in
                defer { for h in handles { try? h.close() } }
                for (i, h) in handles.enumerated() {
                    try await writer.write(TarWriter.header(name: names[i], size: sizes[i]))
                    while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { try await writer.write(Array(chunk)) }
                    try await writer.write(TarWriter.padding(forSize: sizes[i]))
                }
                try await writer.write(TarWriter.trailer)
            }
            response.headers["ETag"] = etag
            response.headers["Cache-Control"] = Self.cacheControl(request, r)
            response.headers["Content-Disposition"] = "attachment; filename=\"\(r.digest.hex.prefix(12))-r\(squeeze.rank).tar\""
            return response
        }

        // merged.safetensors: the dense ΔW of every module (optionally of the squeezed form, ?rank=),
        // computed and sent module by module.
        t.add(.get, "/v1/adapters/:ref/merged.safetensors") { [self] request in
            let r = try record(request)
            var adapterRecord = r
            var source: LoRAAdapter
            if let rankText = request.queryValue("rank") {
                var squeeze = try SqueezeRequest(rankText: rankText, request: request, maxRank: configuration.maxRank)
                squeeze.dtype = nil
                let entry = try await squeezed(r, squeeze)
                adapterRecord.configBlob = entry.configBlob
                adapterRecord.weightsBlob = entry.weightsBlob
            }
            let dtype = try request.queryValue("dtype").map { text -> DType in
                guard let d = ["f32": DType.f32, "f16": .f16, "bf16": .bf16][text.lowercased()] else {
                    throw ServiceError.badRequest("dtype \"\(text.prefix(40))\" must be f32, f16 or bf16", type: "invalid-options")
                }
                return d
            }
            source = try load(adapterRecord)
            let merged = try MergedDelta(adapter: source, dtype: dtype)
            let pool = self.pool
            return HTTPResponse.stream(contentType: "application/octet-stream", length: merged.totalBytes) { writer in
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
        }
    }
}
