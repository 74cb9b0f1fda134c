import Foundation
@testable import Service
import Testing

/// The pieces of access control on their own: the token generator, the Bearer parser, lifetimes,
/// the failure limiter and redaction.
@Suite("Access control units")
struct AccessUnitTests {
    @Test("tokens: lsq_ and 43 base62, all distinct, every symbol about equally likely")
    func generator() {
        var seen = Set<String>()
        var counts = [UInt8: Int]()
        for _ in 0..<2000 {
            let token = AccessToken.generate()
            #expect(AccessToken.isWellFormed(token), "\(token)")
            #expect(token.utf8.count == 47 && token.hasPrefix("lsq_"))
            seen.insert(token)
            for byte in token.utf8.dropFirst(4) { counts[byte, default: 0] += 1 }
        }
        #expect(seen.count == 2000)
        // 86,000 symbols over 62: 1387 expected each; σ ≈ 37, so ±250 is beyond 6σ.
        #expect(counts.count == 62)
        for (byte, count) in counts { #expect((1137...1637).contains(count), "symbol \(UnicodeScalar(byte)): \(count)") }
    }

    @Test("the shape check: prefix, length 47 and base62 only")
    func shape() {
        let good = "lsq_" + String(repeating: "a", count: 43)
        #expect(AccessToken.isWellFormed(good))
        for bad in ["", "lsq_", good + "a", String(good.dropLast()), "LSQ_" + good.dropFirst(4), good.replacingOccurrences(of: "aa", with: "a-"),
                    "lsq_" + String(repeating: "é", count: 43), "hf_" + String(repeating: "a", count: 44)] {
            #expect(!AccessToken.isWellFormed(bad), "\(bad)")
        }
    }

    @Test("Bearer parsing, RFC 6750: the scheme in any case, surrounding spaces; nothing else")
    func bearer() {
        let t = "lsq_" + String(repeating: "Z", count: 43)
        for value in ["Bearer \(t)", "bearer \(t)", " BEARER  \(t) "] {
            #expect(Authenticator.bearerToken(value, limit: 256) == t, "\(value)")
        }
        for value in ["Basic \(t)", t, "Bearer", "Bearer ", "Bearer \(t) extra", "Bearer\t\(t)", "Bearer \(t)x",
                      "Bearer " + t + String(repeating: " ", count: 300)] {
            #expect(Authenticator.bearerToken(value, limit: 256) == nil, "\(value.prefix(20))")
        }
    }

    @Test("lifetimes: 1s to 3650d in s, m, h or d; one past each end refused")
    func lifetimes() {
        #expect(TokenLifetime("1s")?.seconds == 1)
        #expect(TokenLifetime("90d")?.seconds == 90 * 86_400)
        #expect(TokenLifetime("3650d")?.seconds == TokenLifetime.maxSeconds)
        #expect(TokenLifetime("\(TokenLifetime.maxSeconds)s")?.seconds == TokenLifetime.maxSeconds)
        #expect(TokenLifetime("\(TokenLifetime.maxSeconds + 1)s") == nil)
        for bad in ["0s", "3651d", "", "d", "1", "1w", "-1d", "+1d", "1.5h", " 1d", "1d ", "9999999999d", "99999999999d", "١d"] {
            #expect(TokenLifetime(bad) == nil, "\(bad)")
        }
    }

    @Test("the failure limiter: 20 failures pass, the 21st waits; it refills at 1/s; addresses are bounded")
    func limiter() {
        final class Clock: @unchecked Sendable {
            var now = ContinuousClock.now
        }
        let clock = Clock()
        var limits = AuthLimits()
        limits.maxTrackedAddresses = 3
        let limiter = AuthFailureLimiter(limits: limits, clock: { clock.now })
        for _ in 0..<limits.failureBurst {
            #expect(limiter.retryAfter("a") == nil)
            limiter.recordFailure("a")
        }
        let wait = limiter.retryAfter("a")
        #expect(wait != nil && wait! <= .seconds(1))
        #expect(limiter.retryAfter("b") == nil, "per address")
        clock.now += .seconds(1)
        #expect(limiter.retryAfter("a") == nil, "one more try after a second")
        limiter.recordFailure("a")
        #expect(limiter.retryAfter("a") != nil)
        clock.now += .seconds(20)
        #expect(limiter.retryAfter("a") == nil)
        for address in ["b", "c", "d", "e"] { limiter.recordFailure(address) }
        #expect(limiter.trackedAddresses <= limits.maxTrackedAddresses)
    }

    @Test("redaction replaces every token-shaped run and leaves the rest")
    func redaction() {
        let t = "lsq_" + String(repeating: "k", count: 43)
        #expect(SecretRedaction.redact("no adapter \(t)!") == "no adapter lsq_[redacted]!")
        #expect(SecretRedaction.redact("\(t)/\(t)") == "lsq_[redacted]/lsq_[redacted]")
        #expect(SecretRedaction.redact("lsq_ alone, lsq_") == "lsq_ alone, lsq_")
        #expect(SecretRedaction.redact("partial lsq_abc") == "partial lsq_[redacted]")
        #expect(SecretRedaction.redact("é lsq_é") == "é lsq_é")
    }
}
