import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// `sluice send` and `sluice receive` as processes on 127.0.0.1: four senders at once, JSON output, a hostile
/// peer beside good ones, a receiver killed mid-stream (with and without `--retry`).
final class TransportCLITests: XCTestCase {
    /// An access-log line that names its sender (user field) and its position (path and bytes).
    static func line(_ sender: Int, _ index: Int) -> String {
        "10.0.\(sender).\(index % 250) - s\(sender) [24/Feb/2008:00:08:59 -0600] \"GET /r\(index) HTTP/1.1\" \(index % 10 == 0 ? 404 : 200) \(index)"
    }

    static func file(_ sender: Int, _ range: Range<Int>, in folder: String) -> String {
        Fixture.write(Array(range.map { line(sender, $0) + "\n" }.joined().utf8), to: "\(folder)/sender\(sender).log")
    }

    private func startReceiver(_ arguments: [String] = [], port: Int = 0) throws -> (LiveProcess, Int) {
        let receiver = LiveProcess(["receive", "--listen", "127.0.0.1:\(port)"] + arguments)
        let bound = try XCTUnwrap(receiver.listeningPort(), "receiver did not start: \(receiver.stderr)")
        return (receiver, bound)
    }

    /// Checks that `lines` hold exactly `count` lines of each sender, each sender's in order.
    private func assertComplete(_ lines: [String], senders: [Int], count: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(lines.count, senders.count * count, file: file, line: line)
        for sender in senders {
            let mine = lines.filter { $0.contains(" - s\(sender) [") }
            XCTAssertEqual(mine, (0..<count).map { TransportCLITests.line(sender, $0) }, "sender \(sender)", file: file, line: line)
        }
    }

    func test100kRecordsFromFourSendersAtOnce() throws {
        let folder = Fixture.directory()
        let count = 25_000
        let files = (1...4).map { TransportCLITests.file($0, 0..<count, in: folder) }
        let (receiver, port) = try startReceiver()
        let senders = files.map { LiveProcess(["send", "127.0.0.1:\(port)", $0]) }
        XCTAssertTrue(LiveFixture.waitUntil(timeout: 40) { senders.allSatisfy(\.hasExited) })
        for sender in senders { XCTAssertEqual(sender.wait(timeout: 1), 0, sender.stderr) }
        XCTAssertTrue(receiver.waitForLines(4 * count, timeout: 10))
        receiver.signal(SIGTERM)
        XCTAssertEqual(receiver.wait(), 0)
        assertComplete(receiver.stdoutLines, senders: [1, 2, 3, 4], count: count)
    }

    /// A broken input is reported with its byte offset and the other inputs are still sent (exit 2), as the query
    /// commands do; frames stay within a receiver's smaller announced limit instead of failing the send.
    func testABrokenInputDoesNotStopTheOthersAndFramesFitTheReceiver() throws {
        let folder = Fixture.directory()
        let good = TransportCLITests.file(1, 0..<3000, in: folder)
        let packed = Fixture.gzip(Array((0..<3000).map { TransportCLITests.line(2, $0) + "\n" }.joined().utf8))
        let cut = Fixture.write(Array(packed.prefix(packed.count / 2)), to: folder + "/cut.gz")
        let decoded = try Fixture.run(Query(operation: .count(by: nil)), [cut]).report.inputs[0]
        let (receiver, port) = try startReceiver(["--max-frame", "4K"])
        let sender = LiveProcess(["send", "127.0.0.1:\(port)", cut, good])
        XCTAssertEqual(sender.wait(), 2, sender.stderr)
        // The same error as the engine's: the fragment of the line the cut falls in is not sent as a record.
        XCTAssertTrue(sender.stderr.contains("\(cut): \(decoded.error!.message) (at byte \(packed.count / 2))\n"), sender.stderr)
        let shipped = decoded.lines - decoded.malformed
        XCTAssertTrue(receiver.waitForLines(shipped + 3000), "\(receiver.stdoutLines.count) lines, \(receiver.stderr)")
        receiver.signal(SIGTERM)
        XCTAssertEqual(receiver.wait(), 0)
        XCTAssertEqual(Array(receiver.stdoutLines.suffix(3000)), (0..<3000).map { TransportCLITests.line(1, $0) })
        XCTAssertEqual(Array(receiver.stdoutLines.prefix(shipped)), (0..<shipped).map { TransportCLITests.line(2, $0) })
    }

    /// A line over the 1 MiB limit is named by its number and the limit (it was named by the file alone, with
    /// however many bytes had been read), and the lines around it are still sent.
    func testAnOverlongLineIsNamedByItsNumber() throws {
        let folder = Fixture.directory()
        let lines = [TransportCLITests.line(5, 0), TransportCLITests.line(5, 1) + String(repeating: "x", count: 1_100_000),
                     TransportCLITests.line(5, 2)]
        let path = Fixture.write(Array(lines.map { $0 + "\n" }.joined().utf8), to: folder + "/long.log")
        let (receiver, port) = try startReceiver()
        let sender = LiveProcess(["send", "127.0.0.1:\(port)", path])
        XCTAssertEqual(sender.wait(), 0, sender.stderr)
        XCTAssertEqual(sender.stderr, "\(path):2: skipped a line longer than the limit of 1 MiB\n")
        XCTAssertTrue(receiver.waitForLines(2))
        receiver.signal(SIGTERM)
        XCTAssertEqual(receiver.wait(), 0)
        XCTAssertEqual(receiver.stdoutLines, [lines[0], lines[2]])
    }

    /// A record too large for the receiver's frame limit is left out and named with its line (it ended the whole
    /// send, naming no line); a record of more than 1024 fields is sent with the first 1024 and counted (the rest
    /// were dropped silently). The other records are all sent, and the exit status is 2.
    func testRecordsTheReceiverCannotTakeWholeAreNamedAndTheOthersSent() throws {
        let folder = Fixture.directory()
        let wide = (1...1500).map { "f\($0)" }.joined(separator: " ")
        let huge = String(repeating: "y", count: 70_000)
        let lines = ["a b c", wide, huge, "d e", huge + " z", "g"]
        let path = Fixture.write(Array(lines.map { $0 + "\n" }.joined().utf8), to: folder + "/wide.log")
        let (receiver, port) = try startReceiver(["--max-frame", "64K", "--json"])
        let sender = LiveProcess(["send", "127.0.0.1:\(port)", "--format", "fields", path])
        XCTAssertEqual(sender.wait(), 2, sender.stderr)
        XCTAssertEqual(sender.stderr, """
            \(path):3: record of 70019 bytes exceeds the receiver's frame limit of 65536 bytes; not sent (2 records in all)
            1 record had more than 1024 fields; fields past $1024 were not sent (first at \(path):2)

            """)
        XCTAssertTrue(receiver.waitForLines(4))
        receiver.signal(SIGTERM)
        XCTAssertEqual(receiver.wait(), 0)
        let json = receiver.stdoutLines
        XCTAssertEqual(json.count, 4)
        XCTAssertEqual(json.first, #"{"$1":"a","$2":"b","$3":"c"}"#)
        XCTAssertEqual(json.last, #"{"$1":"g"}"#)
        XCTAssertTrue(json.count == 4 && json[1].hasSuffix(#""$1024":"f1024"}"#), "the first 1024 fields of line 2")
        XCTAssertEqual(json.count == 4 ? json[2] : "", #"{"$1":"d","$2":"e"}"#)
    }

    /// --max-frame starts at 4K, which holds the built-in formats' schemas (it started at 64, below them).
    func testMaxFrameStartsWhereTheSchemasFit() throws {
        let refused = LiveProcess(["receive", "--listen", "127.0.0.1:0", "--max-frame", "4095"])
        XCTAssertEqual(refused.wait(), 2)
        XCTAssertEqual(refused.stderr, "--max-frame: expected 4K to 4M, got '4095'\n")
    }

    func testJSONOutputAndFilters() throws {
        let folder = Fixture.directory()
        let path = TransportCLITests.file(1, 0..<50, in: folder)
        LiveFixture.append("garbage that is not a record\n", to: path)
        let (receiver, port) = try startReceiver(["--json"])
        let sender = LiveProcess(["send", ":\(port)", path, "--where", "status=404", "--verbose"])
        XCTAssertEqual(sender.wait(), 0, sender.stderr)
        XCTAssertTrue(sender.stderr.contains("5 records sent, 5 acknowledged"), sender.stderr)
        XCTAssertTrue(sender.stderr.contains("1 malformed line skipped (first at \(path):51)\n"), sender.stderr)
        XCTAssertTrue(receiver.waitForLines(5))
        receiver.signal(SIGINT)
        XCTAssertEqual(receiver.wait(), 0)
        XCTAssertEqual(receiver.stdoutLines.first,
                       #"{"host":"10.0.1.0","ident":"-","user":"s1","datetime":"24/Feb/2008:00:08:59 -0600","method":"GET","request":"/r0","proto":"HTTP/1.1","status":404,"bytes":0}"#)
        XCTAssertEqual(receiver.stdoutLines.count, 5)
    }

    func testAHostilePeerIsDisconnectedWithAMessageWhileOthersAreServed() async throws {
        let folder = Fixture.directory()
        let path = TransportCLITests.file(2, 0..<3000, in: folder)
        let (receiver, port) = try startReceiver()
        let address = try SocketAddress(parsing: "127.0.0.1:\(port)")
        let hostile = try await TCPConnection.connect(to: address)
        var oversized = Wire.senderHello()
        oversized.appendBig(UInt32(64 << 20))
        oversized.append(2)
        try await hostile.write(oversized)
        let good = LiveProcess(["send", "127.0.0.1:\(port)", path])
        var reply = [UInt8]()
        while let more = try await hostile.read() { reply += more }
        hostile.close()
        XCTAssertTrue(String(decoding: reply, as: UTF8.self).contains("exceeds the limit"))
        XCTAssertEqual(good.wait(), 0, good.stderr)
        XCTAssertTrue(receiver.waitForLines(3000))
        XCTAssertTrue(receiver.waitForStderr("frame of 67108864 bytes exceeds the limit of 4194304 bytes"), receiver.stderr)
        receiver.signal(SIGTERM)
        XCTAssertEqual(receiver.wait(), 0, receiver.stderr)
        assertComplete(receiver.stdoutLines, senders: [2], count: 3000)
    }

    func testSenderReportsAcknowledgedRecordsWhenTheReceiverIsKilled() throws {
        let folder = Fixture.directory()
        let path = TransportCLITests.file(3, 0..<4000, in: folder)
        let (receiver, port) = try startReceiver()
        let sender = LiveProcess(["send", "127.0.0.1:\(port)", "--follow", path])
        XCTAssertTrue(receiver.waitForLines(4000))
        usleep(100_000)
        receiver.signal(SIGKILL)
        XCTAssertEqual(receiver.wait(), 128 + SIGKILL)
        LiveFixture.append((4000..<6000).map { TransportCLITests.line(3, $0) + "\n" }.joined(), to: path)
        XCTAssertEqual(sender.wait(timeout: 10), 2, "a sender that lost its receiver fails: \(sender.stderr)")
        let printed = receiver.stdoutLines.count
        let report = sender.stderr
        let numbers = report.split(separator: "\n").last { $0.contains("records acknowledged") }?
            .split(separator: " ").compactMap { Int($0) } ?? []
        XCTAssertEqual(numbers.count, 2, report)
        if numbers.count == 2 {
            XCTAssertLessThanOrEqual(numbers[0], printed, "acknowledged means written by the receiver")
            XCTAssertGreaterThanOrEqual(numbers[0], 4000 - 512, report)
            XCTAssertGreaterThanOrEqual(numbers[1], numbers[0])
        }
        XCTAssertTrue(report.contains("127.0.0.1:\(port)"), report)
    }

    /// The first SIGTERM stops a send that waits for a receiver which greeted and then fell silent (it waited
    /// until the receiver closed), whether the greeting was of this version or another.
    func testASignalStopsASendWaitingForASilentReceiver() async throws {
        let folder = Fixture.directory()
        let path = TransportCLITests.file(6, 0..<3, in: folder)
        let greetings = [Wire.receiverHello(maxFrame: Wire.defaultMaxFrame),
                         Array(Wire.receiverHello(maxFrame: Wire.defaultMaxFrame)[0..<6]) + [0, 2, 0, 0, 16, 0]]
        for (greeting, sent) in zip(greetings, [3, 0]) {
            let listener = try TCPListener(listeningOn: TransportTests.loopback)
            let received = TransportTests.silentReceiver(listener, greeting: greeting)
            let sender = LiveProcess(["send", listener.address.description, path])
            // Waiting for acknowledgements once END is in; for the other version's explanation once greeted.
            let waiting = await LiveFixture.eventually(timeout: 10) {
                sent == 0 ? received.bytes.count >= Wire.senderHelloSize : TransportTests.endsWithEnd(received.bytes)
            }
            XCTAssertTrue(waiting)
            sender.signal(SIGTERM)
            XCTAssertEqual(sender.wait(timeout: 5), 2, "still running after SIGTERM: \(sender.stderr)")
            XCTAssertEqual(sender.stderr, "\(listener.address): interrupted: 0 of \(sent) records acknowledged\n")
            listener.close()
        }
        // --ack-timeout bounds the wait for a receiver that acknowledges nothing.
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        _ = TransportTests.silentReceiver(listener, greeting: greetings[0])
        let sender = LiveProcess(["send", listener.address.description, path, "--ack-timeout", "0.5"])
        XCTAssertEqual(sender.wait(timeout: 10), 2, sender.stderr)
        XCTAssertEqual(sender.stderr, "\(listener.address): no acknowledgement from the receiver for 500 ms: 0 of 3 records acknowledged\n")
        listener.close()
        // A timeout of centuries waits too: it crashed converting to nanoseconds (1e300), or wrapped to a deadline
        // already passed and failed at once (18446744000 s).
        for timeout in ["18446744000", "1e300"] {
            let listener = try TCPListener(listeningOn: TransportTests.loopback)
            _ = TransportTests.silentReceiver(listener, greeting: greetings[0])
            let sender = LiveProcess(["send", listener.address.description, path, "--ack-timeout", timeout])
            usleep(500_000)
            XCTAssertFalse(sender.hasExited, "--ack-timeout \(timeout): \(sender.stderr)")
            sender.signal(SIGTERM)
            XCTAssertEqual(sender.wait(timeout: 5), 2, sender.stderr)
            XCTAssertEqual(sender.stderr, "\(listener.address): interrupted: 0 of 3 records acknowledged\n")
            listener.close()
        }
    }

    func testRetryResendsWhatWasNotAcknowledgedToARestartedReceiver() throws {
        let folder = Fixture.directory()
        let path = TransportCLITests.file(4, 0..<4000, in: folder)
        let (first, port) = try startReceiver()
        let sender = LiveProcess(["send", "127.0.0.1:\(port)", "--follow", "--retry", path])
        XCTAssertTrue(first.waitForLines(4000))
        first.signal(SIGKILL)
        _ = first.wait()
        LiveFixture.append((4000..<7000).map { TransportCLITests.line(4, $0) + "\n" }.joined(), to: path)
        XCTAssertTrue(sender.waitForStderr("reconnecting"), sender.stderr)
        let (second, samePort) = try startReceiver(port: port)
        XCTAssertEqual(samePort, port)
        let expected = (0..<7000).map { TransportCLITests.line(4, $0) }
        XCTAssertTrue(LiveFixture.waitUntil(timeout: 15) {
            Set(first.stdoutLines).union(second.stdoutLines).count == expected.count
        }, "everything arrives once the receiver is back")
        sender.signal(SIGTERM)
        XCTAssertEqual(sender.wait(), 0, sender.stderr)
        second.signal(SIGTERM)
        XCTAssertEqual(second.wait(), 0)
        let before = first.stdoutLines, after = second.stdoutLines
        XCTAssertEqual(Set(before).union(after), Set(expected))
        XCTAssertEqual(before, Array(expected.prefix(before.count)), "in order before the crash")
        // The second receiver starts at the first record the first one did not acknowledge: anything it
        // repeats was written but not yet acknowledged when the first one died (at least once, never lost).
        let resumeAt = try XCTUnwrap(expected.firstIndex(of: after.first ?? ""))
        XCTAssertEqual(after, Array(expected[resumeAt...]), "in order after reconnecting")
        XCTAssertLessThanOrEqual(resumeAt, before.count)
    }
}
