import Foundation
import SqueezeEngine
import Testing

@Suite("AnnealPlan: rank schedules")
struct AnnealPlanTests {
    @Test("the default: 64 → 32 → 16 → 8 over 2000 steps, the last quarter at 8")
    func geometricDefault() throws {
        let plan = try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 2000)
        #expect(plan.phases.map(\.rank) == [64, 32, 16, 8])
        #expect(plan.phases.map(\.startStep) == [0, 500, 1000, 1500] && plan.phases.map(\.endStep) == [500, 1000, 1500, 2000])
        #expect(plan.phases.map(\.steps) == [500, 500, 500, 500] && plan.squeezeSteps == [500, 1000, 1500])
        #expect(plan.schedule == .geometric && plan.finalFraction == 0.25)
    }

    @Test("linear ranks; a remainder of steps goes to the first phases; the final fraction is rounded")
    func linearAndRemainders() throws {
        let linear = try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 2000, schedule: .linear)
        #expect(linear.phases.map(\.rank) == [64, 45, 27, 8])   // 64 − 56·k/3, rounded
        let odd = try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 1003)
        // 1003 · 0.25 = 250.75 → 251 at the end; 752 = 251 + 251 + 250 before it.
        #expect(odd.phases.map(\.steps) == [251, 251, 250, 251])
        #expect(odd.phases.last?.endStep == 1003)
        let short = try AnnealPlan(fromRank: 16, toRank: 4, totalSteps: 100, phases: 3, finalFraction: 0.5)
        #expect(short.phases.map(\.rank) == [16, 8, 4] && short.phases.map(\.steps) == [25, 25, 50])
    }

    @Test("every request in a grid gives strictly decreasing ranks from fromRank to toRank, and contiguous steps that add up")
    func invariants() throws {
        for from in 2...70 {
            for to in 1..<from {
                for count in 2...min(9, from - to + 1) {
                    for schedule in AnnealPlan.Schedule.allCases {
                        let plan = try AnnealPlan(fromRank: from, toRank: to, totalSteps: 997, phases: count, schedule: schedule,
                                                  finalFraction: 0.3)
                        let ranks = plan.phases.map(\.rank)
                        #expect(ranks.first == from && ranks.last == to && ranks.count == count, "\(from)→\(to) \(count)")
                        #expect(zip(ranks, ranks.dropFirst()).allSatisfy { $0 > $1 }, "\(from)→\(to) \(count) \(schedule): \(ranks)")
                        #expect(plan.phases.first?.startStep == 0 && plan.phases.last?.endStep == 997)
                        #expect(zip(plan.phases, plan.phases.dropFirst()).allSatisfy { $0.endStep == $1.startStep })
                        #expect(plan.phases.allSatisfy { $0.steps >= 1 } && plan.phases.last?.steps == 299)
                    }
                }
            }
        }
    }

    @Test("each bound at its limit and one past, and nonsense refused naming the field")
    func bounds() throws {
        typealias L = AnnealPlan.Limits
        #expect(try AnnealPlan(fromRank: 2, toRank: 1, totalSteps: 2, phases: 2, finalFraction: 0.5).phases.count == 2)
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 2, toRank: 0, totalSteps: 2) }
        #expect(try AnnealPlan(fromRank: L.maxRank, toRank: 8, totalSteps: 100).phases.first?.rank == L.maxRank)
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: L.maxRank + 1, toRank: 8, totalSteps: 100) }
        #expect(try AnnealPlan(fromRank: 512, toRank: 8, totalSteps: 1000, phases: L.maxPhases).phases.count == L.maxPhases)
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 512, toRank: 8, totalSteps: 1000, phases: L.maxPhases + 1) }
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 1000, phases: 1) }
        #expect(try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: L.maxSteps).phases.last?.endStep == L.maxSteps)
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: L.maxSteps + 1) }
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 8, toRank: 8, totalSteps: 100) }
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 8, toRank: 16, totalSteps: 100) }
        // 10 → 8 has three ranks: three phases fit, four do not.
        #expect(try AnnealPlan(fromRank: 10, toRank: 8, totalSteps: 100, phases: 3).phases.map(\.rank) == [10, 9, 8])
        #expect(throws: AnnealPlanError.invalid("4 phases need 4 different ranks, but 10 to 8 has only 3")) {
            try AnnealPlan(fromRank: 10, toRank: 8, totalSteps: 100, phases: 4)
        }
        for fraction in [0, 1, -0.1, 1.5, Double.nan, .infinity] {
            #expect(throws: AnnealPlanError.self, "\(fraction)") { try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 100, finalFraction: fraction) }
        }
        // Too few steps for a step per phase: 4 phases need 4.
        #expect(try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 4, finalFraction: 0.25).phases.map(\.steps) == [1, 1, 1, 1])
        #expect(throws: AnnealPlanError.self) { try AnnealPlan(fromRank: 64, toRank: 8, totalSteps: 3) }
    }

    @Test("as JSON: each phase with its rank, step range and step count")
    func json() throws {
        let plan = try AnnealPlan(fromRank: 32, toRank: 8, totalSteps: 100, phases: 3)
        let text = String(decoding: try JSONEncoder().encode(plan.phases[0]), as: UTF8.self)
        for key in ["\"index\":0", "\"rank\":32", "\"startStep\":0", "\"endStep\":", "\"steps\":"] {
            #expect(text.contains(key), "\(text)")
        }
        #expect(try JSONDecoder().decode(AnnealPlan.self, from: JSONEncoder().encode(plan)) == plan)
    }
}
