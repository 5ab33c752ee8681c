import Dispatch
import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// The lazy pipeline facade (`Sources/Sluice/Pipeline`) and the `sluice-tutorial` programs built on it:
/// tutorial answers, laziness, parallel/sequential agreement, agreement with the engine and the CLI on
/// hostile logs and their compressed twins, errors, printing, and the Part 9/11 helpers.
final class FacadeTests: XCTestCase {
    static let www = Fixture.tutorial + "/www"

    // MARK: Tutorial programs

    func testTutorialProgramsPrintTheExpectedFiles() throws {
        try requireBuilt(Built.tutorial)
        let cases = ["genlog", "nongenlog", "bytesgen", "query404", "largefiles", "largest", "hosts", "downloads",
                     "robots", "robotsfast"]
        for program in cases {
            let expectedName = ["nongenlog": "genlog", "robotsfast": "robots"][program] ?? program
            let expected = Fixture.read(Fixture.tutorial + "/expected/\(expectedName).txt")
            let result = spawn(Built.tutorial, [program, Self.www])
            XCTAssertEqual(result.status, 0, "\(program): \(result.stderr)")
            XCTAssertEqual(result.stdout, expected, program)
            XCTAssertEqual(result.stderr, "", program)
        }
        // A single file, as bytesgen's peer benchmark runs it: a sixth of the tree's total.
        XCTAssertEqual(text(spawn(Built.tutorial, ["bytesgen", Fixture.tutorial + "/access-log"]).stdout), "Total 18945598\n")
    }

    func testTutorialStreamingProgramsPrintWhatPythonPrints() throws {
        try requireBuilt(Built.tutorial)
        let log = Fixture.read(Fixture.tutorial + "/access-log")
        let logLines = log.split(separator: 10, omittingEmptySubsequences: false).dropLast().map { Array($0) }
        let everyFile = Array(repeating: log, count: 6).flatMap { $0 }
        // gencat and linesdir print every line of the six files, which all hold the same log.
        XCTAssertEqual(spawn(Built.tutorial, ["gencat", Self.www]).stdout, everyFile)
        XCTAssertEqual(spawn(Built.tutorial, ["linesdir", Self.www]).stdout, everyFile)
        let ply = try Pattern(#"ply-.*\.gz"#)
        let matcher = Matcher(ply)
        let plyLines = logLines.filter { line in
            line.withUnsafeBufferPointer { if case .match = matcher.search($0.baseAddress!, length: $0.count) { return true }; return false }
        }
        XCTAssertEqual(spawn(Built.tutorial, ["gengrep", Self.www]).stdout,
                       Array(repeating: plyLines.map { $0 + [10] }.flatMap { $0 }, count: 6).flatMap { $0 })
        let files = ["bar/access-log", "bar/access-log-0108.bz2", "bar/access-log-0208.bz2", "foo/access-log",
                     "foo/access-log-0108.gz", "foo/access-log-0208.gz"].map { Self.www + "/" + $0 }
        XCTAssertEqual(text(spawn(Built.tutorial, ["genfind", Self.www]).stdout), files.map { $0 + "\n" }.joined())
        let kinds = ["plain", "bzip2", "bzip2", "plain", "gzip", "gzip"]
        XCTAssertEqual(text(spawn(Built.tutorial, ["genopen", Self.www]).stdout),
                       zip(kinds, files).map { "<\($0) log '\($1)'>\n" }.joined())

        // Python 3's print of the tutorial's tuples and dictionaries, first line of the log.
        let tuple = "('140.180.132.213', '-', '-', '24/Feb/2008:00:08:59 -0600', 'GET', '/ply/ply.html', 'HTTP/1.1', '200', '97238')"
        let strings = "{'host': '140.180.132.213', 'referrer': '-', 'user': '-', 'datetime': '24/Feb/2008:00:08:59 -0600', 'method': 'GET', 'request': '/ply/ply.html', 'proto': 'HTTP/1.1', "
        let dict = strings + "'status': '200', 'bytes': '97238'}"
        let typed = strings + "'status': 200, 'bytes': 97238}"
        // These print a dictionary per record, so they read one file of the tree (a FILE operand) to stay quick.
        let file = Fixture.tutorial + "/access-log"
        var outputs = [String: [Substring]]()
        for (program, first, lines) in [("retuple", tuple, 7298), ("redict", dict, 7298), ("fieldmap", typed, 7298),
                                        ("apachelog", typed, 7298), ("gentrace", typed, 7298), ("storelast", typed, 14596)] {
            let output = text(spawn(Built.tutorial, [program, file]).stdout).split(separator: "\n")
            XCTAssertEqual(output.count, lines, program)
            XCTAssertEqual(output.first.map(String.init), first, program)
            outputs[program] = output
        }
        XCTAssertEqual(outputs["gentrace"], outputs["apachelog"])
        XCTAssertEqual(outputs["storelast"]?[1], "140.180.132.213 - - [24/Feb/2008:00:08:59 -0600] \"GET /ply/ply.html HTTP/1.1\" 200 97238")
        XCTAssertEqual(outputs["storelast"]?.enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) },
                       logLines.map { text($0) })
        XCTAssertEqual(text(spawn(Built.tutorial, ["consumer"]).stdout),
                       "T-minus 5\nT-minus 4\nT-minus 3\nT-minus 2\nT-minus 1\nKaboom!\n")
        let broadcast = text(spawn(Built.tutorial, ["broadcast", Self.www]).stdout).split(separator: "\n")
        XCTAssertEqual(broadcast.last, "Total bytes 1384450980")
        XCTAssertEqual(broadcast.first, "404 24/Feb/2008:00:08:59 -0600 /favicon.ico")
    }

    func testTutorialErrorsNameThePath() throws {
        try requireBuilt(Built.tutorial)
        let result = spawn(Built.tutorial, ["genlog", "/nonexistent/www"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr, "/nonexistent/www: No such file or directory\n")
        XCTAssertEqual(spawn(Built.tutorial, ["no-such-program"]).status, 2)
        XCTAssertEqual(spawn(Built.tutorial, ["--help"]).status, 0)
    }

    /// A tree with a truncated gzip file, an xz file and a dangling link: every program still reads the other
    /// files (it printed nothing, or stopped at the bad file), reports every problem and exits 2, and the answer
    /// is the CLI's. A total leaving the 64-bit range is an error, not a crash; bytes that are not UTF-8 print as
    /// they are, as the Python original prints them.
    func testTutorialProgramsSkipBadFilesAndReportThem() throws {
        try requireBuilt(Built.tutorial)
        let dir = Fixture.directory()
        let log = Fixture.read(Fixture.tutorial + "/access-log")
        XCTAssertGreaterThan(log.count, 100_000)
        for sub in ["a", "b", "c"] { mkdir(dir + "/" + sub, 0o755) }
        Fixture.write(log, to: dir + "/a/access-log")
        let cut = Fixture.write(Array(Fixture.gzip(log).prefix(30_000)), to: dir + "/b/access-log.gz")
        Fixture.write([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] + log, to: dir + "/b/access-log.xz")
        Fixture.write(log, to: dir + "/c/access-log")
        XCTAssertEqual(symlink("/nonexistent", dir + "/access-log-dangling"), 0)
        let cli = sluice(["sum", "bytes", "--name", "access-log*", dir])
        XCTAssertEqual(cli.status, 2)
        for program in ["genlog", "nongenlog", "broadcast", "linesdir"] {
            let result = spawn(Built.tutorial, [program, dir])
            XCTAssertEqual(result.status, 2, program)
            XCTAssertEqual(result.stderr, cli.stderr, program)
            let lines = text(result.stdout).split(separator: "\n")
            switch program {
            case "linesdir": XCTAssertEqual(lines.count, Int(sluice(["count", "--name", "access-log*", dir]).stdout.dropFirst(6).dropLast()))
            case "broadcast": XCTAssertEqual("Total \(lines.last?.dropFirst(12) ?? "")\n", cli.stdout)
            default: XCTAssertEqual(text(result.stdout), cli.stdout, program)
            }
        }
        XCTAssertTrue(cli.stderr.contains(cut + ": unexpected end of gzip stream"))
        let huge = Fixture.write(Array("1.1.1.1 - - [a] \"GET / HTTP/1.0\" 200 9223372036854775807\n1.1.1.1 - - [a] \"GET / HTTP/1.0\" 200 1\n".utf8),
                                 to: dir + "/huge.log")
        for program in ["genlog", "nongenlog", "broadcast"] {
            let result = spawn(Built.tutorial, [program, huge])
            XCTAssertEqual(result.status, 2, program)
            XCTAssertEqual(result.stderr, "bytes: sum overflows a 64-bit integer\n", program)
        }
        let bytes = Fixture.write(Array("1.1.1.1 - - [a] \"GET /a".utf8) + [0xff] + Array(" HTTP/1.0\" 404 1\n".utf8), to: dir + "/u8.log")
        XCTAssertEqual(spawn(Built.tutorial, ["query404", bytes]).stdout, Array("/a".utf8) + [0xff, 10])
    }

    /// The programs' pipelines called in-process, on every execution.
    func testPipelinesAnswerTheTutorialQuestionsBothWays() throws {
        for execution in [Execution.sequential, .automatic(ExecutionOptions(threads: 2, chunkSize: 4096))] {
            let lines = linesFromDir("access-log*", Self.www).executing(execution)
            let log = apacheLog(lines)
            XCTAssertEqual(try lines.bytesColumn().sum(), 1_384_450_980)
            let patlines = try genGrep(#"ply-.*\.gz"#, genCat(genOpen(genFind("access-log*", Self.www))))
            XCTAssertEqual(try bytesColumn(patlines).executing(execution).sum(), 113_673_588)
            XCTAssertEqual(try log.where(.request == "/ply/ply-2.3.tar.gz").count(), 690)
            XCTAssertEqual(try log.distinct(.host).map(\.string), expectedLines("hosts"))
            XCTAssertEqual(try log.where(.status == 404).distinct(.request).map(\.string), expectedLines("query404"))
            XCTAssertEqual(try log.where(.request.contains("robots.txt")).distinct(.host).map(\.string), expectedLines("robots"))
            XCTAssertEqual(try lines.containing("robots.txt").apacheLog().distinct(.host).map(\.string), expectedLines("robots"))
            let largest = try XCTUnwrap(log.max(by: .bytes, with: .request))
            XCTAssertEqual("\(largest.value) \(largest.with!)", expectedLines("largest")[0])
            XCTAssertEqual(log.status.ranInParallel, { if case .automatic = execution { return true }; return false }())
        }
        var large = [String]()
        for r in apacheLog(linesFromDir("access-log*", Self.www)).where(.bytes > 1_000_000) {
            large.append("\(r.request) \(r.bytes)")
        }
        XCTAssertEqual(large, expectedLines("largefiles"))
    }

    // MARK: Laziness

    func testPrefixReadsOnlyTheFirstBlock() throws {
        let dir = Fixture.directory()
        let log = Fixture.log(size: 6 << 20, seed: 7)
        Fixture.write(log, to: dir + "/big.log")
        Fixture.write(Fixture.gzip(log, level: 1), to: dir + "/big.log.gz")
        for path in [dir + "/big.log", dir + "/big.log.gz"] {
            let lines = Lines.open(path)
            XCTAssertEqual(lines.status.blocksRead, 0, "nothing is read before iteration")
            let firstThree = lines.prefix(3).map(\.string)
            XCTAssertEqual(firstThree.count, 3)
            XCTAssertEqual(Array(firstThree.joined(separator: "\n").utf8) + [10], Array(log.prefix(firstThree.joined().utf8.count + 3)))
            XCTAssertEqual(lines.status.blocksRead, 1, path)
            XCTAssertEqual(lines.status.linesRead, 3, path)

            // Deeper pipelines stop as early: parse, filter, format.
            let records = lines.apacheLog().where(.status == 200)
            var requests = [String]()
            for record in records {
                requests.append(record.request.string)
                if requests.count == 3 { break }
            }
            XCTAssertEqual(requests.count, 3)
            XCTAssertEqual(lines.status.blocksRead, 2, path)
            _ = Array(records.formatted(.json).prefix(2).map(\.string))
            XCTAssertEqual(lines.status.blocksRead, 3, path)
            // A full count reads the rest.
            XCTAssertEqual(try lines.executing(.sequential).count(), log.filter { $0 == 10 }.count)
            XCTAssertGreaterThan(lines.status.blocksRead, 6)
        }
    }

    func testNeverEndingInputsStopWhenTheLoopStops() throws {
        // A FIFO whose writer never stops: only a lazy reader that closes it when the loop ends can finish.
        signal(SIGPIPE, SIG_IGN)
        let fifo = Fixture.directory() + "/endless"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writerDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let fd = open(fifo, O_WRONLY)
            let chunk = Array(repeating: Array("1.2.3.4 - - [d] \"GET /x HTTP/1.0\" 200 7\n".utf8), count: 1000).flatMap { $0 }
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            close(fd)
            writerDone.signal()
        }
        var bytes = [Int]()
        for record in Lines.open(fifo).apacheLog() {
            bytes.append(record.bytes)
            if bytes.count == 3 { break }
        }
        XCTAssertEqual(bytes, [7, 7, 7])
        XCTAssertEqual(writerDone.wait(timeout: .now() + 10), .success, "the reader closed the FIFO")

        // An endless wrapped sequence, through every kind of stage.
        let line = Array("5.6.7.8 - - [d] \"GET /robots.txt HTTP/1.0\" 404 -".utf8)
        try line.withUnsafeBytes { raw in
            let endless = AnySequence { AnyIterator { Line(bytes: raw) } }
            let hosts = try Lines(wrapping: endless).grep("robots").where { _ in true }.apacheLog()
                .where(.status == 404).where { $0.bytes == 0 }.prefix(4).map(\.host.string)
            XCTAssertEqual(hosts, Array(repeating: "5.6.7.8", count: 4))
        }
    }

    // MARK: Parallel and sequential, facade and engine

    func testParallelAndSequentialTerminalOperationsAgree() throws {
        for format in [GeneratedFormat.common, .combined] {
            let dir = hostileTwins(format: format, seed: format == .common ? 11 : 12)
            for options in [ExecutionOptions(threads: 2, chunkSize: 4096), ExecutionOptions(threads: 3, chunkSize: 7, smallFileLimit: 0)] {
                try assertAgreement(LogFiles.find("*", in: dir), options, "\(format)")
            }
        }
    }

    func testFacadeAgreesWithTheEngineAndTheCLI() throws {
        for format in [GeneratedFormat.common, .combined] {
            let dir = hostileTwins(format: format, seed: format == .common ? 21 : 22)
            var answers = [[String]]()
            for name in ["access-log", "access-log.gz", "access-log.bz2"] {
                let path = dir + "/" + name
                let log = Lines.open(path).executing(.sequential).apacheLog()
                let engine = { (query: Query) in try Fixture.run(query, [path]).report }
                var row = [String]()
                func check<T: Equatable>(_ facade: T, _ query: Query, _ convert: (Answer) -> T) throws {
                    let report = try engine(query)
                    XCTAssertEqual(facade, convert(report.answer), "\(name) \(query.operation)")
                    row.append("\(facade)")
                }
                let total = { (answer: Answer) -> Int in if case .total(let n) = answer { return Int(n) }; return -1 }
                let values = { (answer: Answer) -> [ByteString] in
                    if case .values(let v) = answer { return v.map(ByteString.init(bytes:)) }; return []
                }
                let counts = { (answer: Answer) -> [String] in
                    if case .counts(let e) = answer { return e.map { "\($0.count) \(ByteString(bytes: $0.value))" } }; return []
                }
                try check(log.sum(.bytes), Query(operation: .sum("bytes")), total)
                XCTAssertEqual(log.status.malformed, try engine(Query(operation: .sum("bytes"))).malformed)
                XCTAssertGreaterThan(log.status.malformed, 0, "the hostile log has lines that are not records")
                try check(log.count(), Query(operation: .count(by: nil)), total)
                try check(log.where(.status == 404).distinct(.request), Query(conditions: ["status=404"],
                          operation: .distinct("request", withCounts: false)), values)
                try check(log.where(.request.contains("robots.txt")).distinct(.host),
                          Query(conditions: [#"request~robots\.txt"#], operation: .distinct("host", withCounts: false)), values)
                try check(log.where(.bytes > 5000).where(.method != "GET").count(),
                          Query(conditions: ["bytes>5000", "method!=GET"], operation: .count(by: nil)), total)
                try check(log.countBy(.status).map { "\($0.count) \($0.value)" }, Query(operation: .count(by: "status")), counts)
                try check(log.top(.host, 7).map { "\($0.count) \($0.value)" }, Query(operation: .top("host", k: 7)), counts)
                XCTAssertThrowsError(try log.top(.host, 0)) { XCTAssertEqual(($0 as? SluiceError)?.code, .invalidArgument) }
                XCTAssertThrowsError(try Engine(query: Query(operation: .top("host", k: -1))))
                let grepped = try engine(Query(operation: .grep("GET|POST", countOnly: true))).selected
                XCTAssertEqual(try Lines.open(path).executing(.sequential).grep("GET|POST").count(), Int(grepped))
                // caseless keeps a leading start-of-pattern setting at the start (`(?i)` was put before it).
                XCTAssertEqual(try Lines.open(path).grep("(*LIMIT_MATCH=100000)get|post", caseless: true).count(), Int(grepped))
                let largest = try XCTUnwrap(log.max(by: .bytes, with: .request))
                try check("\(largest.value) \(largest.with!)", Query(operation: .extreme("bytes", with: "request", isMax: true))) {
                    if case .extreme(let v, let w) = $0 { return "\(ByteString(bytes: v)) \(ByteString(bytes: w!))" }; return ""
                }
                // The CLI prints the same answers (it runs the same engine).
                if Executable.exists(Built.cli) {
                    let cli = spawn(Built.cli, ["sum", "bytes", path])
                    XCTAssertEqual(text(cli.stdout), "Total \(try log.sum(.bytes))\n")
                    let hosts = spawn(Built.cli, ["distinct", "host", "--where", #"request~robots\.txt"#, path])
                    XCTAssertEqual(text(hosts.stdout), try log.where(.request.contains("robots.txt")).distinct(.host)
                        .map { "\($0)\n" }.joined())
                }
                answers.append(row)
            }
            // The twins hold the same log, so every answer is the same whatever the compression.
            XCTAssertEqual(answers[0], answers[1])
            XCTAssertEqual(answers[0], answers[2])
        }
    }

    func testCompiledQueries() throws {
        let lines = linesFromDir("access-log*", Self.www)
        let bytesgen = try lines.grep(#"ply-.*\.gz"#).bytesColumn()
        XCTAssertEqual(bytesgen.query?.prefilter, #"ply-.*\.gz"#)
        XCTAssertEqual(bytesgen.query?.format, .fields)
        let twoGreps = try lines.grep("a").grep("b").query
        XCTAssertEqual(twoGreps?.prefilter, "a")
        XCTAssertEqual(twoGreps?.conditions, ["line~ b"])
        // Later containing stages (\Q...\E) and patterns with # compile too (they made the pipeline sequential),
        // and answer as the sequential pipeline does; a pattern with spaces at its ends is kept whole.
        let literals = try lines.containing("GET").containing("ply-").grep("#?gz").grep(" HTTP/1.1")
        XCTAssertEqual(literals.query?.conditions, [#"line~ \Qply-\E"#, "line~ #?gz", "line~ (?: HTTP/1.1)"])
        XCTAssertEqual(try literals.count(), try literals.executing(.sequential).count())
        XCTAssertGreaterThan(try literals.count(), 0)
        let records = lines.apacheLog().where(.status == 404).where(.request.contains("robots.txt"))
        XCTAssertEqual(records.query?.conditions, ["status= 404", #"request~ \Qrobots.txt\E"#])
        XCTAssertEqual(records.query?.format, .auto)
        // Closures and wrapped sequences cannot be compiled: their aggregates run sequentially.
        XCTAssertNil(lines.where { $0.count > 0 }.query)
        XCTAssertNil(records.where { $0.bytes > 0 }.query)
        XCTAssertNil(records.trace { _ in }.query)
        XCTAssertNil(Lines(wrapping: [Line]()).query)
        // A value the condition syntax cannot carry falls back to an exact closure.
        XCTAssertNil(lines.apacheLog().where(.request == " padded ").query)
        XCTAssertEqual(try lines.apacheLog().where(.request == " padded ").count(), 0)
        let closure = lines.apacheLog().where { $0.request.hasPrefix("/ply/") }
        let count = try closure.count()
        XCTAssertFalse(closure.status.ranInParallel)
        XCTAssertEqual(count, try lines.apacheLog().where(.request.matches("^/ply/")).count())
        XCTAssertTrue(closure.status.ranInParallel, "the status is shared by the pipelines of one source")
    }

    // MARK: Errors

    /// `skippingFailedInputs()`: a file that cannot be opened or decoded no longer ends the pipeline; the
    /// others are read on every execution and through `LogSources`, the answer is the CLI's, and every error is
    /// in `skippedInputs` while `error` stays nil. Without it, the first error still ends the run.
    func testSkippingFailedInputsReadsTheRest() throws {
        let dir = Fixture.directory()
        let log = Fixture.log(size: 64 << 10, seed: 5)
        Fixture.write(log, to: dir + "/access-log.1")
        Fixture.write(Array(Fixture.gzip(log).prefix(9000)), to: dir + "/access-log.2")
        Fixture.write([0x28, 0xb5, 0x2f, 0xfd] + log, to: dir + "/access-log.3")
        Fixture.write(log, to: dir + "/access-log.4")
        XCTAssertEqual(symlink(dir + "/gone", dir + "/access-log.5"), 0)
        let cli = sluice(["sum", "bytes", "--name", "access-log*", dir])
        for execution in [Execution.sequential, .automatic(ExecutionOptions(threads: 2, chunkSize: 4096))] {
            let lines = Lines.fromDirectory("access-log*", dir).skippingFailedInputs().executing(execution)
            XCTAssertEqual("Total \(try lines.apacheLog().sum(.bytes))\n", cli.stdout)
            XCTAssertNil(lines.status.error)
            XCTAssertEqual(lines.status.skippedInputs.map { "\($0)\n" }.joined(), cli.stderr)
            XCTAssertEqual("Total \(try lines.bytesColumn().sum())\n", cli.stdout)
            XCTAssertThrowsError(try Lines.fromDirectory("access-log*", dir).executing(execution).apacheLog().sum(.bytes))
        }
        let sources = genOpen(genFind("access-log*", dir).skippingFailedInputs())
        var read = 0
        for source in sources { for _ in source { read += 1 } }
        XCTAssertEqual(sources.status.skippedInputs.count, 3)
        XCTAssertGreaterThan(read, 2 * log.filter { $0 == 10 }.count)
    }

    func testErrorsCarryPathAndPosition() throws {
        let dir = Fixture.directory()
        let log = Fixture.log(size: 256 << 10, seed: 3)
        let gz = Fixture.gzip(log)
        let path = Fixture.write(Array(gz.prefix(gz.count / 2)), to: dir + "/access-log.gz")
        Fixture.write(log, to: dir + "/access-log")
        for execution in [Execution.sequential, .automatic(ExecutionOptions(threads: 2))] {
            let lines = Lines.fromDirectory("access-log*", dir).executing(execution)
            XCTAssertThrowsError(try lines.apacheLog().sum(.bytes)) { error in
                XCTAssertEqual((error as? SluiceError)?.code, .truncatedGzip)
                XCTAssertEqual((error as? SluiceError)?.path, path)
                XCTAssertNotNil((error as? SluiceError)?.offset)
            }
            XCTAssertThrowsError(try lines.bytesColumn().sum())
            XCTAssertEqual(lines.status.error?.code, .truncatedGzip)
        }
        // Writing any sequence of a pipeline throws the error that ended it, after the lines before it (a
        // storeLast, a trace or a source from genOpen wrote half the lines and returned).
        let out = dir + "/out"
        let writers: [(String, () throws -> Int)] = [
            ("lines", { try Lines.open(path).write(toFile: out) }),
            ("storeLast", { try storeLast(Lines.open(path)).write(toFile: out) }),
            ("trace", { try Lines.open(path).trace { _ in }.write(toFile: out) }),
            ("source", { try Array(genOpen(LogFiles(paths: [path])))[0].write(toFile: out) }),
        ]
        for (name, write) in writers {
            XCTAssertThrowsError(try write(), name) { XCTAssertEqual(($0 as? SluiceError)?.code, .truncatedGzip, name) }
            XCTAssertGreaterThan(Fixture.read(out).count, 1000, name)
        }
        // A for loop ends at the error and leaves it for check().
        let lines = Lines.open(path)
        var count = 0
        for _ in lines { count += 1 }
        XCTAssertGreaterThan(count, 0)
        XCTAssertThrowsError(try lines.check()) { XCTAssertEqual(($0 as? SluiceError)?.code, .truncatedGzip) }
        // gen_cat over sources that were collected or traced first still throws the decoding error (it counted
        // the lines before the fault and threw nothing); the lines before it are still read.
        let opened = { genOpen(LogFiles(paths: [dir + "/access-log", path])) }
        let logLines = log.filter { $0 == 10 }.count
        for catted in [genCat(Array(opened())), genCat(trace(opened()) { _ in }), genCat(opened().map { $0 })] {
            var read = 0
            for _ in catted { read += 1 }
            XCTAssertGreaterThan(read, logLines)
            XCTAssertThrowsError(try catted.check()) { XCTAssertEqual(($0 as? SluiceError)?.path, path) }
        }
        XCTAssertThrowsError(try genCat(Array(opened())).count()) { XCTAssertEqual(($0 as? SluiceError)?.code, .truncatedGzip) }
        // A file that could not be opened after the collected ones: their lines are all read, then its error.
        let collected = Array(genOpen(LogFiles(paths: [dir + "/access-log", dir + "/access-log", dir + "/missing"])))
        XCTAssertEqual(collected.count, 2)
        let both = genCat(collected)
        var seen = 0
        for _ in both { seen += 1 }
        XCTAssertEqual(seen, 2 * logLines)
        XCTAssertThrowsError(try both.check()) { XCTAssertEqual(($0 as? SluiceError)?.code, .noSuchFile) }
        XCTAssertEqual(try genCat(Array(genOpen(LogFiles(paths: [dir + "/access-log"])))).count(), logLines)

        let missing = genFind("access-log*", dir + "/missing")
        XCTAssertEqual(Array(missing), [])
        XCTAssertEqual(missing.status.error?.code, .noSuchFile)
        XCTAssertThrowsError(try missing.lines().count()) { XCTAssertEqual(($0 as? SluiceError)?.path, dir + "/missing") }
        XCTAssertThrowsError(try Lines.open(dir).grep("(")) { XCTAssertEqual(($0 as? SluiceError)?.code, .invalidPattern) }
        XCTAssertThrowsError(try Lines.open(dir).count()) { XCTAssertEqual(($0 as? SluiceError)?.code, .unreadable) }
        XCTAssertThrowsError(try Lines.open(path).apacheLog().sum(.host)) {
            XCTAssertEqual(($0 as? SluiceError)?.code, .invalidArgument)
        }

        // A regex that gives up is an error naming the file and the line, both ways.
        let evil = "1.1.1.1 - - [d] \"GET /" + String(repeating: "a", count: 60) + " HTTP/1.0\" 200 10\n"
        let good = "1.1.1.1 - - [d] \"GET / HTTP/1.0\" 200 10\n"
        let evilPath = Fixture.write(Array((good + good + evil + good).utf8), to: dir + "/evil")
        for execution in [Execution.sequential, .automatic(ExecutionOptions(threads: 2))] {
            XCTAssertThrowsError(try Lines.open(evilPath).executing(execution).grep("(a|aa)+[bc]").count()) { error in
                XCTAssertEqual((error as? SluiceError)?.description.hasPrefix("\(evilPath):3: regex gave up"), true, "\(error)")
            }
            XCTAssertThrowsError(try Lines.open(evilPath).executing(execution).apacheLog()
                .where(try .request.matches("^/(a|aa)+[bc]")).count()) { error in
                XCTAssertEqual((error as? SluiceError)?.line, 3, "\(error)")
            }
        }
    }

    // MARK: Printing, trace, storelast, consumers

    func testRecordsPrintBackAsLines() throws {
        let original = Fixture.tutorial + "/access-log"
        let out = Fixture.directory() + "/copy.log"
        let written = try Lines.open(original).apacheLog().formatted(.common).write(toFile: out)
        XCTAssertEqual(written, 7298)
        XCTAssertEqual(Fixture.read(out), Fixture.read(original), "common text reproduces the tutorial's lines")
        let first = Lines.open(original).apacheLog()
        XCTAssertEqual(first.formatted(.json).prefix(1).map(\.string), [
            #"{"host":"140.180.132.213","ident":"-","user":"-","datetime":"24/Feb/2008:00:08:59 -0600","method":"GET","request":"/ply/ply.html","proto":"HTTP/1.1","status":200,"bytes":97238}"#,
        ])
        XCTAssertEqual(first.formatted(.csv).prefix(2).map(\.string), [
            "host,ident,user,datetime,method,request,proto,status,bytes,referer,agent",
            "140.180.132.213,-,-,24/Feb/2008:00:08:59 -0600,GET,/ply/ply.html,HTTP/1.1,200,97238,,",
        ])
        XCTAssertEqual(first.formatted(.combined).prefix(1).map(\.string),
                       [#"140.180.132.213 - - [24/Feb/2008:00:08:59 -0600] "GET /ply/ply.html HTTP/1.1" 200 97238 "-" "-""#])
        // A filtered pipeline written out and read back gives the same answers.
        let dir = Fixture.directory()
        let combined = Fixture.write(Fixture.log(size: 300 << 10, format: .combined, seed: 5, hostile: true), to: dir + "/c.log")
        let errors = Lines.open(combined).apacheLog(.combined).where(.status >= 400)
        try errors.formatted(.combined).write(toFile: dir + "/errors.log")
        let reread = Lines.open(dir + "/errors.log").apacheLog(.combined)
        XCTAssertEqual(try reread.count(), try errors.count())
        XCTAssertEqual(try reread.sum(.bytes), try errors.sum(.bytes))
        XCTAssertEqual(try reread.distinct(.agent), try errors.distinct(.agent))
        XCTAssertEqual(reread.status.malformed, 0)
    }

    func testTraceStoreLastAndConsumers() throws {
        let lines = Lines.open(Fixture.tutorial + "/access-log")
        var seen = 0, passed = 0
        let traced = lines.apacheLog().trace { _ in seen += 1 }.where(.status == 404).trace { _ in passed += 1 }
        let count = try traced.count()
        XCTAssertFalse(traced.status.ranInParallel)
        XCTAssertEqual(count, passed)
        XCTAssertEqual(seen, 7298)
        XCTAssertEqual(passed, try lines.apacheLog().where(.status == 404).count())

        let stream = TraceLog()
        XCTAssertEqual(Array([1, 2, 3].trace(to: stream)), [1, 2, 3])
        XCTAssertEqual(stream.text, "1\n2\n3\n")

        let store = storeLast(lines)
        XCTAssertNil(store.last)
        for record in apacheLog(store).prefix(5) {
            XCTAssertEqual(store.last?.string, record.line.string)
            XCTAssertTrue(store.last!.string.hasPrefix(record.host.string + " "))
        }

        var received = [Int]()
        var closes = 0
        let consumer = Consumer<Int>({ received.append($0) }, onClose: { closes += 1 })
        consumer.send(1)
        consumer.send(2)
        consumer.close()
        consumer.close()
        consumer.send(3)
        XCTAssertEqual(received, [1, 2])
        XCTAssertEqual(closes, 1)
        XCTAssertTrue(consumer.isClosed)

        var totals = [Int]()
        var statuses = [Int: Int]()
        let bytes = Consumer<AccessRecord>(state: 0, { $0 += $1.bytes }, onClose: { totals.append($0) })
        let status = Consumer<AccessRecord>({ statuses[$0.status, default: 0] += 1 })
        XCTAssertEqual(broadcast(lines.apacheLog(), to: [bytes, status], closing: true), 7298)
        XCTAssertEqual(totals, [230_741_830])
        XCTAssertEqual(statuses.values.reduce(0, +), 7298)
        XCTAssertEqual(statuses[404], try lines.apacheLog().where(.status == 404).count())
    }

    func testViewsAndRows() throws {
        var iterator = Lines.open(Fixture.tutorial + "/access-log").makeIterator()
        let line = try XCTUnwrap(iterator.next())
        XCTAssertEqual(line.number, 1)
        XCTAssertEqual(line.lastField?.string, "97238")
        XCTAssertTrue(line.contains("ply.html"))
        XCTAssertFalse(line.contains("ply.htmlx"))
        XCTAssertEqual(Line(bytes: UnsafeRawBufferPointer(start: nil, count: 0)).lastField, nil)
        Array("only".utf8).withUnsafeBytes { XCTAssertNil(Line(bytes: $0).lastField) }
        Array(" a \t-\r".utf8).withUnsafeBytes { XCTAssertEqual(Line(bytes: $0).lastField?.string, "-") }
        var row = Row(names: ["a", "b"], values: [.text("it's"), .integer(3)])
        XCTAssertEqual(row.description, #"{'a': "it's", 'b': 3}"#)
        row["c"] = Value.none
        row["a"] = nil
        XCTAssertEqual(row.description, "{'b': 3, 'c': None}")
        // What Python's repr escapes (str.isprintable() false), as python3 printed it for the same string.
        let unprintable = Row(names: ["s"], values: [.text("a\u{2028}b\u{200B}c\u{FEFF}d\u{3000}e\u{7F}f\u{AD}g\u{A0}h\u{E0001}i é ")])
        XCTAssertEqual(unprintable.description, #"{'s': 'a\u2028b\u200bc\ufeffd\u3000e\x7ff\xadg\xa0h\U000e0001i é '}"#)
        let matches = try Lines.open(Fixture.tutorial + "/access-log").match(#"(\S+) (x)?"#)
        XCTAssertEqual(matches.prefix(1).map(\.description), ["('140.180.132.213', None)"])
        let mapped = fieldMap(matches.rows(["host", "x"]), "host") { .text(String($0.text!.prefix(3))) }
        XCTAssertEqual(mapped.prefix(1).map(\.description), ["{'host': '140', 'x': None}"])
        // match anchors at the line's start without rewriting the pattern: errors name the pattern as given (it
        // named `^(?:(` at offset 6), a leading (*VERB) still works, and a later match is not taken.
        XCTAssertThrowsError(try Lines.open(Fixture.tutorial + "/access-log").match("(")) { error in
            XCTAssertEqual((error as? SluiceError)?.path, "(")
            XCTAssertTrue((error as? SluiceError)?.message.hasSuffix("at offset 1") == true, "\(error)")
        }
        let count = { (pattern: String) in try Lines.open(Fixture.tutorial + "/access-log").match(pattern).reduce(0) { n, _ in n + 1 } }
        XCTAssertEqual(try count("(*LIMIT_MATCH=100000)140"), 22)
        XCTAssertEqual(try count("GET"), 0)
        XCTAssertEqual(try Lines.open(Fixture.tutorial + "/access-log").apacheLog().reduce(into: [Int: Int](), {
            $0[$1.status, default: 0] += 1
        }, merge: { $0.merge($1, uniquingKeysWith: +) }).values.reduce(0, +), 7298)
    }

    // MARK: Helpers

    private func expectedLines(_ name: String) -> [String] {
        text(Fixture.read(Fixture.tutorial + "/expected/\(name).txt")).split(separator: "\n").map(String.init)
    }

    /// Checks every terminal operation of several pipelines over `files`, sequentially and in parallel.
    private func assertAgreement(_ files: LogFiles, _ options: ExecutionOptions, _ label: String) throws {
        func both<T: Equatable>(_ name: String, _ make: (Execution) throws -> (T, PipelineStatus)) throws {
            let (sequential, sequentialStatus) = try make(.sequential)
            let malformed = sequentialStatus.malformed, read = sequentialStatus.linesRead
            XCTAssertFalse(sequentialStatus.ranInParallel, name)
            let (parallel, parallelStatus) = try make(.automatic(options))
            XCTAssertTrue(parallelStatus.ranInParallel, name)
            XCTAssertEqual(sequential, parallel, "\(label) \(name)")
            XCTAssertEqual(malformed, parallelStatus.malformed, "\(label) \(name) malformed")
            XCTAssertEqual(read, parallelStatus.linesRead, "\(label) \(name) lines")
        }
        func records(_ execution: Execution) -> Records { files.executing(execution).lines().apacheLog() }
        func lines(_ execution: Execution) -> Lines { files.executing(execution).lines() }
        let pairs = { (list: [(value: ByteString, count: Int)]) in list.map { "\($0.count) \($0.value)" } }
        try both("lines") { let l = lines($0); return (try l.count(), l.status) }
        try both("grep") { let l = try lines($0).grep("GET|HEAD").grep("HTTP/1\\.1$|\\s$"); return (try l.count(), l.status) }
        try both("bytes sum") { let c = lines($0).bytesColumn(); return (try c.sum(), c.status) }
        try both("bytes grep") { let c = try lines($0).grep(#"\.gif"#).bytesColumn(); return ([try c.count(), try c.maximum() ?? -1, try c.minimum() ?? -1], c.status) }
        try both("count") { let r = records($0); return (try r.count(), r.status) }
        try both("sum") { let r = records($0); return ([try r.sum(.bytes), try r.sum(.status)], r.status) }
        try both("distinct") { let r = records($0); return (try r.distinct(.host), r.status) }
        try both("where") { let r = records($0).where(.status == 404).where(.bytes >= 100); return (try r.distinct(.request), r.status) }
        try both("contains") { let r = records($0).where(.request.contains(".html")); return (try r.count(), r.status) }
        try both("countBy") { let r = records($0); return (pairs(try r.countBy(.status)), r.status) }
        try both("top") { let r = lines($0).containing("GET").apacheLog(); return (pairs(try r.top(.request, 5)), r.status) }
        try both("max") { let r = records($0); return (try r.max(by: .bytes, with: .request).map { "\($0.value) \($0.with!)" }, r.status) }
        try both("min") { let r = records($0); return (try r.min(by: .request, with: .host).map { "\($0.value) \($0.with!)" }, r.status) }
        try both("reduce") {
            let r = records($0).where(.method == "GET")
            let histogram = try r.reduce(into: [Int: Int](), { $0[$1.status / 100, default: 0] += 1 },
                                         merge: { $0.merge($1, uniquingKeysWith: +) })
            return (histogram, r.status)
        }
        try both("none") { let r = records($0).where(.host == "no-such-host"); return (try r.max(by: .bytes).map { "\($0.value)" }, r.status) }
    }
}

/// A log with its gzip and bzip2 twins, hostile lines included.
private func hostileTwins(format: GeneratedFormat, seed: UInt64) -> String {
    let dir = Fixture.directory()
    let log = Fixture.log(size: 400 << 10, format: format, seed: seed, hostile: true)
    Fixture.write(log, to: dir + "/access-log")
    Fixture.write(Fixture.gzip(log), to: dir + "/access-log.gz")
    Fixture.write(Fixture.bzip2(log, level: 1), to: dir + "/access-log.bz2")
    return dir
}

private final class TraceLog: TraceOutput {
    var text = ""
    func write(_ string: String) { text += string }
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The executables SwiftPM builds next to the test bundle.
private enum Built {
    static let directory: String = {
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        let executable = length > 0 ? String(decoding: path.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
    }()
    static let tutorial = directory + "/sluice-tutorial"
    static let cli = directory + "/sluice"
}

private enum Executable {
    static func exists(_ path: String) -> Bool { access(path, X_OK) == 0 }
}

private func requireBuilt(_ binary: String) throws {
    guard Executable.exists(binary) else {
        XCTFail("\(binary) is not built; run `swift build` before `swift test`")
        throw XCTSkip("no binary")
    }
}

/// Runs `binary ARGS` with empty standard input and returns its exit status and output.
private func spawn(_ binary: String, _ arguments: [String]) -> (status: Int32, stdout: [UInt8], stderr: String) {
    let scratch = Fixture.directory()
    let outPath = scratch + "/out", errPath = scratch + "/err"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([binary] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    guard spawned == 0 else { return (-1, [], "cannot start \(binary)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return ((status >> 8) & 0xff, Fixture.read(outPath), text(Fixture.read(errPath)))
}

extension FacadeTests {
    /// The sequential reader skips a line over the limit also when its newline arrives in the same block as the
    /// bytes that take it over the limit, as the engine does (it returned such a line whole).
    func testSequentialReaderSkipsOverlongLinesAsTheEngineDoes() throws {
        let dir = Fixture.directory()
        let long = String(repeating: "x", count: 1_100)
        let path = Fixture.write(Array("a\n\(long)\nb\n\(long)".utf8), to: dir + "/long")
        var files = LogFiles(paths: [path])
        files.settings.maxLineLength = 1_000
        let lines = files.executing(.sequential).lines()
        XCTAssertEqual(lines.map { String(decoding: $0.bytes, as: UTF8.self) }, ["a", "b"])
        XCTAssertEqual(lines.status.malformed, 2)
        XCTAssertEqual(lines.status.linesRead, 4)
        var options = ExecutionOptions(threads: 2)
        options.maxLineLength = 1_000
        let engine = try Fixture.run(Query(format: .fields, operation: .count(by: nil)), [path], options: options).report
        XCTAssertEqual(engine.answer, .total(2))
        XCTAssertEqual(engine.inputs[0].malformed, 2)
    }
}

extension FacadeTests {
    /// A pipeline wrapped by `Lines(wrapping:)` (directly, or through `storeLast` or `trace`) shares its status:
    /// the wrapper's terminal operations throw the wrapped pipeline's read errors instead of returning a partial
    /// answer, and lines are counted once.
    func testWrappedPipelinesThrowTheErrorsOfWhatTheyWrap() throws {
        let dir = Fixture.directory()
        let text = Fixture.log(size: 100_000, seed: 12)
        let packed = Fixture.gzip(text)
        let cut = Fixture.write(Array(packed.prefix(packed.count / 2)), to: dir + "/cut.gz")
        let missing = dir + "/missing.log"
        for path in [cut, missing] {
            let lines = Lines.open(path)
            XCTAssertThrowsError(try apacheLog(storeLast(lines)).count(), path)
            XCTAssertThrowsError(try Lines(wrapping: lines).count(), path)
            XCTAssertThrowsError(try genGrep("GET", trace(lines) { _ in }).count(), path)
        }
        let good = Fixture.write(text, to: dir + "/good.log")
        let wrapped = Lines(wrapping: Lines.open(good))
        XCTAssertEqual(try wrapped.count(), text.filter { $0 == 10 }.count)
        XCTAssertEqual(wrapped.status.linesRead, text.filter { $0 == 10 }.count)
    }
}
