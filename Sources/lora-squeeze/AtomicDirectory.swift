import Foundation

/// Fills a directory that appears whole or not at all: files go into a hidden sibling
/// (same file system), are synced, and the sibling is renamed into place. A failure removes it.
enum AtomicDirectory {
    struct Exists: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) already exists and is not empty; choose a new directory or pass --force to replace it" }
    }

    static func write(to target: URL, replace: Bool, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let target = target.standardizedFileURL
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDir)
        if exists {
            guard isDir.boolValue else { throw Exists(path: target.path) }
            let empty = ((try? fm.contentsOfDirectory(atPath: target.path)) ?? []).isEmpty
            if !empty && !replace { throw Exists(path: target.path) }
        }
        let parent = target.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString)")
        try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        do {
            try fill(staging)
            for name in try fm.contentsOfDirectory(atPath: staging.path) {
                try sync(staging.appendingPathComponent(name))
            }
            try sync(staging)
            if exists {
                let old = parent.appendingPathComponent(".\(target.lastPathComponent).old-\(UUID().uuidString)")
                try fm.moveItem(at: target, to: old)
                try fm.moveItem(at: staging, to: target)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: staging, to: target)
            }
            try sync(parent)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// fsync(2) on a file or directory, so a rename never publishes data still in flight.
    private static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(fd) }
        _ = fsync(fd)  // a failing fsync (e.g. on a read-only bind) must not lose an otherwise written file
    }
}
