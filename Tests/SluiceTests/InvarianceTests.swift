import XCTest
@testable import Sluice

/// Results are identical for every thread count, chunk size, window size and reading strategy, on real bytes
/// with every edge case: CRLF, no final newline, empty files, lines longer than a chunk, bytes that are not
/// UTF-8, and plain/gzip/bzip2 twins of the same data.
final class InvarianceTests: XCTestCase {
    static var directory = ""
    static var plain = ""
    static var twins: [String] = []

    override class func setUp() {
        directory = Fixture.directory()
        var bytes = Fixture.log(size: 3 << 20, format: .combined, seed: 11, hostile: true)
        // A line longer than every chunk size used, and a last line without its newline.
        bytes += Array("10.0.0.1 - - [01/Jan/2020:00:00:00 +0000] \"GET /".utf8) + Array(repeating: 97, count: 3 << 20)
            + Array(" HTTP/1.1\" 200 123\r\n".utf8)
        bytes += Array("10.0.0.2 - - [01/Jan/2020:00:00:01 +0000] \"GET /end HTTP/1.1\" 404 -".utf8)
        plain = Fixture.write(bytes, to: directory + "/access.log")
        twins = [plain,
                 Fixture.write(Fixture.gzip(bytes), to: directory + "/access.log.gz"),
                 Fixture.write(Fixture.bzip2(bytes, level: 1), to: directory + "/access.log.bz2"),
                 Fixture.write(Fixture.gzip(bytes), to: directory + "/gzip-named-plain.txt.bz2")]
    }

    static let queries: [Query] = [
        Query(operation: .sum("bytes")),
        Query(operation: .sum("status")),
        Query(operation: .count(by: nil)),
        Query(operation: .count(by: "status")),
        Query(conditions: ["status>=400"], operation: .distinct("request", withCounts: true)),
        Query(operation: .top("host", k: 7)),
        Query(operation: .extreme("bytes", with: "request", isMax: true)),
        Query(operation: .extreme("request", with: "host", isMax: false)),
        Query(prefilter: "GET /[a-m]", operation: .select(["host", "status", "bytes"])),
        Query(format: .fields, operation: .count(by: "$9")),
        Query(format: .combined, conditions: ["agent~(?i)mozilla"], operation: .count(by: nil)),
        Query(operation: .grep(#"\x80|\xff|ply-.*\.gz"#, countOnly: false)),
        Query(format: .regex(#"^(?<ip>[0-9.]+) .*" (?<code>\d{3}) "#), operation: .top("code", k: 3)),
    ]

    /// Everything observable about a run: output bytes, answer, per-input figures and malformed position.
    func fingerprint(_ query: Query, _ path: String, _ options: ExecutionOptions) throws -> String {
        let (output, report) = try Fixture.run(query, [path], options: options)
        let tally = report.inputs[0]
        // A plain count selects exactly the records it counts (the C run once counted without selecting).
        if case .count(by: nil) = query.operation, case .total(let records) = report.answer {
            XCTAssertEqual(report.selected, records, "\(query.operation) \(options)")
        }
        return "\(output.hashValue) \(output.count) \(report.answer) \(tally.lines) \(tally.selected) \(tally.malformed) "
            + "\(report.firstMalformed?.line ?? -1) \(tally.error?.description ?? "")"
    }

    func testEveryQueryIsScheduleInvariantOnPlainInput() throws {
        for query in Self.queries {
            let reference = try fingerprint(query, Self.plain, ExecutionOptions(threads: 1))
            for options in Fixture.schedules {
                XCTAssertEqual(try fingerprint(query, Self.plain, options), reference, "\(query.operation) \(options)")
            }
        }
    }

    func testCompressedTwinsGiveTheSameAnswers() throws {
        for query in Self.queries {
            let reference = try fingerprint(query, Self.plain, ExecutionOptions(threads: 2))
            for twin in Self.twins.dropFirst() {
                for options in [ExecutionOptions(threads: 1, chunkSize: 4096),
                                ExecutionOptions(threads: 3, chunkSize: 1 << 20, smallFileLimit: 0)] {
                    XCTAssertEqual(try fingerprint(query, twin, options), reference, "\(query.operation) \(twin)")
                }
            }
        }
    }

    func testOutputMatchesALineByLineReference() throws {
        // select in input order equals a straightforward per-line evaluation with the reference regex.
        let bytes = Fixture.read(Self.plain)
        let pattern = try Pattern(#"^(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)"#)
        let matcher = Matcher(pattern)
        var expected = [UInt8]()
        var malformed = 0
        for line in bytes.split(separator: 10, omittingEmptySubsequences: false).dropLast() + [bytes.split(separator: 10, omittingEmptySubsequences: false).last!] {
            let array = Array(line)
            if array.isEmpty && line.endIndex == bytes.endIndex { continue }
            let ok = array.withUnsafeBufferPointer { buffer -> Bool in
                guard let base = buffer.baseAddress, case .match = matcher.search(base, length: buffer.count) else { return false }
                let v = matcher.ovector
                let status = Array(buffer[v[16]..<v[17]]), size = Array(buffer[v[18]..<v[19]])
                guard status.allSatisfy({ (48...57).contains($0) }), size == [45] || size.allSatisfy({ (48...57).contains($0) }) else { return false }
                expected += Array(buffer[v[2]..<v[3]]) + [32] + status + [10]
                return true
            }
            if !ok { malformed += 1 }
        }
        for options in Fixture.schedules {
            let (output, report) = try Fixture.run(Query(format: .common, operation: .select(["host", "status"])), [Self.plain], options: options)
            XCTAssertEqual(output, expected)
            XCTAssertEqual(report.malformed, malformed)
        }
        XCTAssertGreaterThan(malformed, 10)
    }

    func testEdgeCaseFiles() throws {
        let dir = Fixture.directory()
        let line = "1.1.1.1 - - [d] \"GET /x HTTP/1.0\" 200 10"
        let cases: [(String, [UInt8], lines: Int, sum: Int64, malformed: Int)] = [
            ("empty", [], 0, 0, 0),
            ("newline-only", [10], 1, 0, 1),
            ("no-final-newline", Array((line + "\n" + line).utf8), 2, 20, 0),
            ("crlf", Array((line + "\r\n" + line + "\r\n").utf8), 2, 20, 0),
            ("non-utf8", Array("1.1.1.1 - - [d] \"GET /".utf8) + [0xff, 0xfe, 0xc3, 0x28]
                + Array(" HTTP/1.0\" 200 10\n".utf8) + Array(line.utf8) + [0xff, 10] + [0, 1, 10], 3, 10, 2),
            ("dash-bytes", Array("1.1.1.1 - - [d] \"GET /x HTTP/1.0\" 304 -\n".utf8), 1, 0, 0),
        ]
        for (name, bytes, lines, sum, malformed) in cases {
            for (suffix, stored) in [("", bytes), (".gz", Fixture.gzip(bytes)), (".bz2", Fixture.bzip2(bytes))] {
                let path = Fixture.write(stored, to: "\(dir)/\(name)\(suffix)")
                for options in Fixture.schedules {
                    let report = try Fixture.run(Query(operation: .sum("bytes")), [path], options: options).report
                    XCTAssertEqual(report.inputs[0].lines, lines, "\(name)\(suffix)")
                    XCTAssertEqual(report.answer, .total(sum), "\(name)\(suffix)")
                    XCTAssertEqual(report.malformed, malformed, "\(name)\(suffix)")
                    XCTAssertNil(report.inputs[0].error, "\(name)\(suffix)")
                }
            }
        }
    }

    func testManySmallFilesInOrder() throws {
        let dir = Fixture.directory()
        var expected = [UInt8]()
        for index in 0..<200 {
            let bytes = Array("10.0.0.\(index) - - [d] \"GET /f\(index) HTTP/1.0\" 200 \(index)\n".utf8)
            let stored: [UInt8] = index % 3 == 0 ? bytes : (index % 3 == 1 ? Fixture.gzip(bytes) : Fixture.bzip2(bytes))
            Fixture.write(stored, to: dir + "/" + String(format0: index))
            expected += Array("/f\(index)\n".utf8)
        }
        let (inputs, _) = InputFinder.expand([dir])
        for options in Fixture.schedules {
            let (output, report) = try Fixture.run(Query(operation: .select(["request"])), inputs.map(\.path), options: options)
            XCTAssertEqual(output, expected)
            XCTAssertEqual(report.errors, [])
        }
    }

    /// grep and select hold a batch of small files' lines until the whole batch is read, within a byte budget:
    /// plain files fill a batch up to it, and a decoded file whose lines would go over it is read again on its
    /// own. With a budget that most files go over, the lines, every input's counts and the one error (a gzip file
    /// cut short, among them) are the same as with the default, for every thread count.
    func testSmallFilesGiveTheSameLinesWhateverTheBatchBudget() throws {
        let dir = Fixture.directory()
        var paths = [String]()
        for index in 0..<12 {
            let text = Fixture.log(size: 30_000 + index * 2_000, seed: UInt64(index + 1))
            let stored = index % 3 == 0 ? text : (index % 3 == 1 ? Fixture.gzip(text) : Fixture.bzip2(text))
            paths.append(Fixture.write(stored, to: dir + "/" + String(format0: index)))
        }
        let cut = Fixture.gzip(Fixture.log(size: 40_000, seed: 99))
        paths.insert(Fixture.write(Array(cut.dropLast(300)), to: dir + "/cut.gz"), at: 5)
        for query in [Query(operation: .grep("GET", countOnly: false)), Query(operation: .select(["host", "bytes"]))] {
            let reference = try Fixture.run(query, paths)
            XCTAssertEqual(reference.report.errors.map(\.code), [.truncatedGzip])
            XCTAssertGreaterThan(reference.output.count, 100_000)
            for threads in [1, 2, 3] {
                var options = ExecutionOptions(threads: threads)
                options.batchOutputBudget = 5_000
                let tight = try Fixture.run(query, paths, options: options)
                XCTAssertEqual(tight.output, reference.output, "\(query.operation), \(threads) threads")
                XCTAssertEqual(tight.report.inputs, reference.report.inputs, "\(query.operation), \(threads) threads")
            }
        }
    }

    /// max and min of values equal as numbers but spelled differently (7, 007), and of companions likewise: the
    /// answer does not depend on which record a worker met first. It did: the spelling the first worker's state
    /// held won, so `max user` printed 7 or 007 from one run to the next.
    func testTiesSpelledDifferentlyDoNotDependOnTheSchedule() throws {
        let line = { (user: String, bytes: String) in "h - \(user) [d] \"GET / HTTP/1.0\" 200 \(bytes)\n" }
        // Offered in either order, one state keeps the same record.
        for isMax in [true, false] {
            let records = [("7", "5"), ("007", "5"), ("7", "05"), ("0007", "005")]
            var kept = Set<String>()
            for order in [records, records.reversed(), [records[2], records[0], records[3], records[1]]] {
                let extreme = Extreme(isMax: isMax, numeric: false)
                for (value, with) in order {
                    let v = Array(value.utf8), w = Array(with.utf8)
                    extreme.offer(integer: Int64(value), v, 0, v.count, with: Int64(with), w, 0, w.count)
                }
                kept.insert(String(decoding: extreme.value.array + [32] + extreme.with.array, as: UTF8.self))
            }
            XCTAssertEqual(kept, [isMax ? "7 5" : "0007 005"])
        }
        // The value's spelling decides before the companion does, so `--with` never changes the value: the
        // greatest of 7 and 007 is 7 whatever comes with it (this gave 007 /z, as /z is the greater companion).
        for (isMax, expected) in [(true, "7 /b"), (false, "007 /z")] {
            let extreme = Extreme(isMax: isMax, numeric: false)
            for (value, with) in [("7", "/b"), ("007", "/z")] {
                let v = Array(value.utf8), w = Array(with.utf8)
                extreme.offer(integer: Int64(value), v, 0, v.count, with: nil, w, 0, w.count)
            }
            XCTAssertEqual(String(decoding: extreme.value.array + [32] + extreme.with.array, as: UTF8.self), expected)
        }
        // A numeric field's spellings are one number (status 404 and 0404, as int() reads them): the companion
        // decides, as in Python's max((404, 0), (404, 7)).
        for (isMax, expected) in [(true, "0404 7"), (false, "404 0")] {
            let extreme = Extreme(isMax: isMax, numeric: true)
            for (value, with) in [("404", "0"), ("0404", "7")] {
                let v = Array(value.utf8), w = Array(with.utf8)
                extreme.offer(integer: Int64(value), v, 0, v.count, with: Int64(with), w, 0, w.count)
            }
            XCTAssertEqual(String(decoding: extreme.value.array + [32] + extreme.with.array, as: UTF8.self), expected)
        }
        // Through the engine: the two spellings in different files and chunks, on every schedule.
        let dir = Fixture.directory()
        let filler = String(repeating: line("zz", "5"), count: 20_000)
        Fixture.write(Array((filler + line("7", "9")).utf8), to: dir + "/a")
        Fixture.write(Array((filler + line("007", "9")).utf8), to: dir + "/b")
        let (inputs, _) = InputFinder.expand([dir])
        for (isMax, expected) in [(true, "7"), (false, "007")] {
            let query = Query(conditions: ["user!=zz"], operation: .extreme("user", with: "bytes", isMax: isMax))
            for options in Fixture.schedules {
                let answer = try Fixture.run(query, inputs.map(\.path), options: options).report.answer
                XCTAssertEqual(answer, .extreme(value: Array(expected.utf8), with: Array("9".utf8)),
                               "isMax \(isMax) \(options)")
            }
        }
    }

    func testOverlongLinesAreSkippedAndCounted() throws {
        let dir = Fixture.directory()
        let line = Array("1.1.1.1 - - [d] \"GET /x HTTP/1.0\" 200 10\n".utf8)
        let bytes = line + Array(repeating: 0, count: 300_000) + [10] + line + Array(repeating: 120, count: 200_000)
        for (suffix, stored) in [("", bytes), (".gz", Fixture.gzip(bytes)), (".bz2", Fixture.bzip2(bytes))] {
            let path = Fixture.write(stored, to: "\(dir)/long\(suffix)")
            for threads in [1, 2] {
                for small in [0, 1 << 20] {
                    var options = ExecutionOptions(threads: threads, chunkSize: 4096, windowSize: 65536, smallFileLimit: small)
                    options.maxLineLength = 100_000
                    let report = try Fixture.run(Query(operation: .sum("bytes")), [path], options: options).report
                    XCTAssertEqual(report.answer, .total(20), suffix)
                    XCTAssertEqual(report.inputs[0].lines, 4, suffix)
                    XCTAssertEqual(report.malformed, 2, suffix)
                    XCTAssertEqual(report.firstMalformed?.line, 2, suffix)
                }
            }
        }
    }

    /// A sum that leaves the 64-bit range on the way but ends inside it is exact for every schedule, and one
    /// that ends outside it is an overflow error for every schedule, whatever the order of the partial sums.
    func testSumsPastTheIntegerRangeDoNotDependOnTheSchedule() throws {
        func log(_ values: [String]) -> String {
            let lines = values.enumerated().map { index, value in
                "10.0.0.\(index % 250) - - [01/Jan/2020:00:00:00 +0000] \"GET /\(index) HTTP/1.1\" 200 \(value)\n"
            }
            return Fixture.write(Array(lines.joined().utf8), to: Fixture.directory() + "/sums.log")
        }
        let big = "9000000000000000000", negative = "-9000000000000000000"
        // Up past Int64.max and back: the exact sum is 9e18 + 5.
        let fits = log([big, big] + Array(repeating: "1", count: 5) + [negative] + Array(repeating: "0", count: 400))
        // The exact sum is 2 * 9e18 + 1.
        let overflows = log(Array(repeating: "0", count: 400) + [big, "1", big])
        let query = Query(operation: .sum("bytes"))
        for options in Fixture.schedules {
            let (_, report) = try Fixture.run(query, [fits], options: options)
            XCTAssertEqual(report.answer, .total(9_000_000_000_000_000_005), "\(options)")
            XCTAssertThrowsError(try Fixture.run(query, [overflows], options: options), "\(options)") { error in
                XCTAssertEqual((error as? SluiceError)?.code, .numericOverflow)
            }
        }
    }

    /// With a line-length limit far below the fixture's long lines, the same lines are skipped and counted
    /// whatever the chunk, window, reading strategy or compression that brought them.
    func testTheLineLengthLimitDoesNotDependOnHowTheInputIsCut() throws {
        let queries = [Query(operation: .sum("bytes")),
                       Query(prefilter: "GET /[a-m]", operation: .select(["host", "status", "bytes"])),
                       Query(operation: .grep(#"\x80|\xff|ply-.*\.gz"#, countOnly: false))]
        for query in queries {
            var options = ExecutionOptions(threads: 1)
            options.maxLineLength = 3000
            let reference = try fingerprint(query, Self.plain, options)
            let (_, report) = try Fixture.run(query, [Self.plain], options: options)
            XCTAssertGreaterThan(report.inputs[0].malformed, 1, "the fixture has lines over the limit")
            for schedule in Fixture.schedules {
                var limited = schedule
                limited.maxLineLength = 3000
                XCTAssertEqual(try fingerprint(query, Self.plain, limited), reference, "\(query.operation) \(schedule)")
            }
            for twin in Self.twins.dropFirst() {
                XCTAssertEqual(try fingerprint(query, twin, options), reference, "\(query.operation) \(twin)")
            }
        }
    }
}

extension String {
    /// `index` as five zero-padded digits, so names sort numerically.
    init(format0 index: Int) {
        let digits = String(index)
        self = String(repeating: "0", count: Swift.max(0, 5 - digits.count)) + digits
    }
}
