#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor (standard output by default). Flushes at 256 KiB and on `flush`.
final class Output {
    static let standard = Output(fd: 1)
    static let error = Output(fd: 2)

    private let fd: Int32
    private var buffer = [UInt8]()

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 18)
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

    func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    func line(_ text: String) { write(text + "\n") }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                exit(errno == EPIPE ? 0 : 2)
            }
            offset += written
        }
    }
}

/// JSON text for byte strings: bytes that are not valid UTF-8 become U+FFFD, control characters are escaped.
enum JSON {
    static func string(_ bytes: [UInt8]) -> String {
        var result = "\""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    static func string(_ text: String) -> String { string(Array(text.utf8)) }
}

/// Turns the engine's grep output (lines ending in `\n`, delivered in arbitrary pieces) into JSON lines
/// `{"line":"..."}`. Bytes are copied as they are except `"`, `\` and control characters, which are escaped.
final class JSONLines {
    private var pending = [UInt8]()

    func write(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if byte == 10 {
                emit()
            } else {
                pending.append(byte)
            }
        }
    }

    func finish() {
        if !pending.isEmpty { emit() }
    }

    private func emit() {
        var out: [UInt8] = Array("{\"line\":\"".utf8)
        for byte in pending {
            switch byte {
            case 34, 92: out += [92, byte]
            case 0..<32: out += Array(String(format0x: byte).utf8)
            default: out.append(byte)
            }
        }
        out += Array("\"}\n".utf8)
        Output.standard.write(out)
        pending.removeAll(keepingCapacity: true)
    }
}

extension String {
    /// `\u00XX` for a control byte.
    init(format0x byte: UInt8) {
        let hex = Array("0123456789abcdef")
        self = "\\u00" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
    }
}
