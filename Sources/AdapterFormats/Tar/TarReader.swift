/// A streaming reader for POSIX ustar / pax / GNU tar archives: a pure value fed bytes in chunks of
/// any size, yielding entries and their data as it arrives (memory bounded by one 512-byte block and
/// `Limits.maxExtendedHeaderBytes`). Only what adapter uploads need: regular files and directories;
/// links, devices and FIFOs are reported with their type so the caller can refuse them.
///
/// Every number in a header is hostile until checked: sizes are read without overflow (octal, GNU
/// base-256 or a pax `size` record), padding is computed without `size + 511`, and a pax record's
/// length is checked against its own framing before any range is built from it.
public struct TarReader: Sendable {
    public struct Entry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case file, directory, other(UInt8) }
        /// The path inside the archive, without a leading "./".
        public let path: String
        public let size: Int
        public let kind: Kind
        /// The last path component.
        public var name: String { String(path.split(separator: "/").last ?? "") }
    }

    public enum Event: Sendable, Equatable {
        case entryBegin(Entry)
        case entryData([UInt8])
        case entryEnd
    }

    public struct Limits: Sendable, Equatable {
        /// Entries in one archive (default 64; a PEFT directory has a handful). Extended headers
        /// (pax `x`/`g`, GNU `L`/`K`) are not entries.
        public var maxEntries = 64
        /// Bytes of one extended header: a pax `x` or `g` header, or a GNU long name or long link
        /// (default 64 KiB).
        public var maxExtendedHeaderBytes = 64 * 1024
        /// Bytes of one entry's path, however it is spelled (default 4096, Linux's PATH_MAX).
        public var maxPathBytes = 4096
        public init() {}
    }

    static let block = 512

    private enum State {
        case header
        /// Inside an entry's data: `remaining` bytes to pass on (or to collect or skip for an
        /// extended header), then `padding` zero bytes to drop.
        case data(remaining: Int, padding: Int, role: DataRole)
        case end
    }

    private enum DataRole: Equatable {
        case emit
        /// A pax `x` header or a GNU `L` long name: kept, and applied to the next entry.
        case collect(kind: UInt8)
        /// A pax `g` global header or a GNU `K` long link name: read and dropped.
        case skip
    }

    private let limits: Limits
    private var state = State.header
    private var buffer: [UInt8] = []
    /// Bytes consumed so far: headers are at `consumed / 512`.
    private var consumed = 0
    /// The header block of the extended header being read, for its errors.
    private var extendedBlock = 0
    private var entries = 0
    private var pendingPath: String?        // from a pax 'x' or GNU 'L' header, for the next entry
    private var pendingSize: Int?           // from a pax 'x' header's size record
    private var collected: [UInt8] = []
    private var zeroBlocks = 0

    public init(limits: Limits = .init()) { self.limits = limits }

    public mutating func feed(_ bytes: [UInt8]) throws(TarError) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        try process(&events)
        return events
    }

    /// The archive ended: it must not stop inside a header, an entry, or between an extended header
    /// and the entry it describes.
    public mutating func finish() throws(TarError) -> [Event] {
        var events: [Event] = []
        try process(&events)
        switch state {
        case .end: return events
        case .header where buffer.isEmpty && pendingPath == nil && pendingSize == nil:
            return events  // EOF at a block boundary: accepted, as GNU tar does
        default: throw .truncated
        }
    }

    private mutating func process(_ events: inout [Event]) throws(TarError) {
        while true {
            switch state {
            case .end:
                buffer.removeAll()
                return
            case let .data(remaining, padding, role):
                if remaining > 0 {
                    guard !buffer.isEmpty else { return }
                    let n = min(remaining, buffer.count)
                    switch role {
                    case .emit: events.append(.entryData(Array(buffer[0..<n])))
                    case .collect: collected += buffer[0..<n]
                    case .skip: break
                    }
                    buffer.removeFirst(n)
                    consumed += n
                    state = .data(remaining: remaining - n, padding: padding, role: role)
                    continue
                }
                guard buffer.count >= padding else { return }
                buffer.removeFirst(padding)
                consumed += padding
                try endData(role, &events)
                state = .header
            case .header:
                guard buffer.count >= Self.block else { return }
                let header = Array(buffer[0..<Self.block])
                buffer.removeFirst(Self.block)
                let index = consumed / Self.block
                consumed += Self.block
                if header.allSatisfy({ $0 == 0 }) {
                    zeroBlocks += 1
                    if zeroBlocks == 2 {
                        // POSIX: two zero blocks end the archive; an extended header must not dangle.
                        guard pendingPath == nil, pendingSize == nil else { throw .truncated }
                        state = .end
                    }
                    continue
                }
                zeroBlocks = 0
                try startEntry(header, index: index, &events)
            }
        }
    }

    private mutating func endData(_ role: DataRole, _ events: inout [Event]) throws(TarError) {
        switch role {
        case .emit: events.append(.entryEnd)
        case let .collect(kind): try applyExtended(kind: kind)
        case .skip: break
        }
    }

    /// Zero bytes after `size` data bytes up to the next block boundary (no `size + 511`: a hostile
    /// size may be near `Int.max`).
    static func padding(forSize size: Int) -> Int { (block - size % block) % block }

    private mutating func startEntry(_ h: [UInt8], index: Int, _ events: inout [Event]) throws(TarError) {
        // Checksum: the header's bytes summed with the checksum field read as spaces (POSIX). At most
        // 512 × 255, so the sum cannot overflow.
        let stored = try Self.octal(h[148..<156], field: "chksum", block: index)
        var sum = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
        guard stored == sum else { throw .badChecksum(block: index) }
        let type = h[156]
        let headerSize = try Self.size(h[124..<136], block: index)

        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "g"), UInt8(ascii: "K"):
            // Extended headers carry their own size in the header field; a pending pax size applies
            // to the next real entry only.
            guard headerSize <= limits.maxExtendedHeaderBytes else {
                throw .extendedHeaderTooLarge(limit: limits.maxExtendedHeaderBytes)
            }
            let keeps = type == UInt8(ascii: "x") || type == UInt8(ascii: "L")
            let role: DataRole = keeps ? .collect(kind: type) : .skip
            collected = []
            extendedBlock = index
            state = .data(remaining: headerSize, padding: Self.padding(forSize: headerSize), role: role)
            if headerSize == 0 { try endData(role, &events); state = .header }
            return
        default:
            break
        }
        entries += 1
        guard entries <= limits.maxEntries else { throw .tooManyEntries(limit: limits.maxEntries) }
        let size = pendingSize ?? headerSize
        var path = pendingPath ?? Self.path(h)
        pendingPath = nil
        pendingSize = nil
        while path.hasPrefix("./") { path.removeFirst(2) }
        if path.hasSuffix("/") { path.removeLast() }
        try checkPath(path)
        let kind: Entry.Kind
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "5"): kind = .directory
        default: kind = .other(type)
        }
        events.append(.entryBegin(Entry(path: path, size: size, kind: kind)))
        let padding = Self.padding(forSize: size)
        state = .data(remaining: size, padding: padding, role: .emit)
        if size == 0 { events.append(.entryEnd); state = .header }
    }

    private func checkPath(_ path: String) throws(TarError) {
        guard path.utf8.count <= limits.maxPathBytes else { throw .pathTooLong(limit: limits.maxPathBytes) }
        guard !path.hasPrefix("/"), !path.utf8.contains(0), !path.split(separator: "/").contains("..") else {
            throw .unsafePath(path)
        }
    }

    /// A pax 'x' header's `path` and `size` records, or a GNU 'L' long name, apply to the next entry.
    private mutating func applyExtended(kind: UInt8) throws(TarError) {
        let bytes = collected
        collected = []
        if kind == UInt8(ascii: "L") {
            pendingPath = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            return
        }
        for (key, value) in try Self.paxRecords(bytes[...], block: extendedBlock) {
            switch key {
            case "path":
                pendingPath = String(decoding: value, as: UTF8.self)
            case "size":
                guard let size = Self.decimal(value) else { throw .badHeaderField(field: "pax size", block: extendedBlock) }
                pendingSize = size
            default:
                break   // mtime, uid, linkpath, … : nothing an adapter upload uses
            }
        }
    }

    /// The records of a pax extended header (POSIX.1-2008, pax "Extended Header Records"):
    /// `"%d %s=%s\n"`, where the decimal length counts the whole record, itself and the newline included.
    static func paxRecords(_ bytes: ArraySlice<UInt8>, block: Int) throws(TarError) -> [(key: String, value: ArraySlice<UInt8>)] {
        var records: [(key: String, value: ArraySlice<UInt8>)] = []
        var rest = bytes
        while !rest.isEmpty {
            let start = rest.startIndex
            guard let space = rest.firstIndex(of: UInt8(ascii: " ")),
                  let length = decimal(rest[start..<space]),
                  length <= rest.count else {
                throw .badHeaderField(field: "pax record length", block: block)
            }
            // The length must cover its own digits, the space, "k=" and the newline, and the record
            // must end with that newline; only then is `end` a valid bound for the ranges below.
            let end = start + length   // within `rest`: length ≤ rest.count
            guard length >= (space - start) + 4, rest[end - 1] == UInt8(ascii: "\n") else {
                throw .badHeaderField(field: "pax record", block: block)
            }
            let record = rest[(space + 1)..<(end - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")), eq > record.startIndex else {
                throw .badHeaderField(field: "pax record keyword", block: block)
            }
            records.append((String(decoding: record[record.startIndex..<eq], as: UTF8.self), record[(eq + 1)...]))
            rest = rest[end...]
        }
        return records
    }

    /// ASCII decimal digits only (no sign, no spaces), or nil; nil on overflow.
    static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var v = 0
        for b in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            let (times10, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            v = sum
        }
        return v
    }

    static func path(_ h: [UInt8]) -> String {
        let name = String(decoding: h[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        let ustar = h[257..<262].elementsEqual("ustar".utf8)
        let prefix = ustar ? String(decoding: h[345..<500].prefix { $0 != 0 }, as: UTF8.self) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// An octal field (NUL/space terminated), or GNU base-256 when the top bit is set (0x80 for a
    /// positive number; 0xFF, a negative one, is refused).
    static func size(_ field: ArraySlice<UInt8>, block: Int) throws(TarError) -> Int {
        if let first = field.first, first & 0x80 != 0 {
            guard first == 0x80 else { throw .badHeaderField(field: "size", block: block) }
            var v = 0
            for b in field.dropFirst() {
                guard v <= (Int.max >> 8) else { throw .badHeaderField(field: "size", block: block) }
                v = v << 8 | Int(b)
            }
            return v
        }
        return try octal(field, field: "size", block: block)
    }

    static func octal(_ field: ArraySlice<UInt8>, field name: String, block: Int) throws(TarError) -> Int {
        var v = 0
        var digits = 0
        for b in field {
            if b == 0 || b == UInt8(ascii: " ") { if digits > 0 { break } else { continue } }
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(b), v <= (Int.max >> 3) else {
                throw .badHeaderField(field: name, block: block)
            }
            v = v << 3 | Int(b - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0 else { throw .badHeaderField(field: name, block: block) }
        return v
    }
}
