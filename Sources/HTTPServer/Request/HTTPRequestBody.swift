/// A request body, read incrementally as an `AsyncSequence` of byte chunks as they arrive from the
/// socket. It can be read once. `Expect: 100-continue` is answered when reading starts.
public struct HTTPRequestBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let channel: BodyChannel?
    /// The declared length (Content-Length), nil for chunked bodies.
    public let expectedLength: Int?
    /// Reading more than this throws `HTTPError.contentTooLarge`.
    public let maxBytes: Int?

    init(channel: BodyChannel?, expectedLength: Int?, maxBytes: Int? = nil) {
        self.channel = channel
        self.expectedLength = expectedLength
        self.maxBytes = maxBytes
    }

    /// An empty body.
    public static let empty = HTTPRequestBody(channel: nil, expectedLength: 0)

    /// A body from bytes already in memory, for tests and for handlers that call other handlers.
    public init(bytes: [UInt8]) {
        let channel = BodyChannel { _ in }
        if !bytes.isEmpty { channel.push(bytes) }
        channel.finish()
        self.init(channel: channel, expectedLength: bytes.count)
    }

    /// The same body, limited to `maxBytes` (the smaller of this and any existing limit).
    public func limited(to maxBytes: Int) -> HTTPRequestBody {
        HTTPRequestBody(channel: channel, expectedLength: expectedLength, maxBytes: Swift.min(maxBytes, self.maxBytes ?? .max))
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BodyChannel?
        let maxBytes: Int?
        var received = 0

        public mutating func next() async throws -> [UInt8]? {
            guard let channel, let chunk = try await channel.next() else { return nil }
            received += chunk.count
            if let maxBytes, received > maxBytes { throw HTTPError.contentTooLarge(limit: maxBytes) }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(channel: channel, maxBytes: maxBytes)
    }

    /// The whole body in memory; throws `HTTPError.contentTooLarge` past `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        if let expectedLength { bytes.reserveCapacity(Swift.min(expectedLength, maxBytes)) }
        for try await chunk in limited(to: maxBytes) { bytes += chunk }
        return bytes
    }
}
