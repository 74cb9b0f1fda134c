import Testing
@testable import AdapterFormats

/// Every limit at its bound (accepted) and one past it (rejected).
@Suite("Safetensors limits")
struct SafetensorsLimitsTests {
    typealias F = SafetensorsFixture

    @Test func defaultsMatchTheReference() {
        let limits = SafetensorsLimits()
        #expect(limits.maxHeaderBytes == 100_000_000)
        #expect(limits.maxTensorCount == 1_000_000)
        #expect(limits.maxRank == 8)
    }

    @Test func headerExactlyAtMaxHeaderBytesIsAccepted() throws {
        let header = "{}" + String(repeating: " ", count: 62)          // 64 bytes
        #expect(try SafetensorsHeader.parse(F.image(header), limits: .init(maxHeaderBytes: 64)).tensors.isEmpty)
    }

    @Test func headerOneByteOverMaxHeaderBytesIsRejected() {
        let header = "{}" + String(repeating: " ", count: 63)          // 65 bytes
        #expect(throws: SafetensorsError.headerTooLarge(length: 65, limit: 64)) {
            try SafetensorsHeader.parse(F.image(header), limits: .init(maxHeaderBytes: 64))
        }
    }

    private func zeroSizeTensors(_ count: Int) -> [UInt8] {
        let members = (0..<count).map { F.entry("t\($0)", "F32", [0], 0, 0) }
        return F.image("{" + members.joined(separator: ",") + "}")
    }

    @Test func tensorCountAtMaxTensorCountIsAccepted() throws {
        let parsed = try SafetensorsHeader.parse(zeroSizeTensors(3), limits: .init(maxTensorCount: 3))
        #expect(parsed.tensors.count == 3)
    }

    @Test func tensorCountOnePastMaxTensorCountIsRejected() {
        #expect(throws: SafetensorsError.tooManyTensors(limit: 3)) {
            try SafetensorsHeader.parse(zeroSizeTensors(4), limits: .init(maxTensorCount: 3))
        }
    }

    @Test func metadataDoesNotCountAsATensor() throws {
        let header = F.header(F.entry("t", "F32", [0], 0, 0), metadata: #"{"k":"v"}"#)
        #expect(try SafetensorsHeader.parse(F.image(header), limits: .init(maxTensorCount: 1)).tensors.count == 1)
    }

    @Test(arguments: [(8, 8), (2, 2), (0, 0)])
    func rankAtMaxRankIsAccepted(maxRank: Int, rank: Int) throws {
        let shape = [Int](repeating: 1, count: rank)
        let file = F.image(F.header(F.entry("a", "F32", shape, 0, 4)), data: [0, 0, 0, 0])
        #expect(try SafetensorsHeader.parse(file, limits: .init(maxRank: maxRank)).tensors.first?.shape == shape)
    }

    @Test(arguments: [(8, 9), (2, 3), (0, 1)])
    func rankOnePastMaxRankIsRejected(maxRank: Int, rank: Int) {
        let file = F.image(F.header(F.entry("a", "F32", [Int](repeating: 1, count: rank), 0, 4)), data: [0, 0, 0, 0])
        #expect(throws: SafetensorsError.tooManyDimensions(tensor: "a", limit: maxRank)) {
            try SafetensorsHeader.parse(file, limits: .init(maxRank: maxRank))
        }
    }
}
