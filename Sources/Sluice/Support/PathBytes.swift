/// File names are bytes, Swift strings are Unicode: this carries a name that is not UTF-8 in a `String` without
/// losing it, so that a file called `log\xff` is read rather than reported missing.
///
/// Each byte of an ill-formed part of the name becomes the private-use scalar U+10FE00 + byte (U+10FE80 to
/// U+10FEFF, one per byte 0x80 to 0xFF); so does each byte of a name's own scalar from that range, so the round
/// trip is exact for every byte string. Every other part is its UTF-8, unchanged. The library turns such
/// strings back into their bytes whenever it hands a path to the system, and the CLI does when it prints; JSON
/// shows the bytes as U+FFFD, as it shows ill-formed bytes of a log.
public enum PathBytes {
    /// The first scalar of the escape range, for byte 0x80.
    static let firstEscape: UInt32 = 0x10FE80
    static let lastEscape: UInt32 = 0x10FEFF
    /// The lead byte of every escape's UTF-8 (and of every other scalar from U+100000): strings without it have
    /// nothing to turn back.
    static let escapeLead: UInt8 = 0xF4

    /// `bytes` as a string: UTF-8 as it is, the rest escaped as described above.
    public static func string<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let array = Array(bytes)
        if !array.contains(escapeLead), let text = String(validating: array, as: UTF8.self) { return text }
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = array.makeIterator()
        var position = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if (firstEscape...lastEscape).contains(scalar.value) {
                    for byte in array[position..<position + encoded.count] { scalars.append(escape(byte)) }
                } else {
                    scalars.append(scalar)
                }
                position += encoded.count
            case .error(let length):
                for byte in array[position..<position + length] { scalars.append(escape(byte)) }
                position += length
            case .emptyInput:
                return String(scalars)
            }
        }
    }

    /// The bytes `text` stands for: the inverse of `string`.
    public static func bytes(_ text: String) -> [UInt8] {
        guard text.utf8.contains(escapeLead) else { return Array(text.utf8) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if (firstEscape...lastEscape).contains(scalar.value) {
                bytes.append(UInt8(truncatingIfNeeded: scalar.value - firstEscape + 0x80))
            } else {
                bytes.append(contentsOf: UTF8.encode(scalar)!)
            }
        }
        return bytes
    }

    /// Calls `body` with the bytes `text` stands for; without a copy when it holds no escape.
    public static func withBytes<Result>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        guard text.utf8.contains(escapeLead) else {
            var text = text
            return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
        return try bytes(text).withUnsafeBytes(body)
    }

    /// Calls `body` with `path`'s bytes as a NUL-terminated C string, for a system call.
    public static func withCString<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        guard path.utf8.contains(escapeLead) else { return try path.withCString(body) }
        let bytes = self.bytes(path).map { CChar(bitPattern: $0) } + [0]
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    private static func escape(_ byte: UInt8) -> Unicode.Scalar {
        Unicode.Scalar(firstEscape - 0x80 + UInt32(byte))!
    }
}
