import CBZip2
import CZlib
import Foundation
import XCTest
@testable import Sluice

/// Tests of the synthetic log generator (`LogGenerator`) and the compressed writers (`GzipWriter`, `BZip2Writer`).
final class GeneratorTests: XCTestCase {
    // MARK: - Helpers

    /// The whole output of one generation, plus the sizes of the blocks handed to the sink.
    private func generate(_ options: GeneratorOptions) throws -> (bytes: [UInt8], blocks: [[UInt8]]) {
        var bytes: [UInt8] = []
        var blocks: [[UInt8]] = []
        try LogGenerator.generate(options) { block in
            bytes.append(contentsOf: block)
            blocks.append(Array(block))
        }
        return (bytes, blocks)
    }

    private func options(size: Int, format: GeneratedFormat = .common, seed: UInt64 = 1, hostile: Bool = false)
        -> GeneratorOptions {
        GeneratorOptions(size: size, format: format, seed: seed, hostile: hostile)
    }

    /// Lines split on `\n` (a trailing `\r` kept), without the empty piece after the final newline.
    private func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var result = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if result.last?.isEmpty == true { result.removeLast() }
        return result
    }

    private func text(_ line: ArraySlice<UInt8>) -> String { String(decoding: line, as: UTF8.self) }

    /// Whether `needle` (non-empty) occurs in `hay`, by memchr on its first byte and memcmp.
    private func find(_ hay: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard var cursor = hay.baseAddress, hay.count >= needle.count else { return false }
        let end = cursor + hay.count
        return needle.withUnsafeBufferPointer { (pin: UnsafeBufferPointer<UInt8>) -> Bool in
            while end - cursor >= pin.count {
                guard let hit = memchr(cursor, Int32(pin[0]), end - cursor) else { return false }
                let at = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self))
                if end - at < pin.count { return false }
                if memcmp(at, pin.baseAddress!, pin.count) == 0 { return true }
                cursor = at + 1
            }
            return false
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        haystack.withUnsafeBufferPointer { find($0, needle) }
    }

    private func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        haystack.withUnsafeBufferPointer { find($0, needle) }
    }

    private static let tutorialPattern = try! NSRegularExpression(
        pattern: #"^(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)"#)
    private static let combinedTail = try! NSRegularExpression(pattern: #"^ "([^"]*)" "([^"]*)"$"#)
    private static let datePattern = try! NSRegularExpression(
        pattern: #"^(\d\d)/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/(\d{4}):(\d\d):(\d\d):(\d\d) -0600$"#)
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The tutorial's fields of `line` (groups 1...9) and what follows the match, or nil when it does not match.
    private func fields(_ line: String) -> (groups: [String], rest: String)? {
        let range = NSRange(line.startIndex..., in: line)
        guard let match = Self.tutorialPattern.firstMatch(in: line, range: range) else { return nil }
        let groups = (1...9).map { String(line[Range(match.range(at: $0), in: line)!]) }
        let rest = String(line[Range(match.range, in: line)!.upperBound...])
        return (groups, rest)
    }

    /// Local seconds of an Apache date, checking each field's range.
    private func seconds(ofDate date: String) -> Int? {
        let range = NSRange(date.startIndex..., in: date)
        guard let match = Self.datePattern.firstMatch(in: date, range: range) else { return nil }
        func group(_ index: Int) -> String { String(date[Range(match.range(at: index), in: date)!]) }
        let month = Self.monthNames.firstIndex(of: group(2))! + 1
        let (day, year, hour, minute, second) = (Int(group(1))!, Int(group(3))!, Int(group(4))!, Int(group(5))!, Int(group(6))!)
        let monthLengths = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1, day <= monthLengths[month - 1], hour < 24, minute < 60, second < 60 else { return nil }
        return GeneratedDate.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    // MARK: - Determinism and size

    func testSameOptionsGiveIdenticalBytesAndSeedsDiffer() throws {
        for format in GeneratedFormat.allCases {
            for hostile in [false, true] {
                let first = try generate(options(size: 150_000, format: format, seed: 42, hostile: hostile)).bytes
                let again = try generate(options(size: 150_000, format: format, seed: 42, hostile: hostile)).bytes
                let other = try generate(options(size: 150_000, format: format, seed: 43, hostile: hostile)).bytes
                XCTAssertEqual(first, again, "\(format) hostile=\(hostile)")
                XCTAssertNotEqual(first, other, "\(format) hostile=\(hostile)")
            }
        }
    }

    /// Pins the exact bytes for one seed, so a change that alters output on any machine is noticed.
    func testOutputIsPinnedForOneSeed() throws {
        let bytes = try generate(options(size: 600)).bytes
        let first = text(lines(bytes)[0])
        XCTAssertEqual(first, #"210.24.142.80 - - [24/Feb/2008:00:08:59 -0600] "GET /software/swig-1.3.33.tar.gz HTTP/1.1" 200 4892311"#)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over a larger output
        for byte in try generate(options(size: 200_000, format: .combined, seed: 9, hostile: true)).bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        XCTAssertEqual(hash, GeneratorTests.pinnedHash, String(hash, radix: 16))
    }

    static let pinnedHash: UInt64 = 0x8EF7_6693_55B2_ED63

    func testOutputStopsAtTheFirstLineEndAtOrAfterTheTargetSize() throws {
        XCTAssertEqual(try generate(options(size: 0)).bytes, [])
        for format in GeneratedFormat.allCases {
            for hostile in [false, true] {
                for size in [1, 57, 4096, 100_000, (1 << 20) + 3] {
                    // Small populations: the set-up cost is not what this test is about.
                    let options = GeneratorOptions(size: size, format: format, seed: 5, hosts: 5_000, paths: 500,
                                                   hostile: hostile)
                    let bytes = try generate(options).bytes
                    XCTAssertGreaterThanOrEqual(bytes.count, size)
                    XCTAssertEqual(bytes.last, UInt8(ascii: "\n"))
                    // Everything before the last line is shorter than the target.
                    let beforeLast = bytes.dropLast().lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                    XCTAssertLessThan(beforeLast, size, "size \(size) \(format) hostile=\(hostile)")
                }
            }
        }
    }

    func testBlocksEndAtLineEndsAndAreAboutOneMebibyte() throws {
        let (bytes, blocks) = try generate(options(size: 3 << 20, format: .combined))
        XCTAssertGreaterThanOrEqual(blocks.count, 3)
        for block in blocks {
            XCTAssertEqual(block.last, UInt8(ascii: "\n"))
        }
        for block in blocks.dropLast() {
            XCTAssertGreaterThanOrEqual(block.count, LogGenerator.blockSize)
            XCTAssertLessThan(block.count, LogGenerator.blockSize + 4096)
        }
        XCTAssertEqual(blocks.reduce(0) { $0 + $1.count }, bytes.count)
    }

    func testInvalidOptionsAreRejected() {
        for bad in [GeneratorOptions(size: -1), GeneratorOptions(hosts: 0), GeneratorOptions(paths: 0),
                    GeneratorOptions(hosts: LogGenerator.maximumHosts + 1)] {
            XCTAssertThrowsError(try LogGenerator.generate(bad) { _ in }) { error in
                XCTAssertEqual((error as? SluiceError)?.code, .invalidArgument)
            }
        }
    }

    /// A site built once and shared gives the same bytes as none for its own seed; with another file's seed the
    /// visits differ but the hosts come from the same site, as `sluice gen --files` relies on. A site built for
    /// other populations is refused, and so are out-of-range populations.
    func testASharedSiteGivesTheSameBytesAndHosts() throws {
        let base = options(size: 200_000, format: .combined, seed: 7)
        let site = try GeneratedSite(base)
        var shared = [UInt8]()
        try LogGenerator.generate(base, site: site) { shared.append(contentsOf: $0) }
        XCTAssertEqual(shared, try generate(base).bytes)

        var other = base
        other.seed = LogGenerator.derivedSeed(7, index: 1)
        var visits = [UInt8]()
        try LogGenerator.generate(other, site: site) { visits.append(contentsOf: $0) }
        XCTAssertNotEqual(visits, shared)
        func topHost(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
            var counts = [ArraySlice<UInt8>: Int]()
            for line in lines(bytes) { counts[line.prefix { $0 != 32 }, default: 0] += 1 }
            return counts.max { $0.value < $1.value }!.key
        }
        XCTAssertEqual(topHost(visits), topHost(shared))

        var fewer = base
        fewer.hosts = 10
        XCTAssertThrowsError(try LogGenerator.generate(fewer, site: site) { _ in })
        XCTAssertThrowsError(try GeneratedSite(GeneratorOptions(hosts: 0)))
    }

    func testSinkErrorsStopGeneration() {
        struct Stop: Error {}
        var calls = 0
        XCTAssertThrowsError(try LogGenerator.generate(options(size: 5 << 20)) { _ in
            calls += 1
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(calls, 1)
    }

    func testTinyPopulationsWork() throws {
        let bytes = try generate(GeneratorOptions(size: 20_000, format: .combined, hosts: 1, paths: 1)).bytes
        let all = lines(bytes).map(text)
        XCTAssertEqual(Set(all.map { $0.split(separator: " ")[0] }).count, 1)
        XCTAssertEqual(Set(all.map { fields($0)!.groups[5] }), ["/"])
    }

    // MARK: - Line shape

    func testCommonLinesMatchTheTutorialPattern() throws {
        let bytes = try generate(options(size: 600_000, seed: 3)).bytes
        var statuses: [Int: Int] = [:]
        var methods = Set<String>(), protocols = Set<String>()
        var dashBytes = 0, largeResponses = 0, robots = 0, plyDownloads = 0
        var previous = Int.min
        let all = lines(bytes)
        XCTAssertGreaterThan(all.count, 5000)
        for raw in all {
            XCTAssertTrue(raw.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "non-printable byte in \(text(raw))")
            let line = text(raw)
            guard let (groups, rest) = fields(line) else { XCTFail("no match: \(line)"); continue }
            XCTAssertEqual(rest, "", line)
            XCTAssertEqual(groups[1], "-")
            guard let status = Int(groups[7]) else { XCTFail("status: \(line)"); continue }
            statuses[status, default: 0] += 1
            if groups[8] == "-" { dashBytes += 1 } else if let count = Int(groups[8]), count >= 0 {
                if count > 1_000_000 { largeResponses += 1 }
            } else { XCTFail("bytes: \(line)") }
            methods.insert(groups[4])
            protocols.insert(groups[6])
            if groups[5] == "/robots.txt" { robots += 1 }
            if groups[5].hasPrefix("/ply/ply-") && groups[5].hasSuffix(".tar.gz") { plyDownloads += 1 }
            guard let time = seconds(ofDate: groups[3]) else { XCTFail("date: \(line)"); continue }
            XCTAssertGreaterThanOrEqual(time, previous, line)
            previous = time
        }
        let total = all.count
        XCTAssertEqual(methods, ["GET", "POST", "HEAD"])
        XCTAssertEqual(protocols, ["HTTP/1.0", "HTTP/1.1"])
        XCTAssertGreaterThan(statuses[200]!, total * 3 / 4)
        for status in [304, 404, 301, 500] { XCTAssertGreaterThan(statuses[status] ?? 0, 0, "status \(status)") }
        XCTAssertGreaterThan(statuses[304]!, statuses[404]!)
        XCTAssertGreaterThan(dashBytes, 0)
        XCTAssertGreaterThan(largeResponses, 0)
        XCTAssertGreaterThan(robots, 0)
        XCTAssertGreaterThan(plyDownloads, 0)
        // A few lines per second: the log spans roughly total / 2 seconds.
        let span = previous - LineGenerator.startSeconds
        XCTAssertGreaterThan(span, total / 6)
        XCTAssertLessThan(span, total)
    }

    func testCombinedLinesCarryRefererAndUserAgent() throws {
        let all = lines(try generate(options(size: 400_000, format: .combined, seed: 4)).bytes).map(text)
        var referers = 0, agents = Set<String>()
        for line in all {
            guard let (groups, rest) = fields(line) else { XCTFail("no match: \(line)"); continue }
            XCTAssertNotNil(Int(groups[7]), line)
            XCTAssertTrue(groups[8] == "-" || Int(groups[8]) != nil, line)
            let range = NSRange(rest.startIndex..., in: rest)
            guard let tail = Self.combinedTail.firstMatch(in: rest, range: range) else {
                XCTFail("no referer/agent: \(line)"); continue
            }
            let referer = String(rest[Range(tail.range(at: 1), in: rest)!])
            if referer != "-" {
                XCTAssertTrue(referer.hasPrefix("http://"), line)
                referers += 1
            }
            agents.insert(String(rest[Range(tail.range(at: 2), in: rest)!]))
        }
        XCTAssertGreaterThan(referers, all.count / 3)
        XCTAssertGreaterThan(agents.count, 10)
    }

    func testDatesAreCorrectAcrossMonthAndYearRollovers() {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: GeneratedDate.length)
        defer { buffer.deallocate() }
        func format(_ year: Int, _ month: Int, _ day: Int, _ seconds: Int, zone: Int = -360) -> String {
            GeneratedDate.format(localSeconds: GeneratedDate.days(year: year, month: month, day: day) * 86_400 + seconds,
                              zoneMinutes: zone, into: buffer)
            return String(decoding: UnsafeBufferPointer(start: buffer, count: GeneratedDate.length), as: UTF8.self)
        }
        XCTAssertEqual(format(2008, 2, 24, 8 * 60 + 59), "24/Feb/2008:00:08:59 -0600")
        XCTAssertEqual(format(2008, 2, 28, 86_400), "29/Feb/2008:00:00:00 -0600")
        XCTAssertEqual(format(2008, 2, 29, 86_400), "01/Mar/2008:00:00:00 -0600")
        XCTAssertEqual(format(2009, 2, 28, 86_400), "01/Mar/2009:00:00:00 -0600")
        XCTAssertEqual(format(2008, 12, 31, 86_399), "31/Dec/2008:23:59:59 -0600")
        XCTAssertEqual(format(2008, 12, 31, 86_400), "01/Jan/2009:00:00:00 -0600")
        XCTAssertEqual(format(2000, 2, 28, 86_400), "29/Feb/2000:00:00:00 -0600")
        XCTAssertEqual(format(2100, 2, 28, 86_400, zone: 330), "01/Mar/2100:00:00:00 +0530")
        XCTAssertEqual(format(1999, 12, 31, 86_399, zone: 0), "31/Dec/1999:23:59:59 +0000")
        // days(year:month:day:) and civil(days:) agree on every day of two centuries.
        var days = GeneratedDate.days(year: 1900, month: 1, day: 1)
        for year in 1900..<2100 {
            for month in 1...12 {
                let length = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30,
                              31, 31, 30, 31, 30, 31][month - 1]
                for day in 1...length {
                    XCTAssertEqual(GeneratedDate.days(year: year, month: month, day: day), days)
                    let civil = GeneratedDate.civil(days: days)
                    XCTAssertTrue(civil == (year, month, day), "\(year)-\(month)-\(day)")
                    days += 1
                }
            }
        }
    }

    func testGeneratedTimestampsStayValidAcrossAYearEnd() throws {
        var options = options(size: 300_000, seed: 8)
        options.startSeconds = GeneratedDate.days(year: 2008, month: 12, day: 31) * 86_400 + 86_400 - 1_000
        var previous = Int.min
        var sawDecember = false, sawJanuary = false
        for line in lines(try generate(options).bytes).map(text) {
            let groups = try XCTUnwrap(fields(line)).groups
            let time = try XCTUnwrap(seconds(ofDate: groups[3]), line)
            XCTAssertGreaterThanOrEqual(time, previous)
            previous = time
            if groups[3].hasPrefix("31/Dec/2008:23:") { sawDecember = true }
            if groups[3].hasPrefix("01/Jan/2009:") { sawJanuary = true }
        }
        XCTAssertTrue(sawDecember && sawJanuary)
    }

    // MARK: - Hostile mode

    func testHostileOutputContainsEveryFeature() throws {
        let bytes = try generate(options(size: 10 << 20, format: .combined, seed: 1, hostile: true)).bytes
        let all = lines(bytes)
        var crlf = 0, giant = 0, long = 0, empty = 0, dash = 0, ipv6 = 0, escaped = 0
        var invalidInPath = [0, 0, 0], invalidInAgent = 0
        let invalid: [[UInt8]] = [[0xFF], [0xC3, 0x28], [0x80]]
        var troubled = 0
        for line in all {
            var trouble = false
            if line.isEmpty { empty += 1; trouble = true; troubled += 1; continue }
            if line.last == UInt8(ascii: "\r") { crlf += 1; trouble = true }
            if line.count > 2 << 20 { giant += 1; trouble = true } else if line.count > 1024 { long += 1; trouble = true }
            if contains(line, Array(#""-" 400 0"#.utf8)) { dash += 1; trouble = true }
            if line.starts(with: Array("2001:db8:".utf8)) { ipv6 += 1; trouble = true }
            if contains(line, Array(#"\""#.utf8)) { escaped += 1; trouble = true }
            // Request path is between the first `"` and ` HTTP/`; the agent is the last quoted field.
            if let open = line.firstIndex(of: UInt8(ascii: "\"")) {
                let request = line[open...].prefix(4096)
                for (index, sequence) in invalid.enumerated() where contains(request, sequence) {
                    invalidInPath[index] += 1; trouble = true
                }
                let tail = line.suffix(300)
                if let agentStart = tail.dropLast(2).lastIndex(of: UInt8(ascii: "\"")),
                   invalid.contains(where: { contains(tail[agentStart...], $0) }) {
                    invalidInAgent += 1; trouble = true
                }
            }
            if trouble { troubled += 1 }
        }
        XCTAssertGreaterThan(crlf, 0, "CRLF")
        XCTAssertTrue((1...4).contains(giant), "lines over 2 MiB: \(giant)")
        XCTAssertGreaterThan(long, 0, "long URLs")
        XCTAssertGreaterThan(empty, 0, "empty lines")
        XCTAssertGreaterThan(dash, 0, "\"-\" requests")
        XCTAssertGreaterThan(ipv6, 0, "IPv6 hosts")
        XCTAssertGreaterThan(escaped, 0, "escaped quotes")
        XCTAssertTrue(invalidInPath.allSatisfy { $0 > 0 }, "non-UTF-8 in paths: \(invalidInPath)")
        XCTAssertGreaterThan(invalidInAgent, 0, "non-UTF-8 in agents")
        // A few percent of lines in total.
        XCTAssertGreaterThan(troubled * 100, all.count * 2)
        XCTAssertLessThan(troubled * 100, all.count * 7)
        // `"-"` requests have exactly the malformed shape.
        let dashLine = try XCTUnwrap(all.first { contains($0, Array(#""-" 400 0"#.utf8)) })
        XCTAssertNil(fields(text(dashLine)))
        XCTAssertTrue(text(dashLine).hasSuffix(#"] "-" 400 0 "-" "-""#) || text(dashLine).hasSuffix(#"] "-" 400 0 "-" "-""# + "\r"))
    }

    func testHostileCommonLinesStayMostlyParseable() throws {
        let all = lines(try generate(options(size: 500_000, format: .common, seed: 2, hostile: true)).bytes)
        let matching = all.filter { fields(String(decoding: $0, as: UTF8.self)) != nil }.count
        XCTAssertGreaterThan(matching * 100, all.count * 95)
        XCTAssertLessThan(matching, all.count)
    }

    func testPlainOutputHasNoHostileFeatures() throws {
        let bytes = try generate(options(size: 400_000, format: .combined, seed: 6)).bytes
        XCTAssertFalse(bytes.contains(UInt8(ascii: "\r")))
        XCTAssertFalse(bytes.contains { $0 >= 0x80 })
        XCTAssertFalse(contains(bytes, Array("\n\n".utf8)))
        XCTAssertFalse(contains(bytes, Array(#"\""#.utf8)))
        XCTAssertFalse(contains(bytes, Array("2001:db8".utf8)))
        XCTAssertLessThan(lines(bytes).map(\.count).max()!, 1024)
    }

    // MARK: - Distributions

    func testHostsAndPathsAreZipfSkewed() throws {
        let all = lines(try generate(options(size: 2 << 20, seed: 11)).bytes).map(text)
        var hosts: [Substring: Int] = [:], paths: [String: Int] = [:]
        for line in all {
            hosts[line.split(separator: " ", maxSplits: 1)[0], default: 0] += 1
            paths[fields(line)!.groups[5], default: 0] += 1
        }
        for counts in [Array(hosts.values), Array(paths.values)] {
            let sorted = counts.sorted(by: >)
            let median = sorted[sorted.count / 2]
            XCTAssertGreaterThan(sorted[0], 50 * median, "top \(sorted[0]) median \(median)")
            XCTAssertGreaterThan(sorted[0], sorted[9] * 4)
        }
        XCTAssertGreaterThan(hosts.count, 2_000)
        XCTAssertGreaterThan(paths.count, 1_000)
        // The most popular host takes a share near 1 / H(200 000) ≈ 7.8 %.
        let top = hosts.values.max()!
        XCTAssertGreaterThan(top * 100, all.count * 5)
        XCTAssertLessThan(top * 100, all.count * 11)
    }

    func testHostRanksMapToDistinctValidAddresses() {
        var seen = Set<UInt32>()
        for rank in 0..<200_000 {
            let address = LineGenerator.address(rank: rank, key: 0x1234_5678)
            XCTAssertTrue(LineGenerator.validAddress(address))
            seen.insert(address)
        }
        XCTAssertEqual(seen.count, 200_000)
    }

    func testZipfSamplingAgreesWithALinearSearch() {
        let table = ZipfTable(count: 5000, sixteenths: 1)
        var random = Xoshiro256StarStar(seed: 99)
        // The reference: the first rank whose cumulative share exceeds u, by linear search.
        var weights: [Double] = []
        for k in 1...5000 {
            let x = Double(k)
            weights.append(1 / (x * x.squareRoot().squareRoot().squareRoot().squareRoot()))
        }
        XCTAssertEqual(table.sample(0), 0)
        XCTAssertEqual(table.sample(.max), 4999)
        var counts = [Int](repeating: 0, count: 5000)
        var previous = 0
        for step in 0..<2000 {
            // Monotone in the random value.
            let value = UInt64(step) << 53
            let rank = table.sample(value)
            XCTAssertGreaterThanOrEqual(rank, previous)
            previous = rank
        }
        for _ in 0..<200_000 { counts[table.sample(random.next())] += 1 }
        let total = weights.reduce(0, +)
        for rank in [0, 1, 9, 99] {
            let expected = weights[rank] / total * 200_000
            XCTAssertEqual(Double(counts[rank]), expected, accuracy: expected * 0.1 + 10, "rank \(rank)")
        }
    }

    // MARK: - Repeating a file and derived seeds

    func testRepeatFileWritesTheBytesNTimes() throws {
        let folder = NSTemporaryDirectory() + "sluice-gen-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let small = Array("1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] \"GET / HTTP/1.1\" 200 10\n".utf8)
        var large = [UInt8]()
        while large.count < 700_000 { large += small }
        for (name, content) in [("small", small), ("large", large)] {
            let path = folder + "/" + name
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(content)))
            for times in name == "small" ? [0, 1, 3, 40_000] : [0, 1, 3] {
                var out = [UInt8]()
                var calls = 0
                try LogGenerator.repeatFile(path, times: times) { out.append(contentsOf: $0); calls += 1 }
                XCTAssertEqual(out.count, content.count * times)
                if times == 3 { XCTAssertEqual(out, content + content + content) }
                if times == 40_000 { XCTAssertLessThan(calls, 10) }
                if times == 40_000 { XCTAssertEqual(Array(out.suffix(content.count)), content) }
            }
        }
        XCTAssertThrowsError(try LogGenerator.repeatFile(folder + "/missing", times: 2) { _ in }) { error in
            XCTAssertEqual((error as? SluiceError)?.code, .noSuchFile)
            XCTAssertEqual((error as? SluiceError)?.path, folder + "/missing")
        }
    }

    /// `gen --repeat` as a user runs it: a pipe and a /proc file are copied (they gave nothing, their size reads
    /// 0); options that only describe generated lines are refused (they were ignored); a missing FILE leaves an
    /// existing output alone and an output that is FILE itself is refused (both emptied it); `-o -` is stdout.
    func testRepeatFromTheCommandLine() throws {
        let folder = Fixture.directory()
        let line = "1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] \"GET / HTTP/1.1\" 200 10\n"
        let path = Fixture.write(Array(line.utf8), to: folder + "/one.log")
        XCTAssertEqual(sluice(["gen", "--repeat", path, "3", "-o", "-"]).stdout, line + line + line)
        XCTAssertEqual(sluice(["gen", "--repeat", "/dev/stdin", "2"], stdin: Array("a\nb\n".utf8)).stdout, "a\nb\na\nb\n")
        let piped = folder + "/piped"
        XCTAssertEqual(system("printf 'x\\n' | '\(Fixture.binary)' gen --repeat /dev/stdin 3 > '\(piped)'"), 0)
        XCTAssertEqual(Fixture.read(piped), Array("x\nx\nx\n".utf8))
        let twice = sluice(["gen", "--repeat", "/proc/self/status", "2"]).stdoutBytes
        XCTAssertGreaterThan(twice.count, 200)
        XCTAssertEqual(Array(twice[..<(twice.count / 2)]), Array(twice[(twice.count / 2)...]))
        for option in [["--size", "1K"], ["--hostile"], ["--seed", "5"], ["--format", "combined"], ["--hosts", "3"]] {
            let result = sluice(["gen", "--repeat", path, "2"] + option)
            XCTAssertEqual(result.status, 2, "\(option)")
            XCTAssertEqual(result.stderr, "\(option[0]): does not apply to --repeat, which copies FILE as it is\n")
        }
        let precious = Fixture.write(Array("precious\n".utf8), to: folder + "/keep.log")
        XCTAssertEqual(sluice(["gen", "--repeat", folder + "/missing", "3", "-o", precious]).status, 2)
        XCTAssertEqual(Fixture.read(precious), Array("precious\n".utf8))
        let same = sluice(["gen", "--repeat", precious, "3", "-o", precious])
        XCTAssertEqual(same.status, 2)
        XCTAssertEqual(same.stderr, "\(precious): is the --repeat input file; it would be emptied\n")
        XCTAssertEqual(Fixture.read(precious), Array("precious\n".utf8))
        XCTAssertEqual(sluice(["gen", "--repeat", folder, "0"]).stderr, "\(folder): is a directory\n")
    }

    /// A file that is not complete does not stay behind: an interrupted run (or one that fails) removes the file
    /// it was writing, which a later `make demo` would have taken as done, also with `--files`, where the signal
    /// raced with the next file's creation; an existing file is written in place (its mode and links kept);
    /// output that cannot be written says so as the query commands do.
    func testOutputFilesAppearOnlyWhenComplete() throws {
        let folder = Fixture.directory()
        let target = folder + "/big.log.bz2"
        let run = LiveProcess(["gen", "--size", "2G", "--bzip2", "-o", target])
        XCTAssertTrue(LiveFixture.waitUntil(timeout: 20) { Fixture.read(target).count > 0 }, "nothing written")
        run.signal(SIGINT)
        XCTAssertEqual(run.wait(timeout: 10), 130)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
        // --files: the files written before the signal stay, whole; the one being written goes. The files are
        // written one after the other, so the first ones stay with no gap; once two have appeared, the first is
        // whole, so that run must leave at least one (a signal soon after the folder appears may leave none).
        for (delay, seen): (UInt32, Int) in [(0, 0), (100_000, 0), (300_000, 0), (0, 2)] {
            let many = folder + "/many-\(delay)-\(seen)"
            let run = LiveProcess(["gen", "--size", "20M", "--files", "4000", "-o", many])
            // The folder is made after the signals are taken over.
            XCTAssertTrue(LiveFixture.waitUntil(timeout: 20) { access(many, F_OK) == 0 })
            if seen > 0 {
                XCTAssertTrue(LiveFixture.waitUntil(timeout: 20) {
                    ((try? FileManager.default.contentsOfDirectory(atPath: many)) ?? []).count >= seen
                })
            }
            usleep(delay)
            run.signal(SIGTERM)
            XCTAssertEqual(run.wait(timeout: 10), 130)
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: many)) ?? []).sorted()
            XCTAssertEqual(names, (0..<names.count).map { "log-" + String(repeating: "0", count: 5 - String($0).count) + String($0) })
            XCTAssertLessThan(names.count, 4000, "the run was interrupted")
            if seen > 0 { XCTAssertGreaterThanOrEqual(names.count, seen - 1, "the whole files before the signal stay") }
            for name in names {
                XCTAssertGreaterThanOrEqual(Fixture.read(many + "/" + name).count, (20 << 20) / 4000, name)
            }
        }
        // An existing file keeps its inode: its mode, and a hard link to it, see the new contents.
        let kept = Fixture.write(Array("old\n".utf8), to: folder + "/a.log")
        chmod(kept, 0o600)
        XCTAssertEqual(link(kept, folder + "/a.link"), 0)
        XCTAssertEqual(sluice(["gen", "--size", "10K", "-o", kept]).status, 0)
        var info = stat()
        XCTAssertEqual(stat(kept, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(Fixture.read(folder + "/a.link"), sluice(["gen", "--size", "10K"]).stdoutBytes)
        let err = folder + "/err"
        XCTAssertEqual(system("'\(Fixture.binary)' gen --size 1M > /dev/full 2> '\(err)'") >> 8, 2)
        XCTAssertEqual(String(decoding: Fixture.read(err), as: UTF8.self), "standard output: write failed: No space left on device\n")
    }

    func testDerivedSeedsDifferPerIndex() {
        let seeds = (0..<1000).map { LogGenerator.derivedSeed(7, index: $0) }
        XCTAssertEqual(Set(seeds).count, 1000)
        // The documented mix, SplitMix64 from seed ^ index * 0xD1B54A32D192ED03: index 0 of seed 0 is SplitMix64's
        // published first output for state 0; the others were computed with a Python re-implementation.
        XCTAssertEqual(LogGenerator.derivedSeed(0, index: 0), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(LogGenerator.derivedSeed(7, index: 0), 0x63CB_E1E4_5932_0DD7)
        XCTAssertEqual(LogGenerator.derivedSeed(7, index: 3), 0xDCFA_1426_C230_EF5F)
        XCTAssertEqual(LogGenerator.derivedSeed(8, index: 3), 0x3C83_6042_A9A5_584C)
        XCTAssertNotEqual(LogGenerator.derivedSeed(7, index: 3), LogGenerator.derivedSeed(8, index: 3))
    }

    // MARK: - Compressed writers

    private func gunzip(_ data: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        XCTAssertEqual(CZlib_inflateInitGzip(&stream), Z_OK)
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = data
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { input in
            stream.next_in = input.baseAddress
            stream.avail_in = UInt32(input.count)
            while status != Z_STREAM_END {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.next_out = chunk.baseAddress
                    stream.avail_out = UInt32(chunk.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk.count - Int(stream.avail_out)
                }
                output += chunk[..<produced]
                if status != Z_OK && status != Z_STREAM_END { throw SluiceError(.corruptGzip, path: "test", "inflate \(status)") }
            }
            XCTAssertEqual(stream.avail_in, 0, "trailing bytes after the gzip member")
        }
        return output
    }

    private func bunzip2(_ data: [UInt8], expected: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: expected + 1)
        var length = UInt32(output.count)
        var input = data
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeMutableBufferPointer { input in
                BZ2_bzBuffToBuffDecompress(UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self),
                                           &length,
                                           UnsafeMutableRawPointer(input.baseAddress!).assumingMemoryBound(to: CChar.self),
                                           UInt32(input.count), 0, 0)
            }
        }
        guard status == BZ_OK else { return nil }
        return Array(output[..<Int(length)])
    }

    /// Feeds `plain` to `write` in awkward piece sizes.
    private func feed(_ plain: [UInt8], _ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        try plain.withUnsafeBytes { all in
            var offset = 0
            var piece = 1
            while offset < all.count {
                let count = min(piece, all.count - offset)
                try write(UnsafeRawBufferPointer(rebasing: all[offset..<offset + count]))
                offset += count
                piece = piece * 7 % 400_009 + 1
            }
        }
    }

    func testGzipWriterRoundTrips() throws {
        let plain = try generate(options(size: 3 << 20, format: .combined, hostile: true)).bytes
        for level in [0, 1, 6, 9] {
            var compressed = [UInt8]()
            var largestPiece = 0
            let writer = try GzipWriter(level: level) { compressed.append(contentsOf: $0); largestPiece = max(largestPiece, $0.count) }
            try feed(plain) { try writer.write($0) }
            try writer.finish()
            let size = compressed.count
            try writer.finish()  // idempotent
            XCTAssertEqual(compressed.count, size)
            XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B])
            XCTAssertLessThanOrEqual(largestPiece, 256 << 10)
            XCTAssertEqual(try gunzip(compressed), plain, "level \(level)")
            if level > 0 { XCTAssertLessThan(compressed.count, plain.count / 3) }
            XCTAssertThrowsError(try [UInt8(65)].withUnsafeBytes { try writer.write($0) }) { error in
                XCTAssertEqual((error as? SluiceError)?.code, .io)
                XCTAssertEqual((error as? SluiceError)?.path, "gzip")
            }
        }
        var empty = [UInt8]()
        let writer = try GzipWriter(level: 6) { empty.append(contentsOf: $0) }
        try writer.finish()
        XCTAssertEqual(try gunzip(empty), [])
        XCTAssertThrowsError(try GzipWriter(level: 42) { _ in }) { error in
            XCTAssertEqual(error as? SluiceError, SluiceError(.io, path: "gzip", "invalid compression level 42 (expected 0...9)"))
        }
    }

    func testBZip2WriterRoundTrips() throws {
        let plain = try generate(options(size: 600_000, format: .combined, hostile: true)).bytes
        for level in [1, 9] {
            var compressed = [UInt8]()
            let writer = try BZip2Writer(level: level) { compressed.append(contentsOf: $0) }
            try feed(plain) { try writer.write($0) }
            try writer.finish()
            let size = compressed.count
            try writer.finish()
            XCTAssertEqual(compressed.count, size)
            XCTAssertEqual(Array(compressed.prefix(3)), Array("BZh".utf8))
            XCTAssertEqual(bunzip2(compressed, expected: plain.count), plain, "level \(level)")
            XCTAssertThrowsError(try [UInt8(65)].withUnsafeBytes { try writer.write($0) }) { error in
                XCTAssertEqual((error as? SluiceError)?.path, "bzip2")
            }
        }
        var empty = [UInt8]()
        let writer = try BZip2Writer(level: 9) { empty.append(contentsOf: $0) }
        try writer.finish()
        XCTAssertEqual(bunzip2(empty, expected: 0), [])
        for level in [0, 10] {
            XCTAssertThrowsError(try BZip2Writer(level: level) { _ in }) { error in
                XCTAssertEqual((error as? SluiceError)?.code, .io)
                XCTAssertEqual((error as? SluiceError)?.path, "bzip2")
            }
        }
    }

    func testCompressorsRethrowSinkErrors() throws {
        struct Full: Error {}
        let plain = try generate(options(size: 2 << 20)).bytes
        let gzip = try GzipWriter(level: 1) { _ in throw Full() }
        XCTAssertThrowsError(try plain.withUnsafeBytes { try gzip.write($0); try gzip.finish() }) { XCTAssertTrue($0 is Full) }
        let bzip2 = try BZip2Writer(level: 1) { _ in throw Full() }
        XCTAssertThrowsError(try plain.withUnsafeBytes { try bzip2.write($0); try bzip2.finish() }) { XCTAssertTrue($0 is Full) }
    }
}
