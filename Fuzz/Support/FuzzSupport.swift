// Helpers shared by the fuzz targets. Fuzz/run.sh compiles this file into each target's executable
// (it is no module of its own), so nothing here is public.

/// Stops the fuzzer when an invariant fails: libFuzzer sees the trap and writes the input to
/// Fuzz/findings/. `fatalError` rather than `precondition`, so the message survives `-O`.
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant: " + message()) }
}

/// Where to cut an input of `count` bytes, chosen by a few of its bytes (`seed`): each seed byte
/// gives one cut near the start (b × 3, where framing decisions happen) and one spread over the
/// whole input (b × count / 256), so large inputs are cut in their middle and end too.
/// Duplicates are kept: they become empty chunks, which a streaming parser must also accept.
func cutPoints(seed: some Sequence<UInt8>, count: Int) -> [Int] {
    var cuts: [Int] = []
    for b in seed {
        cuts.append(Int(b) * 3)
        cuts.append(Int(b) * count / 256)
    }
    return cuts.filter { $0 >= 0 && $0 <= count }.sorted()
}

/// `bytes` in consecutive pieces ending at each of `cuts` (sorted, within 0...count) and at the end.
func chunks(_ bytes: [UInt8], at cuts: [Int]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var start = 0
    for cut in cuts + [bytes.count] where cut >= start {
        out.append(Array(bytes[start..<cut]))
        start = cut
    }
    return out
}

/// `bytes` one at a time (the extreme split: every state boundary falls between two feeds), made as
/// they are fed rather than all at once.
func singleBytes(_ bytes: [UInt8]) -> LazyMapSequence<[UInt8], [UInt8]> {
    bytes.lazy.map { [$0] }
}

/// A streaming parser's events with the data of one part or entry merged, so the events of
/// differently split feeds compare equal.
enum Merged<Head: Equatable>: Equatable {
    case begin(Head)
    case data([UInt8])
    case end
}

extension Array {
    /// Appends a data chunk, merging it into the previous data event if there is one.
    /// In place: byte-by-byte feeding delivers data a byte at a time, and copying the run on each
    /// byte would make a 64 KiB entry cost gigabytes of copying.
    mutating func appendData<Head>(_ chunk: [UInt8]) where Element == Merged<Head> {
        fuzzCheck(!chunk.isEmpty, "an empty data event")
        guard case .data(var run)? = last else {
            append(.data(chunk))
            return
        }
        removeLast()   // `run` is now the array's only reference, so += does not copy it
        run += chunk
        append(.data(run))
    }
}

/// Whether `a` could be what a feed that stopped early (at an error) saw of `b`: a prefix of `b`
/// whose last data run may be cut short.
func isPrefix<Head>(_ a: [Merged<Head>], of b: [Merged<Head>]) -> Bool {
    guard a.count <= b.count else { return false }
    for i in a.indices {
        if a[i] == b[i] { continue }
        guard i == a.count - 1, case let .data(x) = a[i], case let .data(y) = b[i] else { return false }
        return y.starts(with: x)
    }
    return true
}

/// The events form `begin data* end` runs, the last possibly open when `complete` is false.
/// Returns the data length of each closed run, in order.
func checkStructure<Head>(_ events: [Merged<Head>], complete: Bool) -> [Int] {
    var open = false
    var length = 0
    var lengths: [Int] = []
    for e in events {
        switch e {
        case .begin:
            fuzzCheck(!open, "a begin inside an open part or entry")
            open = true
            length = 0
        case let .data(d):
            fuzzCheck(open, "data outside a part or entry")
            length += d.count
        case .end:
            fuzzCheck(open, "an end without a begin")
            open = false
            lengths.append(length)
        }
    }
    if complete { fuzzCheck(!open, "a part or entry left open at a successful finish") }
    return lengths
}
