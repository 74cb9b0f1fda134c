@testable import HTTPServer
import Testing

@Suite("FormBody: application/x-www-form-urlencoded")
struct FormBodyTests {
    func parse(_ text: String, maxFields: Int = FormBody.maxFields) throws(FormBodyError) -> FormBody {
        try FormBody(parsing: Array(text.utf8), maxFields: maxFields)
    }

    @Test("fields in order; + is a space; %XX decodes to UTF-8; repeated names kept")
    func decodes() throws {
        let form = try parse("rank=16&prefix=team-a%2F&note=a+b%20c&adapter=x&adapter=y&empty=&bare&caf%C3%A9=%E2%80%8F")
        #expect(form.value("rank") == "16" && form.value("prefix") == "team-a/" && form.value("note") == "a b c")
        #expect(form.values("adapter") == ["x", "y"] && form.value("empty") == "" && form.value("bare") == "")
        #expect(form.value("café") == "\u{200F}")
        #expect(form.value("missing") == nil)
        #expect(try parse("").fields.isEmpty && (try parse("&&&").fields.isEmpty))
        #expect(try parse("a=1=2").value("a") == "1=2", "only the first = splits")
    }

    @Test("malformed escapes, non-UTF-8 and raw bytes outside printable ASCII are refused, naming the field",
          arguments: ["a=%", "a=%4", "a=%zz", "ok=1&b=%FF", "a=\u{00E9}", "a=b c", "a=\t", "%C3=1"])
    func refuses(_ text: String) {
        #expect(throws: FormBodyError.self) { try parse(text) }
        if text.hasPrefix("ok=1&") { #expect(throws: FormBodyError.malformed(field: 1)) { try parse(text) } }
    }

    @Test("every byte value in a value: printable ASCII is taken, anything else refused")
    func everyByte() {
        for byte in UInt8.min...UInt8.max {
            let body: [UInt8] = Array("a=".utf8) + [byte]
            let parsed = try? FormBody(parsing: body)
            let expected = byte >= 0x21 && byte < 0x7F && byte != UInt8(ascii: "%") && byte != UInt8(ascii: "&")
            if byte == UInt8(ascii: "&") { #expect(parsed?.value("a") == "") } else {
                #expect((parsed != nil) == expected, "byte \(byte)")
            }
        }
    }

    @Test("maxFields fields are taken; one past is refused")
    func fieldLimit() throws {
        let at = (0..<FormBody.maxFields).map { "f\($0)=1" }.joined(separator: "&")
        #expect(try parse(at).fields.count == FormBody.maxFields)
        #expect(throws: FormBodyError.tooManyFields(limit: FormBody.maxFields)) { try parse(at + "&x=1") }
        #expect(throws: FormBodyError.tooManyFields(limit: 2)) { try parse("a&b&c", maxFields: 2) }
    }
}

@Suite("Cookies: the Cookie field and Set-Cookie")
struct CookieTests {
    func request(_ lines: [String]) -> HTTPRequest {
        var head = HTTPRequestHead(method: .get, target: "/")
        for line in lines { head.headers.append(name: "Cookie", value: line) }
        return HTTPRequest(head: head)
    }

    @Test("a cookie is found among others, across lines, quoted or not")
    func finds() {
        let r = request(["theme=dark; __Host-lsq_session=abc123;other=1", "late=\"q\""])
        #expect(r.cookie("__Host-lsq_session") == "abc123" && r.cookie("theme") == "dark" && r.cookie("other") == "1")
        #expect(r.cookie("late") == "q" && r.cookie("missing") == nil && r.cookie("__Host-lsq") == nil)
        #expect(request([]).cookie("a") == nil)
        #expect(request(["a=1; a=1"]).cookie("a") == "1", "the same value twice is one cookie")
    }

    @Test("a cookie sent twice with different values, or with bytes that are not cookie-octets, is nil")
    func refuses() {
        #expect(request(["s=1; s=2"]).cookie("s") == nil)
        #expect(request(["s=1", "s=2"]).cookie("s") == nil)
        #expect(request(["s=a\\b"]).cookie("s") == nil)
        #expect(request(["s=a,b"]).cookie("s") == nil)
    }

    @Test("Set-Cookie carries its attributes; a name or value that could smuggle one is refused")
    func setCookie() throws {
        let c = try SetCookie(name: "__Host-lsq_session", value: "abc", maxAge: 3600, secure: true)
        #expect(c.headerValue == "__Host-lsq_session=abc; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict")
        let gone = try SetCookie(name: "s", value: "", maxAge: 0)
        #expect(gone.headerValue == "s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        #expect(throws: SetCookie.Invalid.value) { try SetCookie(name: "s", value: "a; Domain=evil") }
        #expect(throws: SetCookie.Invalid.value) { try SetCookie(name: "s", value: "a b") }
        #expect(throws: SetCookie.Invalid.name) { try SetCookie(name: "s=x", value: "a") }
        #expect(throws: SetCookie.Invalid.name) { try SetCookie(name: "", value: "a") }
        #expect(throws: SetCookie.Invalid.path) { try SetCookie(name: "s", value: "a", path: "/x; Secure") }
        for byte in UInt8(0)...UInt8(127) {
            let ok = (try? SetCookie(name: "s", value: String(UnicodeScalar(byte)))) != nil
            let octet = byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte)
                || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            #expect(ok == octet, "byte \(byte)")
        }
    }
}
