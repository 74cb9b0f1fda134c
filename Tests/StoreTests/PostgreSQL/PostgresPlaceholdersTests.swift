import Testing
@testable import Store

/// `PostgresPlaceholders.translate`: SQLite's `?`/`?N` markers rewritten as PostgreSQL's `$N`, with
/// SQLite's numbering, leaving literals, quoted identifiers and comments alone. Pure: no server.
@Suite("PostgresPlaceholders: ? and ?N rewritten as $N")
struct PostgresPlaceholdersTests {
    struct Rewrite: Sendable, CustomTestStringConvertible {
        let sql: String
        let expected: String
        let count: Int
        init(_ sql: String, _ expected: String, _ count: Int) {
            self.sql = sql
            self.expected = expected
            self.count = count
        }
        var testDescription: String { "\(sql.debugDescription) → \(expected.debugDescription) (\(count))" }
    }

    /// SQLite's numbering (sqlite3's `?NNN` rule): `?N` is parameter N; a bare `?` is one more than the
    /// largest number used before it. The count is the largest number.
    static let numberingCases: [Rewrite] = [
        .init("", "", 0),
        .init("SELECT 1", "SELECT 1", 0),
        .init("?", "$1", 1),
        .init("x = ?", "x = $1", 1),
        .init("? ?3 ?", "$1 $3 $4", 4),
        .init("?2 ?", "$2 $3", 3),
        .init("? ?1 ?", "$1 $1 $2", 2),
        .init("?2 ?1 ?", "$2 $1 $3", 3),
        .init("?1 IS NULL OR name = ?1", "$1 IS NULL OR name = $1", 1),
        .init("?3", "$3", 3),
        .init("?01", "$1", 1),
        .init("??", "$1$2", 2),
        .init("(?,?,?)", "($1,$2,$3)", 3),
        .init("?a", "$1a", 1),
        .init("a - ? -1", "a - $1 -1", 1),
        .init("a -?", "a -$1", 1),
        .init("a / ? * ?", "a / $1 * $2", 2),
        .init("SELECT ?12", "SELECT $12", 12),
        .init("? ?32766", "$1 $32766", 32766),
    ]

    @Test("numbering follows SQLite's", arguments: numberingCases)
    func numbering(_ rewrite: Rewrite) {
        let result = PostgresPlaceholders.translate(rewrite.sql)
        #expect(result.sql == rewrite.expected)
        #expect(result.parameterCount == rewrite.count)
    }

    /// Markers inside `'…'` (with `''` escapes), `"…"`, `-- …` and `/* … */` are not parameters.
    static let leftAloneCases: [Rewrite] = [
        .init("'?'", "'?'", 0),
        .init("'?' = ?", "'?' = $1", 1),
        .init("'it''s ?' = ?", "'it''s ?' = $1", 1),
        .init("'''?'''", "'''?'''", 0),
        .init("'' = ?", "'' = $1", 1),
        .init("\"?\" = ?", "\"?\" = $1", 1),
        .init("\"a\"\"?\" = ?", "\"a\"\"?\" = $1", 1),
        .init("'\"?' ?", "'\"?' $1", 1),
        .init("\"'?\" ?", "\"'?\" $1", 1),
        .init("-- ?\n?", "-- ?\n$1", 1),
        .init("-- it's ?\n?", "-- it's ?\n$1", 1),
        .init("?-- ?", "$1-- ?", 1),
        .init("/* ? */ ?", "/* ? */ $1", 1),
        .init("/**/?", "/**/$1", 1),
        .init("/*/ ? */?", "/*/ ? */$1", 1),
        .init("/* -- ? */ ?", "/* -- ? */ $1", 1),
        .init("/* ' */ ?", "/* ' */ $1", 1),
        .init("-- /* ?\n?", "-- /* ?\n$1", 1),
        .init("'-- ?' ?", "'-- ?' $1", 1),
        .init("'/* ?' ?", "'/* ?' $1", 1),
        .init("'?1' ?", "'?1' $1", 1),
    ]

    @Test("markers in literals, quoted identifiers and comments are left alone", arguments: leftAloneCases)
    func leftAlone(_ rewrite: Rewrite) {
        let result = PostgresPlaceholders.translate(rewrite.sql)
        #expect(result.sql == rewrite.expected)
        #expect(result.parameterCount == rewrite.count)
    }

    /// An unterminated literal or comment runs to the end of the text: whatever follows is not a
    /// parameter (the server then reports the syntax error).
    static let unterminatedCases: [Rewrite] = [
        .init("'?", "'?", 0),
        .init("? '?", "$1 '?", 1),
        .init("'it''s ?", "'it''s ?", 0),
        .init("'", "'", 0),
        .init("\"?", "\"?", 0),
        .init("\"", "\"", 0),
        .init("-- ?", "-- ?", 0),
        .init("--", "--", 0),
        .init("-", "-", 0),
        .init("/* ?", "/* ?", 0),
        .init("/* ? *", "/* ? *", 0),
        .init("/*", "/*", 0),
        .init("/*/", "/*/", 0),
        .init("/", "/", 0),
        .init("?'", "$1'", 1),
        .init("?\"", "$1\"", 1),
        .init("?/*", "$1/*", 1),
    ]

    @Test("unterminated quotes and comments run to the end", arguments: unterminatedCases)
    func unterminated(_ rewrite: Rewrite) {
        let result = PostgresPlaceholders.translate(rewrite.sql)
        #expect(result.sql == rewrite.expected)
        #expect(result.parameterCount == rewrite.count)
    }

    /// The scan is over UTF-8 bytes; multi-byte characters never contain an ASCII byte, so they pass
    /// through intact next to markers and quotes.
    static let nonASCIICases: [Rewrite] = [
        .init("'é' = ? AND \"ñ\" = ?", "'é' = $1 AND \"ñ\" = $2", 2),
        .init("☃?𝄞?", "☃$1𝄞$2", 2),
        .init("?☃", "$1☃", 1),
        .init("-- 日本語 ?\n?", "-- 日本語 ?\n$1", 1),
        .init("'👩‍👩‍👧?' || ?", "'👩‍👩‍👧?' || $1", 1),
        .init("/* café ? */ ?", "/* café ? */ $1", 1),
        .init("?\u{0}?", "$1\u{0}$2", 2),
    ]

    @Test("non-ASCII text around markers is kept byte for byte", arguments: nonASCIICases)
    func nonASCII(_ rewrite: Rewrite) {
        let result = PostgresPlaceholders.translate(rewrite.sql)
        #expect(result.sql == rewrite.expected)
        #expect(Array(result.sql.utf8) == Array(rewrite.expected.utf8))
        #expect(result.parameterCount == rewrite.count)
    }

    @Test("every ASCII character other than ? passes through alone, and after a marker")
    func everyASCIICharacter() {
        for value in UInt8(0)...UInt8(127) {
            let character = String(UnicodeScalar(value))
            let alone = PostgresPlaceholders.translate(character)
            if character == "?" {
                #expect(alone.sql == "$1" && alone.parameterCount == 1)
                continue
            }
            #expect(alone.sql == character && alone.parameterCount == 0, "byte \(value)")
            let afterMarker = PostgresPlaceholders.translate("?" + character)
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(value) {
                #expect(afterMarker.sql == "$" + character && afterMarker.parameterCount == Int(value - 48), "byte \(value)")
            } else {
                #expect(afterMarker.sql.hasPrefix("$1") && afterMarker.parameterCount == 1, "byte \(value)")
            }
            // Inside a literal nothing is a marker, whatever the character (a quote closes it early).
            if character != "'" {
                let quoted = "'" + character + "?'"
                #expect(PostgresPlaceholders.translate(quoted) == (quoted, 0), "byte \(value)")
            }
        }
    }

    /// `?0` is not a parameter SQLite accepts ("variable number must be between ?1 and ?32766"); here
    /// it becomes `$0`, which PostgreSQL refuses when the statement is prepared (SQLSTATE 42P02, see
    /// PostgresDatabaseTests). It counts for nothing.
    @Test("?0 becomes $0 and counts for nothing")
    func zero() {
        #expect(PostgresPlaceholders.translate("?0") == ("$0", 0))
        #expect(PostgresPlaceholders.translate("?0 ?") == ("$0 $1", 1))
        #expect(PostgresPlaceholders.translate("?00") == ("$0", 0))
    }

    @Test("the largest Int after ? is kept as written and refused (past 65535): no crash")
    func largestInt() {
        let result = PostgresPlaceholders.translate("?9223372036854775807")
        #expect(result.sql == "$9223372036854775807")
        #expect(result.parameterCount == nil)
    }

    /// A number past `Int.max` after `?` must not crash (`Int(...)` fails on it).
    @Test("a number past Int.max after ? does not crash")
    func hugeNumberDoesNotCrash() {
        let digits = "99999999999999999999"
        let result = PostgresPlaceholders.translate("SELECT ?" + digits)
        #expect(result.sql.hasPrefix("SELECT $") && result.sql.hasSuffix(digits))
    }

    /// A marker past PostgreSQL's 65535 (here past Int too) is kept as written and makes the count
    /// nil, so the connection refuses the SQL; it is never re-read as a bare `?` glued to its digits.
    @Test("a number past Int.max is not glued behind $1")
    func hugeNumberIsNotMisread() {
        let result = PostgresPlaceholders.translate("?99999999999999999999")
        #expect(result.sql != "$199999999999999999999")
        #expect(result.parameterCount != 1)
    }

    /// `?9223372036854775807` is past the limit, and the bare `?` after it must not compute
    /// `largest + 1` on it (that trapped, killing the test process, before the limit existed).
    @Test("a bare ? after ?9223372036854775807 does not trap")
    func bareMarkerAfterLargestIntDoesNotTrap() {
        let result = PostgresPlaceholders.translate("?9223372036854775807 ?")
        #expect(result.sql.hasPrefix("$9223372036854775807 "))
        #expect(result.parameterCount == nil)
    }

    @Test("markers up to 65535 are accepted, 65536 refused; a bare ? after ?65535 too")
    func parameterLimit() {
        #expect(PostgresPlaceholders.translate("?65535").parameterCount == 65535)
        #expect(PostgresPlaceholders.translate("?65536").parameterCount == nil)
        #expect(PostgresPlaceholders.translate("?65534 ?").parameterCount == 65535)
        #expect(PostgresPlaceholders.translate("?65535 ?").parameterCount == nil)
    }
}
