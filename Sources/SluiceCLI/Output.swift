#if canImport(Glibc)
import Glibc
#endif
import Sluice

/// Buffered writes to a file descriptor (standard output by default). Flushes at 256 KiB and on `flush`.
final class Output {
    static let standard = Output(fd: 1)
    static let error = Output(fd: 2)

    private let fd: Int32
    private var buffer = [UInt8]()

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 18)
        if fd == 1 { Output.growPipe(fd) }
    }

    /// Gives a pipe on `fd` a 1 MiB buffer (the most an unprivileged process may set by default) instead of
    /// 64 KiB, so that a megabyte of grep's output goes in with one wake-up of the reader rather than sixteen:
    /// `sluice grep GET makebig-2000.log | cat` took 3.8 s with 64 KiB and 1.4 s with 1 MiB (rg: 2.6 s). Nothing
    /// happens for anything but a pipe, or when the kernel refuses.
    private static func growPipe(_ fd: Int32) {
        #if os(Linux)
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFIFO else { return }
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ, which Glibc's Swift module does not export
        _ = fcntl(fd, setPipeSize, Int32(1 << 20))
        #endif
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        if buffer.count + bytes.count > (1 << 18) { flush() }
        if bytes.count >= (1 << 18) {
            writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Writes `text` as UTF-8, except that a path's bytes that are not UTF-8 are written as they are (`PathBytes`).
    func write(_ text: String) { PathBytes.withBytes(text) { write($0) } }

    func line(_ text: String) { write(text + "\n") }

    /// Writes JSON text and a newline as the UTF-8 it is: its strings were escaped from bytes already, so no
    /// character is turned back into a path byte (`PathBytes` carries those in a private-use range).
    func json(_ text: String) {
        jsonPiece(text)
        write([10])
    }

    /// `json` without the newline, for a JSON document written in pieces.
    func jsonPiece(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                let failure = errno
                if failure == EINTR { continue }
                // A reader that went away ends the output quietly, as rg does (where SIGPIPE is ignored).
                if failure == EPIPE { exit(0) }
                if fd != 2 {
                    let message = Array("standard output: write failed: \(String(cString: strerror(failure)))\n".utf8)
                    _ = message.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
                }
                exit(2)
            }
            offset += written
        }
    }
}

/// JSON text for byte strings, as the library's `JSONEscape` writes them (ill-formed UTF-8 becomes U+FFFD).
enum JSON {
    static func string(_ bytes: [UInt8]) -> String { String(decoding: JSONEscape.string(bytes), as: UTF8.self) }

    /// A field's value: a JSON number for a field that always holds an integer (`numeric`; the engine gives
    /// such values as decimal digits), a JSON string otherwise.
    static func value(_ bytes: [UInt8], numeric: Bool) -> String {
        numeric ? String(decoding: bytes, as: UTF8.self) : string(bytes)
    }

    /// A path's bytes that are not UTF-8 (`PathBytes`) become U+FFFD, as ill-formed bytes of a log do.
    static func string(_ text: String) -> String { string(PathBytes.bytes(text)) }
}

/// Turns the engine's grep output (lines ending in `\n`, delivered in arbitrary pieces) into JSON lines
/// `{"line":"..."}`, each line a JSON string as `JSONEscape` writes it.
final class JSONLines {
    private let pending = ByteBuffer(capacity: 4096)
    private let out = ByteBuffer(capacity: 4096)

    func write(_ bytes: UnsafeRawBufferPointer) {
        let base = bytes.assumingMemoryBound(to: UInt8.self)
        var start = 0
        while let newline = base[start...].firstIndex(of: 10) {
            pending.append(base.baseAddress! + start, newline - start)
            emit()
            start = newline + 1
        }
        if start < base.count { pending.append(base.baseAddress! + start, base.count - start) }
    }

    func finish() {
        if pending.count > 0 { emit() }
    }

    private func emit() {
        out.removeAll()
        out.append("{\"line\":")
        JSONEscape.appendString(pending.base, pending.count, to: out)
        out.append("}\n")
        Output.standard.write(out.bytes)
        pending.removeAll()
    }
}
