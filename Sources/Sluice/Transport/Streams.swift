#if canImport(Glibc)
import Glibc
#endif

/// Connections accepted on a TCP address, as an `AsyncSequence` (the tutorial's `receive_connections` /
/// `genreceive`): each element is a connected `TCPConnection`, for protocols other than the record transport.
///
/// The socket is bound when the listener is made (`address` names the chosen port for port 0). The sequence
/// ends, closing the listening socket, when `close()` is called, the consuming task is cancelled or `shutdown`
/// is triggered; connections already handed out stay open until closed.
public final class TCPListener: AsyncSequence, Sendable {
    /// Each element is one accepted connection.
    public typealias Element = TCPConnection
    /// The address listened on (with the chosen port for port 0).
    public let address: SocketAddress
    private let socket: Socket
    private let shutdown: ShutdownToken?

    /// Binds `address` (see `SocketAddress.init(parsing:)` for the loopback default). Throws `.io`.
    public init(listeningOn address: SocketAddress, shutdown: ShutdownToken? = nil) throws {
        socket = try Socket.bind(address)
        self.address = socket.localAddress() ?? address
        self.shutdown = shutdown
    }

    /// Stops listening, from any task: the sequence ends (the descriptor is released with the listener).
    public func close() { socket.cancel() }

    /// Accepts on the listener's socket; iterators made from one listener share it.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let listener: TCPListener
        /// The next accepted connection, sharing the listener's `shutdown`; nil, closing the listener, once it
        /// was closed, the task is cancelled or `shutdown` triggered. Throws a `SluiceError` when accepting fails.
        public mutating func next() async throws -> TCPConnection? {
            guard let accepted = try await listener.socket.accept(token: listener.shutdown) else {
                listener.close()
                return nil
            }
            return TCPConnection(accepted, shutdown: listener.shutdown)
        }
    }

    /// An iterator that accepts on this listener's socket.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listener: self) }
}

/// One TCP connection, read and written without holding a thread while it waits. Reading and writing may go on
/// in two tasks at once. Waits end with `CancellationError` when the task is cancelled or `shutdown` triggered.
public final class TCPConnection: Sendable {
    /// The other end's address.
    public let peer: String
    private let reader: Socket
    private let writer: Socket
    private let shutdown: ShutdownToken?

    init(_ socket: Socket, shutdown: ShutdownToken?) {
        peer = socket.label
        reader = socket
        writer = (try? socket.duplicate()) ?? socket
        self.shutdown = shutdown
    }

    /// Connects to `address`, giving up after `timeout` nanoseconds. Throws `.connectionLost` or `.io`.
    public static func connect(to address: SocketAddress, timeout: UInt64 = 5_000_000_000,
                               shutdown: ShutdownToken? = nil) async throws -> TCPConnection {
        TCPConnection(try await Socket.connect(address, timeout: timeout, token: shutdown), shutdown: shutdown)
    }

    /// The next bytes received (at most `maximum`), or nil once the peer has closed its side.
    public func read(maximum: Int = 64 << 10) async throws -> [UInt8]? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(1, maximum), alignment: 8)
        defer { buffer.deallocate() }
        let got = try await reader.read(into: buffer, token: shutdown)
        return got == 0 ? nil : Array(buffer[0..<got])
    }

    /// Sends all of `bytes`.
    public func write(_ bytes: [UInt8]) async throws { try await writer.write(bytes, token: shutdown) }

    /// Stops sending (the peer reads end of file after what was written) while still receiving.
    public func shutdownWriting() { writer.shutdownWrite() }

    /// Closes both directions, from any task: pending reads and writes end with `CancellationError` (the
    /// descriptors are released with the connection).
    public func close() {
        writer.cancel()
        reader.cancel()
    }

    /// The bytes received, split into lines at `\n` (without it); a last line without `\n` is delivered when the
    /// peer closes. A line longer than `maxLineLength` comes in pieces of `maxLineLength` bytes, the last piece
    /// holding the rest, however its bytes arrive; so at most `maxLineLength` bytes and one read are buffered.
    public func lines(maxLineLength: Int = 1 << 20) -> Lines { Lines(connection: self, maxLineLength: maxLineLength) }

    /// The lines received on a `TCPConnection`; see `lines(maxLineLength:)`.
    public struct Lines: AsyncSequence, Sendable {
        let connection: TCPConnection
        let maxLineLength: Int

        /// Reads the connection in blocks of up to 64 KiB into its own buffer and splits it at `\n`.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let connection: TCPConnection
            let maxLineLength: Int
            var buffer = [UInt8]()
            var start = 0
            var ended = false

            /// The next line without its `\n`; nil once the peer has closed and every byte was returned. Throws what
            /// `TCPConnection.read` throws.
            public mutating func next() async throws -> [UInt8]? {
                while true {
                    // A `\n` right after `maxLineLength` bytes still ends a line of full length, not an empty one.
                    let window = buffer[start..<(buffer.count - start > maxLineLength ? start + maxLineLength + 1 : buffer.count)]
                    if let newline = window.firstIndex(of: 10) {
                        defer { start = newline + 1 }
                        return Array(buffer[start..<newline])
                    }
                    if buffer.count - start > maxLineLength {
                        defer { start += maxLineLength }
                        return Array(buffer[start..<start + maxLineLength])
                    }
                    if ended {
                        guard start < buffer.count else { return nil }
                        defer { start = buffer.count }
                        return Array(buffer[start...])
                    }
                    buffer.removeFirst(start)
                    start = 0
                    if let more = try await connection.read() { buffer += more } else { ended = true }
                }
            }
        }

        /// An iterator with its own buffer over the connection; a `maxLineLength` below 1 counts as 1.
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(connection: connection, maxLineLength: Swift.max(1, maxLineLength))
        }
    }
}

/// One UDP datagram received.
public struct Datagram: Sendable, Equatable {
    /// The sender's address.
    public let peer: String
    /// The datagram's payload.
    public let bytes: [UInt8]
}

/// Datagrams received on a UDP address, as an `AsyncSequence` (the tutorial's `gen_messages`). Datagrams may be
/// lost, duplicated or reordered by the network, and one longer than `maximumSize` is cut to it: use the TCP
/// record transport when every record matters.
///
/// The socket is bound when the source is made. The sequence ends, closing the socket, when `close()` is called,
/// the consuming task is cancelled or `shutdown` is triggered.
public final class UDPMessages: AsyncSequence, Sendable {
    /// Each element is one received datagram and its sender.
    public typealias Element = Datagram
    /// The address bound (with the chosen port for port 0).
    public let address: SocketAddress
    /// Longer datagrams are cut to this many bytes.
    public let maximumSize: Int
    private let socket: Socket
    private let shutdown: ShutdownToken?

    /// Binds `address` (loopback unless a host is given). Throws `.io`.
    public init(listeningOn address: SocketAddress, maximumSize: Int = 65_507, shutdown: ShutdownToken? = nil) throws {
        socket = try Socket.bind(address, datagram: true)
        self.address = socket.localAddress() ?? address
        self.maximumSize = Swift.max(1, maximumSize)
        self.shutdown = shutdown
    }

    /// Stops receiving, from any task: the sequence ends (the descriptor is released with the source).
    public func close() { socket.cancel() }

    /// Receives on the source's socket; iterators made from one source share it.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: UDPMessages

        /// The next datagram, cut to `maximumSize` bytes; nil, closing the socket, once it was closed, the task is
        /// cancelled or `shutdown` triggered. Throws a `SluiceError` when receiving fails.
        public mutating func next() async throws -> Datagram? {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: source.maximumSize, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let got = withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(source.socket.fd, buffer.baseAddress, buffer.count, 0, $0, &length)
                    }
                }
                // Once `close()` has shut the socket down, a read returns 0 bytes: that is the end, not an empty
                // datagram (an empty datagram that really arrived reads as 0 bytes too, while still open).
                if got == 0 && source.socket.isCancelled { return nil }
                if got >= 0 {
                    let peer = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!, length: Int(length)) }
                    return Datagram(peer: peer.description, bytes: Array(buffer[0..<got]))
                }
                guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                    if source.socket.isCancelled { return nil }
                    throw source.socket.failure(errno)
                }
                if errno != EINTR, !(await source.socket.waitReadable(token: source.shutdown)) {
                    source.close()
                    return nil
                }
            }
        }
    }

    /// An iterator that receives on this source's socket.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }

    /// Sends one datagram of `bytes` to `address` (the tutorial's `sendto`). Throws `.io` when it cannot be sent.
    public static func send(_ bytes: [UInt8], to address: SocketAddress) throws {
        let fd = Glibc.socket(address.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SluiceError(.io, path: address.description, String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        let sent = bytes.withUnsafeBytes { raw in
            address.withSockaddr { sendto(fd, raw.baseAddress, raw.count, 0, $0, $1) }
        }
        if sent < 0 { throw SluiceError(.io, path: address.description, String(cString: strerror(errno))) }
    }
}
