extension PatternRegex {
    /// Whether the pattern matches at the start of `text`, as Python's `re.match` (the match may end
    /// anywhere; PEFT's patterns end in `$`). A Pike VM: every thread advances in lock step, one
    /// scalar at a time, with at most one thread per instruction, so the cost is O(text × program).
    func matchesPrefix(of text: [Unicode.Scalar]) -> Bool {
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        var stack: [Int] = []
        if addThread(0, at: 0, text, &current, &stack) { return true }
        var position = 0
        while position < text.count, !current.isEmpty {
            let scalar = text[position]
            next.clear()
            for pc in current.members {
                let advances: Bool
                switch program[pc] {
                case let .scalar(s): advances = s == scalar
                case .any: advances = scalar != "\n"
                case let .set(k): advances = sets[k].contains(scalar)
                default: advances = false   // epsilon instructions never sit in a list
                }
                if advances, addThread(pc + 1, at: position + 1, text, &next, &stack) { return true }
            }
            swap(&current, &next)
            position += 1
        }
        return false
    }

    /// Adds `pc` and everything reachable from it without consuming input; true when that reaches
    /// `.match`. An explicit stack, not recursion: a long chain of splits cannot exhaust the stack.
    private func addThread(_ pc: Int, at position: Int, _ text: [Unicode.Scalar],
                           _ list: inout ThreadList, _ stack: inout [Int]) -> Bool {
        stack.removeAll(keepingCapacity: true)
        stack.append(pc)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            switch program[pc] {
            case .match:
                return true
            case let .jump(target):
                stack.append(target)
            case let .split(first, second):
                stack.append(second)
                stack.append(first)
            case let .assert(a):
                if Self.holds(a, at: position, text) { stack.append(pc + 1) }
            case .scalar, .any, .set:
                break   // waits for the next scalar
            }
        }
        return false
    }

    static func holds(_ a: PatternAssertion, at position: Int, _ text: [Unicode.Scalar]) -> Bool {
        switch a {
        case .start:
            return position == 0
        case .end:
            return position == text.count || (position == text.count - 1 && text[position] == "\n")
        case .absoluteEnd:
            return position == text.count
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && PatternScalarSet.is(text[position - 1], .word)
            let after = position < text.count && PatternScalarSet.is(text[position], .word)
            return (before != after) == (a == .wordBoundary)
        }
    }
}

/// A sparse set of instruction indices (Briggs & Torczon): O(1) insert, membership and clear, and
/// iteration in insertion order (which keeps the VM's order of threads deterministic).
struct ThreadList {
    private var dense: [Int]
    private var sparse: [Int]
    private(set) var count = 0

    init(capacity: Int) {
        dense = Array(repeating: 0, count: capacity)
        sparse = Array(repeating: 0, count: capacity)
    }

    var isEmpty: Bool { count == 0 }
    var members: ArraySlice<Int> { dense[0..<count] }

    /// Inserts `pc`; false when it was already there.
    mutating func insert(_ pc: Int) -> Bool {
        let slot = sparse[pc]
        if slot < count && dense[slot] == pc { return false }
        sparse[pc] = count
        dense[count] = pc
        count += 1
        return true
    }

    mutating func clear() { count = 0 }
}
