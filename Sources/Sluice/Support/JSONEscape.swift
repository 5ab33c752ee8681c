/// JSON string output for `select --json` and the facade's JSON printer.
enum JSONEscape {
    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends the bytes as a JSON string: `"` and `\\` escaped, control bytes as `\\u00XX`, every other byte
    /// (including bytes that are not UTF-8) copied as it is.
    static func appendString(_ bytes: UnsafePointer<UInt8>, _ count: Int, to output: ByteBuffer) {
        output.append(34)
        for index in 0..<count {
            let byte = bytes[index]
            switch byte {
            case 34, 92:
                output.append(92)
                output.append(byte)
            case 0..<32:
                output.append("\\u00")
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 15)])
            default:
                output.append(byte)
            }
        }
        output.append(34)
    }
}
