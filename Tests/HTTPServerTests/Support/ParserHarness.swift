@testable import HTTPServer

/// Everything a parser produced for some input: the events in order, and the error that stopped it.
struct ParseOutcome {
    var events: [HTTPParserEvent] = []
    var error: HTTPParseError?

    var heads: [HTTPRequestHead] {
        events.compactMap { if case .head(let head) = $0 { head } else { nil } }
    }

    /// Body bytes of all requests, concatenated.
    var body: [UInt8] {
        events.flatMap { event -> [UInt8] in if case .body(let bytes) = event { bytes } else { [] } }
    }

    var endCount: Int {
        events.filter { if case .end = $0 { true } else { false } }.count
    }

    var trailers: [HTTPHeaders] {
        events.compactMap { if case .end(let trailers) = $0 { trailers } else { nil } }
    }
}

enum Feeding: CaseIterable, CustomStringConvertible {
    case whole, byteByByte, inPairs
    var description: String {
        switch self {
        case .whole: "whole"
        case .byteByByte: "byte by byte"
        case .inPairs: "two bytes at a time"
        }
    }
}

/// Feeds `bytes` to a fresh parser, in the given slices, draining events after each slice.
/// With `atEOF`, the parser is told the input ended.
func parse(_ bytes: [UInt8], limits: HTTPLimits = .default, feeding: Feeding = .whole,
           atEOF: Bool = false) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    let step = switch feeding {
    case .whole: max(bytes.count, 1)
    case .byteByByte: 1
    case .inPairs: 2
    }
    var offset = 0
    do {
        repeat {
            let end = min(offset + step, bytes.count)
            parser.append(bytes[offset..<end])
            offset = end
            while let event = try parser.next() { outcome.events.append(event) }
        } while offset < bytes.count
        if atEOF { try parser.finish() }
    } catch {
        outcome.error = error
    }
    return outcome
}

func parse(_ text: String, limits: HTTPLimits = .default, feeding: Feeding = .whole,
           atEOF: Bool = false) -> ParseOutcome {
    parse(Array(text.utf8), limits: limits, feeding: feeding, atEOF: atEOF)
}
