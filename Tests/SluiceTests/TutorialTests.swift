import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// The tutorial's eight programs, answered over its mixed plain/gzip/bzip2 `www/` tree, must print exactly what
/// the Python originals print (`../shared/data/tutorial/expected/`), through the CLI and through the library.
final class TutorialTests: XCTestCase {
    static let www = Fixture.tutorial + "/www"

    /// (expected file, CLI arguments) for each tutorial program.
    static let programs: [(String, [String])] = [
        ("genlog", ["sum", "bytes"]),
        ("bytesgen", ["sum", "bytes", "--grep", #"ply-.*\.gz"#]),
        ("query404", ["distinct", "request", "--where", "status=404"]),
        ("hosts", ["distinct", "host"]),
        ("robots", ["distinct", "host", "--where", #"request~robots\.txt"#]),
        ("downloads", ["count", "--where", "request=/ply/ply-2.3.tar.gz"]),
        ("largest", ["max", "bytes", "--with", "request"]),
        ("largefiles", ["select", "request", "bytes", "--where", "bytes>1000000"]),
    ]

    func expected(_ name: String) -> String {
        String(decoding: Fixture.read(Fixture.tutorial + "/expected/\(name).txt"), as: UTF8.self)
    }

    func testEveryProgramThroughTheCLI() throws {
        for (name, arguments) in Self.programs {
            for threads in ["1", "2"] {
                let result = sluice(arguments + ["--name", "access-log*", "--threads", threads, Self.www])
                XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
                XCTAssertEqual(result.stdout, expected(name), name)
                XCTAssertEqual(result.stderr, "", name)
            }
        }
    }

    func testEveryProgramThroughTheLibraryOnEverySchedule() throws {
        let (inputs, errors) = InputFinder.expand([Self.www], nameGlob: "access-log*")
        XCTAssertEqual(errors, [])
        XCTAssertEqual(inputs.count, 6)
        let paths = inputs.map(\.path)
        let genlog = Query(operation: .sum("bytes"))
        let hosts = Query(operation: .distinct("host", withCounts: false))
        let expectedHosts = expected("hosts").split(separator: "\n").map { Array($0.utf8) }
        for options in Fixture.schedules {
            let sum = try Fixture.run(genlog, paths, options: options).report
            XCTAssertEqual(sum.answer, .total(1_384_450_980))
            XCTAssertEqual(sum.inputs.map(\.lines), Array(repeating: 7298, count: 6))
            XCTAssertEqual(sum.malformed, 0)
            XCTAssertEqual(try Fixture.run(hosts, paths, options: options).report.answer, .values(expectedHosts))
        }
    }

    func testFindOrderIsSortedAndGlobFiltered() {
        let (inputs, _) = InputFinder.expand([Self.www], nameGlob: "*.gz")
        XCTAssertEqual(inputs.map { String($0.path.dropFirst(Self.www.count)) },
                       ["/foo/access-log-0108.gz", "/foo/access-log-0208.gz"])
    }

    /// Symlinks to files are read, symlinks to directories are not walked (no loops), and an entry that cannot
    /// be examined is an error only when the glob would have kept it.
    func testFindFollowsFileLinksOnlyAndReportsBrokenOnesTheGlobKeeps() {
        let dir = Fixture.directory()
        mkdir(dir + "/real", 0o755)
        let log = Fixture.write(Array("x\n".utf8), to: dir + "/real/access-log")
        symlink(log, dir + "/access-log-link")
        symlink(dir + "/real", dir + "/loop")
        symlink(dir + "/nowhere", dir + "/access-log-broken")
        symlink(dir + "/nowhere", dir + "/notes.tmp")
        let (kept, keptErrors) = InputFinder.expand([dir], nameGlob: "access-log*")
        XCTAssertEqual(kept.map(\.path), [dir + "/access-log-link", dir + "/real/access-log"])
        XCTAssertEqual(keptErrors.map(\.path), [dir + "/access-log-broken"])
        let (all, allErrors) = InputFinder.expand([dir])
        XCTAssertEqual(all.map(\.path), [dir + "/access-log-link", dir + "/real/access-log"])
        XCTAssertEqual(allErrors.map(\.path), [dir + "/access-log-broken", dir + "/notes.tmp"])
    }

    /// A real combined log of 10,000 lines: every line but one is a record. Line 8899 is cut short inside its
    /// agent (no closing quote), so the combined pattern does not match it; checked with Python's `re` on the same
    /// file (common's pattern plus ` "referer" "agent"` with `\"` escapes): 9999 records, line 8899 malformed.
    func testRealCombinedLogParsesCompletely() throws {
        let path = Fixture.root + "/../shared/data/real/apache_logs_elastic"
        let report = try Fixture.run(Query(format: .combined, operation: .count(by: nil)), [path]).report
        XCTAssertEqual(report.inputs[0].lines, 10_000)
        XCTAssertEqual(report.answer, .total(9999))
        XCTAssertEqual(report.malformed, 1)
        XCTAssertEqual(report.firstMalformed?.path, path)
        XCTAssertEqual(report.firstMalformed?.line, 8899)
        let result = sluice(["count", "--format", "combined", path])
        XCTAssertEqual(result.stdout, "Total 9999\n")
        XCTAssertEqual(result.stderr, "1 malformed line skipped (first at \(path):8899)\n")
    }
}
