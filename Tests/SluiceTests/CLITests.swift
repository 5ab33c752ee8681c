import XCTest
import Foundation
@testable import Sluice

/// The CLI's printed forms: plain text and `--json` for every command, parsed back to check them.
final class CLITests: XCTestCase {
    static let log = """
    1.1.1.1 - - [d] "GET /a HTTP/1.0" 200 10
    2.2.2.2 - - [d] "GET /b\\"q HTTP/1.0" 404 -
    1.1.1.1 - - [d] "GET /c HTTP/1.0" 200 30 "http://r/" "Agent \\"X\\""
    junk

    """

    var path = ""

    override func setUp() {
        path = Fixture.write(Array(Self.log.utf8), to: Fixture.directory() + "/log")
    }

    func json(_ arguments: [String]) throws -> Any {
        let result = sluice(arguments + ["--json", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONSerialization.jsonObject(with: Data(result.stdoutBytes), options: [.fragmentsAllowed])
    }

    /// A pipe on standard output is grown to 1 MiB, so that grep's output goes in large pieces (3.8 s against
    /// 1.4 s for makebig-2000 into `cat`); the output itself is unchanged.
    func testStandardOutputPipeIsGrown() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_addclose(&actions, ends[0])
        let words: [String] = [Fixture.binary, "grep", "-c", "GET", path]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        XCTAssertEqual(posix_spawn(&pid, Fixture.binary, &actions, nil, argv, environ), 0)
        posix_spawn_file_actions_destroy(&actions)
        close(ends[1])
        var output = [UInt8](repeating: 0, count: 64)
        let got = read(ends[0], &output, output.count)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        XCTAssertEqual(String(decoding: output[..<max(0, got)], as: UTF8.self), "3\n")
        XCTAssertEqual(fcntl(ends[0], 1032 /* F_GETPIPE_SZ */), 1 << 20)
        close(ends[0])
    }

    func testPlainText() {
        XCTAssertEqual(sluice(["sum", "bytes", path]).stdout, "Total 40\n")
        XCTAssertEqual(sluice(["count", path]).stdout, "Total 3\n")
        XCTAssertEqual(sluice(["count", "--by", "host", path]).stdout, "2 1.1.1.1\n1 2.2.2.2\n")
        XCTAssertEqual(sluice(["distinct", "status", "--count", path]).stdout, "2 200\n1 404\n")
        XCTAssertEqual(sluice(["max", "bytes", "--with", "request", path]).stdout, "30 /c\n")
        XCTAssertEqual(sluice(["min", "bytes", "--with", "request", path]).stdout, "0 /b\\\"q\n")
        XCTAssertEqual(sluice(["top", "request", "-k", "2", path]).stdout, "1 /a\n1 /b\\\"q\n")
        XCTAssertEqual(sluice(["top", "request", "-k1", path]).stdout, "1 /a\n")
        // A value that starts with `-` is the option's, as grep and rg take it ("Missing value for '--grep'").
        XCTAssertEqual(sluice(["count", "--grep", "- \\[d", path]).stdout, "Total 3\n")
        XCTAssertEqual(sluice(["count", "--grep", "-http", path]).stdout, "Total 0\n")
        XCTAssertEqual(sluice(["count", "--where", "-bytes>0", path]).stderr, "-bytes: unknown field (known: agent, bytes, datetime, host, ident, method, path, proto, protocol, referer, request, status, time, user, line)\n")
        XCTAssertEqual(sluice(["select", "host", "agent", path]).stdout, "1.1.1.1 \n2.2.2.2 \n1.1.1.1 Agent \\\"X\\\"\n")
        XCTAssertEqual(sluice(["select", "$2", "--format", "fields", path]).stdout, "-\n-\n-\n\n")
        let stderr = sluice(["count", path]).stderr
        XCTAssertEqual(stderr, "1 malformed line skipped (first at \(path):4)\n")
    }

    /// `--` ends select's field list: a file named like a field after it is read (it was taken for a field, and
    /// standard input was read instead).
    /// `--format fields` splits a line only as far as the query reads (the highest `$N` it names): fields past
    /// a line's last read as empty, and a line with more fields than the query reads is still one record.
    func testFieldsAreSplitAsFarAsTheQueryReads() throws {
        let path = Fixture.write(Array("a 1 x\nb 2\nc 3 y z\n  d   4  \ne\n\nf 5 x w v u\n".utf8),
                                 to: Fixture.directory() + "/fields")
        XCTAssertEqual(sluice(["select", "$3", "$1", "--format", "fields", path]).stdout, "x a\n b\ny c\n d\n e\n \nx f\n")
        XCTAssertEqual(sluice(["count", "--by", "$3", "--format", "fields", path]).stdout, "4 \n2 x\n1 y\n")
        XCTAssertEqual(sluice(["select", "$1", "--where", "$4=z", "--format", "fields", path]).stdout, "c\n")
        XCTAssertEqual(sluice(["count", "--where", "$6=u", "--format", "fields", path]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["select", "line", "--where", "$3=x", "--format", "fields", path]).stdout,
                       "a 1 x\nf 5 x w v u\n")
    }

    func testSelectFieldsEndAtDoubleDash() throws {
        let dir = Fixture.directory()
        Fixture.write(Array("9.9.9.9 - - [d] \"GET /z HTTP/1.0\" 200 5\n".utf8), to: dir + "/status")
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        XCTAssertEqual(sluice(["select", "host", "--", "status"]).stdout, "9.9.9.9\n")
        XCTAssertEqual(sluice(["select", "host", "request", "--", "status", "status"]).stdout, "9.9.9.9 /z\n9.9.9.9 /z\n")
        let none = sluice(["select", "--", "status"])
        XCTAssertEqual(none.stderr, "select: needs at least one field before --\n")
        XCTAssertEqual(none.status, 2)
    }

    /// Negative integers are read as negative, as the tutorial's int() reads them: in a sum, in max and min
    /// (which compare them as numbers), and on both sides of a --where comparison. Totals worked out by hand.
    func testNegativeIntegers() {
        let input = Array("a -7\nb 12\nc -100\n".utf8)
        XCTAssertEqual(sluice(["sum", "$2", "--format", "fields"], stdin: input).stdout, "Total -95\n")  // -7 + 12 - 100
        XCTAssertEqual(sluice(["max", "$2", "--with", "$1", "--format", "fields"], stdin: input).stdout, "12 b\n")
        XCTAssertEqual(sluice(["min", "$2", "--with", "$1", "--format", "fields"], stdin: input).stdout, "-100 c\n")
        XCTAssertEqual(sluice(["select", "$1", "--format", "fields", "--where", "$2<0"], stdin: input).stdout, "a\nc\n")
        XCTAssertEqual(sluice(["count", "--format", "fields", "--where", "$2>-50"], stdin: input).stdout, "Total 2\n")
        XCTAssertEqual(sluice(["sum", "$2", "--format", "fields", "--where", "$2<=-7"], stdin: input).stdout, "Total -107\n")
        // In the common format too: bytes -3 and +5 and 2 add to 4.
        let log = Array("""
            1.1.1.1 - - [d] "GET /a HTTP/1.0" 200 -3
            1.1.1.1 - - [d] "GET /b HTTP/1.0" 200 +5
            1.1.1.1 - - [d] "GET /c HTTP/1.0" 200 2

            """.utf8)
        XCTAssertEqual(sluice(["sum", "bytes"], stdin: log).stdout, "Total 4\n")
        XCTAssertEqual(sluice(["min", "bytes", "--with", "request"], stdin: log).stdout, "-3 /a\n")
    }

    /// `--version` prints the name and version on standard output and exits 0, as rg's does.
    func testVersion() {
        let result = sluice(["--version"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("sluice "), result.stdout)
        XCTAssertEqual(result.stderr, "")
    }

    func testJSON() throws {
        let sum = try json(["sum", "bytes"]) as? [String: Any]
        XCTAssertEqual(sum?["sum"] as? Int, 40)
        XCTAssertEqual(sum?["field"] as? String, "bytes")
        XCTAssertEqual((try json(["count"]) as? [String: Any])?["count"] as? Int, 3)
        let byHost = try json(["count", "--by", "host"]) as? [[String: Any]]
        XCTAssertEqual(byHost?.first?["value"] as? String, "1.1.1.1")
        XCTAssertEqual(byHost?.first?["count"] as? Int, 2)
        XCTAssertEqual(try json(["distinct", "host"]) as? [String], ["1.1.1.1", "2.2.2.2"])
        let max = try json(["max", "bytes", "--with", "request"]) as? [String: Any]
        XCTAssertEqual(max?["value"] as? Int, 30)
        XCTAssertEqual(max?["with"] as? String, "/c")
        XCTAssertEqual((try json(["top", "host", "-k", "1"]) as? [[String: Any]])?.count, 1)
        let select = sluice(["select", "request", "status", "--json", path])
        let rows = select.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[1]?["request"] as? String, #"/b\"q"#)
        XCTAssertEqual(rows[1]?["status"] as? Int, 404)
        // A field named twice is one key in JSON (it was written twice), and twice in text.
        XCTAssertEqual(sluice(["select", "host", "status", "host", "--json", path]).stdout.split(separator: "\n").first,
                       #"{"host":"1.1.1.1","status":200}"#)
        XCTAssertEqual(sluice(["select", "host", "host", path]).stdout.split(separator: "\n").first, "1.1.1.1 1.1.1.1")
        let grep = sluice(["grep", "--json", "Agent", path])
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(grep.stdoutBytes)) as? [String: String],
                       ["line": #"1.1.1.1 - - [d] "GET /c HTTP/1.0" 200 30 "http://r/" "Agent \"X\"""#])
    }

    /// Logs need not be UTF-8 but JSON must be: every `--json` output parses as strict UTF-8 JSON, with U+FFFD
    /// where the bytes were ill-formed and well-formed characters kept.
    func testJSONOutputIsUTF8WhateverTheLog() throws {
        let request: [UInt8] = Array("/caf".utf8) + [0xC3, 0xA9, 0xFF, 0xFE] + Array("-".utf8) + [0xE2, 0x82]
        let line = Array("9.9.9.9 - - [d] \"GET ".utf8) + request + Array(" HTTP/1.0\" 200 5\n".utf8)
        let file = Fixture.write(line, to: Fixture.directory() + "/bytes.log")
        let expected = String(decoding: request, as: UTF8.self)
        XCTAssertEqual(expected, "/café\u{FFFD}\u{FFFD}-\u{FFFD}")
        for arguments in [["select", "request"], ["distinct", "request"], ["count", "--by", "request"],
                          ["max", "bytes", "--with", "request"], ["grep", "GET"]] {
            let result = sluice(arguments + ["--json", file])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertNotNil(String(validatingUTF8: result.stdoutBytes.map { CChar(bitPattern: $0) } + [0]), "\(arguments)")
            let text = String(decoding: result.stdoutBytes, as: UTF8.self)
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            let found: String?
            switch parsed {
            case let object as [String: Any]: found = (object["request"] ?? object["with"] ?? object["line"]) as? String
            case let list as [String]: found = list.first
            case let list as [[String: Any]]: found = list.first?["value"] as? String
            default: found = nil
            }
            XCTAssertTrue(found?.contains(expected) == true, "\(arguments): \(text)")
        }
    }

    /// JSON types follow the field, not the value: status and bytes are numbers in every command (top and
    /// distinct wrote them as strings), every other field a string even when it looks like a number (max wrote
    /// `+5` and `007` unquoted, and cut a value at a NUL). Characters U+10FE80...U+10FEFF, which `PathBytes`
    /// uses for path bytes that are not UTF-8, stay characters (they became raw bytes: invalid UTF-8).
    func testJSONTypesFollowTheFieldAndEveryCharacterSurvives() throws {
        let dir = Fixture.directory()
        let high = "\u{10FEFF}", high2 = "\u{10FE80}"
        let log = high + " - - [d] \"GET /" + high2 + " HTTP/1.0\" 0404 -\n007 - - [d] \"GET /x HTTP/1.0\" 200 12\n"
        let file = Fixture.write(Array(log.utf8), to: dir + "/high.log")
        func parsed(_ arguments: [String], _ path: String = file) throws -> Any {
            let result = sluice(arguments + ["--json", path])
            XCTAssertEqual(result.status, 0, result.stderr)
            let text = try XCTUnwrap(String(validatingUTF8: result.stdoutBytes.map { CChar(bitPattern: $0) } + [0]),
                                     "\(arguments): not UTF-8")
            return try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        }
        XCTAssertEqual(try parsed(["distinct", "host"]) as? [String], ["007", high])
        XCTAssertEqual(try parsed(["distinct", "status"]) as? [Int], [200, 404])
        XCTAssertEqual((try parsed(["top", "bytes"]) as? [[String: Any]])?.compactMap { $0["value"] as? Int }, [0, 12])
        XCTAssertEqual((try parsed(["count", "--by", "request"]) as? [[String: Any]])?.compactMap { $0["value"] as? String },
                       ["/x", "/" + high2])
        let max = try parsed(["max", "host", "--with", "status"]) as? [String: Any]
        XCTAssertEqual(max?["value"] as? String, high)
        XCTAssertEqual(max?["with"] as? Int, 404)
        let min = try parsed(["min", "host", "--with", "bytes"]) as? [String: Any]
        XCTAssertEqual(min?["value"] as? String, "007", "a text field keeps its bytes")
        XCTAssertEqual(min?["with"] as? Int, 12)
        XCTAssertEqual(sluice(["min", "host", file]).stdout, "007\n")
        let named = Fixture.write(Array(log.utf8), to: dir + "/x" + high + ".log")
        let counted = try parsed(["grep", "-c", "GET"], dir) as? [String: Any]
        XCTAssertEqual((counted?["inputs"] as? [[String: Any]])?.compactMap { $0["path"] as? String }, [file, named])
        for (line, expected) in [("a +5\u{0}x\n", "+5\u{0}x"), ("a 007\u{0}\n", "007\u{0}"), ("a 12\u{0}34\n", "12\u{0}34")] {
            let path = Fixture.write(Array(line.utf8), to: dir + "/nul")
            let value = try parsed(["max", "$2", "--format", "fields"], path) as? [String: Any]
            XCTAssertEqual(value?["value"] as? String, expected)
        }
    }

    /// A name several regex groups share (`(?J)`) reads from the first of them that is set, as PCRE2's lookup
    /// does (it read the last group, unset on GET lines); `select` reports a bad --format as the other commands do
    /// (it exited 1, or blamed the fields); `~` on status and bytes searches the number every command shows.
    func testRegexSharedNamesSelectFormatErrorsAndNumericSearches() {
        let dir = Fixture.directory()
        let methods = Fixture.write(Array("GET /a 200\nPOST /b 500\n".utf8), to: dir + "/m.txt")
        let shared = "regex:(?J)^(?:(?<m>GET)|(?<m>POST)) "
        XCTAssertEqual(sluice(["select", "m", "--format", shared, methods]).stdout, "GET\nPOST\n")
        XCTAssertEqual(sluice(["count", "--where", "m=GET", "--format", shared, methods]).stdout, "Total 1\n")
        for (format, message) in [("nope", "nope: unknown format (expected common, combined, auto, fields or regex:PCRE)\n"),
                                  ("regex:(?<host>\\S+", "(?<host>\\S+: invalid regex: missing closing parenthesis at offset 11\n"),
                                  ("regex:(a)", "(a): regex format needs named groups such as (?<host>\\S+)\n"),
                                  // `line` is the whole line in every format: such a group could never be read.
                                  ("regex:(?<line>\\S+)", "(?<line>\\S+): the group name 'line' is taken by the whole line; rename the group\n")] {
            let result = sluice(["select", "host", "--format", format, methods])
            XCTAssertEqual(result.status, 2, format)
            XCTAssertEqual(result.stderr, message)
        }
        let log = Fixture.write(Array("h - - [d] \"GET /a HTTP/1.0\" 0200 -\nh - - [d] \"GET /b HTTP/1.0\" 404 0\n".utf8),
                                to: dir + "/numbers.log")
        XCTAssertEqual(sluice(["select", "request", "--where", "status~^200$", log]).stdout, "/a\n")
        XCTAssertEqual(sluice(["count", "--where", "bytes~^0$", log]).stdout, "Total 2\n")
        XCTAssertEqual(sluice(["count", "--where", "bytes!~-", log]).stdout, "Total 2\n")
        // awk's and Perl's spellings: == for =, =~ for ~ (it was "unknown operator '=~'").
        XCTAssertEqual(sluice(["count", "--where", "request=~^/a", log]).stdout, "Total 1\n")
        XCTAssertEqual(sluice(["count", "--where", "status==404", log]).stdout, "Total 1\n")
    }

    func testStandardInputAndDash() {
        let bytes = Array(Self.log.utf8)
        XCTAssertEqual(sluice(["sum", "bytes"], stdin: bytes).stdout, "Total 40\n")
        XCTAssertEqual(sluice(["sum", "bytes", "-", path], stdin: Fixture.gzip(bytes)).stdout, "Total 80\n")
    }

    /// Standard input that is a regular file (`< file`) is mapped from its current offset, which is left at the
    /// end; through a pipe the same bytes give the same output, errors and line numbers.
    func testStandardInputFileFromItsOffsetAndThroughAPipe() throws {
        var log = Fixture.log(size: 3_000_000, format: .combined, seed: 21, hostile: true)
        // Lines longer than a stream's 64 KiB blocks, after the offset.
        let long = "1.2.3.4 - - [d] \"GET /" + String(repeating: "x", count: 300_000) + " HTTP/1.0\" 200 5\n"
        log += Array((long + "1.2.3.4 - - [d] \"GET /y HTTP/1.0\" 200 6\n" + long).utf8)
        log += Array("tail without newline".utf8)
        let path = Fixture.write(log, to: Fixture.directory() + "/log")
        let skip = 1_234_567
        let rest = Array(log[skip...])
        for arguments in [["sum", "bytes"], ["select", "host", "bytes"], ["grep", "-c", "GET"], ["count", "--by", "status"]] {
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            lseek(fd, off_t(skip), SEEK_SET)
            let mapped = spawnSluice(arguments + ["--threads", "2"], stdinFD: fd)
            XCTAssertEqual(lseek(fd, 0, SEEK_CUR), off_t(log.count), "\(arguments)")
            let piped = spawnSluice(arguments + ["--threads", "2"], feeding: rest)
            XCTAssertEqual(mapped.out, piped.out, "\(arguments)")
            XCTAssertEqual(mapped.err, piped.err, "\(arguments)")
            XCTAssertEqual(mapped.status, piped.status, "\(arguments)")
            XCTAssertEqual(mapped.out, sluice(arguments, stdin: rest).stdoutBytes, "\(arguments)")
        }
    }

    /// Runs sluice with `stdinFD` as its standard input, or with a pipe that this process writes `feeding`
    /// into; returns standard output, standard error and the exit status.
    private func spawnSluice(_ arguments: [String], stdinFD: Int32? = nil, feeding: [UInt8] = [])
        -> (out: [UInt8], err: [UInt8], status: Int32) {
        let scratch = Fixture.directory()
        var pipeEnds: [Int32] = [0, 0]
        if stdinFD == nil { precondition(pipe(&pipeEnds) == 0) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, stdinFD ?? pipeEnds[0], 0)
        if stdinFD == nil { posix_spawn_file_actions_addclose(&actions, pipeEnds[1]) }
        posix_spawn_file_actions_addopen(&actions, 1, scratch + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, scratch + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([Fixture.binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        precondition(posix_spawn(&pid, Fixture.binary, &actions, nil, argv, environ) == 0)
        posix_spawn_file_actions_destroy(&actions)
        if stdinFD == nil {
            close(pipeEnds[0])
            feeding.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(pipeEnds[1], raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
            close(pipeEnds[1])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (Fixture.read(scratch + "/out"), Fixture.read(scratch + "/err"), (status >> 8) & 0xff)
    }
}
