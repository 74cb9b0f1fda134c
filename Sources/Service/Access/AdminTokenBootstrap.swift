import Foundation
import Logging
import Store

/// The first start's admin token. With authentication on, a server must never run with no way in:
/// a seed (`LORA_SQUEEZE_ADMIN_TOKEN`, `--admin-token-file`: a Kubernetes Secret) is installed as an
/// unlimited admin token; without one, and with no active unlimited admin token in the catalog, a
/// token is created and written to `DATA/admin.token` (mode 0600, written to a temporary file,
/// fsynced and renamed). The token is never logged; the log says where it is.
enum AdminTokenBootstrap {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Ensures an admin token exists; returns one line for the start-up banner.
    static func run(settings: AccessSettings, catalog: AdapterCatalog, directory: URL, logger: Logger) throws -> String {
        let file = directory.appendingPathComponent(AccessSettings.adminTokenFileName)
        guard settings.enabled else {
            logger.warning("authentication is OFF (--auth off): anyone who reaches the port may upload, delete and retarget names")
            return "auth: OFF — every request is allowed"
        }
        if let seed = settings.adminTokenSeed {
            let (record, created) = try TokenIssuer.install(seed, in: catalog, name: "admin-seed")
            guard record.revokedAt == nil else {
                throw Refused(description: "the admin token seed (\(record.id)) was revoked; make a new one with `lora-squeeze token generate`")
            }
            guard record.scope == .admin, record.namespace == nil else {
                throw Refused(description: "the admin token seed is token \(record.id), of scope \(record.scope.rawValue)\(record.namespace.map { " in namespace \($0)" } ?? ""); a seed must be an unlimited admin token")
            }
            logger.info("admin token \(created ? "installed from the seed" : "from the seed is known"): id \(record.id)")
            return "auth: on — admin token from the seed (id \(record.id))"
        }
        if try catalog.hasActiveAdminToken(at: Date()) {
            let there = FileManager.default.fileExists(atPath: file.path)
            return "auth: on — " + (there ? "the first admin token is in \(file.path)" : "admin tokens exist (lora-squeeze token list)")
        }
        let (token, record) = try TokenIssuer.issue(in: catalog, name: "admin", scope: .admin, namespace: nil, lifetime: nil)
        try writeSecret(token + "\n", to: file)
        logger.notice("created admin token \(record.id); it is in \(file.path) (mode 0600)")
        return "auth: on — the admin token is in \(file.path)"
    }

    /// Writes `text` readable by the owner only: a temporary file (O_EXCL, 0600), fsync, rename over
    /// `file`, fsync of the directory.
    static func writeSecret(_ text: String, to file: URL) throws {
        let directory = file.deletingLastPathComponent().path
        let temporary = file.path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Refused(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var ok = true
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, base + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { ok = false; return }
                offset += n
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Refused(description: "cannot write \(file.path): \(reason)")
        }
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
