import Foundation
import Locking
import SqueezeEngine
import Store

/// Decoded adapter descriptions, kept so a request does not decode the stored JSON again (70 KB for
/// a small Gemma adapter, several MB for a large one: the main cost of answering a cache hit or a
/// refusal). Adapters are immutable, so an entry never goes stale; the cache is bounded by the
/// description bytes it holds and forgets the oldest first.
final class InspectionCache: Sendable {
    /// Description bytes (JSON) the cache may hold.
    static let capacityBytes = 64 << 20

    private struct State {
        var entries: [SHA256Digest: (inspection: AdapterInspection, bytes: Int)] = [:]
        var order: [SHA256Digest] = []
        var bytes = 0
    }
    private let state = Locked(State())

    func inspection(_ record: AdapterRecord) throws -> AdapterInspection {
        if let hit = state.withLock({ $0.entries[record.digest]?.inspection }) { return hit }
        let decoded = try JSONDecoder().decode(AdapterInspection.self, from: Data(record.descriptionJSON.utf8))
        let size = record.descriptionJSON.utf8.count
        guard size <= Self.capacityBytes else { return decoded }
        state.withLock { s in
            guard s.entries[record.digest] == nil else { return }
            while s.bytes + size > Self.capacityBytes, !s.order.isEmpty {
                let oldest = s.order.removeFirst()
                s.bytes -= s.entries.removeValue(forKey: oldest)?.bytes ?? 0
            }
            s.entries[record.digest] = (decoded, size)
            s.order.append(record.digest)
            s.bytes += size
        }
        return decoded
    }
}
