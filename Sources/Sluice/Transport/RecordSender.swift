import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a `RecordSender` ships records. Times are in nanoseconds.
public struct SenderOptions: Sendable {
    /// Reconnect after a lost connection and resend whatever was not acknowledged. Without it, a lost
    /// connection ends the send with `.connectionLost`.
    public var retry = false
    /// Reconnection attempts in a row, after a loss, before giving up (nil: no limit); a connection on which
    /// records were acknowledged starts the count again.
    public var maxRetries: Int?
    /// The first wait before reconnecting; it doubles up to `maxRetryDelay`.
    public var retryDelay: UInt64 = 100_000_000
    /// The longest wait between reconnection attempts (default 2 s).
    public var maxRetryDelay: UInt64 = 2_000_000_000
    /// Connecting and the receiver's greeting must each complete within this time (default 5 s).
    public var connectTimeout: UInt64 = 5_000_000_000
    /// A RECORDS frame is sent once it holds this many records (default 512)...
    public var frameRecords = 512
    /// ...or this many bytes (default 256 KiB, and never more than the receiver's announced limit; a larger
    /// record gets a frame of its own, and one the receiver's limit cannot hold is left out, told as
    /// `.recordNotSent`), or once the source has had nothing ready for `linger`.
    public var frameBytes = 256 << 10
    /// How long a partly filled frame waits for more records when none is ready, once (default 2 ms).
    public var linger: UInt64 = 2_000_000
    /// Frames sent and not yet acknowledged before the sender waits for acknowledgements (flow control; default
    /// 32). Also bounds what a retry sends again (framed anew, within the new receiver's limit).
    public var window = 32
    /// While records are sent and not acknowledged, the receiver must acknowledge more of them within this many
    /// nanoseconds (default 60 s; `UInt64.max` never times out), or the connection counts as lost
    /// (`.connectionLost`; with `retry` it is made again).
    public var ackTimeout: UInt64 = 60_000_000_000
    /// Stops the send when triggered, whatever it is waiting for (connecting, the receiver, acknowledgements, a
    /// reconnection): it throws `.connectionLost` ("interrupted") saying how many records were acknowledged.
    public var shutdown: ShutdownToken?
    /// Called with what happens to connections (for the CLI's messages).
    public var onEvent: (@Sendable (SenderEvent) -> Void)?

    /// Options with the given `retry`, and every other setting at its default.
    public init(retry: Bool = false) { self.retry = retry }
}

/// What happens to a sender's connections.
public enum SenderEvent: Sendable {
    /// Connected (and greeted) to the receiver at this address.
    case connected(String)
    /// The connection failed: the reason, and the records acknowledged and sent so far.
    case connectionLost(SluiceError, acknowledged: Int, sent: Int)
    /// About to reconnect (attempt 1, 2, ...) after waiting `delay` nanoseconds.
    case reconnecting(attempt: Int, delay: UInt64)
    /// A record was left out: even alone it needs a frame of `bytes` bytes, more than the receiver's `limit`.
    /// `location` is where it came from, when the source says (`send(batches:)` of `FollowedRecord`s).
    case recordNotSent(LogRecord, location: RejectTally.Location?, bytes: Int, limit: Int)
    /// A record had `fields` fields, more than the 1024 the wire carries: it was sent with its first 1024.
    case fieldsNotSent(LogRecord, location: RejectTally.Location?, fields: Int)
}

/// How a completed send went.
public struct SendReport: Sendable, Equatable {
    /// Records taken from the source and sent.
    public var records: Int
    /// Records the receiver acknowledged (all of them when the send returns normally).
    public var acknowledged: Int
    /// Connections made (more than 1 after reconnecting).
    public var connections: Int
    /// Records left out because they did not fit the receiver's frame limit (each told as `.recordNotSent`).
    public var notSent = 0
    /// Records sent with their first 1024 fields only (each told as `.fieldsNotSent`).
    public var cut = 0
}

/// Ships records to a `RecordReceiver` over TCP (the tutorial's `sendto`/`netsend`; see `Wire` for the format).
///
/// Records are framed in batches: a frame goes out when it is full, or when the source has had nothing more
/// ready for `linger`, so a live source is shipped within milliseconds and a stored one in large frames. Every frame is kept until the
/// receiver acknowledges its records; at most `window` frames are in flight. The send returns once the receiver
/// has acknowledged every record, after the END frame.
///
/// When the connection is lost — also when records wait `ackTimeout` without the receiver acknowledging more — the
/// send throws `.connectionLost` with a message saying how many records were acknowledged (also in
/// `acknowledged`), unless `retry` is set: then it reconnects with exponential backoff and resends every
/// unacknowledged record first, framed anew within the new receiver's limit, so records arrive at least once and
/// in order. When the source throws, what it produced before is still sent and acknowledged, then its error is
/// rethrown.
///
/// A schema (field names) larger than the receiver's frame limit ends the send with `.invalidArgument` (receivers
/// take at least 4 KiB, enough for the built-in formats). A record no frame of the receiver can hold is left out,
/// and one with more than 1024 fields is sent with its first 1024; both are told to `onEvent` and counted in the
/// report. A line holding `\n` is refused by receivers (it would print as two), which ends the send.
public final class RecordSender: Sendable {
    /// Where the records go.
    public let address: SocketAddress
    /// The field layout announced to the receiver (in the SCHEMA frame).
    public let schema: RecordSchema
    /// How records are framed, acknowledged and resent.
    public let options: SenderOptions
    private let counters = Mutex((sent: 0, acknowledged: 0))

    /// A sender to `address`; nothing is connected until `send` is called.
    public init(to address: SocketAddress, schema: RecordSchema, options: SenderOptions = SenderOptions()) {
        self.address = address
        self.schema = schema
        self.options = options
    }

    /// Records the receiver has acknowledged so far.
    public var acknowledged: Int { counters.withLock { $0.acknowledged } }
    /// Records taken from the source and framed so far.
    public var sent: Int { counters.withLock { $0.sent } }

    /// Sends every record of `records`; see the type's description. Each record is handed over on its own; a
    /// source that has records in groups should use `send(batches:)`, which costs less per record.
    public func send<Records: AsyncSequence & Sendable>(_ records: Records) async throws -> SendReport
    where Records.Element == LogRecord {
        try await run { input in
            for try await record in records { try await input.send([Outgoing(record: record)]) }
        }
    }

    /// Sends every record of every group of `batches`; see the type's description.
    public func send<Batches: AsyncSequence & Sendable>(batches: Batches) async throws -> SendReport
    where Batches.Element == [LogRecord] {
        try await run { input in
            for try await batch in batches where !batch.isEmpty { try await input.send(batch.map { Outgoing(record: $0) }) }
        }
    }

    /// Sends every record of every group of `batches` (`Follow.batches` or `StoredLines.batches` through
    /// `records(_:)`); events about a record name its place in the input. See the type's description.
    public func send<Batches: AsyncSequence & Sendable>(batches: Batches) async throws -> SendReport
    where Batches.Element == [FollowedRecord] {
        try await run { input in
            for try await batch in batches where !batch.isEmpty {
                try await input.send(batch.map { Outgoing(record: $0.record, location: $0.location) })
            }
        }
    }

    /// Runs `produce` (filling the input queue) beside the transmission, and ends the queue when it returns.
    private func run(_ produce: @escaping @Sendable (AsyncQueue<[Outgoing]>) async throws -> Void) async throws -> SendReport {
        let input = AsyncQueue<[Outgoing]>(capacity: 16)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await produce(input)
                    input.finish()
                } catch {
                    input.finish(throwing: error is CancellationError ? nil : error)
                }
            }
            defer { group.cancelAll() }
            let state = SenderState(options: options)
            return try await transmit(input, state)
        }
    }

    /// Connects, runs sessions until one completes, and reconnects between them when allowed.
    private func transmit(_ input: AsyncQueue<[Outgoing]>, _ state: SenderState) async throws -> SendReport {
        var attempt = 0
        var delay = options.retryDelay
        // What ends the send, with the count the receiver acknowledged.
        func ending(_ error: SluiceError) -> SluiceError {
            SluiceError(error.code, path: error.path, "\(error.message): \(acknowledged) of \(state.sent) records acknowledged",
                        line: error.line, offset: error.offset)
        }
        func lost(_ message: String) -> SluiceError { ending(SluiceError(.connectionLost, path: address.description, message)) }
        while true {
            let acknowledgedBefore = acknowledged
            do {
                let socket = try await Socket.connect(address, timeout: options.connectTimeout, token: options.shutdown)
                state.connections += 1
                try await session(socket, input, state)
                socket.close()
            } catch {
                // Whatever was interrupted by the shutdown (it may have failed in its own way first).
                if options.shutdown?.isTriggered == true { throw lost("interrupted") }
                guard let error = error as? SluiceError else { throw error }
                guard error.code == .connectionLost || error.code == .io else { throw ending(error) }
                let done = acknowledged
                options.onEvent?(.connectionLost(error, acknowledged: done, sent: state.sent))
                // Attempts count in a row: a connection that got records acknowledged starts the count again.
                if done > acknowledgedBefore {
                    attempt = 0
                    delay = options.retryDelay
                }
                attempt += 1
                if !options.retry || Task.isCancelled || attempt > (options.maxRetries ?? Int.max) {
                    throw lost(error.message)
                }
                options.onEvent?(.reconnecting(attempt: attempt, delay: delay))
                if !(await Reactor.shared.sleep(until: monotonicNanoseconds() &+ delay, token: options.shutdown)) {
                    throw lost(options.shutdown?.isTriggered == true ? "interrupted" : error.message)
                }
                delay = Swift.min(delay * 2, options.maxRetryDelay)
                continue
            }
            if let failure = state.inputFailure { throw (failure as? SluiceError).map(ending) ?? failure }
            return SendReport(records: state.sent, acknowledged: acknowledged, connections: state.connections,
                              notSent: state.notSent, cut: state.cut)
        }
    }

    /// One connection: greeting, schema, the unacknowledged records again, then new ones, END and the final ACK.
    /// A second task reads the receiver's ACK and ERROR frames from a duplicate of the socket, and a third
    /// (`watch`) ends the session on the shutdown or when acknowledgements stop coming.
    private func session(_ socket: Socket, _ input: AsyncQueue<[Outgoing]>, _ state: SenderState) async throws {
        let peer = address.description
        try await socket.write(Wire.senderHello(), token: options.shutdown)
        let hello = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.receiverHelloSize, alignment: 8)
        defer { hello.deallocate() }
        let greetingDeadline = monotonicNanoseconds() &+ options.connectTimeout
        guard try await socket.readExactly(hello, deadline: greetingDeadline, token: options.shutdown,
                                           what: "during the greeting") else {
            throw SluiceError(.connectionLost, path: peer, "receiver closed the connection during the greeting")
        }
        let (version, maxFrame) = try Wire.parseReceiverHello(Array(hello), peer: peer)
        if version != Wire.version {
            // The receiver explains itself in an ERROR frame, if it does within the greeting's time.
            let frame = try? await socket.readFrame(maxFrame: 1 << 16, deadline: greetingDeadline, token: options.shutdown)
            if let frame, frame.type == Wire.FrameType.error.rawValue {
                throw SluiceError(.protocolViolation, path: peer, "receiver refused: \(String(decoding: frame.payload, as: UTF8.self))")
            }
            throw SluiceError(.protocolViolation, path: peer, "receiver speaks protocol version \(version) (this sender speaks \(Wire.version))")
        }
        let acks = AckBox()
        let reader = try socket.duplicate()
        defer { reader.close() }
        options.onEvent?(.connected(peer))
        state.beginConnection()
        defer {
            // Count what the receiver acknowledged up to the end, also when the connection failed.
            state.acknowledge(through: acks.value)
            counters.withLock { $0.acknowledged = state.acknowledged }
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await self.readAcks(reader, acks); return false }
            group.addTask { try await self.watch(acks); return false }
            group.addTask { try await self.write(socket, input, state, acks, maxFrame: maxFrame); return true }
            // The writer's return ends the session, and so does the first failure, at once.
            while try await group.next() == false {}
            group.cancelAll()
        }
    }

    /// Returns only when cancelled; throws `CancellationError` on the shutdown, and `.connectionLost` when
    /// records have waited `ackTimeout` without the receiver acknowledging any more.
    private func watch(_ acks: AckBox) async throws {
        while true {
            let waitingSince = acks.waitingSince
            let (sum, beyond) = (waitingSince ?? monotonicNanoseconds()).addingReportingOverflow(options.ackTimeout)
            let deadline = beyond ? UInt64.max : sum  // a timeout of centuries never wraps to a passed deadline
            if waitingSince != nil && monotonicNanoseconds() >= deadline {
                throw SluiceError(.connectionLost, path: address.description,
                                  "no acknowledgement from the receiver for \(options.ackTimeout / 1_000_000) ms")
            }
            if !(await Reactor.shared.sleep(until: deadline, token: options.shutdown)) {
                if options.shutdown?.isTriggered == true { throw CancellationError() }
                return
            }
        }
    }

    /// The writing side of a session; returns when the receiver has acknowledged END.
    private func write(_ socket: Socket, _ input: AsyncQueue<[Outgoing]>, _ state: SenderState, _ acks: AckBox,
                       maxFrame: Int) async throws {
        let schemaFrame = Wire.schemaFrame(schema)
        guard schemaFrame.count - 4 <= maxFrame else {
            throw SluiceError(.invalidArgument, path: address.description,
                              "the schema of \(schema.names.count) fields needs a frame of \(schemaFrame.count - 4) bytes, "
                                + "more than the receiver's frame limit of \(maxFrame) bytes")
        }
        try await socket.write(schemaFrame)
        var lingered = false
        // Frames stay within the receiver's announced limit as well as the configured size (the builder's bytes
        // count the 4-byte length prefix, which the limit does not).
        let frameLimit = Swift.min(options.frameBytes, maxFrame + 4)
        func flush() async throws {
            lingered = false
            guard let frame = state.seal() else { return }
            counters.withLock { $0.sent = state.sent }
            state.connectionRecords += frame.count
            acks.wrote(UInt64(state.connectionRecords))
            try await socket.write(frame.bytes)
        }
        while true {
            state.acknowledge(through: acks.value)
            counters.withLock { $0.acknowledged = state.acknowledged }
            if state.inputEnded && !state.hasPending {
                try await flush()
                acks.expect(UInt64(state.connectionRecords))  // before END, so the reader knows it may end
                try await socket.write(Wire.countFrame(.end, UInt64(state.connectionRecords)))
                while acks.value < UInt64(state.connectionRecords) {
                    guard try await acks.signal.next() != nil else { throw CancellationError() }
                }
                state.acknowledge(through: acks.value)
                counters.withLock { $0.acknowledged = state.acknowledged }
                return
            }
            if state.inFlight >= options.window {
                guard try await acks.signal.next() != nil else { throw CancellationError() }
                continue
            }
            if let next = state.peekPending() {
                // A frame holds a type byte, a count and the records: one that does not fit even alone is left out.
                let size = Wire.encodedSize(next.record)
                if 5 + size > maxFrame {
                    state.advancePending()
                    state.leaveOut(next)
                    options.onEvent?(.recordNotSent(next.record, location: next.location, bytes: 5 + size, limit: maxFrame))
                    continue
                }
                if state.frameCount >= options.frameRecords || (state.frameCount > 0 && state.frameBytes + size > frameLimit) {
                    try await flush()
                }
                // Taken only now: when the flush above fails, the record is still pending for the next connection.
                if state.append(next) {
                    options.onEvent?(.fieldsNotSent(next.record, location: next.location, fields: next.record.fields.count))
                }
                state.advancePending()
                continue
            }
            let polled: QueuePoll<[Outgoing]>
            do { polled = try input.poll() } catch {
                state.inputFailure = error
                state.inputEnded = true
                continue
            }
            switch polled {
            case .element(let batch):
                state.take(batch)
            case .ended:
                state.inputEnded = true
            case .empty:
                if state.frameCount > 0 && !lingered {
                    // Give a producer that is just slower than us a moment to fill the frame, instead of
                    // sending many small frames.
                    lingered = true
                    if !(await Reactor.shared.sleep(until: monotonicNanoseconds() &+ options.linger)) { throw CancellationError() }
                    continue
                }
                try await flush()
                do {
                    guard let batch = try await input.next() else {
                        if Task.isCancelled { throw CancellationError() }
                        state.inputEnded = true
                        continue
                    }
                    state.take(batch)
                } catch let error where !(error is CancellationError) {
                    state.inputFailure = error
                    state.inputEnded = true
                }
            }
        }
    }

    /// Reads ACK frames into `acks` until the final one; an ERROR frame or a closed connection throws.
    private func readAcks(_ reader: Socket, _ acks: AckBox) async throws {
        let peer = address.description
        while true {
            if let end = acks.expected, acks.value >= end { return }
            guard let frame = try await reader.readFrame(maxFrame: 1 << 16) else {
                if let end = acks.expected, acks.value >= end { return }
                throw SluiceError(.connectionLost, path: peer, "receiver closed the connection")
            }
            var payload = WireReader(frame.payload, peer: peer)
            switch Wire.FrameType(rawValue: frame.type) {
            case .ack: acks.update(try payload.u64())
            case .error:
                throw SluiceError(.protocolViolation, path: peer,
                                  "receiver refused: \(String(decoding: frame.payload, as: UTF8.self))")
            default:
                throw SluiceError(.protocolViolation, path: peer, "unexpected frame type 0x\(String(frame.type, radix: 16)) from the receiver")
            }
        }
    }
}

/// The latest cumulative ACK of a connection, a signal that wakes the writer when it changes, and since when
/// records written have been waiting for it.
final class AckBox: Sendable {
    private struct State {
        var value: UInt64 = 0
        var expected: UInt64?
        /// Records written on the connection (or being written).
        var written: UInt64 = 0
        /// When the ACK last grew, or records were written while all before them were acknowledged.
        var since: UInt64 = 0
    }
    private let state = Mutex(State())
    let signal = AsyncQueue<Void>(capacity: 1, whenFull: .dropOldest)

    var value: UInt64 { state.withLock { $0.value } }
    var expected: UInt64? { state.withLock { $0.expected } }

    /// Since when unacknowledged records have waited without the ACK growing; nil when none are waiting.
    var waitingSince: UInt64? { state.withLock { $0.value < $0.written ? $0.since : nil } }

    func update(_ value: UInt64) {
        state.withLock {
            if value > $0.value {
                $0.value = value
                $0.since = monotonicNanoseconds()
            }
        }
        signal.offer(())
    }

    /// Notes that the connection's records up to `total` are written (about to be).
    func wrote(_ total: UInt64) {
        state.withLock {
            if $0.value >= $0.written { $0.since = monotonicNanoseconds() }
            $0.written = total
        }
    }

    func expect(_ total: UInt64) {
        state.withLock { $0.expected = total }
        signal.offer(())
    }
}

/// A record on its way, with where it came from when the source said.
struct Outgoing {
    var record: LogRecord
    var location: RejectTally.Location?
    /// Counted in `SenderState.sent` (when framed the first time; framing it again for a new connection does
    /// not count it twice).
    var counted = false
}

/// What survives from one connection to the next: the records taken from the source and not yet framed, the
/// frame being built and the records of the frames not yet acknowledged. Used by one session's writer at a time.
final class SenderState: @unchecked Sendable {
    private var builder: RecordsFrameBuilder
    /// The records in `builder`.
    private var building = [Outgoing]()
    /// The records of each frame sent and not yet acknowledged, oldest first.
    private var unacknowledged = Ring<[Outgoing]>()
    /// Records taken from the source (or taken back from unacknowledged frames) and not yet in a frame.
    private var pending = [Outgoing]()
    private var pendingIndex = 0
    private let frameRecords: Int
    /// Records in frames, all connections together (each counted once).
    private(set) var sent = 0
    private(set) var acknowledged = 0
    /// Records left out as too large for a receiver, and records sent with their first 1024 fields only.
    private(set) var notSent = 0
    private(set) var cut = 0
    /// Records sent on the current connection, and how many of its frames' records were already popped.
    var connectionRecords = 0
    private var poppedOnConnection = 0
    var connections = 0
    var inputEnded = false
    var inputFailure: Error?

    init(options: SenderOptions) {
        builder = RecordsFrameBuilder(capacity: options.frameBytes + 1024)
        frameRecords = options.frameRecords
    }

    var inFlight: Int { unacknowledged.count }
    /// Records and bytes (with the 4-byte length) of the frame being built.
    var frameCount: Int { builder.count }
    var frameBytes: Int { builder.bytes.count }

    func take(_ batch: [Outgoing]) {
        pending = batch
        pendingIndex = 0
    }

    var hasPending: Bool { pendingIndex < pending.count }

    /// The next record not yet in a frame; it stays next until `advancePending`.
    func peekPending() -> Outgoing? { pendingIndex < pending.count ? pending[pendingIndex] : nil }

    /// Moves past the record `peekPending` returned, once it is in the frame being built or left out.
    func advancePending() { pendingIndex += 1 }

    /// Starts a connection: every record not acknowledged — of the frames sent before, and of the frame being
    /// built — goes back in front of the pending ones, in order, to be framed anew within this receiver's limit.
    func beginConnection() {
        connectionRecords = 0
        poppedOnConnection = 0
        let again = unacknowledged.elements.flatMap { $0 } + building
        guard !again.isEmpty else { return }
        pending = again + pending[pendingIndex...]
        pendingIndex = 0
        unacknowledged = Ring()
        building = []
        builder.removeAll()
    }

    /// Adds `outgoing` to the frame being built with its first 1024 fields (`Wire.maxFields`); true when it had
    /// more. It is kept so cut, so framing it again does not cut it again.
    func append(_ outgoing: Outgoing) -> Bool {
        var outgoing = outgoing
        let extra = outgoing.record.fields.count - Wire.maxFields
        if extra > 0 {
            outgoing.record.fields.removeLast(extra)
            cut += 1
        }
        builder.append(outgoing.record)
        building.append(outgoing)
        return extra > 0
    }

    /// Leaves out `outgoing`, which no frame the receiver accepts can hold.
    func leaveOut(_ outgoing: Outgoing) {
        if outgoing.counted { sent -= 1 }
        notSent += 1
    }

    /// Seals the frame being built: its bytes and record count, its records kept until acknowledged; nil when
    /// it is empty.
    func seal() -> (bytes: [UInt8], count: Int)? {
        guard !builder.isEmpty else { return nil }
        for index in building.indices where !building[index].counted {
            building[index].counted = true
            sent += 1
        }
        unacknowledged.append(building)
        let count = building.count
        building = []
        building.reserveCapacity(frameRecords)
        return (builder.finish(), count)
    }

    /// Drops the frames the connection's cumulative ACK `value` covers.
    func acknowledge(through value: UInt64) {
        while let first = unacknowledged.first, UInt64(poppedOnConnection + first.count) <= value {
            _ = unacknowledged.removeFirst()
            poppedOnConnection += first.count
            acknowledged += first.count
        }
    }
}

extension Ring {
    var first: Element? { count == 0 ? nil : peek(0) }
    var elements: [Element] { (0..<count).map(peek) }
}
