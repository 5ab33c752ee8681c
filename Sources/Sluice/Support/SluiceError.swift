/// The one error type the library throws. It names the input it concerns and, where known, the position in it,
/// so a caller can print `path: message` without adding context of its own.
public struct SluiceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a value a caller can match on.
    public enum Code: String, Sendable, Equatable {
        case noSuchFile, unreadable, invalidPattern, matchLimit, unknownField, invalidCondition,
             invalidArgument, malformedLine, corruptGzip, truncatedGzip, trailingGarbage, corruptBzip2,
             truncatedBzip2, fileShrank, io, numericOverflow
        /// The input is compressed in a format Sluice does not decode (see `Compression.unsupported`).
        case unsupportedCompression
        /// Transport: the peer went away or the connection failed mid-stream.
        case connectionLost
        /// Transport: the peer broke the wire protocol (bad handshake, malformed or oversized frame).
        case protocolViolation
    }

    /// The kind of error, for a caller to match on.
    public var code: Code
    /// The input the error concerns: a file path, `<stdin>` for standard input, or the offending argument.
    public var path: String
    /// A one-line description, without the path.
    public var message: String
    /// 1-based line number in the (decoded) input, when the error concerns one line.
    public var line: Int?
    /// Byte offset in the file as stored (compressed offset for compressed inputs), when known.
    public var offset: Int?

    /// An error about `path` with `message` (without the path), and the 1-based `line` or byte `offset` when known.
    public init(_ code: Code, path: String, _ message: String, line: Int? = nil, offset: Int? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.line = line
        self.offset = offset
    }

    /// `path:line: message` or `path: message (at byte N)`, the form the CLI prints.
    public var description: String {
        var text = path
        if let line { text += ":\(line)" }
        text += ": " + message
        if let offset, line == nil { text += " (at byte \(offset))" }
        return text
    }
}
