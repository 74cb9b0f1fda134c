import AdapterFormats
import Foundation
import HTTPServer
import Store

/// The Hugging Face Hub protocol, read-only, under `/hub/{view}`: what `huggingface_hub` asks for in
/// `snapshot_download`, `hf_hub_download`, `repo_info` and `list_repo_tree` (so vLLM, PEFT, TGI,
/// LoRAX and SGLang load adapters by name with `HF_ENDPOINT` pointed here). Repository ids are
/// adapter names (`team-a/chat-v2`) or digests; a revision is `main`, the repository's commit id,
/// or the adapter's digest. Squeezed views compute on first use, like `…/squeezed/{rank}/…`.
extension AdapterService {
    func addHubRoutes(_ t: inout RouteTable) {
        let refine = HubErrors.refine
        t.addNamed(.get, "/hub/:view/api/models/:ref", access: .scope(.read), refine: refine) { [self] request, caller in
            try await hubModelInfo(request, caller)
        }
        t.addNamed(.get, "/hub/:view/api/models/:ref/revision/:revision", access: .scope(.read), refine: refine) { [self] request, caller in
            try await hubModelInfo(request, caller)
        }
        // The listing `snapshot_download` reads in huggingface_hub 1.x and 2.x. A repository here has
        // one or two files, far below the Hub's 1000 entries a page, so it is always one page (no
        // `Link: rel="next"`); `recursive` and `expand` change nothing in a flat repository.
        t.addNamed(.get, "/hub/:view/api/models/:ref/tree/:revision", access: .scope(.read), refine: refine) { [self] request, caller in
            try await hubServing(request, caller) { served in
                .json(try JSONBody.encode(served.repo.files.map(HubDocuments.treeEntry)))
            }
        }
        t.addNamed(.get, "/hub/:view/:ref/resolve/:revision/:file", access: .scope(.read), refine: refine) { [self] request, caller in
            try await hubServing(request, caller) { [self] served in
                let (repo, path) = (served.repo, request.pathParameters["file"] ?? "")
                guard let file = repo.file(path), let blob = served.blobs[path] else {
                    throw HubErrors.notFound(HubErrors.entryNotFound,
                                             "\(repo.id) has no file \"\(path.prefix(80))\" (files: \(repo.files.map(\.path).joined(separator: ", ")))")
                }
                let revision = request.pathParameters["revision"] ?? ""
                let cacheControl = revision == repo.commit ? Self.immutable : "no-cache"
                var response: HTTPResponse
                if let base = served.base, let own = base.file(path), own.blob == blob {
                    response = try await baseFileResponse(base, own, request: request, cacheControl: cacheControl)
                } else {
                    response = try await blobResponse(blob, contentType: Self.contentType(path), request: request,
                                                      cacheControl: cacheControl, of: served.owner)
                }
                response.headers["X-Repo-Commit"] = repo.commit
                response.headers["X-Linked-Etag"] = "\"\(file.pointer.sha256.hex)\""
                response.headers["X-Linked-Size"] = "\(file.pointer.size)"
                return response
            }
        }
    }

    private func hubModelInfo(_ request: HTTPRequest, _ caller: Caller) async throws -> HTTPResponse {
        try await hubServing(request, caller) { served in
            var response = HTTPResponse.json(try JSONBody.encode(HubDocuments.modelInfo(served.repo, baseModel: served.base?.names.first?.rawValue ?? served.record.baseModel,
                                                                                  merged: served.base != nil)))
            response.headers["Cache-Control"] = "no-cache"
            return response
        }
    }

    /// What one hub request serves: the repository, the blob behind each of its files, the adapter,
    /// and whose files they are when they are the adapter's own (nil for a squeeze's, see `checkBlob`).
    struct HubServed {
        let repo: HubRepository
        let blobs: [String: SHA256Digest]
        let record: AdapterRecord
        let owner: AdapterRecord?
        /// A merged view's base model: the files it serves unchanged are its own.
        var base: BaseRecord? = nil
    }

    /// Builds the repository the request's view shows of its adapter, checks the revision, and
    /// answers with `body`; a cached squeeze evicted in between is computed again once.
    private func hubServing(_ request: HTTPRequest, _ caller: Caller,
                            _ body: (HubServed) async throws -> HTTPResponse) async throws -> HTTPResponse {
        let view = try HubView(parsing: request.pathParameters["view"] ?? "", maxRank: limits.maxRank)
        let record = try await record(request, caller)
        let id = request.pathParameters["ref"] ?? ""
        func attempt() async throws -> HTTPResponse {
            let served = try await hubRepository(id: id, record: record, view: view, request: request, caller: caller)
            try Self.checkRevision(request.pathParameters["revision"] ?? "main", repo: served.repo, adapter: record.digest)
            return try await body(served)
        }
        do {
            return try await attempt()
        } catch is BlobMissing {
            logger.info("cached files of \(record.digest.hex.prefix(12)) were evicted while being requested; computing again")
            return try await attempt()
        }
    }

    /// The files `view` serves of `record` (computing the squeeze on first use), as a repository.
    func hubRepository(id: String, record: AdapterRecord, view: HubView, request: HTTPRequest, caller: Caller) async throws -> HubServed {
        var files: [(path: String, digest: SHA256Digest)] = []
        var modified: Date
        var base: BaseRecord?
        switch view {
        case .original:
            if record.damaged { throw BlobDamaged(blob: nil, adapter: record.digest) }
            if let config = record.configBlob { files.append((PEFTFiles.config, config)) }
            files.append((PEFTFiles.weights, record.weightsBlob))
            modified = record.createdAt
        case let .squeezed(rank, dtype):
            let entry = try await squeezed(record, SqueezeRequest(rank: rank, dtype: dtype), client: Self.client(request))
            if let config = entry.configBlob { files.append((PEFTFiles.config, config)) }
            files.append((PEFTFiles.weights, entry.weightsBlob))
            modified = entry.createdAt
        case let .merged(rank):
            // The base named like the adapter's base_model_name_or_path (a Hub client sends no ?base=);
            // every shard the adapter changes is merged now, since the listing carries each file's SHA-256.
            let merging = try await mergeBase(for: record, request, caller)
            if merging.damaged { throw BaseDamaged(blob: nil, base: merging.digest) }
            let squeeze = rank.map { SqueezeRequest(rank: $0) }
            let touched = try await touchedShards(record, merging)
            modified = max(record.createdAt, merging.createdAt)
            for f in merging.files {
                guard touched.contains(f.path) else { files.append((f.path, f.blob)); continue }
                let entry = try await mergedShard(record, merging, shard: f, squeeze: squeeze, client: Self.client(request))
                files.append((f.path, entry.weightsBlob))
                modified = max(modified, entry.createdAt)
            }
            base = merging
        }
        let digests = files.map(\.digest)
        let sizes = try await store.read { catalog in try digests.map { try catalog.blobInfo($0)?.size } }
        var sized: [(path: String, digest: SHA256Digest, size: Int64)] = []
        for (file, size) in zip(files, sizes) {
            guard let size else { throw BlobMissing(digest: file.digest) }
            sized.append((file.path, file.digest, size))
        }
        let repo = try HubRepository(id: id, files: sized, lastModified: modified, isPrivate: authenticator.enabled)
        return HubServed(repo: repo, blobs: Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.digest) }),
                         record: record, owner: view == .original ? record : nil, base: base)
    }

    /// `main`, the repository's commit id and the adapter's digest name what is served now; any
    /// other revision (an older commit, a branch, `refs/pr/1`) is not found.
    static func checkRevision(_ revision: String, repo: HubRepository, adapter: SHA256Digest) throws {
        guard revision != "main", revision != repo.commit, revision != adapter.hex else { return }
        throw HubErrors.notFound(HubErrors.revisionNotFound,
                                 "\(repo.id) has no revision \"\(revision.prefix(80))\": it serves main, commit \(repo.commit) (adapter \(adapter.hex))")
    }
}
