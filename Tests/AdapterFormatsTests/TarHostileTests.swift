import Testing
import TestSupport
@testable import AdapterFormats

/// Archives built to break the reader: sizes near `Int.max`, pax records whose length lies about
/// their framing, base-256 fields, unbounded extended headers. Each must be a typed error (or, for a
/// size the body can never fill, `truncated` at the end), never a trap.
@Suite("tar reader: hostile archives")
struct TarHostileTests {
    static func record(_ key: String, _ value: String) -> String { TarFixture.paxRecord(key, value) }
    static func extended(_ type: Character, _ body: [UInt8]) throws -> [UInt8] { try TarFixture.extended(type, body) }
    static func file(_ name: String, _ content: [UInt8]) throws -> [UInt8] { try TarFixture.file(name, content) }

    /// Reads whole, then a byte at a time: both must agree (events or error).
    static func outcome(_ archive: [UInt8], limits: TarReader.Limits = .init()) -> Result<[TarTests.File], TarError> {
        func run(chunk: Int) -> Result<[TarTests.File], TarError> {
            do { return .success(try TarTests.read(archive, chunk: chunk, limits: limits)) } catch let e as TarError {
                return .failure(e)
            } catch {
                Issue.record("unexpected error \(error)")
                return .failure(.truncated)
            }
        }
        let whole = run(chunk: max(1, archive.count))
        #expect(run(chunk: 1) == whole, "byte-by-byte feeding changed the outcome")
        return whole
    }

    @Test("the issue's 1.5 KB tar: a pax size of Int.max is an entry the body never fills → truncated")
    func paxSizeIntMax() throws {
        let a = try Self.extended("x", Array(Self.record("size", "9223372036854775807").utf8))
            + Self.file("adapter_model.safetensors", Array("tiny".utf8)) + TarWriter.trailer
        #expect(a.count == 512 * 6)   // pax header + record block + file header + data block + trailer
        #expect(Self.outcome(a) == .failure(.truncated))
    }

    @Test("pax sizes that are not non-negative decimals, or overflow Int, are refused",
          arguments: ["9223372036854775808", "99999999999999999999999", "-1", "+5", " 5", "5 ", "0x10", "", "1e3"])
    func paxSizeMalformed(_ value: String) throws {
        let a = try Self.extended("x", Array(Self.record("size", value).utf8))
            + Self.file("f", [1]) + TarWriter.trailer
        #expect(Self.outcome(a) == .failure(.badHeaderField(field: "pax size", block: 0)))
    }

    @Test("pax records whose length lies about their framing are refused, not sliced",
          arguments: [
            "2 size=5\n",              // the issue's case: shorter than its own digits, space and newline
            "0 size=5\n", "1 a=b\n", "3 a=\n", "4 a=\n",
            "8 size=5\n",              // one short: its last byte is not the newline
            "7 size=5\n",              // ends inside the value
            "+9 size=5\n", "-9 size=5\n", " 9 size=5\n",
            "99999999999999999999999 a=b\n",
            "9999 size=5\n",           // longer than the header
            "nine size=5\n", "9size=5\n\n",
            "7 =abc\n",                 // empty keyword
            "7 abcd\n",                 // no '='
          ])
    func paxRecordFraming(_ text: String) throws {
        let a = try Self.extended("x", Array(text.utf8)) + Self.file("f", [1]) + TarWriter.trailer
        guard case let .failure(error) = Self.outcome(a), case .badHeaderField(let field, block: 0) = error else {
            Issue.record("\(text.debugDescription) was not refused as a bad pax field: \(Self.outcome(a))")
            return
        }
        #expect(field.hasPrefix("pax"))
    }

    @Test("well-formed pax records of every length from the shortest up are read")
    func paxRecordShortest() throws {
        // "5 a=\n" is the shortest legal record: one digit, space, a one-byte keyword, '=', newline.
        let body = Array(("5 a=\n" + "6 ab=\n" + Self.record("path", "x/y") + Self.record("mtime", "1.5")).utf8)
        let a = try Self.extended("x", body) + Self.file("ignored", [7]) + TarWriter.trailer
        #expect(Self.outcome(a) == .success([TarTests.File(path: "x/y", kind: .file, content: [7])]))
    }

    @Test("GNU base-256 sizes: the largest Int is read, overflow and negative numbers are refused")
    func base256() throws {
        var field = [UInt8](repeating: 0, count: 12)
        field[0] = 0x80
        field[4] = 0x7F
        for i in 5..<12 { field[i] = 0xFF }
        #expect(try TarReader.size(field[...], block: 0) == Int.max)
        field[4] = 0x80   // Int.max + 1
        #expect(throws: TarError.badHeaderField(field: "size", block: 3)) { _ = try TarReader.size(field[...], block: 3) }
        var all = [UInt8](repeating: 0xFF, count: 12)
        all[0] = 0x80
        #expect(throws: TarError.badHeaderField(field: "size", block: 0)) { _ = try TarReader.size(all[...], block: 0) }
        var negative = [UInt8](repeating: 0xFF, count: 12)   // -1 in two's complement base-256
        #expect(throws: TarError.badHeaderField(field: "size", block: 0)) { _ = try TarReader.size(negative[...], block: 0) }
        negative[0] = 0xC0
        #expect(throws: TarError.badHeaderField(field: "size", block: 0)) { _ = try TarReader.size(negative[...], block: 0) }
    }

    @Test("an entry header with a base-256 size of Int.max is truncated at the end, not a trap")
    func base256Entry() throws {
        let a = try TarFixture.base256IntMaxEntry("adapter_model.safetensors", data: [UInt8](repeating: 1, count: 2048))
        #expect(Self.outcome(a) == .failure(.truncated))
    }

    @Test("octal sizes up to the field's 11 digits are read; more digits than an Int holds are refused")
    func octal() throws {
        #expect(try TarReader.size(Array("77777777777\0".utf8)[...], block: 0) == TarWriter.maxOctalSize)
        #expect(try TarReader.octal(Array("777777777777777777777".utf8)[...], field: "size", block: 0) == Int.max)
        #expect(throws: TarError.badHeaderField(field: "size", block: 0)) {
            _ = try TarReader.octal(Array("1000000000000000000000".utf8)[...], field: "size", block: 0)
        }
        #expect(throws: TarError.badHeaderField(field: "size", block: 0)) {
            _ = try TarReader.octal(Array("18".utf8)[...], field: "size", block: 0)
        }
    }

    @Test("extended headers: at the size limit read, one past refused, for every kind", arguments: ["x", "g", "L", "K"] as [Character])
    func extendedLimit(_ type: Character) throws {
        var limits = TarReader.Limits()
        limits.maxExtendedHeaderBytes = 600
        // A body of exactly 600 bytes that is valid for its kind: one pax record, or a long name.
        let body: [UInt8]
        if type == "x" || type == "g" {
            body = Array(Self.record("comment", String(repeating: "c", count: 600 - 13)).utf8)
        } else {
            body = Array(String(repeating: "n", count: 599).utf8) + [0]
        }
        try #require(body.count == 600)
        let ok = try Self.extended(type, body) + Self.file("f", [1]) + TarWriter.trailer
        guard case .success(let files) = Self.outcome(ok, limits: limits) else {
            Issue.record("\(type) at the limit: \(Self.outcome(ok, limits: limits))")
            return
        }
        #expect(files.map(\.content) == [[1]])
        let past = try Self.extended(type, body + [0]) + Self.file("f", [1]) + TarWriter.trailer
        #expect(Self.outcome(past, limits: limits) == .failure(.extendedHeaderTooLarge(limit: 600)))
    }

    @Test("a huge global header is refused from its declared size, before any of it is held")
    func hugeGlobalHeader() throws {
        var h = try TarWriter.header(name: "g", size: 0)
        h[156] = UInt8(ascii: "g")
        h[124] = 0x80
        for i in 125..<136 { h[i] = 0 }
        h[131] = 0x02   // 2^32 bytes
        TarFixture.fixChecksum(&h)
        #expect(Self.outcome(h) == .failure(.extendedHeaderTooLarge(limit: TarReader.Limits().maxExtendedHeaderBytes)))
    }

    @Test("paths: at the length limit accepted, one past refused; NUL and .. refused however spelled")
    func paths() throws {
        var limits = TarReader.Limits()
        limits.maxPathBytes = 150
        let at = String(repeating: "p", count: 150), past = String(repeating: "p", count: 151)
        let okArchive = try Self.extended("x", Array(Self.record("path", at).utf8)) + Self.file("f", [2]) + TarWriter.trailer
        #expect(Self.outcome(okArchive, limits: limits) == .success([TarTests.File(path: at, kind: .file, content: [2])]))
        let longArchive = try Self.extended("L", Array(past.utf8) + [0]) + Self.file("f", [2]) + TarWriter.trailer
        #expect(Self.outcome(longArchive, limits: limits) == .failure(.pathTooLong(limit: 150)))
        let nul = try Self.extended("x", Array(Self.record("path", "a\u{0}b").utf8)) + Self.file("f", [2]) + TarWriter.trailer
        #expect(Self.outcome(nul) == .failure(.unsafePath("a\u{0}b")))
        let climb = try Self.extended("x", Array(Self.record("path", "ok/../../etc/x").utf8)) + Self.file("f", [2]) + TarWriter.trailer
        #expect(Self.outcome(climb) == .failure(.unsafePath("ok/../../etc/x")))
    }

    @Test("an extended header with no entry after it is truncated, at EOF or at the end marker")
    func danglingExtended() throws {
        let x = try Self.extended("x", Array(Self.record("path", "a").utf8))
        #expect(Self.outcome(x) == .failure(.truncated))
        #expect(Self.outcome(x + TarWriter.trailer) == .failure(.truncated))
    }

    @Test("a pax size applies to the next entry only, not to a following extended header")
    func paxSizeScope() throws {
        let a = try Self.extended("x", Array(Self.record("size", "3").utf8))
            + Self.extended("x", Array(Self.record("path", "named").utf8))
            + TarWriter.header(name: "f", size: 0) + [4, 5, 6] + TarWriter.padding(forSize: 3) + TarWriter.trailer
        #expect(Self.outcome(a) == .success([TarTests.File(path: "named", kind: .file, content: [4, 5, 6])]))
    }

    @Test("the writer: names of 100 bytes fit, 101 do not; negative sizes are refused")
    func writerBounds() throws {
        let name100 = String(repeating: "n", count: 100)
        let h = try TarWriter.header(name: name100, size: 1)
        #expect(TarReader.path(h) == name100)
        #expect(throws: TarError.notRepresentable(name: name100 + "n", size: 1)) { _ = try TarWriter.header(name: name100 + "n", size: 1) }
        #expect(throws: TarError.notRepresentable(name: "f", size: -1)) { _ = try TarWriter.header(name: "f", size: -1) }
    }

    @Test("the writer: sizes up to 8 GiB − 1 in octal, from 8 GiB in GNU base-256, as Python's tarfile writes them")
    func writerLargeSizes() throws {
        let octal = try TarWriter.header(name: "adapter_model.safetensors", size: TarWriter.maxOctalSize)
        #expect(Array(octal[124..<136]) == Array("77777777777\0".utf8))
        let big = try TarWriter.header(name: "adapter_model.safetensors", size: 1 << 33)
        // tarfile.itn(8589934592, 12, tarfile.GNU_FORMAT), Python 3.11.
        #expect(Array(big[124..<136]) == [128, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0])
        for size in [TarWriter.maxOctalSize, TarWriter.maxOctalSize + 1, 1 << 40, Int.max] {
            var reader = TarReader()
            let events = try reader.feed(try TarWriter.header(name: "f", size: size))
            #expect(events == [.entryBegin(.init(path: "f", size: size, kind: .file))], "size \(size)")
        }
    }
}
