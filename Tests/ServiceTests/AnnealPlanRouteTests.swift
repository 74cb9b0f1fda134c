import Foundation
@testable import Service
import Testing
import TestSupport

@Suite("POST /v1/anneal/plan")
struct AnnealPlanRouteTests {
    @Test("the plan as JSON; defaults as documented; bad requests are 400s naming the field")
    func plan() async throws {
        try await ServiceHarness.with { s in
            let ok = try await s.client.send("POST", "/v1/anneal/plan", json: #"{"fromRank": 64, "toRank": 8, "totalSteps": 2000}"#)
            #expect(ok.status == 200, "\(ok.text)")
            let object = try ok.jsonObject()
            let phases = object["phases"] as? [[String: Any]] ?? []
            #expect(phases.compactMap { $0["rank"] as? Int } == [64, 32, 16, 8])
            #expect(phases.compactMap { $0["steps"] as? Int } == [500, 500, 500, 500])
            #expect(object["squeezeSteps"] as? [Int] == [500, 1000, 1500] && object["schedule"] as? String == "geometric")
            #expect(object["finalFraction"] as? Double == 0.25)
            let linear = try await s.client.send("POST", "/v1/anneal/plan",
                                                 json: #"{"fromRank": 64, "toRank": 8, "totalSteps": 1000, "phases": 3, "schedule": "linear", "finalFraction": 0.5}"#)
            #expect(((try linear.jsonObject()["phases"]) as? [[String: Any]])?.compactMap { $0["rank"] as? Int } == [64, 36, 8])
            for (body, fragment) in [
                (#"{"fromRank": 8, "toRank": 64, "totalSteps": 2000}"#, "must be larger than toRank"),
                (#"{"fromRank": 64, "toRank": 8, "totalSteps": 2000, "schedule": "cosine"}"#, "schedule \"cosine\""),
                (#"{"fromRank": 64, "toRank": 8, "totalSteps": 2000, "phases": null}"#, "\"phases\" must not be null"),
                (#"{"fromRank": 64, "toRank": 8}"#, "\"totalSteps\" is required"),
                (#"{"fromRank": 64, "toRank": 8, "totalSteps": 2000, "finalFraction": 1}"#, "finalFraction"),
            ] {
                let refused = try await s.client.send("POST", "/v1/anneal/plan", json: body)
                try expectProblem(refused, status: 400, detailContains: [fragment], body)
            }
            #expect(try await s.anonymous.send("POST", "/v1/anneal/plan", json: #"{"fromRank": 64, "toRank": 8, "totalSteps": 2000}"#).status == 401)
        }
    }
}
