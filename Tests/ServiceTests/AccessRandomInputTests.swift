@testable import Service
import Store
import Testing
import TestSupport

/// The new parsers of untrusted text (names with namespaces, `Authorization` values, lifetimes,
/// redaction) on 50,000 seeded random inputs each, biased toward the characters they care about:
/// none may trap, and each answer must keep its promise.
@Suite("Access parsers on random input")
struct AccessRandomInputTests {
    static let alphabet: [Character] = Array("abcXYZ019._-/ %lsq_Bearer\u{0}\t\n\u{e9}\u{1F600}") + ["lsq_", "Bearer "].flatMap { Array($0) }

    static func text(_ random: inout SeededRandom, maxLength: Int) -> String {
        let length = Int.random(in: 0...maxLength, using: &random)
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
    }

    @Test("names: an accepted name re-validates, has at most one '/', parts within bounds")
    func names() {
        var random = SeededRandom(seed: 0xA11CE)
        for _ in 0..<50_000 {
            let candidate = Self.text(&random, maxLength: 300)
            guard let name = try? AdapterName(validating: candidate) else { continue }
            #expect((try? AdapterName(validating: name.rawValue)) == name)
            let parts = name.rawValue.split(separator: "/", omittingEmptySubsequences: false)
            #expect(parts.count <= 2 && parts.allSatisfy { !$0.isEmpty && $0.utf8.count <= AdapterName.maxPartLength })
            if parts.count == 2 { #expect(!AdapterName.reservedLocalParts.contains(String(parts[1]))) }
        }
    }

    @Test("Authorization values: anything accepted is a well-formed token")
    func bearer() {
        var random = SeededRandom(seed: 0xBEA)
        for i in 0..<50_000 {
            var value = Self.text(&random, maxLength: 80)
            if i % 3 == 0 { value = "Bearer " + AccessToken.generate().prefix(Int.random(in: 40...47, using: &random)) + value.prefix(2) }
            if let token = Authenticator.bearerToken(value, limit: 256) {
                #expect(AccessToken.isWellFormed(token), "\(value)")
            }
        }
    }

    @Test("lifetimes: anything accepted is within 1 s ... 3650 d")
    func lifetimes() {
        var random = SeededRandom(seed: 0x71FE)
        let digits = Array("0123456789smhd-+ .")
        for _ in 0..<50_000 {
            let text = String((0..<Int.random(in: 0...14, using: &random)).map { _ in digits[Int.random(in: 0..<digits.count, using: &random)] })
            if let lifetime = TokenLifetime(text) { #expect((1...TokenLifetime.maxSeconds).contains(lifetime.seconds), "\(text)") }
        }
    }

    @Test("redaction: no token-shaped run survives, and text without 'lsq_' is untouched")
    func redaction() {
        var random = SeededRandom(seed: 0x5EC)
        for _ in 0..<50_000 {
            let text = Self.text(&random, maxLength: 120)
            let redacted = SecretRedaction.redact(text)
            if !text.contains("lsq_") { #expect(redacted == text) }
            #expect(SecretRedaction.redact(redacted) == redacted, "idempotent: \(text)")
        }
    }
}
