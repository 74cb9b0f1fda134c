import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lora-squeeze serve` as a child process on a loopback port of its choosing, with its log in a
/// file: for tests of what only the real process does (signals, exit codes). Killed (SIGKILL) and its
/// directory removed when released, whatever happened.
final class ServeProcess {
    let pid: pid_t
    let scratch: URL
    let port: Int
    /// The admin token the server was seeded with (LORA_SQUEEZE_ADMIN_TOKEN), nil when it was not.
    let adminToken: String?
    private var exitStatus: Int32?

    var logPath: String { scratch.appendingPathComponent("log").path }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts `serve --host 127.0.0.1 --port 0 --data <scratch>/data` with `arguments` and waits
    /// until it logs the address it listens on.
    /// The server is seeded with a fresh admin token (`adminToken`) unless `seedAdminToken` is false;
    /// `environment` adds variables (LORA_SQUEEZE_* from the test's own environment are dropped).
    init(_ arguments: [String], environment extra: [String: String] = [:], seedAdminToken: Bool = true,
         startTimeout: Duration = .seconds(30)) throws {
        guard let exe = CLIRunner.executable else { throw CLIRunner.Failure(description: "lora-squeeze executable not found") }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-squeeze-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let args = ["serve", "--host", "127.0.0.1", "--port", "0", "--data", scratch.appendingPathComponent("data").path] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let log = scratch.appendingPathComponent("log").path
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe.path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LORA_SQUEEZE_") }
        let token = seedAdminToken ? TestTokens.make() : nil
        adminToken = token
        if let token { environment["LORA_SQUEEZE_ADMIN_TOKEN"] = token }
        environment.merge(extra) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, exe.path, &actions, nil, argv, envp)
        guard spawned == 0 else {
            try? FileManager.default.removeItem(at: scratch)
            throw CLIRunner.Failure(description: "posix_spawn: \(String(cString: strerror(spawned)))")
        }
        pid = child
        let deadline = ContinuousClock.now + startTimeout
        var found: Int?
        while found == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on https?://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last ?? "")
            } else if ContinuousClock.now > deadline || waitpid(child, nil, WNOHANG) == child {
                kill(child, SIGKILL)
                _ = waitpid(child, nil, 0)
                try? FileManager.default.removeItem(at: scratch)
                throw CLIRunner.Failure(description: "serve did not start: \(text)")
            } else {
                usleep(20_000)
            }
        }
        port = found ?? 0
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = waitpid(pid, nil, 0)
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// The exit status (128 + signal when killed by one), or nil if it still runs after `timeout`.
    func waitForExit(timeout: Duration) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                exitStatus = code
                return code
            }
            usleep(5_000)
        }
        return nil
    }

    /// The status of `GET path` on a fresh connection, or nil when the connection is refused. Sends
    /// the admin token unless `token` says otherwise ("" for none).
    func status(_ path: String, token: String? = nil) -> Int? {
        let bearer = token ?? adminToken ?? ""
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let authorization = bearer.isEmpty ? "" : "Authorization: Bearer \(bearer)\r\n"
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(authorization)Connection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 12 else { return nil }
        return Int(String(decoding: buffer[9..<12], as: UTF8.self))
    }
}
