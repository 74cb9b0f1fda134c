/// A streaming reader for POSIX ustar / pax / GNU tar archives: a pure value fed bytes in chunks of
/// any size, yielding entries and their data as it arrives (memory bounded by one 512-byte block and
/// a pax header). Only what adapter uploads need: regular files and directories; links, devices and
/// FIFOs are reported with their type so the caller can refuse them.
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
        /// Entries in one archive (default 64; a PEFT directory has a handful).
        public var maxEntries = 64
        /// Bytes of one pax extended header (default 64 KiB).
        public var maxExtendedHeaderBytes = 64 * 1024
        public init() {}
    }

    static let block = 512

    private enum State { case header, data(remaining: Int, padding: Int, emit: Bool), end }
    private let limits: Limits
    private var state = State.header
    private var buffer: [UInt8] = []
    private var blockIndex = 0
    private var entries = 0
    private var pendingPath: String?        // from a pax 'x' or GNU 'L' header, for the next entry
    private var pendingSize: Int?
    private var collecting: (kind: UInt8, bytes: [UInt8], remaining: Int)?
    private var zeroBlocks = 0

    public init(limits: Limits = .init()) { self.limits = limits }

    public mutating func feed(_ bytes: [UInt8]) throws(TarError) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        try process(&events)
        return events
    }

    /// The archive ended: it must not stop inside a header or an entry.
    public mutating func finish() throws(TarError) -> [Event] {
        var events: [Event] = []
        try process(&events)
        switch state {
        case .end: return events
        case .header where buffer.isEmpty && collecting == nil: return events  // EOF at a block boundary: accepted, as GNU tar does
        default: throw .truncated
        }
    }

    private mutating func process(_ events: inout [Event]) throws(TarError) {
        while true {
            switch state {
            case .end:
                buffer.removeAll()
                return
            case let .data(remaining, padding, emit):
                if remaining > 0 {
                    guard !buffer.isEmpty else { return }
                    let n = min(remaining, buffer.count)
                    let chunk = Array(buffer[0..<n])
                    buffer.removeFirst(n)
                    if emit { events.append(.entryData(chunk)) } else { try collect(chunk) }
                    state = .data(remaining: remaining - n, padding: padding, emit: emit)
                    continue
                }
                guard buffer.count >= padding else { return }
                buffer.removeFirst(padding)
                blockIndex += (padding > 0 ? 1 : 0)
                if emit { events.append(.entryEnd) } else { try finishExtended() }
                state = .header
            case .header:
                guard buffer.count >= Self.block else { return }
                let header = Array(buffer[0..<Self.block])
                buffer.removeFirst(Self.block)
                let index = blockIndex
                blockIndex += 1
                if header.allSatisfy({ $0 == 0 }) {
                    zeroBlocks += 1
                    if zeroBlocks == 2 { state = .end }
                    continue
                }
                zeroBlocks = 0
                try startEntry(header, index: index, &events)
            }
        }
    }

    private mutating func startEntry(_ h: [UInt8], index: Int, _ events: inout [Event]) throws(TarError) {
        // Checksum: the header's bytes summed with the checksum field read as spaces (POSIX).
        let stored = try Self.octal(h[148..<156], field: "chksum", block: index)
        var sum = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
        guard stored == sum else { throw .badChecksum(block: index) }
        let type = h[156]
        let size: Int
        if let pending = pendingSize { size = pending } else { size = try Self.size(h[124..<136], block: index) }
        let dataBlocks = (size + Self.block - 1) / Self.block
        let padding = dataBlocks * Self.block - size
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"):
            guard size <= limits.maxExtendedHeaderBytes else { throw .extendedHeaderTooLarge(limit: limits.maxExtendedHeaderBytes) }
            collecting = (type, [], size)
            pendingSize = nil
            state = .data(remaining: size, padding: padding, emit: false)
            if size == 0 { try finishExtended(); state = .header }
            return
        case UInt8(ascii: "g"):   // global pax header: nothing we use
            collecting = (type, [], size)
            state = .data(remaining: size, padding: padding, emit: false)
            return
        default:
            break
        }
        entries += 1
        guard entries <= limits.maxEntries else { throw .tooManyEntries(limit: limits.maxEntries) }
        var path = pendingPath ?? Self.path(h)
        pendingPath = nil
        pendingSize = nil
        while path.hasPrefix("./") { path.removeFirst(2) }
        if path.hasSuffix("/") { path.removeLast() }
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { throw .unsafePath(path) }
        let kind: Entry.Kind
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "5"): kind = .directory
        default: kind = .other(type)
        }
        events.append(.entryBegin(Entry(path: path, size: size, kind: kind)))
        state = .data(remaining: size, padding: padding, emit: true)
        if size == 0 && padding == 0 { events.append(.entryEnd); state = .header }
    }

    private mutating func collect(_ chunk: [UInt8]) throws(TarError) {
        collecting?.bytes += chunk
    }

    /// A pax 'x' header's `path` and `size` records, or a GNU 'L' long name, apply to the next entry.
    private mutating func finishExtended() throws(TarError) {
        guard let c = collecting else { return }
        collecting = nil
        if c.kind == UInt8(ascii: "L") {
            pendingPath = String(decoding: c.bytes.prefix { $0 != 0 }, as: UTF8.self)
            return
        }
        guard c.kind == UInt8(ascii: "x") else { return }
        // Records: "<length> <key>=<value>\n", length counting the whole record.
        var rest = c.bytes[...]
        while !rest.isEmpty {
            guard let space = rest.firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
                  length > 0, length <= rest.count else { throw .badHeaderField(field: "pax record", block: blockIndex) }
            let record = rest[(space + 1)..<(rest.startIndex + length - 1)]
            rest = rest[(rest.startIndex + length)...]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
            let value = String(decoding: record[(eq + 1)...], as: UTF8.self)
            if key == "path" { pendingPath = value }
            if key == "size" {
                guard let s = Int(value), s >= 0 else { throw .badHeaderField(field: "pax size", block: blockIndex) }
                pendingSize = s
            }
        }
    }

    static func path(_ h: [UInt8]) -> String {
        let name = String(decoding: h[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        let ustar = h[257..<262].elementsEqual("ustar".utf8)
        let prefix = ustar ? String(decoding: h[345..<500].prefix { $0 != 0 }, as: UTF8.self) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// An octal field (NUL/space terminated), or GNU base-256 when the top bit is set.
    static func size(_ field: ArraySlice<UInt8>, block: Int) throws(TarError) -> Int {
        if let first = field.first, first & 0x80 != 0 {
            var v = Int(first & 0x7F)
            for b in field.dropFirst() {
                guard v < (Int.max >> 8) else { throw .badHeaderField(field: "size", block: block) }
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
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(b), v < (Int.max >> 3) else {
                throw .badHeaderField(field: name, block: block)
            }
            v = v << 3 | Int(b - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0 else { throw .badHeaderField(field: name, block: block) }
        return v
    }
}
