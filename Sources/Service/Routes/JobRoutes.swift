import Foundation
import HTTPServer
import Store

extension AdapterService {
    /// A job as `GET /v1/jobs/{id}` reports it.
    struct JobResponse: Encodable {
        let id: String
        let kind: String
        let state: String
        let done: Int
        let total: Int
        let adapters: [NormalizeOutcome]
        /// An extract job's modules, and the adapter it stored once it succeeded.
        let modules: [ExtractOutcome]?
        let result: ExtractResult?
        let error: String?
        let createdAt: String
        let updatedAt: String

        init(_ job: JobRecord, items: [JobItem]) {
            id = job.id.description
            kind = job.kind
            state = job.state.rawValue
            done = job.done
            total = job.total
            let extract = job.kind == AdapterService.extractKind
            adapters = extract ? [] : items.map(NormalizeOutcome.init)
            modules = extract ? items.map(ExtractOutcome.init) : nil
            result = extract ? job.result.flatMap { try? JSONDecoder().decode(ExtractResult.self, from: Data($0.utf8)) } : nil
            error = job.error
            createdAt = job.createdAt.formatted(.iso8601)
            updatedAt = job.updatedAt.formatted(.iso8601)
        }
    }

    func addJobRoutes(_ t: inout RouteTable) {
        t.add(.post, "/v1/normalize", access: .scope(.write), maxBodyBytes: 1 << 20) { [self] request, caller in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let body = try JSONBody.decode(NormalizeRequest.self, from: bytes,
                                           expected: "{\"adapters\": [\"name-or-digest\"], \"rank\": 16} (or \"prefix\", or \"all\": true; optional method, dtype, energy)")
            let job = try await createNormalizeJob(body, caller: caller)
            let id = job.id
            let items = try await store.read { try $0.jobItems(id) }
            var response = HTTPResponse.json(try JSONBody.encode(JobResponse(job, items: items)), status: .accepted)
            response.headers["Location"] = "/v1/jobs/\(job.id)"
            return response
        }

        // A full fine-tune into an adapter: a stored base and a stored tuned model (POST /v1/bases both).
        t.add(.post, "/v1/extract", access: .scope(.write), maxBodyBytes: 1 << 20) { [self] request, caller in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let body = try JSONBody.decode(ExtractRequest.self, from: bytes,
                                           expected: "{\"base\": \"name-or-digest\", \"tuned\": \"name-or-digest\", \"rank\": 16} (optional energy, targets, name, dtype, oversample, power_iters, seed, fan_in_fan_out, base_model)")
            let job = try await createExtractJob(body, caller: caller)
            let id = job.id
            let items = try await store.read { try $0.jobItems(id) }
            var response = HTTPResponse.json(try JSONBody.encode(JobResponse(job, items: items)), status: .accepted)
            response.headers["Location"] = "/v1/jobs/\(job.id)"
            return response
        }

        t.add(.get, "/v1/jobs/:id", access: .scope(.read)) { [self] request, caller in
            let id = try JobID(validating: request.pathParameters["id"] ?? "")
            guard let (job, items) = try await store.read({ catalog in
                try catalog.job(id).map { ($0, try catalog.jobItems(id)) }
            }), caller.namespace == nil || job.namespace == caller.namespace else {
                throw HTTPError(.notFound, type: "not-found", detail: "no job \(id)")
            }
            return .json(try JSONBody.encode(JobResponse(job, items: items)))
        }
    }
}
