import ArgumentParser
import Foundation

/// Where `serve` reads a setting: its flag, else its `LORA_SQUEEZE_*` environment variable — parsed
/// the same way as the flag, through `ExpressibleByArgument` — else the default. A value that does
/// not parse, or is out of range, stops start-up with a message naming the flag or the variable and
/// the accepted forms; nothing is ever silently replaced by a default.
struct SettingSource {
    /// The environment, injectable for tests.
    var environment: [String: String] = ProcessInfo.processInfo.environment

    static let prefix = "LORA_SQUEEZE_"

    /// Every variable name `serve` reads (without the prefix), to warn about misspelt ones.
    static let known: Set<String> = [
        "HOST", "PORT", "DATA", "MAX_UPLOAD", "MAX_BASE_UPLOAD", "MAX_CONFIG", "MIN_FREE_DISK", "CACHE_BUDGET", "MAX_PINNED", "WORKERS",
        "CONCURRENT_SQUEEZES", "MAX_RANK", "MAX_OUTPUT", "SQUEEZE_QUEUE", "MAX_CLIENT_SQUEEZES", "MAX_JOB_ADAPTERS",
        "MAX_MODULES", "MAX_LORA_RANK", "MAX_CONNECTIONS", "LOG_LEVEL", "DRAIN_DELAY", "SHUTDOWN_GRACE",
        "SCRUB_INTERVAL", "SCRUB_RATE", "JOB_RETENTION", "MAX_JOBS", "AUTH", "METRICS_AUTH", "ADMIN_TOKEN",
        "ADMIN_TOKEN_FILE", "AUDIT_RETENTION", "TLS_CERT", "TLS_KEY", "TLS_PORT", "TLS_KTLS",
        "CATALOG", "CATALOG_POOL", "BLOBS", "REPLICA_ID",
    ]

    /// `LORA_SQUEEZE_*` variables that no setting reads (a typo would otherwise be ignored silently).
    var unknownVariables: [String] {
        environment.keys.filter { $0.hasPrefix(Self.prefix) && !Self.known.contains(String($0.dropFirst(Self.prefix.count))) }.sorted()
    }

    /// The setting's value. `forms` says what is accepted ("an integer from 1 to 65535"); `valid`
    /// checks the range whether the value came from the flag or the environment.
    func value<V: ExpressibleByArgument>(_ flagValue: V?, flag: String, env: String, default fallback: V,
                                         forms: String, valid: (V) -> Bool = { _ in true }) throws -> V {
        try optional(flagValue, flag: flag, env: env, forms: forms, valid: valid) ?? fallback
    }

    /// A setting whose absence means something of its own (e.g. "half the cache budget"): nil when
    /// neither the flag nor the variable is given.
    func optional<V: ExpressibleByArgument>(_ flagValue: V?, flag: String, env: String, forms: String,
                                            valid: (V) -> Bool = { _ in true }) throws -> V? {
        if let flagValue {
            guard valid(flagValue) else { throw ValidationError("--\(flag) \(flagValue) is not valid: expected \(forms)") }
            return flagValue
        }
        let name = Self.prefix + env
        guard let text = environment[name] else { return nil }
        guard let parsed = V(argument: text), valid(parsed) else {
            throw ValidationError("\(name)=\"\(text)\" is not valid: expected \(forms) (or unset it for the default)")
        }
        return parsed
    }
}

/// A byte count: an integer with an optional K, M, G or T (powers of 1024), optionally followed by
/// `B` or `iB` — `512M`, `20G`, `40GB`, `40GiB`, `1048576` — from 0 to `Int.max`.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible, Equatable {
    let bytes: Int

    static let forms = "a byte count such as 1048576, 512M, 20G, 40GB or 1TiB (K, M, G, T are powers of 1024)"

    init(bytes: Int) { self.bytes = bytes }

    init?(_ text: String) {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
        guard let last = t.last else { return nil }
        let shift: Int
        switch last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        case "T": shift = 40
        default: shift = 0
        }
        let digits = shift == 0 ? t : String(t.dropLast())
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let n = Int(digits), n <= (Int.max >> shift) else { return nil }
        bytes = n << shift
    }

    init?(argument: String) { self.init(argument) }

    var description: String { String(bytes) }
}

/// A length of time: an integer with a unit — `ms`, `s`, `m`, `h` or `d` (`500ms`, `5s`, `24h`, `7d`),
/// or `0` — from 0 to 100 years.
struct DurationSetting: ExpressibleByArgument, CustomStringConvertible, Equatable {
    let duration: Duration

    static let forms = "a duration such as 0, 500ms, 5s, 10m, 24h or 7d"
    /// The longest accepted: 100 years.
    static let maxSeconds: Int64 = 100 * 365 * 86_400

    init(_ duration: Duration) { self.duration = duration }

    init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "0" {
            duration = .zero
            return
        }
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        guard let unit = units.first(where: { t.hasSuffix($0.suffix) && Int64(t.dropLast($0.suffix.count)) != nil }) else { return nil }
        let digits = t.dropLast(unit.suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits),
              n <= Self.maxSeconds * 1000 / unit.milliseconds else { return nil }
        duration = .milliseconds(n * unit.milliseconds)
    }

    init?(argument: String) { self.init(argument) }

    var description: String { "\(duration)" }
}
