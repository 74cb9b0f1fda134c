import AdapterFormats
import Foundation
import HTTPServer
import Store

extension AdapterService {
    func addMergedRoutes(_ t: inout RouteTable) {
        // …/merged/{rank}/{file}?base=: one file of the base model with the adapter (squeezed to
        // rank, or `original`) added into every weight it targets. Shards the adapter changes are
        // computed once into the cache; every other file is the base's own.
        t.addNamed(.get, "/v1/adapters/:ref/merged/:rank/:file", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let squeeze = try mergeSqueeze(request.pathParameters["rank"] ?? "", request)
            let base = try await mergeBase(for: r, request, caller)
            let path = request.pathParameters["file"] ?? ""
            guard let file = base.file(path) else {
                throw HTTPError(.notFound, type: "not-found",
                                detail: "the merged model has the base's files (\(base.fileList)), not \"\(path.prefix(80))\"")
            }
            let touched = try await touchedShards(r, base)
            guard touched.contains(path) else {
                return try await baseFileResponse(base, file, request: request, cacheControl: Self.computedCacheControl)
            }
            func respond(_ entry: CacheEntry) async throws -> HTTPResponse {
                try await blobResponse(entry.weightsBlob, contentType: Self.contentType(path), request: request,
                                       cacheControl: Self.computedCacheControl, of: nil)
            }
            if request.method == .head {
                guard let entry = try await cachedMergedShard(r, base, shard: path, squeeze: squeeze) else {
                    return Self.notComputedYet(contentType: Self.contentType(path))
                }
                return try await respond(entry)
            }
            return try await withCached(r, { try await mergedShard(r, base, shard: file, squeeze: squeeze, client: Self.client(request)) }, respond)
        }

        // …/merged/{rank}.tar: the whole merged directory in one ustar archive, every changed shard
        // computed first (one at a time), then streamed from the files.
        t.addNamed(.get, "/v1/adapters/:ref/merged/:archive", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let archive = request.pathParameters["archive"] ?? ""
            guard archive.hasSuffix(".tar") else {
                throw HTTPError(.notFound, type: "not-found", detail: "ask for …/merged/{rank}.tar or …/merged/{rank}/{file}")
            }
            let rankText = String(archive.dropLast(4))
            let squeeze = try mergeSqueeze(rankText, request)
            let base = try await mergeBase(for: r, request, caller)
            let touched = try await touchedShards(r, base)
            func files(computing: Bool) async throws -> [(name: String, digest: SHA256Digest)]? {
                var out: [(String, SHA256Digest)] = []
                for f in base.files {
                    guard touched.contains(f.path) else { out.append((f.path, f.blob)); continue }
                    if computing {
                        out.append((f.path, try await mergedShard(r, base, shard: f, squeeze: squeeze, client: Self.client(request)).weightsBlob))
                    } else {
                        guard let entry = try await cachedMergedShard(r, base, shard: f.path, squeeze: squeeze) else { return nil }
                        out.append((f.path, entry.weightsBlob))
                    }
                }
                return out
            }
            func respond(_ files: [(name: String, digest: SHA256Digest)]) async throws -> HTTPResponse {
                if request.method != .head {
                    let merged = files.filter { f in touched.contains(f.name) }.map(\.digest)
                    let own = files.filter { f in !touched.contains(f.name) }.map(\.digest)
                    try await io.run { [self] in
                        for d in merged { try checkBlob(d, of: nil) }
                        for d in own { try checkBaseBlob(d, of: base) }
                    }
                }
                let manifest = files.map { "\($0.name) \($0.digest.hex)\n" }.joined()
                return try tarResponse(files, etag: "\"\(try SHA256.hash(Data(manifest.utf8)).hex)-tar\"",
                                       fileName: "\(r.digest.hex.prefix(12))-merged-\(rankText).tar", request: request)
            }
            if request.method == .head {
                guard let known = try await files(computing: false) else { return Self.notComputedYet(contentType: "application/x-tar") }
                return try await respond(known)
            }
            do {
                return try await respond(try await files(computing: true)!)
            } catch is BlobMissing {   // a merged shard evicted between its computation and the answer
                return try await respond(try await files(computing: true)!)
            }
        }
    }
}
