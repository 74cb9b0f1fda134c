import Foundation
import Testing

/// `serve`'s settings: flags and LORA_SQUEEZE_* variables parsed the same way, an invalid value of
/// either stopping start-up with a message naming it and the accepted forms, never replaced by a
/// default in silence. `--check` prints the settings and exits without serving.
@Suite("serve settings: flags and environment, parsed alike, refused loudly")
struct ServeSettingsTests {
    static func check(_ args: [String] = [], env: [String: String] = [:]) async throws -> CLIRunner.Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-check-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await CLIRunner.run(["serve", "--check", "--data", dir] + args, environment: env)
    }

    @Test("the defaults, printed: every limit and its value")
    func defaults() async throws {
        let r = try await Self.check()
        #expect(r.succeeded, "\(r.stderr)")
        for line in ["max rank 512", "max output 4294967296 bytes", "queue 64", "4 per client", "keep 1073741824 bytes free",
                     "budget 21474836480 bytes", "pinned max 10737418240 bytes", "max 65536 modules", "LoRA rank max 4096"] {
            #expect(r.stdout.contains(line), "missing \"\(line)\" in:\n\(r.stdout)")
        }
    }

    @Test("the issue's case: LORA_SQUEEZE_CACHE_BUDGET=40GB means 40 GiB, not a silent 20")
    func gigabyteSpellings() async throws {
        for spelling in ["40GB", "40G", "40GiB", "40gib", "42949672960"] {
            let r = try await Self.check(env: ["LORA_SQUEEZE_CACHE_BUDGET": spelling])
            #expect(r.succeeded && r.stdout.contains("budget 42949672960 bytes"), "\(spelling): \(r.stdout) \(r.stderr)")
        }
    }

    @Test("an invalid variable stops start-up, naming it and the accepted forms", arguments: [
        ("LORA_SQUEEZE_CACHE_BUDGET", "forty", "byte count"),
        ("LORA_SQUEEZE_CACHE_BUDGET", "40XB", "byte count"),
        ("LORA_SQUEEZE_CACHE_BUDGET", "-1G", "byte count"),
        ("LORA_SQUEEZE_PORT", "80a", "0 to 65535"),
        ("LORA_SQUEEZE_PORT", "70000", "0 to 65535"),
        ("LORA_SQUEEZE_MAX_RANK", "0", "1 to 4096"),
        ("LORA_SQUEEZE_MAX_RANK", "4097", "1 to 4096"),
        ("LORA_SQUEEZE_WORKERS", "", "1 to 1024"),
        ("LORA_SQUEEZE_SQUEEZE_QUEUE", "0", "positive integer"),
        ("LORA_SQUEEZE_MAX_CLIENT_SQUEEZES", "two", "positive integer"),
        ("LORA_SQUEEZE_MAX_OUTPUT", "0", "byte count"),
        ("LORA_SQUEEZE_LOG_LEVEL", "loud", "trace, debug"),
        ("LORA_SQUEEZE_MAX_CONNECTIONS", "99999999", "file-descriptor limit"),
    ])
    func invalidVariable(_ name: String, _ value: String, _ forms: String) async throws {
        let r = try await Self.check(env: [name: value])
        #expect(!r.succeeded, "\(name)=\(value) was accepted: \(r.stdout)")
        #expect(r.stderr.contains(name) && r.stderr.contains(forms), "\(name)=\(value): \(r.stderr)")
    }

    @Test("the same value by flag is refused the same way, naming the flag")
    func invalidFlag() async throws {
        let r = try await Self.check(["--max-rank", "4097"])
        #expect(!r.succeeded && r.stderr.contains("--max-rank") && r.stderr.contains("1 to 4096"), "\(r.stderr)")
        let size = try await Self.check(["--cache-budget", "forty"])
        #expect(!size.succeeded && size.stderr.contains("cache-budget"), "\(size.stderr)")
    }

    @Test("a flag wins over its variable; limits at their bounds are accepted")
    func precedenceAndBounds() async throws {
        let r = try await Self.check(["--max-rank", "4096", "--squeeze-queue", "1", "--max-client-squeezes", "1"],
                               env: ["LORA_SQUEEZE_MAX_RANK": "8", "LORA_SQUEEZE_MAX_PINNED": "1K"])
        #expect(r.succeeded, "\(r.stderr)")
        #expect(r.stdout.contains("max rank 4096") && r.stdout.contains("queue 1") && r.stdout.contains("1 per client"))
        #expect(r.stdout.contains("pinned max 1024 bytes"))
    }

    @Test("a misspelt LORA_SQUEEZE_ variable is named in a warning, not silently ignored")
    func unknownVariable() async throws {
        let r = try await Self.check(env: ["LORA_SQUEEZE_CACHE_BUGDET": "40G"])
        #expect(r.succeeded)
        #expect((r.stdout + r.stderr).contains("LORA_SQUEEZE_CACHE_BUGDET is set but no setting reads it"), "\(r.stdout)\(r.stderr)")
    }
}
