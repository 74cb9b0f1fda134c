// libFuzzer entry for TarReader (Sources/AdapterFormats/Tar). Fuzz/run.sh links it against the
// AdapterFormats module built from every file under Sources/AdapterFormats, and compiles
// Fuzz/Support/FuzzSupport.swift beside it; no Package.swift target.
//
// The input is a whole archive, as an upload's body would carry it. It is read four ways: whole,
// a byte at a time, and cut at points chosen by its first bytes (all with the default limits), then
// whole again with small limits; and all of that once more with every header checksum made right,
// when a mutation broke one (see `fixingChecksums`). Invariants, besides no trap and no sanitizer report:
//   - events and error do not depend on the split (entry data merged per entry); when reading fails,
//     the events delivered before the error are a prefix of what byte-by-byte feeding delivered;
//   - on success every entry is `entryBegin, entryData*, entryEnd` and its data is exactly its
//     declared size; paths are relative, free of NUL and of ".." components; at most maxEntries;
//   - small limits only ever add a refusal: if they succeed, the default limits give the same events.
// Memory stays bounded by the reader's limits; run.sh's -rss_limit_mb catches a leak of it.
import AdapterFormats

struct TarOutcome: Equatable {
    var events: [Merged<TarReader.Entry>] = []
    var error: TarError?
}

func readTar(_ pieces: some Sequence<[UInt8]>, limits: TarReader.Limits) -> TarOutcome {
    var reader = TarReader(limits: limits)
    var outcome = TarOutcome()
    func take(_ events: [TarReader.Event]) {
        for event in events {
            switch event {
            case let .entryBegin(entry): outcome.events.append(.begin(entry))
            case let .entryData(chunk): outcome.events.appendData(chunk)
            case .entryEnd: outcome.events.append(.end)
            }
        }
    }
    do throws(TarError) {
        for piece in pieces { take(try reader.feed(piece)) }
        take(try reader.finish())
    } catch {
        outcome.error = error
    }
    return outcome
}

/// The invariants of one outcome on its own.
func checkTar(_ outcome: TarOutcome, limits: TarReader.Limits) {
    let lengths = checkStructure(outcome.events, complete: outcome.error == nil)
    var index = 0
    var entries = 0
    for event in outcome.events {
        guard case let .begin(entry) = event else { continue }
        entries += 1
        fuzzCheck(entry.size >= 0, "entry \(entry.path.debugDescription) has size \(entry.size)")
        fuzzCheck(!entry.path.hasPrefix("/"), "absolute path \(entry.path.debugDescription)")
        fuzzCheck(!entry.path.utf8.contains(0), "path with NUL \(entry.path.debugDescription)")
        fuzzCheck(!entry.path.split(separator: "/").contains(".."), "path with .. \(entry.path.debugDescription)")
        if index < lengths.count {
            fuzzCheck(lengths[index] == entry.size,
                      "entry \(entry.path.debugDescription) declared \(entry.size) bytes, delivered \(lengths[index])")
        }
        index += 1
    }
    fuzzCheck(entries <= limits.maxEntries, "\(entries) entries past the limit of \(limits.maxEntries)")
}

/// The archive with the checksum of every block that looks like a header made right: libFuzzer cannot
/// compute a checksum, so without this almost every mutation of a header field would stop at
/// `badChecksum` and the size, type and name handling behind it would go unfuzzed. A block looks like a
/// header when it is not all zero and its checksum field holds only octal digits, spaces and NULs, with
/// a digit among them (headers sit at multiples of 512; rewriting a data block that happens to look like
/// one only changes data).
func fixingChecksums(_ bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    var start = 0
    while start + 512 <= out.count {
        let field = out[(start + 148)..<(start + 156)]
        let octal = field.allSatisfy { $0 == 0 || $0 == 0x20 || (0x30...0x37).contains($0) }
        if octal, field.contains(where: { (0x30...0x37).contains($0) }), out[start..<(start + 512)].contains(where: { $0 != 0 }) {
            var sum = 0
            for i in start..<(start + 512) { sum += (148..<156).contains(i - start) ? 0x20 : Int(out[i]) }
            let digits = Array(String(sum, radix: 8).utf8)
            let text = [UInt8](repeating: 0x30, count: max(0, 6 - digits.count)) + digits.suffix(6) + [0, 0x20]
            out.replaceSubrange((start + 148)..<(start + 156), with: text)
        }
        start += 512
    }
    return out
}

/// Every invariant, for one archive.
func checkArchive(_ bytes: [UInt8]) {
    let limits = TarReader.Limits()
    var small = TarReader.Limits()
    small.maxEntries = 2
    small.maxExtendedHeaderBytes = 600

    let whole = readTar([bytes], limits: limits)
    let byteByByte = readTar(singleBytes(bytes), limits: limits)
    let cut = readTar(chunks(bytes, at: cutPoints(seed: bytes.prefix(8), count: bytes.count)), limits: limits)
    checkTar(whole, limits: limits)
    checkTar(byteByByte, limits: limits)
    checkTar(cut, limits: limits)

    fuzzCheck(whole.error == byteByByte.error,
              "byte-by-byte feeding changed the error: \(String(describing: whole.error)) vs \(String(describing: byteByByte.error))")
    fuzzCheck(whole.error == cut.error,
              "split feeding changed the error: \(String(describing: whole.error)) vs \(String(describing: cut.error))")
    if whole.error == nil {
        fuzzCheck(whole.events == byteByByte.events, "byte-by-byte feeding changed the events")
        fuzzCheck(whole.events == cut.events, "split feeding changed the events")
    } else {
        // A feed that throws drops the events of that call, so a bigger chunk sees fewer of them.
        fuzzCheck(isPrefix(whole.events, of: byteByByte.events), "whole-feed events are not a prefix of byte-by-byte's")
        fuzzCheck(isPrefix(cut.events, of: byteByByte.events), "split-feed events are not a prefix of byte-by-byte's")
    }

    let limited = readTar([bytes], limits: small)
    checkTar(limited, limits: small)
    if limited.error == nil {
        fuzzCheck(whole.error == nil && whole.events == limited.events, "small limits accepted what the defaults did not read the same")
    }
    if whole.error != nil {
        fuzzCheck(limited.error != nil, "small limits accepted an archive the defaults refused")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkArchive(bytes)
    // The same archive with its header checksums right, when a mutation broke one (the raw run above
    // then stopped early, at badChecksum, so this costs little more than one run).
    let fixed = fixingChecksums(bytes)
    if fixed != bytes { checkArchive(fixed) }
    return 0
}
