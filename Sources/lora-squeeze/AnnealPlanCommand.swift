import ArgumentParser
import Foundation
import SqueezeEngine

/// `lora-squeeze anneal-plan`: the same plan as `POST /v1/anneal/plan`, offline.
struct AnnealPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anneal-plan",
        abstract: "Print a rank-annealing schedule: the rank of every phase and the steps it covers.")

    @Option(help: "The rank training starts at.")
    var from: Int

    @Option(help: "The rank training ends at.")
    var to: Int

    @Option(help: "Training steps in all.")
    var steps: Int

    @Option(help: "Phases, the first at --from and the last at --to.")
    var phases = 4

    @Option(help: "geometric (64 → 32 → 16 → 8) or linear (64 → 45 → 27 → 8).")
    var schedule = "geometric"

    @Option(name: .customLong("final-fraction"), help: "The fraction of the steps the last phase trains at --to.")
    var finalFraction = 0.25

    @Flag(help: "Print JSON (as the API answers) instead of a table.")
    var json = false

    func run() throws {
        guard let schedule = AnnealPlan.Schedule(rawValue: schedule) else {
            throw ValidationError("--schedule \(schedule) must be geometric or linear")
        }
        let plan: AnnealPlan
        do {
            plan = try AnnealPlan(fromRank: from, toRank: to, totalSteps: steps, phases: phases, schedule: schedule,
                                  finalFraction: finalFraction)
        } catch {
            throw ValidationError("\(error)")
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(plan), as: UTF8.self))
            return
        }
        print("phase  rank  steps          count")
        for p in plan.phases {
            let range = "\(p.startStep)..<\(p.endStep)"
            print(String(format: "%5d  %4d  %@  %6d", p.index + 1, p.rank, range.padding(toLength: 13, withPad: " ", startingAt: 0), p.steps))
        }
        print("squeeze at steps: " + plan.squeezeSteps.map(String.init).joined(separator: ", "))
    }
}
