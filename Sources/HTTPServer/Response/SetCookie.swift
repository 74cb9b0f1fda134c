/// A `Set-Cookie` field value (RFC 6265 §4.1; `SameSite` from RFC 6265bis §4.1.2.7), built only from
/// a name that is a token and a value of cookie-octets, so no attribute can be smuggled in.
public struct SetCookie: Sendable, Equatable {
    public enum SameSite: String, Sendable { case strict = "Strict", lax = "Lax" }

    public var name: String
    public var value: String
    public var path: String = "/"
    /// Seconds until it expires; 0 removes it now; nil makes it a session cookie.
    public var maxAge: Int?
    public var httpOnly = true
    public var secure = false
    public var sameSite: SameSite = .strict

    public enum Invalid: Error, Equatable { case name, value, path }

    public init(name: String, value: String, path: String = "/", maxAge: Int? = nil, httpOnly: Bool = true,
                secure: Bool = false, sameSite: SameSite = .strict) throws(Invalid) {
        guard !name.isEmpty, name.utf8.allSatisfy(ASCII.isTokenChar) else { throw .name }
        guard value.utf8.allSatisfy(Self.isCookieOctet) else { throw .value }
        guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F && $0 != ASCII.semicolon }) else { throw .path }
        self.name = name
        self.value = value
        self.path = path
        self.maxAge = maxAge
        self.httpOnly = httpOnly
        self.secure = secure
        self.sameSite = sameSite
    }

    public var headerValue: String {
        var text = "\(name)=\(value); Path=\(path)"
        if let maxAge { text += "; Max-Age=\(max(0, maxAge))" }
        if secure { text += "; Secure" }
        if httpOnly { text += "; HttpOnly" }
        text += "; SameSite=\(sameSite.rawValue)"
        return text
    }

    /// cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (no space, `"`, `,`, `;`, `\`).
    static func isCookieOctet(_ b: UInt8) -> Bool {
        b == 0x21 || (0x23...0x2B).contains(b) || (0x2D...0x3A).contains(b) || (0x3C...0x5B).contains(b)
            || (0x5D...0x7E).contains(b)
    }
}
