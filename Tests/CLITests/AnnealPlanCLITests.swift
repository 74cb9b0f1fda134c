import Foundation
import Testing

@Suite("anneal-plan")
struct AnnealPlanCLITests {
    @Test("prints every phase's rank and steps, and the squeeze steps; --json is the plan")
    func prints() async throws {
        let table = try await CLIRunner.run(["anneal-plan", "--from", "64", "--to", "8", "--steps", "2000"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6, "\(table.stdout)")
        #expect(lines[1].contains("64") && lines[1].contains("0..<500") && lines[4].contains("8") && lines[4].contains("1500..<2000"))
        #expect(lines[5] == "squeeze at steps: 500, 1000, 1500")
        let json = try await CLIRunner.run(["anneal-plan", "--from", "64", "--to", "8", "--steps", "2000", "--schedule", "linear", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let phases = object?["phases"] as? [[String: Any]] ?? []
        #expect(phases.compactMap { $0["rank"] as? Int } == [64, 45, 27, 8], "\(json.stdout)")
    }

    @Test("a plan that cannot be made is refused, naming the field", arguments: [
        (["--from", "8", "--to", "16", "--steps", "100"], "fromRank 8 must be larger"),
        (["--from", "10", "--to", "8", "--steps", "100", "--phases", "4"], "4 phases need 4 different ranks"),
        (["--from", "64", "--to", "8", "--steps", "100", "--final-fraction", "1"], "finalFraction"),
        (["--from", "64", "--to", "8", "--steps", "100", "--schedule", "cosine"], "--schedule cosine"),
    ])
    func refuses(_ arguments: [String], _ fragment: String) async throws {
        let r = try await CLIRunner.run(["anneal-plan"] + arguments)
        #expect(r.status != 0 && r.stderr.contains(fragment), "\(r.status) \(r.stderr)")
    }
}
