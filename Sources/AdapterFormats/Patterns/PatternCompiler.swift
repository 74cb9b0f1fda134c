/// Compiles a `PatternNode` to Pike VM instructions (Thompson's construction), expanding counted
/// repeats and refusing a program past `PatternRegex.maxProgramSize` as soon as it would grow past it.
struct PatternCompiler {
    private(set) var program: [PatternInstruction] = []
    private(set) var sets: [PatternScalarSet] = []

    mutating func append(_ instruction: PatternInstruction) throws(PatternRegexError) {
        guard program.count < PatternRegex.maxProgramSize else { throw .tooComplex(limit: PatternRegex.maxProgramSize) }
        program.append(instruction)
    }

    /// A placeholder to patch once its targets are known.
    private mutating func hole() throws(PatternRegexError) -> Int {
        try append(.jump(-1))
        return program.count - 1
    }

    mutating func emit(_ node: PatternNode) throws(PatternRegexError) {
        switch node {
        case .empty:
            break
        case let .scalar(s):
            try append(.scalar(s))
        case .any:
            try append(.any)
        case let .set(set):
            sets.append(set)
            try append(.set(sets.count - 1))
        case let .assert(a):
            try append(.assert(a))
        case let .concat(items):
            for item in items { try emit(item) }
        case let .alternation(branches):
            // split L1, next; L1: branch; jump end; next: split …; the last branch falls through.
            var exits: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k < branches.count - 1 {
                    let split = try hole()
                    try emit(branch)
                    exits.append(try hole())
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for exit in exits { program[exit] = .jump(program.count) }
        case let .repeat(inner, min, max):
            for _ in 0..<min { try emit(inner) }
            if let max {
                // (inner (inner (…)?)?)? with max − min optional copies, each able to stop early.
                var skips: [Int] = []
                for _ in min..<max {
                    skips.append(try hole())
                    try emit(inner)
                }
                for s in skips { program[s] = .split(s + 1, program.count) }
            } else {
                // L: split body, end; body: inner; jump L.
                let loop = try hole()
                try emit(inner)
                try append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}
