import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `lora-squeeze` executable as a child process, with its output captured in files and a
/// hard time limit, so a hung CLI fails its test instead of the whole run.
enum CLIRunner {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var succeeded: Bool { status == 0 }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Longest a single CLI run may take before it is killed.
    static let timeLimit: Duration = .seconds(60)

    /// The `lora-squeeze` binary: SwiftPM puts it in the same `.build/<triple>/debug` folder as the test
    /// bundle (CLITests depends on the target, so `swift build --build-tests` builds it). On Linux the
    /// bundle is that folder's `…PackageTests.xctest` executable; on macOS the executable sits inside
    /// `….xctest/Contents/MacOS`, so the search walks up a few levels.
    static let executable: URL? = {
        let fm = FileManager.default
        var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
                      URL(fileURLWithPath: Bundle.main.bundlePath)]
        starts += Bundle.allBundles.map { URL(fileURLWithPath: $0.bundlePath) }
        for start in starts {
            var dir = start
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("lora-squeeze")
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
                   fm.isExecutableFile(atPath: candidate.path) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// Runs `lora-squeeze args…` (see `runBlocking`) on a thread of its own: waiting for a child
    /// process must not hold one of the cooperative threads every other suite's tasks need (the HTTP
    /// suites' handlers among them, whose timeouts are real).
    static func run(_ args: [String], environment: [String: String] = [:]) async throws -> Result {
        try await HTTPTestClient.onThread { try runBlocking(args, environment: environment) }
    }

    /// Runs `lora-squeeze args…` with `environment` added to (or replacing in) this process's; kills
    /// it (SIGKILL) and throws if it outlives `timeLimit`. Blocks the calling thread.
    static func runBlocking(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        guard let exe = executable else {
            throw Failure(description: "lora-squeeze executable not found near \(CommandLine.arguments[0])")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-squeeze-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv: [UnsafeMutablePointer<CChar>?] = ([exe.path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LORA_SQUEEZE_") }
        for (k, v) in environment { merged[k] = v }
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, exe.path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw Failure(description: "posix_spawn: \(String(cString: strerror(spawned)))") }

        var status: Int32 = 0
        let deadline = ContinuousClock.now + timeLimit
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw Failure(description: "waitpid: \(String(cString: strerror(errno)))") }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw Failure(description: "lora-squeeze \(args.joined(separator: " ")) ran past \(timeLimit) and was killed")
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS by hand (the C macros are not imported): low 7 bits 0 means a normal exit.
        let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: code, stdout: stdout, stderr: stderr)
    }

    /// Runs and requires success, recording the output on failure.
    @discardableResult
    static func succeed(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result {
        let r = try await run(args)
        if !r.succeeded {
            Issue.record("lora-squeeze \(args.joined(separator: " ")) exited \(r.status)\nstdout: \(r.stdout)\nstderr: \(r.stderr)",
                         sourceLocation: sourceLocation)
            throw Failure(description: "exit \(r.status)")
        }
        return r
    }
}
