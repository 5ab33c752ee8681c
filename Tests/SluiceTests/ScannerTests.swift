import XCTest
import CByteScan
@testable import Sluice

/// The hand-written access-log scanner must accept exactly the lines the tutorial's regex accepts, with the
/// same groups. These tests run both over crafted edge cases and over many random lines built from the
/// pattern's own punctuation, and compare.
final class ScannerTests: XCTestCase {
    let reference = try! Pattern(#"^(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)"#)

    /// What the tutorial does with a line: the regex groups, then int(status) and bytes ('-' is 0).
    func expected(_ line: [UInt8]) -> (groups: [[UInt8]], status: Int64, bytes: Int64)? {
        let matcher = Matcher(reference)
        return line.withUnsafeBufferPointer { buffer -> ([[UInt8]], Int64, Int64)? in
            let base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
            guard case .match = matcher.search(base, length: buffer.count) else { return nil }
            let vector = matcher.ovector
            let groups = (1...9).map { Array(buffer[vector[2 * $0]..<vector[2 * $0 + 1]]) }
            guard let status = Self.pythonInt(groups[7]) else { return nil }
            if groups[8] == [45] { return (groups, status, 0) }
            guard let bytes = Self.pythonInt(groups[8]) else { return nil }
            return (groups, status, bytes)
        }
    }

    /// The tutorial's int() (Python 2) on a `\S+` group, which holds no space for it to strip: an optional sign,
    /// then one or more ASCII digits, leading zeros allowed; nil for anything else and, as Sluice documents, for a
    /// value outside the 64-bit range. Converted by Swift's own `Int64(String)` (same rules), not by the library.
    static func pythonInt(_ group: [UInt8]) -> Int64? {
        var digits = group[...]
        if let sign = digits.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(String(decoding: group, as: UTF8.self))
    }

    /// The reference conversion itself, on hand-computed values.
    func testReferenceIntegerConversion() {
        let cases: [(String, Int64?)] = [
            ("0", 0), ("-0", 0), ("+7", 7), ("-7", -7), ("007", 7), ("-0100", -100), ("9223372036854775807", .max),
            ("-9223372036854775808", .min), ("9223372036854775808", nil), ("-", nil), ("+", nil), ("", nil),
            ("1_000", nil), ("+-1", nil), ("1e3", nil), ("0x10", nil), ("12a", nil),
        ]
        for (text, value) in cases { XCTAssertEqual(Self.pythonInt(Array(text.utf8)), value, text) }
        XCTAssertNil(Self.pythonInt([0x31, 0xff]))
    }

    /// The scanner's view of `line`, placed inside a larger buffer (with a following line) so that look-ahead
    /// past the line end is exercised too. A long following line lets the scanner take its one-window path
    /// (`AccessLogScanner.quickFields`); a short one makes it fall back to the field-by-field path. Without
    /// `allFields` only status and bytes are compared (the other spans may be stale by design).
    func scanned(_ line: [UInt8], padding: Int, longTail: Bool, allFields: Bool = true)
        -> (groups: [[UInt8]], status: Int64, bytes: Int64)? {
        let next = longTail ? Array(repeating: UInt8(ascii: " "), count: 150) : Array("next line".utf8)
        let buffer = [UInt8](repeating: 65, count: padding) + line + [10] + next + [10]
        let record = Record()
        return buffer.withUnsafeBufferPointer { raw in
            let base = raw.baseAddress!
            var cursor = SpaceCursor(base, limit: raw.count)
            _ = cursor.next(0)
            let ok = AccessLogScanner.scan(base, padding, raw.count, into: record, cursor: &cursor,
                                           wantCombined: false, requireCombined: false, allFields: allFields)
            XCTAssertEqual(record.lineEnd, padding + line.count, "line end of \(String(decoding: line, as: UTF8.self))")
            guard ok else { return nil }
            let groups = (allFields ? 0..<9 : 7..<9).map { Array(raw[record.starts[$0]..<record.ends[$0]]) }
            return (groups, record.status, record.bytes)
        }
    }

    /// What `CByteScan_access_run` makes of `line` placed after `padding` bytes and followed by a line it
    /// must not take: nil when it declines the line (and then it must stop at the line's start), else the
    /// status and bytes it summed (and then it must stop at the next line's start).
    func run(_ line: [UInt8], padding: Int, file: StaticString, lineNumber: UInt) -> (status: Int64, bytes: Int64)? {
        let buffer = [UInt8](repeating: 65, count: padding) + line + [10] + Array(repeating: UInt8(ascii: " "), count: 150) + [10]
        return buffer.withUnsafeBufferPointer { raw in
            var taken = CByteScanRun()
            let stop = CByteScan_access_run(raw.baseAddress!, padding, raw.count, true, &taken)
            let text = String(decoding: line, as: UTF8.self).debugDescription
            // Without status, the same lines and bytes, and no status sum.
            var plain = CByteScanRun()
            XCTAssertEqual(CByteScan_access_run(raw.baseAddress!, padding, raw.count, false, &plain), stop, text,
                           file: file, line: lineNumber)
            XCTAssertEqual([plain.lines, UInt64(bitPattern: plain.bytes), UInt64(bitPattern: plain.status)],
                           [taken.lines, UInt64(bitPattern: taken.bytes), 0], text, file: file, line: lineNumber)
            XCTAssertLessThanOrEqual(taken.lines, 1, text, file: file, line: lineNumber)
            guard taken.lines == 1 else {
                XCTAssertEqual(stop, padding, text, file: file, line: lineNumber)
                return nil
            }
            XCTAssertEqual(stop, padding + line.count + 1, text, file: file, line: lineNumber)
            return (taken.status, taken.bytes)
        }
    }

    var accepted = 0
    var rejected = 0
    /// Lines the C run took.
    var taken = 0

    func check(_ line: [UInt8], file: StaticString = #filePath, lineNumber: UInt = #line) {
        let want = expected(line)
        if want == nil { rejected += 1 } else { accepted += 1 }
        for padding in [0, 3, 61] {
          // The C run takes only lines the regex accepts, with the same numbers.
          if CByteScan_access_run_available(), let got = run(line, padding: padding, file: file, lineNumber: lineNumber) {
              taken += 1
              let text = String(decoding: line, as: UTF8.self).debugDescription
              XCTAssertNotNil(want, "C run took \(text)", file: file, line: lineNumber)
              XCTAssertEqual(got.status, want?.status, text, file: file, line: lineNumber)
              XCTAssertEqual(got.bytes, want?.bytes, text, file: file, line: lineNumber)
          }
          for (longTail, allFields) in [(false, true), (true, true), (true, false)] {
            let got = scanned(line, padding: padding, longTail: longTail, allFields: allFields)
            let text = String(decoding: line, as: UTF8.self).debugDescription
            XCTAssertEqual(got == nil, want == nil, "accepts \(text)", file: file, line: lineNumber)
            if let got, let want {
                XCTAssertEqual(got.groups, allFields ? want.groups : Array(want.groups[7..<9]), text,
                               file: file, line: lineNumber)
                XCTAssertEqual(got.status, want.status, text, file: file, line: lineNumber)
                XCTAssertEqual(got.bytes, want.bytes, text, file: file, line: lineNumber)
            }
          }
        }
    }

    /// Status and bytes of every length from 1 to 20 digits, with leading zeros, signs and a stray byte in
    /// each position, read as Python's int() reads them.
    func testNumbersOfEveryLength() {
        let prefix = #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET / HTTP/1.1" "#
        for length in 1...20 {
            let digits = String((0..<length).map { _ in Character(UnicodeScalar(48 + UInt8(numberRandom.next() % 10))) })
            for number in [digits, "0" + digits, "+" + digits, "-" + digits, String(repeating: "0", count: length)] {
                check(Array((prefix + "200 " + number).utf8))
                check(Array((prefix + number + " 5").utf8))
            }
            for position in 0..<length {
                for stray in ["/", ":", "a", " ", "\u{7f}"] {
                    var bad = [Character](digits)
                    bad[position] = Character(stray)
                    check(Array((prefix + "200 " + String(bad)).utf8))
                    check(Array((prefix + String(bad) + " 5").utf8))
                }
            }
        }
    }
    var numberRandom = SplitMix64(state: 3)

    func testCraftedEdgeCases() {
        let cases = [
            #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET / HTTP/1.1" 200 4447"#,
            #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET / HTTP/1.1" 304 -"#,
            #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET / HTTP/1.1" 200 4447 "http://r/" "Agent 1.0""#,
            #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET / HTTP/1.1" 200 4447"#,
            #"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "-" 400 0"#,
            #"1.2.3.4 - - [] "GET / HTTP/1.1" 200 1"#,
            #"1.2.3.4 - - [a] "b] "GET / HTTP/1.1" 200 1"#,
            #"1.2.3.4 - - [a] "x y z" 200 1 ] "GET / HTTP/1.1" 200 2"#,
            #"1.2.3.4 - - [a] "x y z" abc 1 ] "GET / HTTP/1.1" 200 2"#,
            #"1.2.3.4 - - [a] "GET /a\"b HTTP/1.1" 200 7"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1"" 200 7"#,
            #"1.2.3.4 - - [a] "GET / "" 200 7"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1" +200 -7"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1" 2x0 7"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1" 200 7x"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1" 200 99999999999999999999"#,
            #"1.2.3.4  - - [a] "GET / HTTP/1.1" 200 7"#,
            #"1.2.3.4 - - [a]  "GET / HTTP/1.1" 200 7"#,
            #"1.2.3.4 - - [a] "GET / HTTP/1.1" 200  7"#,
            #" 1.2.3.4 - - [a] "GET / HTTP/1.1" 200 7"#,
            "1.2.3.4 - - [a] \"GET / HTTP/1.1\" 200 7\r",
            "1.2.3.4\t- - [a] \"GET / HTTP/1.1\" 200 7",
            "1.2.3.4 - - [a\tb] \"GET / HTTP/1.1\" 200 7",
            "1.2.3.4 - - [a] \"GET\t/ HTTP/1.1\" 200 7",
            "2001:db8::1f - - [a] \"GET / HTTP/1.1\" 200 7",
            "", " ", "-", "1.2.3.4 - -", "1.2.3.4 - - [",
        ]
        for text in cases { check(Array(text.utf8)) }
        check([0xff, 0x20] + Array(#"- - [a] "GET /\#u{1} HTTP/1.1" 200 7"#.utf8) + [0xc3, 0x28])
        check(Array("1.2.3.4 - - [a] \"GET /".utf8) + Array(repeating: 120, count: 300) + Array(" HTTP/1.1\" 200 7".utf8))
    }

    /// Requests of every length up to past the C run's 128-byte window, so that its separators fall in either
    /// word and on either side of the 64-byte boundary, each also with a stray byte around its separators.
    func testRequestsOfEveryLength() {
        for length in 1...110 {
            let request = "/" + String(repeating: "a", count: length - 1)
            for host in ["1.2.3.4", "2001:db8:85a3::8a2e:370:7334"] {
                let line = host + #" - - [24/Feb/2008:00:08:59 -0600] "GET "# + request + #" HTTP/1.1" 200 4447"#
                check(Array(line.utf8))
                check(Array((line + " \"r\" \"a\"").utf8))
                // An empty method, an empty proto and an empty host, each shaped so that the other separators
                // still fall where a usual line has them.
                check(Array(line.replacingOccurrences(of: "\"GET ", with: "\" ").utf8))
                check(Array(line.replacingOccurrences(of: " HTTP/1.1\"", with: " \"").utf8))
                check(Array((" - - [24/Feb/2008:00:08:59 -0600] \"GET " + request + " HTTP/1.1\" 200 4447").utf8))
                check(Array(line.replacingOccurrences(of: request, with: "").utf8))
                // A control byte that is no whitespace ends no field: bytes then holds it and is no number.
                check(Array((line + "\u{1}").utf8))
                check(Array((line + "\u{0} \"r\"").utf8))
                for stray in ["  ", "\t", "\"", "] \"", "\u{1}"] {
                    check(Array(line.replacingOccurrences(of: " HTTP", with: stray + "HTTP").utf8))
                    check(Array(line.replacingOccurrences(of: "GET ", with: "GET" + stray).utf8))
                    check(Array(line.replacingOccurrences(of: " 4447", with: stray + "4447").utf8))
                }
            }
        }
        if CByteScan_access_run_available() { XCTAssertGreaterThan(taken, 500) }
    }

    func testRandomLinesAgreeWithTheRegex() {
        var generator = SplitMix64(state: 42)
        let pieces: [[UInt8]] = [
            " ", " ", " ", "-", "[", "]", "\"", "] \"", "\" ", "GET", "/a/b", "HTTP/1.1", "200", "404", "12345",
            "1.2.3.4", "x", "\t", "\r", "+", "0", "99", "::", "\\\"", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ].map { Array($0.utf8) } + [[0xff], [0x80]]
        let valid = Array(#"1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] "GET /ply/ply-2.3.tar.gz HTTP/1.1" 200 97238"#.utf8)
        for round in 0..<6000 {
            var line: [UInt8]
            if round % 2 == 0 {
                line = []
                for _ in 0..<Int(generator.next() % 30) { line += pieces[Int(generator.next() % UInt64(pieces.count))] }
            } else {
                // A valid line with a few random edits.
                line = valid
                for _ in 0..<Int(1 + generator.next() % 3) {
                    let at = Int(generator.next() % UInt64(line.count + 1))
                    let piece = pieces[Int(generator.next() % UInt64(pieces.count))]
                    if generator.next() % 2 == 0 || line.isEmpty {
                        line.insert(contentsOf: piece, at: at)
                    } else {
                        line.remove(at: min(at, line.count - 1))
                    }
                }
            }
            check(line)
        }
        // Both outcomes must be well represented, or the comparison proves little.
        XCTAssertGreaterThan(accepted, 1000)
        XCTAssertGreaterThan(rejected, 1000)
        if CByteScan_access_run_available() { XCTAssertGreaterThan(taken, 1000) }
    }
}
