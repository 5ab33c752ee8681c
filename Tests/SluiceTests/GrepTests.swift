import XCTest
@testable import Sluice
import CByteScan

/// grep prints exactly the lines a per-line PCRE2 search accepts, in input order, whatever the prefilter,
/// chunking or thread count.
final class GrepTests: XCTestCase {
    static let patterns = [
        #"ply-.*\.gz"#, "GET /", "a+b", "ab?c", "ab*", "x{2}", #"\.gz"#, #"HTTP/1\.1" 404"#, "(?i)get",
        "^1", #"a\sb"#, "é", #"\Qa.b\E"#, #"\x41B"#, "ro+bots", #"\d{3} \d+ \"-\""#, "Mozilla|curl", "-",
        // Not line-local (see LineLocality): searched over a chunk, each of these finds other lines than it does
        // per line (`\A1` only a chunk's first line, `\z` an empty line after the chunk, the lookahead and `\K`
        // a line whose match began or ended in its neighbour, `(*COMMIT)` nothing after the first `x`).
        #"\A1"#, #"\z"#, #"b\Z"#, #"a(?=\nb)|ab"#, #"b\n\Ka|a b"#, "x(*COMMIT)y|ab", "(?-m)b$", "(?<=[\n])a|é",
        // Atomic parts, which over a chunk take a line's `\n` and keep it: `\R` after the `7` on a CRLF line,
        // whitespace at the end of `a ` (these found no line, or only some, when searched over a chunk).
        #"\d\R$"#, #"\d\X$"#, #"a\s*+$"#, #"a(?>\s*)$"#, #"a\s{0,3}+$"#, #"\s{0,}+^"#,
        // NUL bytes, as a crash leaves in a preallocated log: still text, as with `rg -a` (no "binary file").
        #"\x00+ GET"#, #"^\x00*$"#,
        // Empty matches at the end of the input's last line, which has no newline.
        "$", "x*$", "B$|q",
    ]

    /// `grep -c --json` over several inputs lists every input read, in the order given, those without a match
    /// too (README: `{"count":N,"inputs":[{"path":P,"count":N}]}`); with no match anywhere it still lists them all
    /// and exits 1.
    func testCountJSONListsEveryInputIncludingThoseWithoutAMatch() {
        let dir = Fixture.directory()
        let none = Fixture.write(Array("nothing\nhere\n".utf8), to: dir + "/none.log")
        let two = Fixture.write(Array("x hit\ny\nhit z\n".utf8), to: dir + "/two.log")
        let result = sluice(["grep", "-c", "--json", "hit", none, two])
        XCTAssertEqual(result.stdout, #"{"count":2,"inputs":[{"path":"\#(none)","count":0},{"path":"\#(two)","count":2}]}"# + "\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        let missing = sluice(["grep", "-c", "--json", "absent", two, none])
        XCTAssertEqual(missing.stdout, #"{"count":0,"inputs":[{"path":"\#(two)","count":0},{"path":"\#(none)","count":0}]}"# + "\n")
        XCTAssertEqual(missing.status, 1)
    }

    func testLiteralPrefixExtraction() {
        let cases: [(String, String?)] = [
            (#"ply-.*\.gz"#, "ply-"), ("GET /", "GET /"), ("a+b", nil), ("ab?c", nil), ("abc?d", "ab"),
            ("ab*", nil), ("abx{2}", "ab"), (#"\.gz"#, ".gz"), ("(?i)get", nil), ("^1", nil), ("Mozilla|curl", nil),
            (#"\x41B"#, nil), ("ro+bots", "ro"), (#"\Qa.b\E"#, nil), ("é", "é"),
        ]
        for (pattern, literal) in cases {
            XCTAssertEqual(LiteralPrefix(pattern).map { String(decoding: $0.bytes, as: UTF8.self) }, literal, pattern)
        }
        // A literal that is the whole pattern needs no regex; a raw newline could only match across lines.
        let whole: [(String, Bool)] = [
            ("GET /", true), (#"\.gz"#, true), (#"HTTP/1\.1" 404"#, true), ("é", true), (#"ply-.*\.gz"#, false),
            ("abc?d", false), ("ro+bots", false), ("abx{2}", false), (#"ab\d"#, false), (#"ab\nc"#, false),
            ("ab\ncd", false),
        ]
        for (pattern, expected) in whole {
            XCTAssertEqual(LiteralPrefix(pattern)?.isWholePattern, expected, pattern)
        }
    }

    /// The AVX2 pair search gives the baseline's answers (block, candidates, newlines before and in it) for every
    /// start and limit, on bytes where candidates are common, rare, at block edges and past the limit.
    func testPairSearchAgreesWithBaseline() {
        var random = SplitMix64(state: 11)
        let alphabet: [UInt8] = [UInt8(ascii: "a"), UInt8(ascii: "b"), 10, 0xff]
        let buffer = (0..<1200).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
        var checked = 0
        buffer.withUnsafeBufferPointer { raw in
            let base = raw.baseAddress!
            for (first, last, distance) in [(UInt8(ascii: "a"), UInt8(ascii: "b"), 1), (UInt8(ascii: "b"), UInt8(ascii: "b"), 5),
                                            (0xff, UInt8(ascii: "a"), 63), (UInt8(ascii: "z"), UInt8(ascii: "a"), 2)] {
                for from in stride(from: 0, to: 300, by: 7) {
                    for limit in [from, from + 64 + distance, from + 200, 1000, 1200] where limit <= raw.count {
                        var got = (mask: UInt64(0), lines: UInt64(0), newlines: 5)
                        var want = got
                        let stop = CByteScan_pair_search(base, from, limit, first, last, distance, &got.mask,
                                                         &got.lines, &got.newlines)
                        let expected = CByteScan_pair_search_baseline(base, from, limit, first, last, distance,
                                                                      &want.mask, &want.lines, &want.newlines)
                        XCTAssertEqual(stop, expected, "\(first) \(from) \(limit)")
                        XCTAssertEqual([got.mask, got.lines, UInt64(got.newlines)], [want.mask, want.lines, UInt64(want.newlines)])
                        // The baseline itself: the newlines before the block, and the block's candidates.
                        let lines = 5 + buffer[from..<stop].filter { $0 == 10 }.count
                        XCTAssertEqual(want.newlines, lines)
                        if want.mask != 0 {
                            for bit in 0..<64 {
                                let hit = buffer[stop + bit] == first && buffer[stop + bit + distance] == last
                                XCTAssertEqual(want.mask >> UInt64(bit) & 1 == 1, hit)
                            }
                            checked += 1
                        } else {
                            XCTAssertLessThan(limit - stop, 64 + distance)
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testLineLocality() {
        for local in ["ply-.*\\.gz", "^a$", #"\bGET\b"#, "(?i)get", "(?<name>a)", "(?:a|b)", #"\\"#, "(?s).", "a\\"] {
            XCTAssertTrue(LineLocality.isLineLocal(Array(local.utf8)), local)
        }
        for other in [#"\Aa"#, #"a\z"#, #"a\Z"#, #"\Ga"#, #"a\Kb"#, "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b",
                      "(?*a)", "(?<*a)b", "(*COMMIT)a", "(*CR)a", "(?-m)a$", "(?i-m:a$)", "(?^)a", "[(?=]",
                      "(?>a)", #"a\R"#, #"\X"#, "a*+", "a++", "a?+", "a{2}+", "(*NOTEMPTY)a?"] {
            XCTAssertFalse(LineLocality.isLineLocal(Array(other.utf8)), other)
        }
    }

    /// A leading `(*NOTEMPTY)` or `(*NOTEMPTY_ATSTART)` holds on the JIT path too, which does not read it from the
    /// compiled pattern as pcre2_match does (`x?` matched every line, emptily).
    func testNotEmptySettingsHold() throws {
        let dir = Fixture.directory()
        let path = Fixture.write(Array("-\nabc\nx\n".utf8), to: dir + "/log")
        for (source, expected) in [("(*NOTEMPTY)x?", "x\n"), ("(*NOTEMPTY_ATSTART)^", ""), ("(*NOTEMPTY_ATSTART)b?", "-\nabc\nx\n"),
                                   ("(*LIMIT_MATCH=100000)(*NOTEMPTY)x?", "x\n")] {
            for options in Fixture.schedules {
                let output = try Fixture.run(Query(operation: .grep(source, countOnly: false)), [path], options: options).output
                XCTAssertEqual(String(decoding: output, as: UTF8.self), expected, source)
            }
        }
        let settings = Pattern.leadingSettings(Array("(*CR)(*NOTEMPTY)(*LIMIT_MATCH=5)(*NOTEMPTY_ATSTART)a(*COMMIT)".utf8))
        XCTAssertEqual(settings.names, ["CR", "NOTEMPTY", "LIMIT_MATCH", "NOTEMPTY_ATSTART"])
        XCTAssertEqual(settings.length, 51)
        XCTAssertEqual(Pattern.leadingSettings(Array("a(*NOTEMPTY)".utf8)).names, [])
        XCTAssertEqual(try Pattern("(*CR)a", caseless: true).sourceWithOptions, "(*CR)(?i)a")
    }

    /// PCRE2 stays in byte mode: a pattern cannot switch UTF mode on (which would reject lines that are not UTF-8).
    func testUTFModeIsRefused() {
        XCTAssertThrowsError(try Pattern("(*UTF)a")) { error in
            XCTAssertEqual((error as? SluiceError)?.code, .invalidPattern)
        }
    }

    func testGrepEqualsPerLineSearch() throws {
        let dir = Fixture.directory()
        var bytes = Fixture.log(size: 400_000, format: .combined, seed: 9, hostile: true)
        bytes += Array("aab\nxx ab ac abc\na b\na\nb\nAB é \u{1}a.b\n1 GET\r\nx 7\r\ny 8\r\na \nb\n".utf8)
        bytes += [0, 0, 0] + Array(" GET /\n".utf8) + [UInt8](repeating: 0, count: 300) + [10, 0xff, 0x41, 0x42]
        let path = Fixture.write(bytes, to: dir + "/log")
        let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        for source in Self.patterns {
            let matcher = Matcher(try Pattern(source))
            var expected = [UInt8]()
            var count: Int64 = 0
            for (index, line) in lines.enumerated() where !(index == lines.count - 1 && line.isEmpty) {
                let array = Array(line)
                let hit = array.withUnsafeBufferPointer { buffer -> Bool in
                    let base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
                    if case .match = matcher.search(base, length: buffer.count) { return true }
                    return false
                }
                if hit {
                    expected += array + [10]
                    count += 1
                }
            }
            XCTAssertGreaterThan(count, 0, source)
            for options in Fixture.schedules {
                let (output, report) = try Fixture.run(Query(operation: .grep(source, countOnly: false)), [path], options: options)
                XCTAssertEqual(output, expected, source)
                XCTAssertEqual(report.selected, count, source)
                XCTAssertEqual(report.inputs[0].lines, lines.count, source)
            }
        }
    }
}

extension GrepTests {
    /// `--grep` and `--where` narrow grep's lines: a line prints when the pattern, the prefilter and every
    /// condition accept it, on every schedule.
    func testGrepHonoursPrefilterAndConditions() throws {
        let dir = Fixture.directory()
        let bytes = Fixture.log(size: 200_000, format: .combined, seed: 4, hostile: false)
        let path = Fixture.write(bytes, to: dir + "/log")
        let query = Query(prefilter: "HTTP/1\\.1", conditions: ["status=200"], operation: .grep("GET", countOnly: false))
        var expected = [UInt8]()
        var getLines = 0
        for line in bytes.split(separator: 10) {
            let text = String(decoding: line, as: UTF8.self)
            guard text.contains("GET") else { continue }
            getLines += 1
            if text.contains("HTTP/1.1"), text.contains("\" 200 ") { expected += Array(line) + [10] }
        }
        let narrowed = expected.split(separator: 10).count
        XCTAssertTrue(narrowed > 0 && narrowed < getLines, "\(narrowed) of \(getLines)")
        for options in Fixture.schedules {
            XCTAssertEqual(try Fixture.run(query, [path], options: options).output, expected)
        }
    }
}

extension GrepTests {
    /// A lookaround repeated over a long line needs more than PCRE2's 32 KiB of JIT stack: the stack grows (rg -P
    /// finds such lines too) up to its limit, past which the line is an error naming it, never a silent non-match.
    func testJITStackGrowsUpToItsLimit() {
        let dir = Fixture.directory()
        let long = Fixture.write(Array(("x\n" + String(repeating: "a", count: 20_000) + "\nGET\n").utf8), to: dir + "/long")
        let result = sluice(["grep", "-c", "^(?:(?!GET).)*$", long])
        XCTAssertEqual(result.stdout, "2\n", result.stderr)
        XCTAssertEqual(result.status, 0)
        let huge = Fixture.write(Array(("x\n" + String(repeating: "a", count: 3_000_000) + "\n").utf8), to: dir + "/huge")
        let failed = sluice(["grep", "-c", "^(?:(?!GET).)*$", huge])
        XCTAssertEqual(failed.stderr, "\(huge):2: regex gave up: JIT stack limit reached\n")
        XCTAssertEqual(failed.status, 2)
    }
}
