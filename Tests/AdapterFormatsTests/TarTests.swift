import Testing
import TestSupport
@testable import AdapterFormats

@Suite("tar reader and writer")
struct TarTests {
    struct File: Equatable { var path: String; var kind: TarReader.Entry.Kind; var content: [UInt8] }

    static func read(_ archive: [UInt8], chunk: Int = 100_000, limits: TarReader.Limits = .init()) throws -> [File] {
        var reader = TarReader(limits: limits)
        var events: [TarReader.Event] = []
        var i = 0
        while i < archive.count {
            events += try reader.feed(Array(archive[i..<min(i + chunk, archive.count)]))
            i += chunk
        }
        events += try reader.finish()
        var files: [File] = []
        for e in events {
            switch e {
            case let .entryBegin(entry): files.append(File(path: entry.path, kind: entry.kind, content: []))
            case let .entryData(d): files[files.count - 1].content += d
            case .entryEnd: break
            }
        }
        return files
    }

    static func archive(_ files: [(String, [UInt8])]) throws -> [UInt8] {
        var out: [UInt8] = []
        for (name, content) in files {
            out += try TarWriter.header(name: name, size: content.count) + content + TarWriter.padding(forSize: content.count)
        }
        return out + TarWriter.trailer
    }

    static let files: [(String, [UInt8])] = [
        ("adapter_config.json", Array("{\"r\": 8}".utf8)),
        ("adapter_model.safetensors", (0..<1500).map { UInt8($0 % 251) }),
        ("empty", []),
        ("exactly-one-block", [UInt8](repeating: 7, count: 512)),
    ]

    @Test("written archives read back, in every chunk size", arguments: [1, 7, 511, 512, 513, 4096])
    func roundTrip(_ chunk: Int) throws {
        let a = try Self.archive(Self.files)
        #expect(a.count == TarWriter.archiveSize(fileSizes: Self.files.map { $0.1.count }))
        #expect(try Self.read(a, chunk: chunk) == Self.files.map { File(path: $0.0, kind: .file, content: $0.1) })
    }

    @Test("a damaged header fails its checksum")
    func checksum() throws {
        var a = try Self.archive(Self.files)
        a[10] ^= 0x20
        #expect(throws: TarError.badChecksum(block: 0)) { _ = try Self.read(a) }
    }

    @Test("not a tar at all")
    func notTar() {
        #expect(throws: TarError.self) { _ = try Self.read([UInt8](repeating: 65, count: 1024)) }
    }

    @Test("an archive cut inside an entry is truncated")
    func truncated() throws {
        let a = try Self.archive(Self.files)
        for cut in [100, 512 + 3, 1024 + 700] {
            #expect(throws: TarError.truncated) { _ = try Self.read(Array(a[0..<cut])) }
        }
    }

    @Test("absolute paths and .. components are refused", arguments: ["/etc/passwd", "../x", "a/../../b"])
    func traversal(_ path: String) throws {
        let a = try Self.archive([(path, [1])])
        #expect(throws: TarError.unsafePath(path)) { _ = try Self.read(a) }
    }

    @Test("./ prefixes and directories, as `tar -C dir .` writes them")
    func dotPrefix() throws {
        var dir = try TarWriter.header(name: "./", size: 0)
        dir[156] = UInt8(ascii: "5")
        Self.fixChecksum(&dir)
        let a = try dir + TarWriter.header(name: "./adapter_config.json", size: 2) + [1, 2] + TarWriter.padding(forSize: 2) + TarWriter.trailer
        let files = try Self.read(a)
        #expect(files.map(\.path) == ["", "adapter_config.json"])
        #expect(files[0].kind == .directory)
    }

    @Test("a pax extended header's path and size apply to the next entry")
    func pax() throws {
        let longName = String(repeating: "d/", count: 70) + "adapter_model.safetensors"
        let record = { (key: String, value: String) -> String in
            // The length counts itself: " key=value\n" plus its own digits.
            let base = key.utf8.count + value.utf8.count + 3
            var n = base
            while base + String(n).count != n { n = base + String(n).count }
            return "\(n) \(key)=\(value)\n"
        }
        let body = Array((record("path", longName)).utf8)
        var x = try TarWriter.header(name: "PaxHeader", size: body.count)
        x[156] = UInt8(ascii: "x")
        Self.fixChecksum(&x)
        let a = try x + body + TarWriter.padding(forSize: body.count)
            + TarWriter.header(name: "short", size: 3) + [9, 9, 9] + TarWriter.padding(forSize: 3) + TarWriter.trailer
        let files = try Self.read(a, chunk: 64)
        #expect(files == [File(path: longName, kind: .file, content: [9, 9, 9])])
    }

    @Test("GNU base-256 sizes are read")
    func base256() throws {
        var field = [UInt8](repeating: 0, count: 12)
        field[0] = 0x80
        field[10] = 0x01
        field[11] = 0x02
        #expect(try TarReader.size(field[...], block: 0) == 258)
    }

    @Test("entry limit: at the limit accepted, one past refused")
    func entryLimit() throws {
        var limits = TarReader.Limits()
        limits.maxEntries = 3
        let three = (0..<3).map { ("f\($0)", [UInt8]([1])) }
        #expect(try Self.read(Self.archive(three), limits: limits).count == 3)
        let four = try Self.archive(three + [("f3", [1])])
        #expect(throws: TarError.tooManyEntries(limit: 3)) { _ = try Self.read(four, limits: limits) }
    }

    static func fixChecksum(_ h: inout [UInt8]) { TarFixture.fixChecksum(&h) }
}
