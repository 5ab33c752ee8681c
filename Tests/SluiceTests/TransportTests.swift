import Synchronization
import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// The record transport in-process on 127.0.0.1: the wire format, several senders at once, hostile peers
/// (malformed, oversized, truncated frames, wrong versions, silence), acknowledgement counts when a receiver
/// vanishes, resending after reconnecting, shutdown without leaks, and the TCP and UDP async sources.
final class TransportTests: XCTestCase {
    static let loopback = try! SocketAddress(parsing: "127.0.0.1:0")

    static func records(_ sender: Int, _ count: Int) -> [LogRecord] {
        (0..<count).map { index in
            let line = Array("10.0.0.\(sender) - s\(sender) [24/Feb/2008:00:08:59 -0600] \"GET /\(index) HTTP/1.1\" 200 \(index)".utf8)
            return LogRecord(line: line, fields: [0..<8, 9..<10])
        }
    }

    /// Collects a receiver's events until `done` says so.
    final class Events: @unchecked Sendable {
        let collector: Collector<ReceiveEvent>
        init(_ receiver: RecordReceiver) { collector = Collector(receiver.makeAsyncIterator()) }
        var records: [LogRecord] { collector.values.flatMap { if case .batch(let batch) = $0 { return batch.records } else { return [] } } }
        var disconnections: [(ConnectionInfo, Int, SluiceError?)] {
            collector.values.compactMap { if case .disconnected(let info, let count, let error) = $0 { return (info, count, error) } else { return nil } }
        }
    }

    func testWireFormatRoundTrip() throws {
        let schema = RecordSchema(names: ["host", "status", ""], numeric: [false, true, false])
        let frame = Wire.schemaFrame(schema)
        XCTAssertEqual(Array(frame[0..<5]), [0, 0, 0, UInt8(frame.count - 4), 1])
        XCTAssertEqual(try Wire.decodeSchema(frame[5...], peer: "test"), schema)
        var builder = RecordsFrameBuilder(capacity: 1024)
        let records = TransportTests.records(1, 3) + [LogRecord(line: [])]
        for record in records { builder.append(record) }
        let bytes = builder.finish()
        XCTAssertEqual(Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3]), bytes.count - 4)
        XCTAssertEqual(try Wire.decodeRecords(bytes[5...], peer: "test"), records)
        XCTAssertTrue(builder.isEmpty)
        // Every truncation of a valid frame is rejected, never read past its end.
        for cut in 5..<bytes.count - 1 {
            XCTAssertThrowsError(try Wire.decodeRecords(bytes[5..<cut], peer: "test")) {
                XCTAssertEqual(($0 as? SluiceError)?.code, .protocolViolation)
            }
        }
    }

    func testJSONRendersNamedFieldsWithNumbersAndEscapes() throws {
        let filter = try LineFilter(format: .common)
        let evaluator = filter.makeEvaluator()
        let record = try XCTUnwrap(evaluator.record(Array("1.2.3.4 - \"q\" [24/Feb/2008:00:08:59 -0600] \"GET /a\\b HTTP/1.1\" 404 -".utf8)))
        XCTAssertEqual(String(decoding: record.json(filter.schema), as: UTF8.self),
                       #"{"host":"1.2.3.4","ident":"-","user":"\"q\"","datetime":"24/Feb/2008:00:08:59 -0600","method":"GET","request":"/a\\b","proto":"HTTP/1.1","status":404,"bytes":0}"# + "\n")
        XCTAssertNil(evaluator.record(Array("not a log line".utf8)))
        XCTAssertEqual(evaluator.malformedCount, 1)
        // Integers as the engine reads them, as select --json writes them (a sign, 19 digits were strings).
        let line = "1.2.3.4 - - [d] \"GET /a HTTP/1.1\" +0200 1000000000000000000"
        let signed = try XCTUnwrap(evaluator.record(Array(line.utf8)))
        let json = String(decoding: signed.json(filter.schema), as: UTF8.self)
        XCTAssertTrue(json.hasSuffix(#""status":200,"bytes":1000000000000000000}"# + "\n"), json)
        XCTAssertEqual(json, sluice(["select", "host", "ident", "user", "datetime", "method", "request", "proto", "status", "bytes",
                                     "--json", "--format", "common"], stdin: Array((line + "\n").utf8)).stdout)
    }

    func testLineFilterAgreesWithTheEngine() throws {
        let log = Fixture.log(size: 200_000, format: .combined, seed: 9, hostile: true)
        let path = Fixture.write(log, to: Fixture.directory() + "/log")
        let lines = log.split(separator: 10, omittingEmptySubsequences: false).dropLast().map(Array.init)
        for (grep, conditions) in [(nil, ["status=404"]), ("GET", ["bytes>5000"]), (nil, ["request~^/ply", "status!=200"])] {
            let evaluator = try LineFilter(format: .auto, grep: grep, conditions: conditions).makeEvaluator()
            let query = Query(format: .auto, prefilter: grep, conditions: conditions, operation: .count(by: nil))
            let engine = try Fixture.run(query, [path]).report.selected
            XCTAssertEqual(Int64(lines.filter { evaluator.accepts($0) }.count), engine, "grep \(grep ?? "-") where \(conditions)")
            XCTAssertEqual(Int64(lines.compactMap { evaluator.record($0) }.count), engine)
        }
        let evaluator = try LineFilter(grep: "\\.jpg").makeEvaluator()
        let engine = try Fixture.run(Query(operation: .grep("\\.jpg", countOnly: true)), [path]).report.selected
        XCTAssertEqual(Int64(lines.filter { evaluator.accepts($0) }.count), engine)
    }

    func testSeveralSendersAtOnceArriveCompleteAndInOrder() async throws {
        let receiver = try RecordReceiver(listeningOn: TransportTests.loopback)
        let events = Events(receiver)
        let schema = RecordSchema(names: ["host", "status"], numeric: [false, true])
        let reports = try await withThrowingTaskGroup(of: SendReport.self) { group in
            for sender in 1...3 {
                group.addTask {
                    var options = SenderOptions()
                    options.frameRecords = 100
                    let records = TransportTests.records(sender, 3000)
                    let batches = AsyncQueueSource2(batches: stride(from: 0, to: 3000, by: 250).map { Array(records[$0..<$0 + 250]) })
                    return try await RecordSender(to: receiver.address, schema: schema, options: options).send(batches: batches)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(reports.map(\.acknowledged), [3000, 3000, 3000])
        let complete = await events.collector.wait(for: 3 * 30 + 6)
        XCTAssertTrue(complete || events.records.count == 9000)
        for sender in 1...3 {
            let mine = events.records.filter { $0.line.starts(with: Array("10.0.0.\(sender) ".utf8)) }
            XCTAssertEqual(mine, TransportTests.records(sender, 3000), "sender \(sender)")
        }
        receiver.close()
        await events.collector.stop()
    }

    /// A raw TCP client speaking (or breaking) the protocol by hand.
    func rawExchange(_ address: SocketAddress, _ bytes: [UInt8], halfClose: Bool = true) async throws -> [UInt8] {
        let connection = try await TCPConnection.connect(to: address)
        defer { connection.close() }
        try await connection.write(bytes)
        if halfClose { connection.shutdownWriting() }
        var reply = [UInt8]()
        while let more = try await connection.read() { reply += more }
        return reply  // a reset would throw: the receiver must close gently enough for its ERROR frame to arrive
    }

    func testMalformedOversizedAndTruncatedFramesCloseOnlyThatConnection() async throws {
        var options = ReceiverOptions()
        options.maxFrame = 64 << 10
        let receiver = try RecordReceiver(listeningOn: TransportTests.loopback, options: options)
        let events = Events(receiver)
        let schema = Wire.schemaFrame(RecordSchema(names: ["a"], numeric: [false]))
        var badSpan = [UInt8]()
        badSpan.appendBig(UInt32(1)); badSpan.appendBig(UInt32(3)); badSpan += [65, 66, 67]
        badSpan.appendBig(UInt16(1)); badSpan.appendBig(UInt32(2)); badSpan.appendBig(UInt32(9))
        // A line holding a newline would print as two records: one connection must not inject lines.
        var injected = [UInt8]()
        injected.appendBig(UInt32(1)); injected.appendBig(UInt32(3)); injected += [65, 10, 67]; injected.appendBig(UInt16(0))
        var lyingCount = [UInt8]()
        lyingCount.appendBig(UInt32(1_000_000_000)); lyingCount += [0, 0, 0, 0, 0, 0]
        var oversized = [UInt8]()
        oversized.appendBig(UInt32(1 << 30)); oversized.append(2)
        let hello = Wire.senderHello()
        let cases: [(String, [UInt8])] = [
            ("bad greeting", Array("GET / HTTP/1.0\r\n\r\n".utf8)),
            ("unsupported protocol version 7", Wire.senderHello(version: 7)),
            ("exceeds the limit", hello + oversized),
            ("records before a schema", hello + Wire.frame(.records, badSpan)),
            ("outside a line", hello + schema + Wire.frame(.records, badSpan)),
            ("holds a newline", hello + schema + Wire.frame(.records, injected)),
            ("claims 1000000000 records", hello + schema + Wire.frame(.records, lyingCount)),
            ("unknown frame type 0x7f", hello + [0, 0, 0, 1, 0x7f]),
            ("empty frame", hello + [0, 0, 0, 0]),
            ("END announces 5 records but 0 arrived", hello + schema + Wire.countFrame(.end, 5)),
            ("in the middle of a frame", hello + Array(Wire.frame(.records, badSpan).prefix(9))),
            ("connection closed during the greeting", Array("SLUI".utf8)),
        ]
        // A peer that vanishes gets no ERROR frame: only the disconnection tells.
        let unanswered: Set = ["in the middle of a frame", "connection closed during the greeting"]
        // A well-behaved sender keeps going while the hostile connections come and go.
        let good = Task {
            var senderOptions = SenderOptions()
            senderOptions.frameRecords = 50
            let records = TransportTests.records(9, 2000)
            let batches = AsyncQueueSource2(batches: stride(from: 0, to: 2000, by: 100).map { Array(records[$0..<$0 + 100]) }, pause: 2_000_000)
            return try await RecordSender(to: receiver.address, schema: RecordSchema(names: ["host"], numeric: [false]),
                                          options: senderOptions).send(batches: batches)
        }
        for (expected, bytes) in cases {
            let reply = try await rawExchange(receiver.address, bytes)
            if !unanswered.contains(expected) {
                XCTAssertTrue(String(decoding: reply, as: UTF8.self).contains(expected), "reply to \(expected): \(reply)")
            }
        }
        let report = try await good.value
        XCTAssertEqual(report.acknowledged, 2000)
        let settled = await LiveFixture.eventually(timeout: 5) { events.disconnections.count == cases.count + 1 }
        XCTAssertTrue(settled)
        let failures = events.disconnections.compactMap { $0.2 }
        XCTAssertEqual(failures.count, cases.count)
        for (expected, _) in cases {
            XCTAssertTrue(failures.contains { $0.message.contains(expected) }, "no disconnection for \(expected): \(failures)")
        }
        XCTAssertEqual(events.records, TransportTests.records(9, 2000))
        receiver.close()
        await events.collector.stop()
    }

    func testSilentPeerIsDroppedAfterTheHandshakeTimeout() async throws {
        var options = ReceiverOptions()
        options.handshakeTimeout = 200_000_000
        let receiver = try RecordReceiver(listeningOn: TransportTests.loopback, options: options)
        let events = Events(receiver)
        let started = monotonicNanoseconds()
        let reply = try await rawExchange(receiver.address, [], halfClose: false)
        XCTAssertEqual(reply, [])
        XCTAssertLessThan(monotonicNanoseconds() - started, 3_000_000_000)
        let dropped = await LiveFixture.eventually(timeout: 3) { events.disconnections.count == 1 }
        XCTAssertTrue(dropped)
        XCTAssertEqual(events.disconnections.first?.2?.message.contains("timed out"), true)
        receiver.close()
        await events.collector.stop()
    }

    func testSenderReportsTheAcknowledgedCountWhenTheReceiverVanishes() async throws {
        // A receiver that acknowledges the first frame only, then drops the connection.
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        let fake = Task {
            for try await connection in listener {
                var stream = FrameStream(connection)
                _ = try await stream.bytes(Wire.senderHelloSize)
                try await connection.write(Wire.receiverHello(maxFrame: Wire.defaultMaxFrame))
                _ = try await stream.frame()  // schema
                let first = try await stream.frame()
                let count = UInt64(first.payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                try await connection.write(Wire.countFrame(.ack, count))
                _ = try await stream.frame()
                // Half-close, so the ACK is not lost to a reset, then wait for the sender to give up.
                connection.shutdownWriting()
                while (try? await connection.read()) != nil {}
                connection.close()
                return count
            }
            return 0
        }
        var options = SenderOptions()
        options.frameRecords = 100
        options.window = 2
        let sender = RecordSender(to: listener.address, schema: RecordSchema(names: [], numeric: []), options: options)
        let records = TransportTests.records(1, 5000)
        do {
            _ = try await sender.send(batches: AsyncQueueSource2(batches: [records]))
            XCTFail("the send must fail")
        } catch let error as SluiceError {
            XCTAssertEqual(error.code, .connectionLost)
            XCTAssertTrue(error.message.hasSuffix("100 of \(sender.sent) records acknowledged"), error.message)
        }
        let acknowledged = try await fake.value
        XCTAssertEqual(acknowledged, 100)
        XCTAssertEqual(sender.acknowledged, 100)
        listener.close()
    }

    func testRetryResendsEverythingUnacknowledgedOnANewConnection() async throws {
        // The first connection acknowledges one frame and dies; the second is served properly.
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        let fake = TransportTests.fakeReceiver(listener, connections: 2, graceful: true) { connection, _ in
            (ack: true, end: connection == 1)
        }
        let events = Mutex<[String]>([])
        let records = TransportTests.records(2, 3000)
        let (report, parts) = try await TransportTests.sendRetrying(records, to: listener, fake) { options in
            options.frameRecords = 100
            options.window = 3
            options.onEvent = { event in events.withLock { $0.append("\(event)") } }
        }
        XCTAssertEqual(report.records, 3000)
        XCTAssertEqual(report.acknowledged, 3000)
        XCTAssertEqual(report.connections, 2)
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0], Array(records.prefix(100)))
        XCTAssertEqual(parts[1], Array(records.dropFirst(100)), "the second connection starts at the first unacknowledged record")
        XCTAssertTrue(events.withLock { $0.contains { $0.hasPrefix("reconnecting") } })
        listener.close()
    }

    /// The records a dead receiver did not acknowledge are framed anew for the next one's limit: they were resent
    /// in the frames made for the first, which a receiver with a smaller limit refuses, so nothing more arrived.
    func testRetryFramesWhatWasNotAcknowledgedForTheNewReceiversLimit() async throws {
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        let fake = TransportTests.fakeReceiver(listener, connections: 2, graceful: true,
                                               limits: [Wire.defaultMaxFrame, 4096]) { connection, _ in
            (ack: connection == 2, end: connection == 1)
        }
        let records = TransportTests.records(4, 3000)
        let (report, parts) = try await TransportTests.sendRetrying(records, to: listener, fake)
        XCTAssertEqual(report.acknowledged, 3000)
        XCTAssertEqual(report.records, 3000)
        XCTAssertEqual(parts.count, 2)
        XCTAssertGreaterThan(parts.first?.count ?? 0, 100, "the first frame was larger than the second receiver's limit")
        XCTAssertTrue(parts.count == 2 && parts[1] == records, "the second connection carries every record again")
    }

    /// A connection that dies while the writer is sending frames (here: closed after the first frame, nothing
    /// acknowledged) loses no record: the record being added when the frame could not be sent is sent again on the
    /// next connection (it was dropped, one per reconnect). Attempts count in a row, so a limit of 1 still allows
    /// a second loss after a connection that made progress.
    func testARecordInHandWhenTheConnectionDiesIsResent() async throws {
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        // The first connection dies after one frame, unacknowledged; the second acknowledges 500 records and
        // dies; the third is served to the end.
        let fake = TransportTests.fakeReceiver(listener, connections: 3, graceful: false) { connection, count in
            switch connection {
            case 1: return (ack: false, end: true)
            case 2: return (ack: count >= 500, end: count >= 500)
            default: return (ack: true, end: false)
            }
        }
        let records = TransportTests.records(3, 3000)
        let (report, parts) = try await TransportTests.sendRetrying(records, to: listener, fake) { options in
            options.maxRetries = 1
            options.frameRecords = 10
            options.window = 64
        }
        XCTAssertEqual(report.acknowledged, 3000)
        XCTAssertEqual(parts.count, 3)
        // Nothing was acknowledged on the first connection, so the second starts again at record 0.
        XCTAssertTrue(parts[1].count >= 500 && parts[1] == Array(records.prefix(parts[1].count)), "second connection")
        let third = parts.count == 3 ? parts[2] : []
        let resumeAt = try XCTUnwrap(records.firstIndex(of: third.first ?? records[0]))
        XCTAssertLessThanOrEqual(resumeAt, 500)
        XCTAssertTrue(third == Array(records[resumeAt...]), "the third connection carries every record from \(resumeAt) on")
        listener.close()
    }

    /// A receiver that greets and then says nothing no longer holds a sender forever: acknowledgements that stop
    /// coming end the connection after `ackTimeout`, a receiver of another version that never explains itself
    /// after the greeting's time, half a greeting is named as such, and the shutdown interrupts a send waiting for
    /// acknowledgements at once.
    func testASilentReceiverEndsTheSend() async throws {
        let records = TransportTests.records(1, 10)
        let cases: [(greeting: [UInt8], token: Bool, expected: String)] = [
            (Wire.receiverHello(maxFrame: Wire.defaultMaxFrame), false,
             "no acknowledgement from the receiver for 300 ms: 0 of 10 records acknowledged"),
            (Array(Wire.receiverHello(maxFrame: Wire.defaultMaxFrame)[0..<6]) + [0, 2, 0, 0, 16, 0], false,
             "receiver speaks protocol version 2 (this sender speaks 1): 0 of 0 records acknowledged"),
            (Array("SLUI".utf8), false, "connection closed during the greeting: 0 of 0 records acknowledged"),
            (Wire.receiverHello(maxFrame: Wire.defaultMaxFrame), true, "interrupted: 0 of 10 records acknowledged"),
        ]
        for (greeting, useToken, expected) in cases {
            let listener = try TCPListener(listeningOn: TransportTests.loopback)
            let received = TransportTests.silentReceiver(listener, greeting: greeting)
            var options = SenderOptions()
            options.connectTimeout = 300_000_000
            let token = ShutdownToken()
            if useToken { options.shutdown = token } else { options.ackTimeout = 300_000_000 }
            let sender = RecordSender(to: listener.address, schema: RecordSchema(names: [], numeric: []), options: options)
            let outcome = Mutex<Error?>(nil)
            let send = Task {
                do {
                    _ = try await sender.send(batches: AsyncQueueSource2(batches: [records]))
                    outcome.withLock { $0 = SluiceError(.io, path: "test", "the send succeeded") }
                } catch {
                    outcome.withLock { $0 = error }
                }
            }
            if useToken {
                // Once the END frame is in, the sender waits for acknowledgements only.
                let waiting = await LiveFixture.eventually(timeout: 10) { TransportTests.endsWithEnd(received.bytes) }
                XCTAssertTrue(waiting)
                token.trigger()
            }
            let ended = await LiveFixture.eventually(timeout: 10) { outcome.withLock { $0 != nil } }
            send.cancel()
            XCTAssertTrue(ended, "the send must end: \(expected)")
            let error = outcome.withLock { $0 } as? SluiceError
            XCTAssertEqual(error?.message, expected)
            XCTAssertEqual(error?.path, listener.address.description)
            listener.close()
        }
    }

    /// A receiver's max frame holds the schema of every built-in format: it could be as small as 64 bytes, which
    /// no common-format sender could ever use (its schema frame takes 87). A schema that still does not fit is an
    /// error saying so, instead of the receiver's refusal of an oversized frame.
    func testTheSmallestMaxFrameHoldsTheBuiltInSchemas() async throws {
        var options = ReceiverOptions()
        options.maxFrame = 64
        let receiver = try RecordReceiver(listeningOn: TransportTests.loopback, options: options)
        let events = Events(receiver)
        let records = TransportTests.records(1, 100)
        for format in [RecordFormat.common, .combined] {
            let schema = try LineFilter(format: format).schema
            let report = try await RecordSender(to: receiver.address, schema: schema).send(batches: AsyncQueueSource2(batches: [records]))
            XCTAssertEqual(report.acknowledged, 100, "\(format)")
        }
        let names = (0..<200).map { "field_with_a_rather_long_name_\($0)" }
        let wide = RecordSchema(names: names, numeric: [])
        do {
            _ = try await RecordSender(to: receiver.address, schema: wide).send(batches: AsyncQueueSource2(batches: [records]))
            XCTFail("a schema over the limit must fail the send")
        } catch let error as SluiceError {
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertEqual(error.message, "the schema of 200 fields needs a frame of \(Wire.schemaFrame(wide).count - 4) bytes, more than the receiver's frame limit of 4096 bytes: 0 of 0 records acknowledged")
        }
        receiver.close()
        await events.collector.stop()
    }

    func testShutdownTokenAndCloseEndTheReceiverAndReleaseDescriptors() async throws {
        await LiveFixture.warmUp()
        let before = LiveFixture.openDescriptorCount()
        for useToken in [true, false] {
            let token = ShutdownToken()
            let receiver = try RecordReceiver(listeningOn: TransportTests.loopback, options: ReceiverOptions(shutdown: useToken ? token : nil))
            let events = Events(receiver)
            let idle = try await TCPConnection.connect(to: receiver.address)  // a sender that never speaks
            let report = try await RecordSender(to: receiver.address, schema: RecordSchema(names: [], numeric: []))
                .send(batches: AsyncQueueSource2(batches: [TransportTests.records(1, 10)]))
            XCTAssertEqual(report.acknowledged, 10)
            if useToken { token.trigger() } else { receiver.close() }
            let ended = await events.collector.waitFinished(timeout: 2)
            XCTAssertTrue(ended)
            idle.close()
        }
        let released = await LiveFixture.eventually(timeout: 3) { LiveFixture.openDescriptorCount() == before }
        XCTAssertTrue(released, "left open: \(LiveFixture.openDescriptors())")
    }

    func testTCPConnectionsAndUDPMessagesAreAsyncSources() async throws {
        let listener = try TCPListener(listeningOn: TransportTests.loopback)
        let server = Task { () -> [String] in
            var lines = [String]()
            for try await connection in listener {
                for try await line in connection.lines() { lines.append(String(decoding: line, as: UTF8.self)) }
                connection.close()
                break
            }
            return lines
        }
        let client = try await TCPConnection.connect(to: listener.address)
        try await client.write(Array("first\nsecond\nlast without newline".utf8))
        client.close()
        let lines = try await server.value
        XCTAssertEqual(lines, ["first", "second", "last without newline"])
        listener.close()

        let messages = try UDPMessages(listeningOn: TransportTests.loopback)
        let datagrams = Collector(messages.makeAsyncIterator())
        for text in ["one", "two", "three"] { try UDPMessages.send(Array(text.utf8), to: messages.address) }
        let arrived = await datagrams.wait(for: 3)
        XCTAssertTrue(arrived)
        XCTAssertEqual(datagrams.values.map { String(decoding: $0.bytes, as: UTF8.self) }, ["one", "two", "three"])
        XCTAssertTrue(datagrams.values.allSatisfy { $0.peer.hasPrefix("127.0.0.1:") })
        messages.close()
        let ended = await datagrams.waitFinished(timeout: 2)
        XCTAssertTrue(ended)
    }
}

/// Fixed groups of records as an async source, optionally pausing between groups.
struct AsyncQueueSource2: AsyncSequence, Sendable {
    let batches: [[LogRecord]]
    var pause: UInt64 = 0
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<[LogRecord]>
        let pause: UInt64
        mutating func next() async throws -> [LogRecord]? {
            if pause > 0, !rest.isEmpty { try await Task.sleep(nanoseconds: pause) }
            return rest.popFirst()
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: batches[...], pause: pause) }
}

/// Reads exact byte counts and whole frames from a `TCPConnection`, for hand-written fake peers.
extension TransportTests {
    /// Sends `records` in batches of `size` (which divides their count) through a `RecordSender` with `options`.
    static func send(_ records: [LogRecord], in size: Int, to address: SocketAddress,
                     options: SenderOptions) async throws -> SendReport {
        try await RecordSender(to: address, schema: RecordSchema(names: [], numeric: []), options: options)
            .send(batches: AsyncQueueSource2(batches: stride(from: 0, to: records.count, by: size).map { Array(records[$0..<$0 + size]) }))
    }

    /// Sends `records` in batches of 500 to `listener` with `retry` (reconnecting after 10 ms) and the options
    /// `configure` sets, and returns the report with what `fake` received on each connection.
    static func sendRetrying(_ records: [LogRecord], to listener: TCPListener, _ fake: Task<[[LogRecord]], Error>,
                             configure: (inout SenderOptions) -> Void = { _ in }) async throws -> (SendReport, [[LogRecord]]) {
        var options = SenderOptions(retry: true)
        options.retryDelay = 10_000_000
        configure(&options)
        let report = try await send(records, in: 500, to: listener.address, options: options)
        return (report, try await fake.value)
    }

    /// A receiver written by hand, for `connections` connections on `listener`: each is greeted, then after each
    /// RECORDS frame `decide(connection number, records received on it)` says whether to acknowledge them and
    /// whether to end the connection there (after a moment for the acknowledgement to arrive); END is always
    /// acknowledged. A graceful end shuts writing and drains before closing. Returns each connection's records.
    static func fakeReceiver(_ listener: TCPListener, connections total: Int, graceful: Bool, limits: [Int] = [],
                             decide: @escaping @Sendable (Int, Int) -> (ack: Bool, end: Bool)) -> Task<[[LogRecord]], Error> {
        Task {
            var received = [[LogRecord]]()
            for try await connection in listener {
                var stream = FrameStream(connection)
                _ = try await stream.bytes(Wire.senderHelloSize)
                let limit = received.count < limits.count ? limits[received.count] : Wire.defaultMaxFrame
                try await connection.write(Wire.receiverHello(maxFrame: limit))
                var mine = [LogRecord]()
                frames: while true {
                    let frame = try await stream.frame()
                    if frame.payload.count + 1 > limit {
                        try await connection.write(Wire.errorFrame("frame of \(frame.payload.count + 1) bytes exceeds the limit of \(limit) bytes"))
                        break frames
                    }
                    switch Wire.FrameType(rawValue: frame.type) {
                    case .records:
                        mine += try Wire.decodeRecords(frame.payload[...], peer: "fake")
                        let (ack, end) = decide(received.count + 1, mine.count)
                        if ack { try await connection.write(Wire.countFrame(.ack, UInt64(mine.count))) }
                        if end {
                            if ack { try? await Task.sleep(nanoseconds: 50_000_000) }
                            break frames
                        }
                    case .end:
                        try await connection.write(Wire.countFrame(.ack, UInt64(mine.count)))
                        break frames
                    default: continue
                    }
                }
                received.append(mine)
                if graceful {
                    connection.shutdownWriting()
                    while (try? await connection.read()) != nil {}
                }
                connection.close()
                if received.count == total { break }
            }
            return received
        }
    }
}

extension TransportTests {
    /// A receiver that sends `greeting` to each connection and then never acknowledges, reading (into the
    /// returned buffer) what the sender sends until it closes.
    static func silentReceiver(_ listener: TCPListener, greeting: [UInt8]) -> ByteLog {
        let received = ByteLog()
        Task {
            for try await connection in listener {
                Task {
                    try? await connection.write(greeting)
                    if greeting.count < Wire.receiverHelloSize { connection.shutdownWriting() }
                    while let more = try? await connection.read() { received.add(more) }
                    connection.close()
                }
            }
        }
        return received
    }

    /// Bytes collected from any task.
    final class ByteLog: Sendable {
        private let storage = Mutex<[UInt8]>([])
        func add(_ bytes: [UInt8]) { storage.withLock { $0 += bytes } }
        var bytes: [UInt8] { storage.withLock { $0 } }
    }

    /// True when `bytes` end with a sender's END frame (after its greeting).
    static func endsWithEnd(_ bytes: [UInt8]) -> Bool {
        bytes.count >= Wire.senderHelloSize + 13 && Array(bytes.suffix(13).prefix(5)) == [0, 0, 0, 9, Wire.FrameType.end.rawValue]
    }
}

struct FrameStream {
    let connection: TCPConnection
    var buffer = [UInt8]()
    init(_ connection: TCPConnection) { self.connection = connection }

    mutating func bytes(_ count: Int) async throws -> [UInt8] {
        while buffer.count < count {
            guard let more = try await connection.read() else { throw SluiceError(.connectionLost, path: "fake", "closed") }
            buffer += more
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer.prefix(count))
    }

    mutating func frame() async throws -> (type: UInt8, payload: [UInt8]) {
        let header = try await bytes(4)
        let length = Int(header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let body = try await bytes(length)
        return (body[0], Array(body.dropFirst()))
    }
}

extension TransportTests {
    /// Stored lines carry their numbers; a line too long is told to `onNotice`; records(filter, tally:) counts
    /// the lines that are not records and the lines a pattern gave up on, with the first of each, while the
    /// lines the filter merely leaves out count nowhere.
    func testStoredRecordsCountRejectionsWithTheirLines() async throws {
        let good = "1.1.1.1 - - [d] \"GET /ok HTTP/1.0\" 200 10\n"
        let evil = "1.1.1.1 - - [d] \"GET /" + String(repeating: "a", count: 60) + " HTTP/1.0\" 200 10\n"
        let other = "1.1.1.1 - - [d] \"GET /ok HTTP/1.0\" 404 10\n"
        let long = "2.2.2.2 - - [d] \"GET /" + String(repeating: "l", count: 300) + " HTTP/1.0\" 200 10\n"
        let text = good + "not a record\n" + evil + other + long + "x\n" + good
        let dir = Fixture.directory()
        let plain = Fixture.write(Array(text.utf8), to: dir + "/plain")
        let packed = Fixture.write(Fixture.gzip(Array(text.utf8)), to: dir + "/packed")
        let notices = Mutex<[FollowNotice]>([])
        let stored = StoredLines([.file(plain), .file(packed)], maxLineLength: 200,
                                 onNotice: { notice in notices.withLock { $0.append(notice) } })
        var numbers = [Int?]()
        for try await line in stored { numbers.append(line.line) }
        XCTAssertEqual(numbers, [1, 2, 3, 4, 6, 7, 1, 2, 3, 4, 6, 7])
        // Named by its line number and the limit (it was the bytes read so far, however many that was).
        XCTAssertEqual(notices.withLock { $0 }, [.overlongLine(.init(path: plain, line: 5), limit: 200),
                                                 .overlongLine(.init(path: packed, line: 5), limit: 200)])

        let filter = try LineFilter(format: .common, conditions: ["request~^/(a|aa)+[bc]|^/ok", "status=200"])
        let tally = RejectTally()
        var records = 0
        for try await batch in stored.batches.records(filter, tally: tally) { records += batch.count }
        XCTAssertEqual(records, 4)
        let counts = tally.counts
        XCTAssertEqual(counts.malformed, 4)
        XCTAssertEqual(counts.firstMalformed, RejectTally.Location(path: plain, line: 2))
        XCTAssertEqual(counts.failures, 2)
        XCTAssertEqual(counts.firstFailure, RejectTally.Location(path: plain, line: 3))
        XCTAssertEqual(counts.failureMessage, "match limit exceeded")
    }

    /// An input cut short delivers every line decoded before the fault, then throws its error, and the next
    /// input is still read: for a small gzip file the whole of it is decoded by one read; a larger one is decoded
    /// block by block. The fragment of the line the fault cut is no line (the engine does not read it either).
    func testStoredLinesDeliverTheLinesBeforeAFault() async throws {
        for size in [30_000, 400_000] { try await storedLinesBeforeAFault(size: size) }
    }

    private func storedLinesBeforeAFault(size: Int) async throws {
        let text = Fixture.log(size: size, seed: 8)
        let dir = Fixture.directory()
        let packed = Fixture.gzip(text)
        let cut = Fixture.write(Array(packed[..<(packed.count * 4 / 5)]), to: dir + "/cut.gz")
        let plain = Fixture.write(Array("last line\n".utf8), to: dir + "/plain")
        let engine = try Fixture.run(Query(operation: .count(by: nil)), [cut]).report.inputs[0]
        XCTAssertEqual(engine.error?.code, .truncatedGzip)
        let decodedLines = engine.lines
        XCTAssertGreaterThan(decodedLines, 10)
        let expected = text.split(separator: 10, omittingEmptySubsequences: false).prefix(decodedLines).map(Array.init)
        var iterator = StoredLines([.file(cut), .file(plain)]).makeAsyncIterator()
        var lines = [[UInt8]]()
        var thrown: SluiceError?
        while true {
            do {
                guard let line = try await iterator.next() else { break }
                lines.append(line.bytes)
            } catch {
                XCTAssertNil(thrown)
                thrown = error as? SluiceError
            }
        }
        XCTAssertEqual(thrown?.code, .truncatedGzip)
        XCTAssertEqual(thrown?.path, cut)
        XCTAssertEqual(thrown?.message, engine.error?.message)
        XCTAssertEqual(lines.count, decodedLines + 1)
        XCTAssertTrue(Array(lines.prefix(decodedLines)) == expected, "the lines before the fault differ")
        XCTAssertEqual(lines.last, Array("last line".utf8))
    }

    /// Lines longer than the limit come in pieces of the limit, the last with the rest, the same whether the bytes
    /// arrive at once or a few at a time; a line of exactly the limit is one line, also when its `\n` comes later.
    func testTCPLinesAreCutTheSameWayHoweverTheyArrive() async throws {
        let text = "12345678\n1234567890123\nabc\n1234\n\n12345678901234567890\nend"
        let expected = ["12345678", "12345678", "90123", "abc", "1234", "", "12345678", "90123456", "7890", "end"]
        for pieceSize in [1, 3, 8, 9, text.utf8.count] {
            let listener = try TCPListener(listeningOn: TransportTests.loopback)
            let server = Task { () -> [String] in
                var lines = [String]()
                for try await connection in listener {
                    for try await line in connection.lines(maxLineLength: 8) { lines.append(String(decoding: line, as: UTF8.self)) }
                    for try await line in connection.lines(maxLineLength: Int.max) { lines.append(String(decoding: line, as: UTF8.self)) }
                    connection.close()
                    break
                }
                return lines
            }
            let client = try await TCPConnection.connect(to: listener.address)
            let bytes = Array(text.utf8)
            for start in Swift.stride(from: 0, to: bytes.count, by: pieceSize) {
                try await client.write(Array(bytes[start..<Swift.min(bytes.count, start + pieceSize)]))
                if pieceSize < bytes.count { try await Task.sleep(nanoseconds: 2_000_000) }
            }
            client.close()
            let lines = try await server.value
            XCTAssertEqual(lines, expected, "pieces of \(pieceSize)")
            listener.close()
        }
    }
}
