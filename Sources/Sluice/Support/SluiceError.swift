/// The one error type the library throws. It names the input it concerns and, where known, the position in it,
/// so a caller can print `path: message` without adding context of its own.
public struct SluiceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a value a caller can match on.
    public enum Code: String, Sendable, Equatable {
        /// A path that does not exist (ENOENT, also a dangling symlink).
        case noSuchFile
        /// A path that cannot be opened or listed (permissions, a directory where a file was expected...).
        case unreadable
        /// A PCRE2 pattern that does not compile, or a format's regex without named groups.
        case invalidPattern
        /// PCRE2 gave up on a line (match, depth or JIT stack limit); the line counts as no match.
        case matchLimit
        /// A field name the record format does not have.
        case unknownField
        /// A `--where` condition that does not parse or does not suit its field.
        case invalidCondition
        /// An option or query value out of range or not applicable.
        case invalidArgument
        /// With `strict`, the first line that is not a record of the format.
        case malformedLine
        /// Damaged gzip data: a bad header, deflate data or CRC.
        case corruptGzip
        /// gzip data that ends before its member does.
        case truncatedGzip
        /// Bytes after the last gzip member that are neither a member nor zero padding.
        case trailingGarbage
        /// Damaged bzip2 data: a bad block, magic or CRC.
        case corruptBzip2
        /// bzip2 data that ends before its stream does.
        case truncatedBzip2
        /// A file that became shorter while it was mapped.
        case fileShrank
        /// Any other system call failure (read, write, mmap...), with the system's message.
        case io
        /// A sum that left the 64-bit range.
        case numericOverflow
        /// The input is compressed in a format Sluice does not decode (see `Compression.unsupported`).
        case unsupportedCompression
        /// Transport: the peer went away or the connection failed mid-stream.
        case connectionLost
        /// Transport: the peer broke the wire protocol (bad handshake, malformed or oversized frame).
        case protocolViolation
        /// A run stopped by its shutdown token before it was done (`Engine.run(_:shutdown:output:)`).
        case cancelled
    }

    /// The kind of error, for a caller to match on.
    public var code: Code
    /// The input the error concerns: a file path, `<stdin>` for standard input, or the offending argument.
    public var path: String
    /// A one-line description, without the path.
    public var message: String
    /// 1-based line number in the (decoded) input, when the error concerns one line.
    public var line: Int?
    /// Byte offset in the file as stored, when known. For a compressed input it is where the decoder call that
    /// failed started reading (a block or buffer boundary at or before the damage, which depends on the decoder),
    /// for truncation where the cut block starts; not the damaged byte itself.
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
