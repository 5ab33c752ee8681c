import XCTest
@testable import Sluice

/// Values as the commands compare, count and print them: status and bytes as the numbers the tutorial's int()
/// makes of them (bytes `-` is 0) in every command, the whole 64-bit range, empty comparison values, and which
/// `grep -c` outputs name their inputs.
final class ValueTests: XCTestCase {
    static let log = """
    h3 - - [x] "GET /c HTTP/1.0" 404 -
    h5 - - [x] "GET /c HTTP/1.0" 404 0
    h6 - - [x] "GET /a HTTP/1.0" 0404 +7
    h1 - - [x] "GET /a HTTP/1.0" 200 9
    h2 - - [x] "GET /a HTTP/1.0" 200 10 "r" "agent"
    h7 - - [x] "GET /b HTTP/1.0" 200 -9223372036854775808

    """

    var path = ""

    override func setUp() {
        path = Fixture.write(Array(Self.log.utf8), to: Fixture.directory() + "/log")
    }

    /// distinct, count --by, top and select see `-` as 0 and `0404` as 404, as max, min and --where already did.
    func testNumericFieldsAreTheirNumbersEverywhere() {
        XCTAssertEqual(sluice(["distinct", "bytes", path]).stdout, "-9223372036854775808\n0\n10\n7\n9\n")
        XCTAssertEqual(sluice(["distinct", "status", "--count", path]).stdout, "3 200\n3 404\n")
        XCTAssertEqual(sluice(["count", "--by", "bytes", path]).stdout, "2 0\n1 -9223372036854775808\n1 10\n1 7\n1 9\n")
        XCTAssertEqual(sluice(["top", "status", "-k", "1", path]).stdout, "3 200\n")
        XCTAssertEqual(sluice(["select", "host", "status", "bytes", path]).stdout,
                       "h3 404 0\nh5 404 0\nh6 404 7\nh1 200 9\nh2 200 10\nh7 200 -9223372036854775808\n")
        XCTAssertEqual(sluice(["count", "--where", "bytes=0", path]).stdout, "Total 2\n")
        XCTAssertEqual(sluice(["min", "bytes", "--with", "host", path]).stdout, "-9223372036854775808 h7\n")
        XCTAssertEqual(sluice(["count", "--where", "bytes=-9223372036854775808", path]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["min", "$2", "--format", "fields"], stdin: Array("a -9223372036854775808\na 5\n".utf8)).stdout,
                       "-9223372036854775808\n")
        XCTAssertEqual(sluice(["sum", "bytes"], stdin: Array("h - - [x] \"GET / HTTP/1.0\" 200 -9223372036854775809\n".utf8)).stderr,
                       "1 malformed line skipped (first at <stdin>:1)\n")
    }

    /// Ties on the value go to the greater (max) or lesser (min) companion compared as a number when it is one,
    /// as Python's max((request, bytes)) compares 10 above 9, on every schedule.
    func testCompanionsCompareAsNumbers() throws {
        XCTAssertEqual(sluice(["max", "request", "--with", "bytes", path]).stdout, "/c 0\n")
        XCTAssertEqual(sluice(["max", "method", "--with", "bytes", path]).stdout, "GET 10\n")
        XCTAssertEqual(sluice(["min", "method", "--with", "bytes", path]).stdout, "GET -9223372036854775808\n")
        XCTAssertEqual(sluice(["min", "status", "--with", "bytes", path]).stdout, "200 -9223372036854775808\n")
        XCTAssertEqual(sluice(["max", "status", "--with", "bytes", path]).stdout, "404 7\n")
        for options in Fixture.schedules {
            let (_, report) = try Fixture.run(Query(operation: .extreme("request", with: "bytes", isMax: true)), [path], options: options)
            XCTAssertEqual(report.answer, .extreme(value: Array("/c".utf8), with: Array("0".utf8)))
            let (_, least) = try Fixture.run(Query(operation: .extreme("status", with: "bytes", isMax: false)), [path], options: options)
            XCTAssertEqual(least.answer, .extreme(value: Array("200".utf8), with: Array("-9223372036854775808".utf8)))
        }
    }

    /// An empty comparison value compares as the empty string (it read one byte of uninitialised memory).
    func testEmptyConditionValues() {
        XCTAssertEqual(sluice(["count", "--where", "referer=", path]).stdout, "Total 5\n")
        XCTAssertEqual(sluice(["count", "--where", "referer!=", path]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["count", "--where", "agent>", path]).stdout, "Total 1\n")
        let fields = Array("a b\na  \nc d e\n".utf8)
        for _ in 0..<5 {
            XCTAssertEqual(sluice(["count", "--format", "fields", "--where", "$2=", "-"], stdin: fields).stdout, "Total 1\n")
            XCTAssertEqual(sluice(["select", "$1", "--format", "fields", "--where", "$2<=", "-"], stdin: fields).stdout, "a\n")
            XCTAssertEqual(sluice(["select", "$1", "--format", "fields", "--where", "$2!=", "-"], stdin: fields).stdout, "a\nc\n")
        }
    }

    /// `grep -c` prints `path:count` whenever several paths or a directory were given, as rg does, also when only
    /// one file was read; one named file alone gives the bare count.
    func testGrepCountNamesInputsAsRgDoes() {
        let dir = Fixture.directory()
        mkdir(dir + "/tree", 0o755)
        let file = Fixture.write(Array("foo\nfoo\n".utf8), to: dir + "/tree/only.log")
        XCTAssertEqual(sluice(["grep", "-c", "foo", file]).stdout, "2\n")
        XCTAssertEqual(sluice(["grep", "-c", "foo", dir + "/tree"]).stdout, "\(file):2\n")
        let missing = sluice(["grep", "-c", "foo", dir + "/nosuch", file])
        XCTAssertEqual(missing.stdout, "\(file):2\n")
        XCTAssertEqual(missing.status, 2)
    }
}
