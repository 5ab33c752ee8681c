import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// File names that are not UTF-8: carried losslessly in strings, read, and printed with their own bytes.
final class PathBytesTests: XCTestCase {
    func testRoundTripIsExactForAnyBytes() {
        XCTAssertEqual(PathBytes.string(Array("access-log é/ü".utf8)), "access-log é/ü")
        XCTAssertEqual(PathBytes.bytes("access-log é/ü"), Array("access-log é/ü".utf8))
        let awkward: [[UInt8]] = [
            [0xff], [0x6c, 0xff, 0x2e], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
            [0xf4, 0x8f, 0xba, 0x80], [0xf4, 0x8f, 0xbb, 0xbf, 0x41], [0xc0, 0xaf], [0x80, 0x80, 0x2f, 0xfe],
        ]
        var generator = SystemRandomNumberGenerator()
        let pool: [UInt8] = [0x2f, 0x41, 0x80, 0x8f, 0xba, 0xbf, 0xc3, 0xe2, 0xf0, 0xf4, 0xff]
        let random: [[UInt8]] = (0..<3000).map { _ in
            (0..<Int.random(in: 0...12, using: &generator)).map { _ in pool.randomElement(using: &generator)! }
        }
        for bytes in awkward + random {
            let text = PathBytes.string(bytes)
            XCTAssertEqual(PathBytes.bytes(text), bytes, "\(bytes)")
            let viaC = PathBytes.withCString(text) { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
            XCTAssertEqual(viaC, bytes.prefix { $0 != 0 }, "\(bytes)")
        }
        // The name's own scalar from the escape range is escaped too, so it cannot be taken for an escape.
        XCTAssertEqual(PathBytes.string([0xf4, 0x8f, 0xba, 0x80]).unicodeScalars.count, 4)
    }

    func testFilesNamedOutsideUTF8AreReadAndNamedWithTheirBytes() {
        let dir = Fixture.directory()
        let nameBytes = Array("log".utf8) + [0xff] + Array(".txt".utf8)
        let path = dir + "/" + PathBytes.string(nameBytes)
        let line = "1.2.3.4 - - [d] \"GET /a HTTP/1.0\" 200 7\n"
        let file = PathBytes.withCString(path) { fopen($0, "wb") }!
        fputs(line + line, file)
        fclose(file)
        let other = Fixture.write(Array(line.utf8), to: dir + "/other")

        XCTAssertEqual(sluice(["sum", "bytes", dir]).stdout, "Total 21\n")
        XCTAssertEqual(sluice(["sum", "bytes", path]).stdout, "Total 14\n")
        let counts = sluice(["grep", "-c", "GET", path, other])
        XCTAssertEqual(counts.stdoutBytes, Array((dir + "/").utf8) + nameBytes + Array(":2\n\(other):1\n".utf8))
        let json = sluice(["grep", "-c", "--json", "GET", path])
        XCTAssertTrue(json.stdout.contains("\"path\":\"\(dir)/log\u{FFFD}.txt\""), json.stdout)
        // Patterns, --where values and globs keep their bytes too.
        let latin1 = Fixture.write(Array("1.2.3.4 - - [d] \"GET /caf".utf8) + [0xe9] + Array(" HTTP/1.0\" 200 7\n".utf8)
                                   + Array(line.utf8), to: dir + "/latin1")
        let cafe = PathBytes.string(Array("caf".utf8) + [0xe9])
        XCTAssertEqual(sluice(["grep", "-c", cafe, latin1]).stdout, "1\n")
        XCTAssertEqual(sluice(["grep", "-c", "(?:" + cafe + ")", latin1]).stdout, "1\n")
        XCTAssertEqual(sluice(["count", "--where", "request=/" + cafe, latin1]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["count", "--where", "request~" + cafe + "$", latin1]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["sum", "bytes", "--name", "log" + PathBytes.string([0xff]) + "*", dir]).stdout, "Total 14\n")
        // An unknown --where field is named with its own bytes, as an unknown field operand is (it showed U+FFFD).
        let err = dir + "/err"
        system("'\(Fixture.binary)' count --where \"$(printf '\\377=1')\" '\(latin1)' 2> '\(err)'")
        XCTAssertEqual(Array(Fixture.read(err).prefix(16)), [0xff] + Array(": unknown field".utf8))
        let missing = sluice(["count", dir + "/" + PathBytes.string(Array("gone".utf8) + [0xfe])])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "\(dir)/gone\u{FFFD}: No such file or directory\n")
    }

    /// In a --name glob, `?` and `[...]` take one character of a UTF-8 name, as Python's fnmatch (the tutorial's
    /// gen_find) does, and one byte of a name that is not UTF-8.
    func testGlobWildcardsTakeACharacterOfAUTF8Name() {
        let dir = Fixture.directory()
        for name in ["gé.log", "gx.log", "g€.log", "gxx.log"] { Fixture.write(Array("a\n".utf8), to: dir + "/" + name) }
        Fixture.write(Array("a\n".utf8), to: dir + "/" + PathBytes.string(Array("g".utf8) + [0xff] + Array(".log".utf8)))
        XCTAssertEqual(sluice(["grep", "-c", "a", "--name", "g?.log", dir]).stdout.split(separator: "\n").count, 4)
        XCTAssertEqual(sluice(["grep", "-c", "a", "--name", "g[é€].log", dir]).stdout.split(separator: "\n").count, 2)
    }

    /// A backslash in a --name glob is an ordinary character and a `[` that no `]` closes stands for itself, as
    /// in Python's fnmatch (C's fnmatch took the backslash as an escape and matched nothing for `[a-`).
    func testGlobBackslashAndUnclosedBracketAreLiteralAsInPython() {
        let dir = Fixture.directory()
        for name in ["\\x", "[a-", "ab", "]b"] { Fixture.write(Array("a\n".utf8), to: dir + "/" + name) }
        func matched(_ glob: String) -> [String] {
            sluice(["grep", "-c", "a", "--name", glob, dir]).stdout.split(separator: "\n").map { String($0.dropFirst(dir.count + 1).dropLast(2)) }
        }
        XCTAssertEqual(matched("\\x"), ["\\x"])
        XCTAssertEqual(matched("\\*"), ["\\x"])
        XCTAssertEqual(matched("[a-"), ["[a-"])
        XCTAssertEqual(matched("[[]*"), ["[a-"])
        XCTAssertEqual(matched("[ab]*"), ["ab"])
        XCTAssertEqual(matched("[]]*"), ["]b"])
        XCTAssertEqual(matched("[!a]*"), ["[a-", "\\x", "]b"])
        XCTAssertEqual(InputFinder.pythonGlob(Array("x[y".utf8)), Array("x[[]y".utf8))
        XCTAssertEqual(InputFinder.pythonGlob(Array("[!]a]".utf8)), Array("[!]a]".utf8))
    }

    /// In a set, `^` and `[` stand for themselves, as in Python's fnmatch: C's fnmatch read `[^a]` as "not a"
    /// and `[[:]` as the start of a class. The expected names are what Python's `fnmatch.fnmatchcase` keeps.
    func testGlobSetsKeepCaretAndBracketLiteralAsInPython() {
        let dir = Fixture.directory()
        for name in ["^x", "ax", "bx", ":x"] { Fixture.write(Array("a\n".utf8), to: dir + "/" + name) }
        func matched(_ glob: String) -> [String] {
            sluice(["grep", "-c", "a", "--name", glob, dir]).stdout.split(separator: "\n").map { String($0.dropFirst(dir.count + 1).dropLast(2)) }
        }
        XCTAssertEqual(matched("[^a]x"), ["^x", "ax"])
        XCTAssertEqual(matched("[!^a]x"), [":x", "bx"])
        XCTAssertEqual(matched("[[:]x"), [":x"])
        XCTAssertEqual(matched("[^]x"), ["^x"])
        XCTAssertEqual(matched("[a^]x"), ["^x", "ax"])
    }
}
