/// Tokens of the service's shape (`lsq_` and 43 base62 characters), made here rather than by the
/// service so the tests do not depend on its generator.
public enum TestTokens {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return "lsq_" + String((0..<43).map { _ in alphabet[Int.random(in: 0..<62, using: &generator)] })
    }
}
