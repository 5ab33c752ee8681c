/// JSON strings from raw bytes, for every `--json` output of the CLI, the facade's JSON printer and live
/// records. JSON text must be UTF-8 and logs need not be, so each ill-formed UTF-8 sequence becomes U+FFFD, one
/// per maximal subpart as the Unicode Standard recommends (and as Swift's `String(decoding:as:)` does).
public enum JSONEscape {
    static let hex: [UInt8] = Array("0123456789abcdef".utf8)
    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Appends `bytes[0..<count]` as a JSON string with its quotes: `"` and `\` escaped with a backslash, bytes
    /// below 0x20 as `\u00XX`, well-formed UTF-8 copied as it is, and U+FFFD for each maximal subpart of an
    /// ill-formed sequence.
    public static func appendString(_ bytes: UnsafePointer<UInt8>, _ count: Int, to output: ByteBuffer) {
        output.append(34)
        var run = 0  // start of the bytes not yet written, all to be copied as they are
        var index = 0
        while index < count {
            let byte = bytes[index]
            if byte >= 0x20 && byte < 0x80 && byte != 34 && byte != 92 {
                index &+= 1
                continue
            }
            if byte >= 0x80 {
                let (length, wellFormed) = utf8Sequence(bytes, index, count)
                if wellFormed {
                    index &+= length
                    continue
                }
                output.append(bytes + run, index - run)
                replacement.withUnsafeBufferPointer { output.append($0.baseAddress!, 3) }
                index &+= length
                run = index
                continue
            }
            output.append(bytes + run, index - run)
            if byte == 34 || byte == 92 {
                output.append(92)
                output.append(byte)
            } else {
                output.append("\\u00")
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 15)])
            }
            index &+= 1
            run = index
        }
        output.append(bytes + run, count - run)
        output.append(34)
    }

    /// `appendString` for the bytes of a buffer, which may be empty with no base address.
    public static func appendString(_ bytes: UnsafeBufferPointer<UInt8>, to output: ByteBuffer) {
        guard let base = bytes.baseAddress else {
            output.append(34)
            output.append(34)
            return
        }
        appendString(base, bytes.count, to: output)
    }

    /// The bytes `appendString` writes for `bytes`.
    public static func string(_ bytes: [UInt8]) -> [UInt8] {
        let output = ByteBuffer(capacity: bytes.count + 2)
        bytes.withUnsafeBufferPointer { appendString($0, to: output) }
        return output.array
    }

    /// The UTF-8 sequence whose lead byte (0x80 or more) is at `index`: its length and true when it is
    /// well-formed (Unicode Table 3-7), or the length of its maximal subpart (at least 1) and false.
    @inline(__always)
    private static func utf8Sequence(_ bytes: UnsafePointer<UInt8>, _ index: Int, _ count: Int) -> (Int, Bool) {
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // the range of the second byte
        let trailing: Int
        switch bytes[index] {
        case 0xC2...0xDF: trailing = 1
        case 0xE0: trailing = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: trailing = 2
        case 0xED: trailing = 2; high = 0x9F
        case 0xF0: trailing = 3; low = 0x90
        case 0xF1...0xF3: trailing = 3
        case 0xF4: trailing = 3; high = 0x8F
        default: return (1, false)
        }
        var offset = 1
        while offset <= trailing {
            guard index + offset < count else { return (offset, false) }
            let byte = bytes[index + offset]
            guard byte >= low && byte <= high else { return (offset, false) }
            low = 0x80
            high = 0xBF
            offset += 1
        }
        return (offset, true)
    }
}
