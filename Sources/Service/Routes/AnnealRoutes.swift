import Foundation
import HTTPServer
import SqueezeEngine

extension AdapterService {
    /// The body of `POST /v1/anneal/plan`.
    struct AnnealPlanRequest: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case fromRank, toRank, totalSteps, phases, schedule, finalFraction }
        let fromRank: Int
        let toRank: Int
        let totalSteps: Int
        let phases: Int?
        let schedule: String?
        let finalFraction: Double?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.refuseNulls()
            fromRank = try c.decode(Int.self, forKey: .fromRank)
            toRank = try c.decode(Int.self, forKey: .toRank)
            totalSteps = try c.decode(Int.self, forKey: .totalSteps)
            phases = try c.decodeIfPresent(Int.self, forKey: .phases)
            schedule = try c.decodeIfPresent(String.self, forKey: .schedule)
            finalFraction = try c.decodeIfPresent(Double.self, forKey: .finalFraction)
        }
    }

    /// The plan as the API answers it: the request's values, every phase, and the squeeze steps.
    struct AnnealPlanResponse: Encodable {
        let plan: AnnealPlan
        func encode(to encoder: any Encoder) throws {
            enum Keys: String, CodingKey { case fromRank, toRank, totalSteps, schedule, finalFraction, phases, squeezeSteps }
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(plan.fromRank, forKey: .fromRank)
            try c.encode(plan.toRank, forKey: .toRank)
            try c.encode(plan.totalSteps, forKey: .totalSteps)
            try c.encode(plan.schedule, forKey: .schedule)
            try c.encode(plan.finalFraction, forKey: .finalFraction)
            try c.encode(plan.phases, forKey: .phases)
            try c.encode(plan.squeezeSteps, forKey: .squeezeSteps)
        }
    }

    func addAnnealRoutes(_ t: inout RouteTable) {
        // A pure computation over its body: no adapter is read or changed.
        t.add(.post, "/v1/anneal/plan", access: .scope(.read), maxBodyBytes: 4096) { request, _ in
            let bytes = try await request.body.collect(upTo: 4096)
            let body = try JSONBody.decode(AnnealPlanRequest.self, from: bytes,
                                           expected: "{\"fromRank\": 64, \"toRank\": 8, \"totalSteps\": 2000} (optional phases, schedule \"geometric\" or \"linear\", finalFraction)")
            let schedule = try body.schedule.map { text in
                guard let schedule = AnnealPlan.Schedule(rawValue: text) else {
                    throw ServiceError.badRequest("schedule \"\(text)\" must be \"geometric\" or \"linear\"", type: "invalid-plan")
                }
                return schedule
            } ?? .geometric
            do {
                let plan = try AnnealPlan(fromRank: body.fromRank, toRank: body.toRank, totalSteps: body.totalSteps,
                                          phases: body.phases ?? 4, schedule: schedule, finalFraction: body.finalFraction ?? 0.25)
                return .json(try JSONBody.encode(AnnealPlanResponse(plan: plan)))
            } catch let error as AnnealPlanError {
                throw ServiceError.badRequest(error.description, type: "invalid-plan")
            }
        }
    }
}
