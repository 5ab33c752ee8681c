import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a `RecordReceiver` serves its senders. Times are in nanoseconds.
public struct ReceiverOptions: Sendable {
    /// The largest frame accepted (and announced in the greeting), brought within `maxFrameRange`.
    public var maxFrame = Wire.defaultMaxFrame
    /// 4 KiB, which holds the schema of every built-in format (a regex with many long group names may need
    /// more), to 4 MiB.
    public static let maxFrameRange = Wire.minimumMaxFrame...Wire.defaultMaxFrame
    /// A sender must complete its greeting within this time (default 10 s).
    public var handshakeTimeout: UInt64 = 10_000_000_000
    /// Once a frame's length has arrived, its body must arrive within this time (default 30 s).
    public var frameTimeout: UInt64 = 30_000_000_000
    /// Connections served at once; further ones get an ERROR frame and are closed (default 256).
    public var maxConnections = 256
    /// Events buffered for the consumer; beyond that, connections stop reading (backpressure to the senders).
    public var bufferedEvents = 32
    /// Ends the sequence (and every connection) when triggered.
    public var shutdown: ShutdownToken?

    /// Options with the given `shutdown`, and every other setting at its default.
    public init(shutdown: ShutdownToken? = nil) { self.shutdown = shutdown }
}

/// One sender's connection, as events name it.
public struct ConnectionInfo: Sendable, Hashable, CustomStringConvertible {
    /// 1 for the first connection accepted, 2 for the next, ...
    public let id: Int
    /// The sender's address.
    public let peer: String
    /// `peer (connection id)`, as messages name the connection.
    public var description: String { "\(peer) (connection \(id))" }
}

/// The records of one RECORDS frame.
public struct RecordBatch: Sendable {
    /// The connection the records came on.
    public let connection: ConnectionInfo
    /// The layout the sender declared for these records.
    public let schema: RecordSchema
    /// The records, in the order sent.
    public let records: [LogRecord]
    let acknowledgement: AckCounter
}

/// What a `RecordReceiver` reports, in the order it happens on each connection.
public enum ReceiveEvent: Sendable {
    /// A sender completed the handshake.
    case connected(ConnectionInfo)
    /// Records arrived. The batch counts as delivered — and is acknowledged to its sender — when the consumer
    /// asks for the next event.
    case batch(RecordBatch)
    /// The connection ended: cleanly after the sender's END (`error` nil), or with the reason (a protocol
    /// violation, a timeout, the sender vanishing before END). Other connections are unaffected.
    case disconnected(ConnectionInfo, records: Int, error: SluiceError?)
}

/// A TCP server for the record transport (see `Wire` for the format), as an `AsyncSequence` of events from any
/// number of concurrent senders (the tutorial's `receivefrom`, without unpickling anything).
///
/// The socket is bound when the receiver is made, so `address` names the port at once (useful with port 0);
/// connections are served from the first `next()` on. Records of one connection arrive in the order sent. A
/// connection that breaks the protocol is closed with an ERROR frame and a `.disconnected` event carrying a
/// `.protocolViolation`; the others go on. Iterate a receiver once, from one task.
///
/// The sequence ends — closing the listener and every connection — when `close()` is called, the consuming task
/// is cancelled, the loop is left (the iterator is dropped) or `options.shutdown` is triggered. It throws only
/// when accepting fails for good.
public final class RecordReceiver: AsyncSequence, Sendable {
    /// One event of any connection; events of one connection come in the order they happened.
    public typealias Element = ReceiveEvent
    /// The address the receiver listens on (with the chosen port when asked for port 0).
    public let address: SocketAddress
    private let core: ReceiverCore

    /// Binds `address` (loopback by default, see `SocketAddress.init(parsing:)`). Throws `.io` when the address
    /// cannot be bound.
    public init(listeningOn address: SocketAddress, options: ReceiverOptions = ReceiverOptions()) throws {
        let listener = try Socket.bind(address)
        self.address = listener.localAddress() ?? address
        core = ReceiverCore(listener: listener, options: options)
    }

    /// Stops serving: the listener and every connection are closed and the sequence ends.
    public func close() { core.stop() }

    /// Iterate a receiver once: when its iterator is dropped (the loop ended or was left), the receiver stops.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let lifetime: Lifetime
        var core: ReceiverCore { lifetime.core }
        var unacknowledged: RecordBatch?

        /// Acknowledges the batch last returned, then returns the next event (the first call starts serving).
        /// Nil once the receiver stops; throws when accepting fails for good. Either way the receiver is stopped.
        public mutating func next() async throws -> ReceiveEvent? {
            core.startIfNeeded()
            if let batch = unacknowledged {
                batch.acknowledgement.delivered(batch.records.count)
                unacknowledged = nil
            }
            do {
                guard let event = try await core.events.next() else {
                    core.stop()
                    return nil
                }
                if case .batch(let batch) = event { unacknowledged = batch }
                return event
            } catch {
                core.stop()
                throw error
            }
        }
    }

    /// The receiver's iterator; connections are served from its first `next()`, and dropping it stops the receiver.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(lifetime: Lifetime(core)) }

    /// Stops the receiver when the last copy of its iterator goes away.
    final class Lifetime: Sendable {
        let core: ReceiverCore
        init(_ core: ReceiverCore) { self.core = core }
        deinit { core.stop() }
    }

    /// Just the records, one at a time, with the connection and schema they came with. A batch is acknowledged
    /// once all its records were taken and the next one is asked for.
    public var records: Records { Records(receiver: self) }

    /// The records of a receiver's `.batch` events, one at a time; see `records`.
    public struct Records: AsyncSequence, Sendable {
        let receiver: RecordReceiver
        /// Reads the events through its own `RecordReceiver.AsyncIterator`; dropping it stops the receiver.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var events: RecordReceiver.AsyncIterator
            var batch: RecordBatch?
            var index = 0
            /// The next record with its connection and schema, skipping other events; nil or throws as events do.
            public mutating func next() async throws -> (connection: ConnectionInfo, schema: RecordSchema, record: LogRecord)? {
                while true {
                    if let batch, index < batch.records.count {
                        defer { index += 1 }
                        return (batch.connection, batch.schema, batch.records[index])
                    }
                    batch = nil
                    guard let event = try await events.next() else { return nil }
                    if case .batch(let next) = event {
                        batch = next
                        index = 0
                    }
                }
            }
        }
        /// Makes the receiver's event iterator; connections are served from the first `next()`.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: receiver.makeAsyncIterator()) }
    }
}

/// Counts one connection's delivered records and wakes its acknowledgement writer.
final class AckCounter: Sendable {
    private struct State {
        var delivered: UInt64 = 0
        var end: UInt64?
    }
    private let state = Mutex(State())
    let signal = AsyncQueue<Void>(capacity: 1, whenFull: .dropOldest)

    func delivered(_ count: Int) {
        state.withLock { $0.delivered += UInt64(count) }
        signal.offer(())
    }

    func ended(total: UInt64) {
        state.withLock { $0.end = total }
        signal.offer(())
    }

    var snapshot: (delivered: UInt64, end: UInt64?) { state.withLock { ($0.delivered, $0.end) } }
}

/// The serving machinery behind `RecordReceiver`: one task running the accept loop, with a child task per
/// connection in a discarding task group.
final class ReceiverCore: @unchecked Sendable {
    let events: AsyncQueue<ReceiveEvent>
    private let listener: Socket
    private let options: ReceiverOptions
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let active = Atomic<Int>(0)

    init(listener: Socket, options: ReceiverOptions) {
        self.listener = listener
        var options = options
        options.maxFrame = Swift.min(Swift.max(options.maxFrame, Wire.minimumMaxFrame), Wire.defaultMaxFrame)
        self.options = options
        events = AsyncQueue(capacity: Swift.max(1, options.bufferedEvents))
    }

    deinit { stop() }

    func startIfNeeded() {
        task.withLock { task in
            guard task == nil else { return }
            task = Task { await self.serve() }
        }
    }

    func stop() {
        let running = task.withLock { task -> Task<Void, Never>? in
            if task == nil { task = Task {} }  // never start after a stop
            return task
        }
        running?.cancel()
        events.close()
        listener.cancel()
    }

    private func serve() async {
        var failure: Error?
        await withDiscardingTaskGroup { group in
            var nextID = 0
            while !Task.isCancelled {
                let socket: Socket
                do {
                    guard let accepted = try await listener.accept(token: options.shutdown) else { break }
                    socket = accepted
                } catch {
                    failure = error
                    break
                }
                nextID += 1
                let info = ConnectionInfo(id: nextID, peer: socket.label)
                if active.add(1, ordering: .relaxed).newValue > options.maxConnections {
                    active.subtract(1, ordering: .relaxed)
                    socket.trySend(Wire.receiverHello(maxFrame: options.maxFrame)
                                   + Wire.errorFrame("too many connections (at most \(options.maxConnections))"))
                    socket.shutdownWrite()
                    socket.close()
                    continue
                }
                group.addTask {
                    await self.connection(socket, info)
                    self.active.subtract(1, ordering: .relaxed)
                }
            }
            group.cancelAll()
        }
        listener.close()
        events.finish(throwing: failure)
    }

    /// Serves one sender from greeting to END, then reports how it ended.
    private func connection(_ socket: Socket, _ info: ConnectionInfo) async {
        var received: UInt64 = 0
        var failure: SluiceError?
        let counter = AckCounter()
        do {
            let writer = try socket.duplicate()
            defer { writer.close() }
            let hello = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.senderHelloSize, alignment: 8)
            defer { hello.deallocate() }
            let deadline = monotonicNanoseconds() &+ options.handshakeTimeout
            guard try await socket.readExactly(hello, deadline: deadline, token: options.shutdown, what: "during the greeting") else {
                throw SluiceError(.protocolViolation, path: info.peer, "closed before the greeting")
            }
            let version = try Wire.parseSenderHello(Array(hello), peer: info.peer)
            try await writer.write(Wire.receiverHello(maxFrame: options.maxFrame), token: options.shutdown)
            guard version == Wire.version else {
                throw SluiceError(.protocolViolation, path: info.peer,
                                  "unsupported protocol version \(version) (this receiver speaks \(Wire.version))")
            }
            try await events.send(.connected(info))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.acknowledge(counter, writer) }
                var schema: RecordSchema?
                reading: while true {
                    guard let frame = try await socket.readFrame(maxFrame: options.maxFrame, bodyTimeout: options.frameTimeout,
                                                                 token: options.shutdown) else {
                        throw SluiceError(.connectionLost, path: info.peer, "sender closed the connection without END after \(received) records")
                    }
                    switch Wire.FrameType(rawValue: frame.type) {
                    case .schema:
                        schema = try Wire.decodeSchema(frame.payload, peer: info.peer)
                    case .records:
                        guard let schema else {
                            throw SluiceError(.protocolViolation, path: info.peer, "malformed frame: records before a schema")
                        }
                        let records = try Wire.decodeRecords(frame.payload, peer: info.peer)
                        received += UInt64(records.count)
                        try await events.send(.batch(RecordBatch(connection: info, schema: schema, records: records,
                                                                 acknowledgement: counter)))
                    case .end:
                        var reader = WireReader(frame.payload, peer: info.peer)
                        let total = try reader.u64()
                        try reader.expectEnd("end frame")
                        guard total == received else {
                            throw reader.violation("END announces \(total) records but \(received) arrived")
                        }
                        counter.ended(total: total)
                        break reading
                    default:
                        throw SluiceError(.protocolViolation, path: info.peer,
                                          "malformed frame: unknown frame type 0x\(String(frame.type, radix: 16))")
                    }
                }
                try await group.next()
            }
        } catch let error as SluiceError {
            failure = error
            if error.code == .protocolViolation { await refuse(socket, error.message) }
        } catch {
            failure = nil  // cancelled: the receiver is shutting down
        }
        socket.close()
        if !Task.isCancelled {
            try? await events.send(.disconnected(info, records: Int(received), error: failure))
        }
    }

    /// Sends a parting ERROR frame, then closes gently: stops sending and discards what the peer still sends,
    /// for at most a second and 1 MiB, so the peer's unread bytes do not turn the close into a reset that would
    /// destroy the ERROR frame before the peer reads it.
    private func refuse(_ socket: Socket, _ message: String) async {
        socket.trySend(Wire.errorFrame(message))
        socket.shutdownWrite()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
        defer { scratch.deallocate() }
        let deadline = monotonicNanoseconds() &+ 1_000_000_000
        var discarded = 0
        while discarded < 1 << 20,
              let got = try? await socket.read(into: scratch, deadline: deadline, token: options.shutdown), got > 0 {
            discarded += got
        }
    }

    /// Sends an ACK whenever the consumer has taken more of this connection's records; returns after the final
    /// ACK that follows END.
    private func acknowledge(_ counter: AckCounter, _ writer: Socket) async throws {
        var sent: UInt64 = 0
        while true {
            let (delivered, end) = counter.snapshot
            if delivered > sent {
                try await writer.write(Wire.countFrame(.ack, delivered), token: options.shutdown)
                sent = delivered
            }
            if let end, delivered >= end {
                try await writer.write(Wire.countFrame(.ack, end), token: options.shutdown)
                return
            }
            guard try await counter.signal.next() != nil else { throw CancellationError() }
        }
    }
}

extension Socket {
    /// One non-blocking attempt to send `bytes` (for a parting ERROR frame): whatever does not fit is dropped.
    func trySend(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }
}
