/// How long a new token lives: `expiresIn` of `POST /v1/tokens` and `token create --expires-in`,
/// a whole number of seconds, minutes, hours or days (`90d`, `12h`, `30m`, `3600s`), 1 s to 3650 days.
public struct TokenLifetime: Sendable, Equatable {
    /// The longest lifetime: ten years.
    public static let maxSeconds = 3650 * 86_400
    public static let forms = "a whole number and a unit: s, m, h or d (90d, 12h, 30m, 3600s), from 1s to 3650d"

    public let seconds: Int

    public init?(_ text: String) {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unitCharacter = text.last, let unit = units[unitCharacter] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(digits) else { return nil }
        let (total, overflow) = n.multipliedReportingOverflow(by: unit)
        guard !overflow, (1...Self.maxSeconds).contains(total) else { return nil }
        seconds = total
    }
}
