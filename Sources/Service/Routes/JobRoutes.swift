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
        let error: String?
        let createdAt: String
        let updatedAt: String

        init(_ job: JobRecord) {
            id = job.id.description
            kind = job.kind
            state = job.state.rawValue
            done = job.done
            total = job.total
            adapters = job.result.flatMap { try? JSONDecoder().decode([NormalizeOutcome].self, from: Data($0.utf8)) } ?? []
            error = job.error
            let f = ISO8601DateFormatter()
            createdAt = f.string(from: job.createdAt)
            updatedAt = f.string(from: job.updatedAt)
        }
    }

    func addJobRoutes(_ t: inout RouteTable) {
        t.add(.post, "/v1/normalize", maxBodyBytes: 1 << 20) { [self] request in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let body: NormalizeRequest
            do { body = try JSONDecoder().decode(NormalizeRequest.self, from: Data(bytes)) } catch {
                throw ServiceError.badRequest("the body must be JSON like {\"adapters\": [\"name-or-digest\"], \"rank\": 16} (or \"prefix\", or \"all\": true; optional method, dtype, energy): \(error)", type: "invalid-body")
            }
            let job = try await createNormalizeJob(body)
            var response = HTTPResponse.json(try JSONBody.encode(JobResponse(job)), status: .accepted)
            response.headers["Location"] = "/v1/jobs/\(job.id)"
            return response
        }

        t.add(.get, "/v1/jobs/:id") { [self] request in
            let id = try JobID(validating: request.pathParameters["id"] ?? "")
            guard let job = try catalog.job(id) else {
                throw HTTPError(.notFound, type: "not-found", detail: "no job \(id)")
            }
            return .json(try JSONBody.encode(JobResponse(job)))
        }
    }
}
