import Locking
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A log handler whose lines are swift-log's `StreamLogHandler`'s, byte for byte —
/// `<local time> <level> <label>: <metadata sorted by key> [<source>] <message>` — written through a
/// `BufferedLogOutput`. A line at `urgentLevel` or above flushes at once (with everything before it,
/// so the order holds): warnings and errors are never held back.
///
/// It formats the line itself rather than wrapping `StreamLogHandler`, which per line merges
/// dictionaries, sorts, joins, and calls `localtime(3)` — which in glibc re-reads the time zone
/// (a `stat` of /etc/localtime) on every call. Here the timestamp is made once a second with
/// `localtime_r` and the metadata is written straight into the line. (The same-format test holds it
/// to `StreamLogHandler`'s output.)
///
///     LoggingSystem.bootstrap { BufferedLogHandler(label: $0, output: .standardError) }
public struct BufferedLogHandler: LogHandler {
    /// Lines at this level or above are written at once.
    public static let urgentLevel: Logger.Level = .warning

    private let label: String
    private let output: BufferedLogOutput
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata = Logger.Metadata()

    public init(label: String, output: BufferedLogOutput,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = LogTimestamp.now()
        line += " "
        line += event.level.rawValue
        if !label.isEmpty { line += " " }
        line += label
        line += ":"
        appendMetadata(of: event, to: &line)
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        output.write(line)
        if event.level >= Self.urgentLevel { output.flush() }
    }

    /// ` k=v k=v…` sorted by key, as `StreamLogHandler` merges them: the handler's own metadata, then
    /// the provider's, then the event's, then the error's two fields.
    private func appendMetadata(of event: LogEvent, to line: inout String) {
        let provided = metadataProvider?.get() ?? [:]
        let explicit = event.metadata ?? [:]
        var merged = metadata
        if !provided.isEmpty || !explicit.isEmpty || event.error != nil {
            merged.merge(provided) { _, new in new }
            merged.merge(explicit) { _, new in new }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += value.description
        }
    }
}

/// `StreamLogHandler`'s timestamp, `%Y-%m-%dT%H:%M:%S%z` in local time, made once a second.
enum LogTimestamp {
    private static let cache = Locked<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        var t = time_t(second)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (second, text) }
        return text
    }
}
