import AdapterFormats
import Foundation
import HTTPServer
import Store

extension AdapterService {
    func addBaseRoutes(_ t: inout RouteTable) {
        // A Hugging Face model directory: multipart (a part per file) or a tar of the directory.
        t.add(.post, "/v1/bases", access: .scope(.write), maxBodyBytes: limits.maxBaseUploadBytes) { [self] request, caller in
            let name = try request.queryValue("name").map { try AdapterName(validating: $0) }
            try caller.requireCreatedName(name, how: "?name=")
            let (base, created) = try await ingestBase(request, name: name)
            var response = HTTPResponse.json(try JSONBody.encode(BaseResponse(caller.view(base))), status: created ? .created : .ok)
            response.headers["Location"] = "/v1/bases/\(base.digest.hex)"
            return response
        }

        t.add(.get, "/v1/bases", access: .scope(.read)) { [self] request, caller in
            let limit = try Self.intQuery(request, "limit", default: 100, range: 1...AdapterQuery.maxLimit)
            let offset = try Self.intQuery(request, "offset", default: 0, range: 0...Int.max)
            let namespace = caller.namespace
            let page = try await store.read { try $0.listBases(limit: limit, offset: offset, namespace: namespace) }
            struct Page: Encodable { let items: [BaseResponse]; let total: Int; let nextOffset: Int? }
            return .json(try JSONBody.encode(Page(items: page.items.map { BaseResponse(caller.view($0)) },
                                                  total: page.total, nextOffset: page.nextOffset)))
        }

        t.addNamed(.get, "/v1/bases/:ref", access: .scope(.read)) { [self] request, caller in
            let base = try await visibleBase(request.pathParameters["ref"] ?? "", caller)
            var response = HTTPResponse.json(try JSONBody.encode(BaseResponse(base)))
            response.headers["Cache-Control"] = "no-cache"
            return response
        }

        // Refused (409 base-in-use) while cached merges depend on the base, unless ?force=true.
        t.addNamed(.delete, "/v1/bases/:ref", access: .scope(.admin)) { [self] request, caller in
            let visible = try await visibleBase(request.pathParameters["ref"] ?? "", caller)
            let force: Bool
            switch request.queryValue("force") {
            case nil, "false": force = false
            case "true": force = true
            case let other?: throw ServiceError.badRequest("force=\"\(other.prefix(40))\" must be true or false", type: "invalid-request")
            }
            let namespace = caller.namespace
            let deletion = try await store.write { try $0.deleteBase(.digest(visible.digest), force: force, onlyIfAllNamesIn: namespace) }
            mergePlans.withLock { plans in plans = plans.filter { !$0.key.hasSuffix(":" + visible.digest.hex) } }
            struct Deleted: Encodable { let digest: String; let removedCacheEntries: Int; let removedBlobs: Int }
            return .json(try JSONBody.encode(Deleted(digest: deletion.base.digest.hex, removedCacheEntries: deletion.removedCacheEntries.count,
                                                     removedBlobs: deletion.removedBlobs.count)))
        }

        // Base names move like adapter names (`/v1/names/{name}`), in their own space.
        t.addNamed(.put, "/v1/base-names/:name", access: .scope(.write), maxBodyBytes: 4096) { [self] request, caller in
            let name = try AdapterName(validating: request.pathParameters["name"] ?? "")
            try caller.requireNameAllowed(name)
            struct Body: Decodable { let base: String }
            let bytes = try await request.body.collect(upTo: 4096)
            guard let body = try? JSONDecoder().decode(Body.self, from: Data(bytes)) else {
                throw ServiceError.badRequest("the body must be JSON {\"base\": \"<digest or name>\"}", type: "invalid-body")
            }
            let visible = try await visibleBase(body.base, caller)
            let previous = try await store.write { try $0.setBaseName(name, to: .digest(visible.digest)) }
            struct Moved: Encodable { let name: String; let digest: String; let previous: String? }
            return .json(try JSONBody.encode(Moved(name: name.description, digest: visible.digest.hex, previous: previous?.hex)),
                         status: previous == nil ? .created : .ok)
        }

        t.addNamed(.delete, "/v1/base-names/:name", access: .scope(.write)) { [self] request, caller in
            let name = try AdapterName(stored: request.pathParameters["name"] ?? "")
            try caller.requireNameAllowed(name)
            guard try await store.write({ try $0.removeBaseName(name) }) != nil else {
                throw HTTPError(.notFound, type: "not-found", detail: "no base model is named \(name)")
            }
            return .status(.noContent)
        }

        t.addNamed(.get, "/v1/bases/:ref/files/:file", access: .scope(.read)) { [self] request, caller in
            let reference = request.pathParameters["ref"] ?? ""
            let base = try await visibleBase(reference, caller)
            let path = request.pathParameters["file"] ?? ""
            guard let file = base.file(path) else {
                throw HTTPError(.notFound, type: "not-found",
                                detail: "base model \(base.digest.hex) has no file \"\(path.prefix(80))\" (files: \(base.fileList))")
            }
            return try await baseFileResponse(base, file, request: request,
                                              cacheControl: reference == base.digest.hex ? Self.immutable : "no-cache")
        }
    }
}
