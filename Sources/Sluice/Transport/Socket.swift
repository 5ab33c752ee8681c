import CInotify
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address, parsed from `HOST:PORT`.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The raw `sockaddr_in` or `sockaddr_in6` bytes.
    let bytes: [UInt8]

    /// Parses `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT`. A missing host is `defaultHost` — the loopback
    /// address unless told otherwise, so nothing listens beyond this machine by accident. Names such as
    /// `localhost` are resolved with getaddrinfo (numeric ports only). Throws `.invalidArgument` naming the text.
    public init(parsing text: String, defaultHost: String = "127.0.0.1") throws {
        var host = defaultHost
        var port = text
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            port = String(text[close...].dropFirst())
            guard port.hasPrefix(":") else {
                throw SluiceError(.invalidArgument, path: text, "expected [IPv6]:PORT")
            }
            port.removeFirst()
        } else if let colon = text.lastIndex(of: ":") {
            let named = String(text[..<colon])
            if !named.isEmpty { host = named }
            port = String(text[text.index(after: colon)...])
        }
        guard let number = UInt16(port) else {
            throw SluiceError(.invalidArgument, path: text, "expected HOST:PORT with a port number 0-65535")
        }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(number), &hints, &list)
        guard status == 0, let first = list else {
            throw SluiceError(.invalidArgument, path: text, "cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        bytes = Array(UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
    }

    init(storage: UnsafeRawPointer, length: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: storage, count: length))
    }

    var family: Int32 { bytes.withUnsafeBytes { Int32($0.load(as: sa_family_t.self)) } }

    /// The port number.
    public var port: Int {
        bytes.withUnsafeBytes { raw in
            Int(UInt16(bigEndian: family == AF_INET6 ? raw.load(as: sockaddr_in6.self).sin6_port
                                                    : raw.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// `127.0.0.1:5140` or `[::1]:5140`.
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        bytes.withUnsafeBytes { raw in
            if family == AF_INET6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            } else {
                var address = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            }
        }
        let host = String(cString: text)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        bytes.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
    }
}

/// A non-blocking socket whose waits go through the `Reactor`, so a task waiting for the network holds no
/// thread. Reads and writes of one socket may run in two tasks at once only through `duplicate()`, since a
/// descriptor has one waiter at a time. Interrupted waits (cancellation, shutdown) throw `CancellationError`.
///
/// `close()` releases the descriptor at once and is for the socket's owner when no other task is using it;
/// `cancel()` may be called from anywhere: it ends every wait on the socket (which then throws
/// `CancellationError`, or for `accept` returns nil) and shuts the connection down, and the descriptor is
/// released by `close()` or when the socket is freed.
final class Socket: @unchecked Sendable {
    let fd: Int32
    /// The peer or local address, for messages.
    let label: String
    private let closed = Mutex(false)
    private let cancellation = ShutdownToken()

    init(fd: Int32, label: String) {
        self.fd = fd
        self.label = label
    }

    deinit { close() }

    func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            _ = Glibc.close(fd)
        }
    }

    /// Ends every wait on this socket and shuts it down; see the type's description.
    func cancel() {
        closed.withLock { closed in
            if !closed { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
        cancellation.trigger()
    }

    var isCancelled: Bool { cancellation.isTriggered }

    /// Waits until the socket is readable; false when interrupted by `token` or `cancel()`.
    func waitReadable(token: ShutdownToken?) async -> Bool { await wait(.read, token: token) != .interrupted }

    /// Waits through the reactor, interrupted by `token` or by `cancel()`.
    private func wait(_ events: IOEvents, deadline: UInt64? = nil, token: ShutdownToken?) async -> WaitOutcome {
        await Reactor.shared.wait(fd: fd, for: events, deadline: deadline,
                                  tokens: token.map { [$0, cancellation] } ?? [cancellation])
    }

    /// A second descriptor for the same socket, closed independently.
    func duplicate() throws -> Socket {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        if copy < 0 { throw failure(errno) }
        return Socket(fd: copy, label: label)
    }

    /// A listening (stream) or bound (datagram) socket on `address`, with `SO_REUSEADDR` so a restarted
    /// receiver can bind its port again at once.
    static func bind(_ address: SocketAddress, datagram: Bool = false, backlog: Int32 = 128) throws -> Socket {
        let kind = Int32(datagram ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(address.family, kind, 0)
        if fd < 0 { throw SluiceError(.io, path: address.description, String(cString: strerror(errno))) }
        let socket = Socket(fd: fd, label: address.description)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.withSockaddr({ Glibc.bind(fd, $0, $1) }) != 0 { throw socket.failure(errno) }
        if !datagram && Glibc.listen(fd, backlog) != 0 { throw socket.failure(errno) }
        return socket
    }

    /// The address the socket is bound to (with the port the system chose for port 0).
    func localAddress() -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!, length: Int(length)) }
    }

    /// Connects to `address`, giving up after `timeout` nanoseconds. Throws `.connectionLost` with the reason.
    static func connect(_ address: SocketAddress, timeout: UInt64, token: ShutdownToken? = nil) async throws -> Socket {
        let kind = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(address.family, kind, 0)
        if fd < 0 { throw SluiceError(.io, path: address.description, String(cString: strerror(errno))) }
        let socket = Socket(fd: fd, label: address.description)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.withSockaddr({ Glibc.connect(fd, $0, $1) }) != 0 {
            guard errno == EINPROGRESS else { throw socket.failure(errno) }
            switch await Reactor.shared.wait(fd: fd, for: .write, deadline: monotonicNanoseconds() &+ timeout, token: token) {
            case .interrupted: throw CancellationError()
            case .timedOut: throw SluiceError(.connectionLost, path: address.description, "connection timed out")
            case .ready:
                var code: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                if code != 0 { throw socket.failure(code) }
            }
        }
        return socket
    }

    /// Waits for and accepts one connection; nil when interrupted.
    func accept(token: ShutdownToken? = nil) async throws -> Socket? {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = CInotify_accept(fd, &storage, &length)
            if client >= 0 {
                var one: Int32 = 1
                _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                let peer = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!, length: Int(length)) }
                return Socket(fd: client, label: peer.description)
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED:
                if errno == EINTR || errno == ECONNABORTED { continue }
                if await wait(.read, token: token) == .interrupted { return nil }
            case EMFILE, ENFILE:
                // Out of descriptors: back off instead of spinning, and try again.
                let tokens = token.map { [$0, cancellation] } ?? [cancellation]
                if await Reactor.shared.wait(fd: nil, deadline: monotonicNanoseconds() &+ 100_000_000, tokens: tokens) == .interrupted {
                    return nil
                }
            default:
                if isCancelled { return nil }
                throw failure(errno)
            }
        }
    }

    /// Reads at most `buffer.count` bytes, waiting for some; 0 means the peer closed. With a `deadline`
    /// (monotonic ns) throws `.connectionLost` ("timed out") when nothing arrives by then.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: UInt64? = nil, token: ShutdownToken? = nil) async throws -> Int {
        while true {
            let got = recv(fd, buffer.baseAddress, buffer.count, 0)
            if got >= 0 { return got }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                switch await wait(.read, deadline: deadline, token: token) {
                case .interrupted: throw CancellationError()
                case .timedOut: throw SluiceError(.connectionLost, path: label, "timed out waiting for the peer")
                case .ready: continue
                }
            default:
                throw failure(errno)
            }
        }
    }

    /// Reads exactly `count` bytes into `buffer`; false when the peer closed before the first byte. Closing
    /// after the first byte throws `.connectionLost`: "connection closed " and `what` was being read.
    func readExactly(_ buffer: UnsafeMutableRawBufferPointer, deadline: UInt64? = nil, token: ShutdownToken? = nil,
                     what: String = "in the middle of a frame") async throws -> Bool {
        var filled = 0
        while filled < buffer.count {
            let got = try await read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), deadline: deadline, token: token)
            if got == 0 {
                if filled == 0 { return false }
                throw SluiceError(.connectionLost, path: label, "connection closed \(what)")
            }
            filled += got
        }
        return true
    }

    /// Writes all of `bytes`, waiting while the socket's buffer is full. Never raises SIGPIPE: a closed peer
    /// throws `.connectionLost`.
    func write(_ bytes: [UInt8], token: ShutdownToken? = nil) async throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent >= 0 {
                offset += sent
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                if await wait(.write, token: token) == .interrupted { throw CancellationError() }
            default:
                throw failure(errno)
            }
        }
    }

    /// Stops sending (the peer reads end of file) while still allowing reads.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// A `SluiceError` for errno `code`: `.connectionLost` for the errors a dying peer causes.
    func failure(_ code: Int32) -> SluiceError {
        let text = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNABORTED:
            return SluiceError(.connectionLost, path: label, text)
        default:
            return SluiceError(.io, path: label, text)
        }
    }
}
