import Foundation

/// A rank-annealing schedule (the paper's best result: train at a generous rank and squeeze it step
/// by step to the target while training continues). A pure function of its request: the rank of
/// every phase, and the steps it covers.
///
/// Ranks go from `fromRank` down to `toRank` in `phases` phases, geometrically (64 → 32 → 16 → 8)
/// or linearly (64 → 45 → 27 → 8), rounded to integers and strictly decreasing. The last phase
/// trains `finalFraction` of the steps at the target rank; the rest are shared evenly by the
/// earlier phases (the first ones take the remainder). A squeeze happens at the start of every phase
/// but the first.
public struct AnnealPlan: Sendable, Equatable, Codable {
    public enum Schedule: String, Sendable, Codable, CaseIterable {
        case geometric, linear
    }

    /// The bounds of a request, each tested at its limit and one past.
    public enum Limits {
        public static let maxRank = 4096
        public static let maxPhases = 64
        public static let maxSteps = 1_000_000_000
    }

    public struct Phase: Sendable, Equatable, Codable {
        public let index: Int
        public let rank: Int
        /// Steps `startStep ..< endStep`, `steps` of them.
        public let startStep: Int
        public let endStep: Int
        public let steps: Int

        public init(index: Int, rank: Int, startStep: Int, endStep: Int) {
            self.index = index
            self.rank = rank
            self.startStep = startStep
            self.endStep = endStep
            steps = endStep - startStep
        }
    }

    public let fromRank: Int
    public let toRank: Int
    public let totalSteps: Int
    public let schedule: Schedule
    public let finalFraction: Double
    public let phases: [Phase]

    /// The steps at which the adapter is squeezed to the next phase's rank.
    public var squeezeSteps: [Int] { phases.dropFirst().map(\.startStep) }

    public init(fromRank: Int, toRank: Int, totalSteps: Int, phases count: Int = 4, schedule: Schedule = .geometric,
                finalFraction: Double = 0.25) throws(AnnealPlanError) {
        guard (1...Limits.maxRank).contains(toRank) else { throw .invalid("toRank \(toRank) must be from 1 to \(Limits.maxRank)") }
        guard (1...Limits.maxRank).contains(fromRank) else { throw .invalid("fromRank \(fromRank) must be from 1 to \(Limits.maxRank)") }
        guard fromRank > toRank else { throw .invalid("fromRank \(fromRank) must be larger than toRank \(toRank): annealing lowers the rank") }
        guard (2...Limits.maxPhases).contains(count) else { throw .invalid("phases \(count) must be from 2 to \(Limits.maxPhases)") }
        guard fromRank - toRank >= count - 1 else {
            throw .invalid("\(count) phases need \(count) different ranks, but \(fromRank) to \(toRank) has only \(fromRank - toRank + 1)")
        }
        guard (1...Limits.maxSteps).contains(totalSteps) else { throw .invalid("totalSteps \(totalSteps) must be from 1 to \(Limits.maxSteps)") }
        guard finalFraction.isFinite, finalFraction > 0, finalFraction < 1 else {
            throw .invalid("finalFraction \(finalFraction) must be between 0 and 1 (both excluded)")
        }
        let finalSteps = Int((Double(totalSteps) * finalFraction).rounded())
        let earlier = totalSteps - finalSteps
        guard finalSteps >= 1, earlier >= count - 1 else {
            throw .invalid("\(totalSteps) steps with finalFraction \(finalFraction) leave \(finalSteps) for the last phase and \(earlier) for the \(count - 1) before it; every phase needs at least one step")
        }
        let ranks = Self.ranks(from: fromRank, to: toRank, count: count, schedule: schedule)
        var phases: [Phase] = []
        var start = 0
        for (i, rank) in ranks.enumerated() {
            let steps = i == count - 1 ? finalSteps : earlier / (count - 1) + (i < earlier % (count - 1) ? 1 : 0)
            phases.append(Phase(index: i, rank: rank, startStep: start, endStep: start + steps))
            start += steps
        }
        self.fromRank = fromRank
        self.toRank = toRank
        self.totalSteps = totalSteps
        self.schedule = schedule
        self.finalFraction = finalFraction
        self.phases = phases
    }

    /// `count` strictly decreasing ranks from `from` to `to`: rounded from the schedule's curve, each
    /// then kept below the one before and above what the ones after need.
    static func ranks(from: Int, to: Int, count: Int, schedule: Schedule) -> [Int] {
        var ranks = (0..<count).map { i -> Int in
            let t = Double(i) / Double(count - 1)
            let value: Double = switch schedule {
            case .geometric: Double(from) * pow(Double(to) / Double(from), t)
            case .linear: Double(from) + (Double(to) - Double(from)) * t
            }
            return Int(value.rounded())
        }
        ranks[0] = from
        ranks[count - 1] = to
        for i in 1..<(count - 1) {
            // Below the previous rank, and high enough that each later phase can still be one lower.
            ranks[i] = min(ranks[i], ranks[i - 1] - 1)
            ranks[i] = max(ranks[i], to + (count - 1 - i))
        }
        return ranks
    }
}

/// Why a plan could not be made, naming the field.
public enum AnnealPlanError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let why): why }
    }
}
