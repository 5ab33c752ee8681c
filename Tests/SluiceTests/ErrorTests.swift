import XCTest
import Foundation
import CSysGuard
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// Bad input gets one clear `path: message` line, loses nothing else, and sets a non-zero exit status.
final class ErrorTests: XCTestCase {
    let good = "1.1.1.1 - - [d] \"GET /a HTTP/1.0\" 200 10\n"

    func testMissingFileIsReportedAndOthersStillCount() {
        let dir = Fixture.directory()
        let path = Fixture.write(Array(good.utf8), to: dir + "/ok")
        let result = sluice(["sum", "bytes", dir + "/missing", path])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "Total 10\n")
        XCTAssertEqual(result.stderr, "\(dir)/missing: No such file or directory\n")
    }

    func testDirectoryWithOneBadFileStillAggregatesTheRest() {
        let dir = Fixture.directory()
        Fixture.write(Array(good.utf8), to: dir + "/a.log")
        Fixture.write(Array(Fixture.gzip(Array((good + good).utf8)).dropLast(5)), to: dir + "/b.log.gz")
        Fixture.write(Fixture.bzip2(Array(good.utf8)), to: dir + "/c.log.bz2")
        let result = sluice(["sum", "bytes", dir])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "Total 40\n", "the two lines decoded before the cut still count")
        XCTAssertTrue(result.stderr.hasPrefix("\(dir)/b.log.gz: unexpected end of gzip stream"), result.stderr)
    }

    func testArgumentErrorsNameTheCulprit() {
        let dir = Fixture.directory()
        let path = Fixture.write(Array(good.utf8), to: dir + "/ok")
        let cases: [([String], String)] = [
            (["grep", "(unclosed", path], "(unclosed: invalid regex: missing closing parenthesis at offset 9\n"),
            (["sum", "nosuch", path], "nosuch: unknown field"),
            (["sum", "host", path], "host: cannot sum a text field"),
            (["count", "--where", "status", path], "status: bad --where"),
            (["count", "--where", "status=abc", path], "status=abc: bad --where: field 'status' is numeric"),
            (["count", "--where", "bytes>99999999999999999999", path],
             "bytes>99999999999999999999: bad --where: field 'bytes' is numeric but '99999999999999999999' is not a 64-bit integer"),
            (["count", "--where", "request~(", path], "request~(: bad --where: invalid regex: missing closing parenthesis at offset 1\n"),
            (["count", "--format", "xml", path], "xml: unknown format"),
            (["count", "--format", "regex:(\\S+)", path], "needs named groups"),
            (["top", "host", "-k", "0", path], "top: k must be at least 1, got 0\n"),
            (["count", "--threads", "0", path], "--threads: expected 1...1024, got 0\n"),
            (["count", "--threads", "100000000", path], "--threads: expected 1...1024, got 100000000\n"),
            (["count", "--chunk-size", "99999999999999G", path], "--chunk-size: '99999999999999G' is too large (1 byte to 1G)\n"),
            (["count", "--chunk-size", "2G", path], "--chunk-size: expected 1 byte to 1G, got '2G'\n"),
            (["count", "--chunk-size", "12Q", path], "--chunk-size: expected a byte count such as"),
            (["count", "--max-line-length", "0", path], "--max-line-length: expected at least 1 byte, got '0'\n"),
            // A negative number is the option's value, not an unknown option ("Missing value for '-k <k>'").
            (["top", "host", "-k", "-1", path], "top: k must be at least 1, got -1\n"),
            (["count", "--threads", "-1", path], "--threads: expected 1...1024, got -1\n"),
            (["gen", "--files", "-1", "-o", dir + "/g"], "--files: expected a count ≥ 1, got -1\n"),
            (["gen", "--files", "2", "-o", "-"], "--files: needs -o DIR (a folder, not standard output)\n"),
            // Port 0 is an error, not "Connection refused: 0 of 0 records acknowledged".
            (["send", "0", path], "0: cannot send to port 0 (a receiver listens on a real port)\n"),
            (["gen", "--repeat", path, "2", "--repeat", path, "1"], "--repeat: given more than once"),
            // select names an operand that is no field as the other commands do, not as a usage error.
            (["select", "nosuch", path], "nosuch: unknown field (known: agent, bytes,"),
            (["select", "$-1", "--format", "fields", path], "$-1: unknown field (the fields format has $1"),
        ]
        // Usage errors that ArgumentParser finds exit 2 as well, not its default 64.
        let usage: [([String], String)] = [
            (["grep", "--bogus", "x", path], "Error: Unknown option '--bogus'"),
            (["sum"], "Error: Missing expected argument '<field>'"),
            (["top", "host", "-k", "x", path], "Error: The value 'x' is invalid for '-k <k>'"),
            (["nosuchcommand"], "Error: Unexpected argument 'nosuchcommand'"),
            // These printed the help and exited 0: no subcommand, help for an unknown one, and a path starting
            // with '-' that holds an 'h' (read as a cluster of short options with -h, nothing searched).
            ([], "Error: a subcommand is needed"),
            (["help", "nosuch"], "Error: unknown subcommand 'nosuch' (known: grep, sum,"),
            (["grep", "-c", "GET", "-ch.log"], "Error: unknown option '-ch.log' (did you mean ./-ch.log, or -- before it, for a path?)"),
            (["select"], "Error: select needs at least one field\nUsage: sluice select FIELD..."),
            // `--grep=` read the path after it as the pattern (and standard input as the input).
            (["count", "--grep=", path], "Error: '--grep=' has an empty value after '='; write --grep '' for an empty value"),
            (["sum", "bytes", "--threads=", path], "Error: '--threads=' has an empty value after '='"),
            (["--version", "extra"], "Error: --version takes no arguments (got 'extra')"),
            // grep parses records only for --where; --strict or --format without it did nothing.
            (["grep", "-c", ".", "--strict", path], "Error: --strict and --format apply to records"),
            (["grep", "-c", ".", "--format", "combined", path], "Error: --strict and --format apply to records"),
            (["simulate", dir + "/s", "--lines", "-1"], "Error: --lines must be at least 0, got -1\nUsage: sluice simulate"),
            // Negative numbers are values, not options ("Missing value for '--rate <rate>'").
            (["simulate", dir + "/s", "--rate", "-5"], "Error: bad --rate '-5' (expected N or N/s with N > 0)"),
            (["simulate", dir + "/s", "--rotate-every", "-1"], "Error: bad --rotate-every '-1' (expected a byte count > 0"),
            (["receive", "--listen", ":0", "--max-frame", "-4K"], "--max-frame: expected a byte count such as 1048576, 64K, 10M or 2G, got '-4K' (4K to 4M)"),
            (["simulate", dir + "/s", "--duration", "nan"], "Error: --duration must be a number of seconds ≥ 0, got nan"),
            (["simulate", dir + "/s", "--format", "xyz"], "Error: bad --format 'xyz' (common or combined)\nUsage: sluice simulate"),
            (["send", ":1", "--retry-limit", "-1", path], "Error: --retry-limit needs --retry"),
            (["send", ":1", "--retry", "--retry-limit", "-1", path], "Error: --retry-limit must be at least 0, got -1"),
            (["send", ":1", "--ack-timeout", "-1", path], "Error: --ack-timeout must be a number of seconds ≥ 0, got -1.0"),
            // A positive timeout below a millisecond was 0 ns, a timeout that fails at once, where 0 means none.
            (["send", ":1", "--ack-timeout", "1e-10", path], "Error: --ack-timeout must be 0 (no limit) or at least 0.001 seconds"),
        ]
        for (arguments, message) in cases + usage {
            let result = sluice(arguments)
            XCTAssertEqual(result.status, 2, arguments.joined(separator: " "))
            XCTAssertTrue(result.stderr.hasPrefix(message) || result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stdout, "")
        }
    }

    /// Options a library caller sets out of range are brought within the engine's limits rather than
    /// allocating a worker per requested thread or overflowing a window's end.
    /// A run whose shutdown token is triggered stops at the next piece of input and throws `.cancelled`, with
    /// what it found in `interruptedRun`; the engine then runs again from nothing.
    func testAShutdownTokenStopsARun() throws {
        let text = Fixture.log(size: 8 << 20, seed: 3)
        let dir = Fixture.directory()
        try shutdownStopsARun(Fixture.write(text, to: dir + "/big.log"))
        try shutdownStopsARun(Fixture.write(Fixture.gzip(text), to: dir + "/big.log.gz"))
    }

    private func shutdownStopsARun(_ log: String) throws {
        let engine = try Engine(query: Query(operation: .grep("GET", countOnly: false)),
                                options: ExecutionOptions(threads: 2, chunkSize: 64 << 10, windowSize: 1 << 20))
        let early = ShutdownToken()
        early.trigger()
        XCTAssertThrowsError(try engine.run([.file(log)], shutdown: early)) { error in
            XCTAssertEqual(error as? SluiceError, SluiceError(.cancelled, path: log, "run stopped by its shutdown token"))
        }
        XCTAssertEqual(engine.interruptedRun?.inputs[0].lines, 0)
        // Triggered from the output closure, as another thread would: the rest of the file is not read.
        let token = ShutdownToken()
        XCTAssertThrowsError(try engine.run([.file(log)], shutdown: token) { _ in token.trigger() }) { error in
            XCTAssertEqual((error as? SluiceError)?.code, .cancelled)
        }
        let partial = try XCTUnwrap(engine.interruptedRun).inputs[0].lines
        let whole = try engine.run([.file(log)]).inputs[0].lines
        XCTAssertGreaterThan(partial, 0)
        XCTAssertLessThan(partial, whole / 2)
        XCTAssertNil(engine.interruptedRun)
        XCTAssertEqual(try engine.run([.file(log)], shutdown: ShutdownToken()).inputs[0].lines, whole)
    }

    func testOutOfRangeExecutionOptionsAreBroughtWithinLimits() throws {
        let dir = Fixture.directory()
        let path = Fixture.write(Array((good + good).utf8), to: dir + "/ok")
        var options = ExecutionOptions(threads: 1 << 40, chunkSize: Int.max, windowSize: -1)
        XCTAssertEqual(options.threads, ExecutionOptions.maximumThreads)
        XCTAssertEqual(options.chunkSize, ExecutionOptions.maximumChunkSize)
        XCTAssertEqual(options.windowSize, ExecutionOptions.maximumChunkSize)
        options.threads = Int.max
        options.chunkSize = 0
        options.windowSize = Int.max
        options.maxLineLength = -5
        let engine = try Engine(query: Query(operation: .sum("bytes")), options: options)
        XCTAssertEqual(engine.options.threads, ExecutionOptions.maximumThreads)
        XCTAssertEqual(engine.options.chunkSize, 1)
        XCTAssertEqual(engine.options.windowSize, ExecutionOptions.maximumWindowSize)
        XCTAssertEqual(engine.options.maxLineLength, 0)
        options.maxLineLength = 1 << 20
        let (_, report) = try Fixture.run(Query(operation: .sum("bytes")), [path], options: options)
        XCTAssertEqual(report.answer, .total(20))
        XCTAssertEqual(report.malformed, 0)
    }

    func testMalformedLinesAreCountedAndReported() {
        let dir = Fixture.directory()
        let path = Fixture.write(Array((good + "junk\n" + good + "more junk\n").utf8), to: dir + "/mixed")
        let result = sluice(["count", path])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "Total 2\n")
        XCTAssertEqual(result.stderr, "2 malformed lines skipped (first at \(path):2)\n")
        let strict = sluice(["count", "--strict", path])
        XCTAssertEqual(strict.status, 2)
        XCTAssertEqual(strict.stderr, "\(path):2: malformed line\n")
        // A run that ends without an answer (a strict stop, a sum overflow) still reports the other inputs'
        // problems, and an overflow the malformed lines too; only the error that ended it was printed.
        let missing = dir + "/missing"
        let strictWithOthers = sluice(["count", "--strict", missing, path])
        XCTAssertEqual(strictWithOthers.stderr, "\(missing): No such file or directory\n\(path):2: malformed line\n")
        let huge = Fixture.write(Array("1.1.1.1 - - [d] \"GET /a HTTP/1.0\" 200 9223372036854775807\njunk\n\(good)".utf8), to: dir + "/huge")
        let overflow = sluice(["sum", "bytes", missing, huge])
        XCTAssertEqual(overflow.status, 2)
        XCTAssertEqual(overflow.stdout, "")
        XCTAssertEqual(overflow.stderr, "\(missing): No such file or directory\n1 malformed line skipped (first at \(huge):2)\n"
                       + "bytes: sum overflows a 64-bit integer\n")
    }

    func testMatchLimitIsAnErrorNamingFileAndLine() {
        let dir = Fixture.directory()
        let evil = "1.1.1.1 - - [d] \"GET /" + String(repeating: "a", count: 60) + " HTTP/1.0\" 200 10\n"
        let path = Fixture.write(Array((good + "b\n" + evil + good).utf8), to: dir + "/evil")
        for threads in ["1", "2"] {
            for arguments in [["grep", "-c", "(a|aa)+[bc]"], ["count", "--grep", "(a|aa)+[bc]"],
                              ["count", "--where", "request~^/(a|aa)+[bc]"]] {
                let result = sluice(arguments + [path, "--threads", threads])
                XCTAssertEqual(result.status, 2, "\(arguments)")
                XCTAssertTrue(result.stderr.hasPrefix("\(path):3: regex gave up: match limit exceeded"), result.stderr)
            }
        }
        // Every line given up on is counted (the others were silently no match), the first named, on every schedule.
        let three = Fixture.write(Array((evil + good + evil + evil).utf8), to: dir + "/three")
        for arguments in [["--threads", "1"], ["--threads", "2", "--chunk-size", "1"]] {
            let result = sluice(["grep", "-c", "(a|aa)+[bc]", three] + arguments)
            XCTAssertEqual(result.stderr, "\(three):1: regex gave up: match limit exceeded (on 3 lines, each counted as no match; this is the first)\n")
        }
    }

    func testGrepExitStatusAndCounts() {
        let dir = Fixture.directory()
        let a = Fixture.write(Array((good + "x ply-1.gz\n").utf8), to: dir + "/a")
        let b = Fixture.write(Fixture.gzip(Array("nothing\n".utf8)), to: dir + "/b")
        XCTAssertEqual(sluice(["grep", "ply-.*\\.gz", a]).stdout, "x ply-1.gz\n")
        XCTAssertEqual(sluice(["grep", "zzz", a]).status, 1)
        let counts = sluice(["grep", "-c", "o", a, b])
        XCTAssertEqual(counts.stdout, "\(b):1\n")
        XCTAssertEqual(sluice(["grep", "-c", "GET", a]).stdout, "1\n")
        XCTAssertEqual(sluice(["grep", "-c", "GET", a, dir + "/none"]).status, 2)
        // As grep: no count for a single input that could not be read at all.
        XCTAssertEqual(sluice(["grep", "-c", "GET", dir + "/none"]).stdout, "")
        // Standard input is named <stdin>, as rg names it, in counts and in messages.
        XCTAssertEqual(sluice(["grep", "-c", "o", b, "-"], stdin: Array("one\n".utf8)).stdout, "\(b):1\n<stdin>:1\n")
        XCTAssertEqual(sluice(["sum", "bytes"], stdin: Array(Fixture.gzip(Array("x\n".utf8)).dropLast(9))).stderr.prefix(9), "<stdin>: ")
    }

    /// Output that cannot be written is an error that says so (it exited 2 without a word); a reader that went
    /// away (EPIPE, where SIGPIPE is ignored) ends the run quietly with status 0, as rg does.
    func testOutputWriteFailureIsReported() {
        let dir = Fixture.directory()
        let log = Fixture.write(Array(String(repeating: good, count: 10_000).utf8), to: dir + "/a.log")
        let err = dir + "/err"
        for arguments in ["grep . '\(log)'", "count --by host '\(log)'", "sum bytes '\(log)'"] {
            let status = system("'\(Fixture.binary)' \(arguments) > /dev/full 2> '\(err)'")
            XCTAssertEqual(status >> 8, 2, arguments)
            XCTAssertEqual(String(decoding: Fixture.read(err), as: UTF8.self),
                           "standard output: write failed: No space left on device\n", arguments)
        }
        // A closed standard output is not taken by a file the run opens: writing fails and says so.
        XCTAssertEqual(system("'\(Fixture.binary)' grep . '\(log)' '\(log)' >&- 2> '\(err)'") >> 8, 2)
        XCTAssertEqual(String(decoding: Fixture.read(err), as: UTF8.self), "standard output: write failed: Bad file descriptor\n")
        let piped = system("(trap '' PIPE; '\(Fixture.binary)' grep . '\(log)' '\(log)'; echo $? > '\(err)') | head -c 1 > /dev/null")
        XCTAssertEqual(piped, 0)
        XCTAssertEqual(String(decoding: Fixture.read(err), as: UTF8.self), "0\n")
    }

    /// A file appended to while it is read, a line written in two pieces: the window that reaches the end of the
    /// file in the middle of that line either waits for the rest (the file grew) or reads it as the last line,
    /// and reading ends there; the rest was read as a line of its own (`:59 -0600] "GET /live ..."`).
    /// Every run prints the 5 whole copies written before the writer started, and at most the copies the writer
    /// had finished by the end of the run plus the one it was writing (the log itself has no matching line).
    func testALineBeingWrittenIsNeverSplitInTwo() throws {
        let dir = Fixture.directory()
        let base = Fixture.log(size: 8 << 20, seed: 4)
        let baseText = String(decoding: base, as: UTF8.self)
        XCTAssertFalse(baseText.contains("/live ") || baseText.hasPrefix("9.9.9.9 ") || baseText.contains("\n9.9.9.9 "))
        let line = Array("9.9.9.9 - - [24/Feb/2008:00:08:59 -0600] \"GET /live HTTP/1.1\" 200 777\n".utf8)
        let before = 5
        let path = Fixture.write(base + Array(repeatElement(line, count: before).joined()), to: dir + "/live.log")
        let writing = StopFlag()
        let written = LineCounter()
        let writer = Thread {
            let fd = open(path, O_WRONLY | O_APPEND)
            defer { close(fd) }
            while !writing.isSet {
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, 30) }
                usleep(300)
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress! + 30, line.count - 30) }
                written.add()
                usleep(300)
            }
        }
        writer.start()
        defer { writing.set() }
        let whole = String(decoding: line.dropLast(), as: UTF8.self)
        for _ in 0..<6 {
            let printed = sluice(["grep", "^9\\.9\\.9\\.9 |/live ", path]).stdout.split(separator: "\n").map(String.init)
            let finished = written.value
            XCTAssertGreaterThanOrEqual(printed.count, before)
            XCTAssertLessThanOrEqual(printed.count, before + finished + 1)
            for (index, text) in printed.enumerated() where text != whole {
                XCTAssertTrue(index == printed.count - 1 && whole.hasPrefix(text), "a piece of a line: \(text)")
            }
        }
    }

    /// A directory nested 1,800 deep is walked with a 1 MiB stack (the recursive walk crashed there).
    func testADeepTreeIsWalkedWithASmallStack() {
        let dir = Fixture.directory()
        var path = dir + "/deep"
        for _ in 0..<1800 { path += "/d" }
        XCTAssertEqual(system("mkdir -p '\(path)'"), 0)
        Fixture.write(Array("x\n".utf8), to: path + "/a.log")
        Fixture.write(Array("y\n".utf8), to: dir + "/deep/b.log")
        let out = dir + "/out"
        XCTAssertEqual(system("ulimit -s 1024; '\(Fixture.binary)' grep -c . '\(dir)/deep' > '\(out)'") >> 8, 0)
        XCTAssertEqual(String(decoding: Fixture.read(out), as: UTF8.self), "\(dir)/deep/b.log:1\n\(path)/a.log:1\n")
    }

    /// A file larger than it was listed (a /proc file says 0 bytes) is read on as a stream in blocks, not whole.
    func testAFileLargerThanListedIsReadInBlocks() throws {
        let proc = "/proc/kallsyms"
        guard let file = fopen(proc, "r") else { throw XCTSkip("no \(proc)") }
        var lines = 0, bytes = 0
        while true {
            let c = fgetc(file)
            if c == EOF { break }
            bytes += 1
            if c == 10 { lines += 1 }
        }
        fclose(file)
        guard bytes > 2 << 20 else { throw XCTSkip("\(proc) is small here") }
        XCTAssertEqual(sluice(["grep", "-c", "", proc]).stdout, "\(lines)\n")
    }

    /// A mapped page past a shrunken end of file reads as zeros instead of killing the process.
    func testSigbusGuardPatchesFaultsInRegisteredMappings() {
        CSysGuard_install()
        let dir = Fixture.directory()
        let path = Fixture.write([UInt8](repeating: 65, count: 3 * 4096), to: dir + "/shrinks")
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        let mapped = mmap(nil, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0)!
        defer { munmap(mapped, 3 * 4096) }
        let slot = CSysGuard_register(mapped, 3 * 4096)
        defer { CSysGuard_unregister(slot) }
        XCTAssertEqual(mapped.load(fromByteOffset: 2 * 4096, as: UInt8.self), 65)
        ftruncate(fd, 100)
        // Dropping the page from this mapping makes the next access fault past the end of the file.
        madvise(mapped, 3 * 4096, MADV_DONTNEED)
        XCTAssertEqual(mapped.load(fromByteOffset: 2 * 4096 + 5, as: UInt8.self), 0)
        XCTAssertEqual(CSysGuard_faults(slot), 1)
    }

    /// A host program's own SIGBUS handler still runs, once an engine has run, for a fault outside Sluice's
    /// mappings: the guard hands it on rather than restoring the default action, and as the kernel would, so a
    /// handler installed with SA_RESETHAND runs once and the fault then kills the process (it ran again and
    /// again). Checked in fresh test processes (this test, run again with `SLUICE_SIGBUS_PROBE` set), where no
    /// engine ran before the host's handler was set.
    func testSigbusOutsideSluiceMappingsReachesTheHostHandler() throws {
        if let dir = getenv("SLUICE_SIGBUS_PROBE").map({ String(cString: $0) }) {
            Self.sigbusProbe(dir, resetHandler: getenv("SLUICE_SIGBUS_RESETHAND") != nil)
        }
        for resetHandler in [false, true] {
            let dir = Fixture.directory()
            var environment = ProcessInfo.processInfo.environment
            environment["SLUICE_SIGBUS_PROBE"] = dir
            if resetHandler { environment["SLUICE_SIGBUS_RESETHAND"] = "1" }
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            probe.arguments = ["SluiceTests.ErrorTests/testSigbusOutsideSluiceMappingsReachesTheHostHandler"]
            probe.environment = environment
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            try probe.run()
            probe.waitUntilExit()
            if resetHandler {
                // Its handler ran once (it exits 99 on a fourth call), then the default action: death by SIGBUS.
                XCTAssertEqual(probe.terminationReason, .uncaughtSignal, "status \(probe.terminationStatus)")
                XCTAssertEqual(probe.terminationStatus, SIGBUS)
                XCTAssertEqual(Fixture.read(dir + "/calls"), Array("1".utf8))
            } else {
                // 42 from the host's handler; a SIGBUS death when the guard restored the default instead.
                XCTAssertEqual(probe.terminationReason, .exit)
                XCTAssertEqual(probe.terminationStatus, 42)
            }
        }
    }

    /// The probe process: sets its own SIGBUS handler, runs an engine, then faults in a mapping of its own; exits
    /// 1 if the fault never came. The handler exits 42, or with `resetHandler` (SA_RESETHAND) records its calls
    /// and returns, exiting 99 on a fourth call.
    private static func sigbusProbe(_ dir: String, resetHandler: Bool) -> Never {
        var action = sigaction()
        if resetHandler {
            sigbusProbeCallsFile = open(dir + "/calls", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            action.__sigaction_handler.sa_sigaction = { _, _, _ in
                sigbusProbeCalls += 1
                if sigbusProbeCalls > 3 { _exit(99) }
                var digit = UInt8(48 + sigbusProbeCalls)
                _ = pwrite(sigbusProbeCallsFile, &digit, 1, 0)
            }
            action.sa_flags = SA_SIGINFO | Int32(bitPattern: UInt32(SA_RESETHAND))
        } else {
            action.__sigaction_handler.sa_sigaction = { _, _, _ in _exit(42) }
            action.sa_flags = SA_SIGINFO
        }
        sigaction(SIGBUS, &action, nil)
        let log = Fixture.write(Array("1.1.1.1 - - [d] \"GET /a HTTP/1.0\" 200 10\n".utf8), to: dir + "/log")
        _ = try? Engine(query: Query(operation: .count(by: nil))).run([.file(log)])
        let path = Fixture.write([UInt8](repeating: 65, count: 2 * 4096), to: dir + "/host")
        let fd = open(path, O_RDWR)
        let mapped = mmap(nil, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0)!
        ftruncate(fd, 0)
        _ = mapped.load(fromByteOffset: 4096, as: UInt8.self)
        _exit(1)
    }

    /// A file that shrinks while a window is being read: what was read past its new end (zeros: faulting pages
    /// through the SIGBUS guard, the rest of the last page without a fault) is not merged, so no line of zeros
    /// is counted (it was, one per piece, and grep printed such lines), and the error is reported. A file that
    /// shrinks below what earlier windows read is reported too (it ended the run silently).
    func testAFileThatShrinksWhileReadCountsOnlyItsRealLines() throws {
        final class Truncating: RecordSink {
            let path: String, size: Int
            var seen = 0
            init(_ path: String, _ size: Int) { (self.path, self.size) = (path, size) }
            func accept(_ record: Record) -> Bool {
                seen += 1
                if seen == 600 { truncate(path, off_t(size)) }
                return true
            }
            func merge(_ other: RecordSink) {}
        }
        let dir = Fixture.directory()
        let line = Array("0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefg\n".utf8)
        let bytes = Array(repeatElement(line, count: 4096).joined())
        for (newSize, window) in [(100_000, 1 << 20), (102_400, 1 << 20), (150_001, 1 << 20), (20_000, 16 << 10)] {
            let path = Fixture.write(bytes, to: dir + "/shrinks")
            var query = Query(format: .fields, operation: .count(by: nil))
            query.custom = CustomAggregate { Truncating(path, newSize) }
            let options = ExecutionOptions(threads: 1, chunkSize: 8192, windowSize: window, smallFileLimit: 0)
            let report = try Engine(query: query, options: options).run([.file(path)])
            XCTAssertEqual(report.inputs[0].error?.code, .fileShrank, "\(newSize)")
            XCTAssertEqual(report.inputs[0].error?.offset, newSize)
            // Real lines only: those the file now holds, or those read before it shrank below them.
            XCTAssertLessThanOrEqual(report.inputs[0].lines, max(newSize / line.count, 600), "\(newSize)")
            XCTAssertGreaterThanOrEqual(report.inputs[0].lines, min(600, newSize / line.count) - 8192 / line.count)
        }
    }

    /// A file a directory walk found that is a FIFO by the time it is read (it hung the run, waiting for a writer)
    /// is an error naming it; the other files are still read, and a FIFO named directly is still read as a stream.
    func testAWalkedFileReplacedByAFIFOIsAnErrorNotAWait() throws {
        let dir = Fixture.directory()
        Fixture.write(Array(good.utf8), to: dir + "/a.log")
        let big = Array(repeatElement(Array(good.utf8), count: 40_000).joined())
        Fixture.write(big, to: dir + "/b.log")
        Fixture.write(Array(good.utf8), to: dir + "/c.log")
        let (inputs, errors) = InputFinder.expand([dir])
        XCTAssertEqual(errors, [])
        XCTAssertEqual(inputs, [.foundFile(dir + "/a.log"), .foundFile(dir + "/b.log"), .foundFile(dir + "/c.log")])
        for replaced in ["/a.log", "/b.log"] {  // a small file (read whole) and a large one (mapped)
            unlink(dir + replaced)
            XCTAssertEqual(mkfifo(dir + replaced, 0o644), 0)
            let report = try Engine(query: Query(operation: .count(by: nil))).run(inputs)
            XCTAssertEqual(report.errors.map(\.description), ["\(dir + replaced): no longer a regular file"])
            XCTAssertEqual(report.answer, .total(replaced == "/a.log" ? 40_001 : 2))
            unlink(dir + replaced)
            Fixture.write(replaced == "/a.log" ? Array(good.utf8) : big, to: dir + replaced)
        }
        // Named directly, a FIFO is read once a writer comes.
        let fifo = dir + "/named"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let twoLines = Array((good + good).utf8)
        let writer = Thread { Fixture.write(twoLines, to: fifo) }
        writer.start()
        XCTAssertEqual(try Engine(query: Query(operation: .count(by: nil))).run([.file(fifo)]).answer, .total(2))
    }

    /// A file truncated while sluice reads it: an error or a complete answer, never a crash. When the run saw the
    /// shrink (exit 2), its one error line names the file and the size it shrank to (4096, where it stays), and
    /// so does its offset; when it did not (exit 0), it printed an answer.
    func testFileTruncatedDuringARunNeverCrashes() {
        let dir = Fixture.directory()
        var bytes = [UInt8]()
        let line = Array(good.utf8)
        while bytes.count < 64 << 20 { bytes += line }
        let path = Fixture.write(bytes, to: dir + "/rotating")
        let outPath = dir + "/out", errPath = dir + "/err"
        for delay in [20_000, 80_000, 200_000] {
            Fixture.write(bytes, to: path)
            var pid: pid_t = 0
            let arguments: [String] = [Fixture.binary, "sum", "bytes", "--threads", "1", "--chunk-size", "64K", path]
            let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            XCTAssertEqual(posix_spawn(&pid, Fixture.binary, &actions, nil, argv, environ), 0)
            posix_spawn_file_actions_destroy(&actions)
            usleep(useconds_t(delay))
            truncate(path, 4096)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            XCTAssertEqual(status & 0x7f, 0, "killed by signal \(status & 0x7f)")
            let exit = (status >> 8) & 0xff
            XCTAssertTrue(exit == 0 || exit == 2, "exit \(exit)")
            let stdout = String(decoding: Fixture.read(outPath), as: UTF8.self)
            let stderr = String(decoding: Fixture.read(errPath), as: UTF8.self)
            XCTAssertTrue(stdout.hasPrefix("Total "), "delay \(delay): \(stdout)")
            if exit == 2 {
                XCTAssertEqual(stderr, "\(path): file shrank to 4096 bytes while being read (truncated or rotated) (at byte 4096)\n",
                               "delay \(delay)")
            }
        }
    }
}

extension ErrorTests {
    /// `--strict` stops at the first malformed line: select prints exactly the records before it, whatever the
    /// schedule or reading path (it printed the rest of that line's chunk too), and a strict run over a pipe that
    /// stops while decoded blocks are still queued ends with the error instead of a trap in libdispatch.
    func testStrictStopsAtTheFirstMalformedLineOnEveryPath() throws {
        let dir = Fixture.directory()
        var lines = (0..<3000).map { "10.0.0.\($0 % 200) - - [d] \"GET /\($0) HTTP/1.0\" 200 \($0)" }
        lines[1500] = "not a record"
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        let path = Fixture.write(text, to: dir + "/log")
        let expected = Array((0..<1500).map { "10.0.0.\($0 % 200)\n" }.joined().utf8)
        for options in Fixture.schedules {
            let query = Query(operation: .select(["host"], json: false), strict: true)
            var output = [UInt8]()
            let engine = try Engine(query: query, options: options)
            XCTAssertThrowsError(try engine.run([.file(path)]) { output.append(contentsOf: $0) }) { error in
                XCTAssertEqual((error as? SluiceError)?.line, 1501)
            }
            XCTAssertTrue(output == expected, "\(output.count) bytes, expected \(expected.count)")
        }
        // An engine used again after a strict failure answers from nothing (it added the failed run's records).
        let good = Fixture.write(Array((lines[0..<5].joined(separator: "\n") + "\n").utf8), to: dir + "/good")
        for operation in [Operation.count(by: nil), .sum("bytes"), .distinct("host", withCounts: true)] {
            let engine = try Engine(query: Query(operation: operation, strict: true), options: ExecutionOptions(threads: 2))
            XCTAssertThrowsError(try engine.run([.file(path)]))
            let again = try engine.run([.file(good)]).answer
            XCTAssertEqual(again, try Engine(query: Query(operation: operation)).run([.file(good)]).answer)
        }
        // Through a real pipe (the test helper's standard input is a file, which is mapped).
        let big = Fixture.write(Array("not a record\n".utf8) + Fixture.log(size: 3_000_000, seed: 5), to: dir + "/big")
        func piped(_ file: String, _ arguments: String) -> (out: [UInt8], err: String, status: Int32) {
            let out = dir + "/out", err = dir + "/err"
            let status = system("cat '\(file)' | '\(Fixture.binary)' \(arguments) > '\(out)' 2> '\(err)'")
            return (Fixture.read(out), String(decoding: Fixture.read(err), as: UTF8.self), status)
        }
        for threads in ["1", "2"] {
            for _ in 0..<5 {
                let result = piped(big, "count --strict --threads \(threads)")
                XCTAssertEqual(result.err, "<stdin>:1: malformed line\n")
                XCTAssertEqual(result.status >> 8, 2)
            }
            XCTAssertTrue(piped(path, "select host --strict --threads \(threads)").out == expected)
        }
    }
}

extension ErrorTests {
    /// A strict run that stops at a malformed line reports that line alone, not damage further on in the same
    /// compressed input: the decoder reached the damage or not depending on the schedule, so it was reported on
    /// some runs (with the byte count of wherever the run had stopped), on every run of a whole small file, and
    /// never after block-parallel bzip2 had stopped.
    func testStrictStopBeforeCompressedDamageReportsOnlyTheMalformedLine() throws {
        let dir = Fixture.directory()
        for (name, size) in [("big", 3_000_000), ("small", 300_000)] {
            // bzip2 in 100 kB blocks, so that the cut damages the last block and the first still decodes.
            let text = Array("not a record\n".utf8) + Fixture.log(size: size, seed: 9)
            for (suffix, packed) in [("gz", Fixture.gzip(text)), ("bz2", Fixture.bzip2(text, level: 1))] {
                let path = Fixture.write(Array(packed.dropLast(500)), to: "\(dir)/\(name).\(suffix)")
                for threads in ["1", "2", "3"] {
                    let named = sluice(["count", "--strict", "--threads", threads, path])
                    XCTAssertEqual(named.stderr, "\(path):1: malformed line\n", "\(path), \(threads) threads")
                    XCTAssertEqual(named.status, 2)
                    for _ in 0..<3 {
                        let err = dir + "/err"
                        let status = system("cat '\(path)' | '\(Fixture.binary)' count --strict --threads \(threads) 2> '\(err)' > /dev/null")
                        XCTAssertEqual(String(decoding: Fixture.read(err), as: UTF8.self), "<stdin>:1: malformed line\n",
                                       "\(path) piped, \(threads) threads")
                        XCTAssertEqual(status >> 8, 2)
                    }
                }
            }
        }
    }
}

/// How many lines a writer thread has finished.
private final class LineCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}

/// A flag one thread sets and another polls.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// The SIGBUS probe's handler calls, and the file it records them in (a signal handler may only touch globals).
nonisolated(unsafe) private var sigbusProbeCalls = 0
nonisolated(unsafe) private var sigbusProbeCallsFile: Int32 = -1
