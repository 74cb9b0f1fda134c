/// Bytes and file regions waiting to be written to a socket, in order.
struct OutputQueue {
    enum Item {
        case bytes([UInt8], offset: Int)
        case file(OpenFile, offset: Int, remaining: Int)

        var byteCount: Int {
            switch self {
            case .bytes(let bytes, let offset): bytes.count - offset
            case .file(_, _, let remaining): remaining
            }
        }
    }

    private(set) var items: [Item] = []
    private var head = 0
    /// Bytes held in memory (file regions are not counted: they cost no memory).
    private(set) var bufferedBytes = 0

    var isEmpty: Bool { head == items.count }
    var first: Item? { isEmpty ? nil : items[head] }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        items.append(.bytes(bytes, offset: 0))
        bufferedBytes += bytes.count
    }

    mutating func append(file: OpenFile, offset: Int, length: Int) {
        guard length > 0 else { return }
        items.append(.file(file, offset: offset, remaining: length))
    }

    /// Records that `count` bytes of the first item were written.
    mutating func consume(_ count: Int) {
        switch items[head] {
        case .bytes(let bytes, let offset):
            bufferedBytes -= count
            if offset + count == bytes.count { popFirst() } else { items[head] = .bytes(bytes, offset: offset + count) }
        case .file(let file, let offset, let remaining):
            if remaining == count { popFirst() } else {
                items[head] = .file(file, offset: offset + count, remaining: remaining - count)
            }
        }
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
        bufferedBytes = 0
    }

    private mutating func popFirst() {
        items[head] = .bytes([], offset: 0)  // release the buffer or file now
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
    }
}
