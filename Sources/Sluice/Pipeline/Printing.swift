#if canImport(Glibc)
import Glibc
#endif

/// How `Records.formatted` turns a record back into a line of text.
public enum RecordStyle: Sendable {
    /// `host ident user [datetime] "method request proto" status bytes`, every field as it was read (a `-`
    /// bytes stays `-`), so the line parses back to the same record.
    case common
    /// `common` plus ` "referer" "agent"`, each `-` when the record has none.
    case combined
    /// One JSON object per line with keys `host` ... `bytes` (and `referer`, `agent` when present); status and
    /// bytes are numbers, text is a JSON string as `JSONEscape` writes it (U+FFFD for bytes that are not UTF-8).
    case json
    /// A header line `host,ident,user,datetime,method,request,proto,status,bytes,referer,agent`, then one line per
    /// record; a field holding a comma, quote, CR or LF is quoted with quotes doubled (RFC 4180).
    case csv
}

extension Records {
    /// The records turned back into lines, lazily: the tutorial's Part 10, where a pipeline ends by printing.
    /// Each element is a `Line` viewing a reusable buffer, valid until the iteration advances. Sequential.
    public func formatted(_ style: RecordStyle) -> FormattedRecords { FormattedRecords(records: self, style: style) }
}

/// Records rendered as lines of text (see `Records.formatted`). End a pipeline with `write(toFile:)`.
public struct FormattedRecords: Sequence {
    let records: Records
    let style: RecordStyle

    /// The status shared with the records.
    public var status: PipelineStatus { records.status }

    /// Starts a new iteration of the records; resets `status`.
    public func makeIterator() -> Iterator { Iterator(self) }

    /// Renders one record at a time into its own buffer.
    public struct Iterator: IteratorProtocol {
        private let cursor: RecordCursor
        private let style: RecordStyle
        private let buffer = ByteBuffer(capacity: 1024)
        private var headerDone: Bool

        init(_ formatted: FormattedRecords) {
            cursor = RecordCursor(formatted.records)
            style = formatted.style
            if case .csv = style { headerDone = false } else { headerDone = true }
        }

        /// The next rendered line (the CSV header first), valid until the following call; nil at the end.
        public mutating func next() -> Line? {
            buffer.removeAll()
            if !headerDone {
                headerDone = true
                buffer.append("host,ident,user,datetime,method,request,proto,status,bytes,referer,agent")
            } else {
                guard let record = cursor.next() else { return nil }
                RecordPrinter.render(record, style, into: buffer)
            }
            return Line(bytes: buffer.bytes)
        }
    }
}

/// Writes records as text.
enum RecordPrinter {
    static let textFields: [LogField] = [.host, .ident, .user, .datetime, .method, .request, .proto]

    static func render(_ record: Record, _ style: RecordStyle, into out: ByteBuffer) {
        let view = AccessRecord(record)
        func field(_ field: LogField) { append(view[field], to: out) }
        switch style {
        case .common, .combined:
            field(.host); out.append(32); field(.ident); out.append(32); field(.user)
            out.append(" ["); field(.datetime); out.append("] \"")
            field(.method); out.append(32); field(.request); out.append(32); field(.proto)
            out.append("\" "); field(.status); out.append(32); field(.bytes)
            if case .combined = style {
                out.append(" \"")
                if let referer = view.referer { append(referer, to: out) } else { out.append(45) }
                out.append("\" \"")
                if let agent = view.agent { append(agent, to: out) } else { out.append(45) }
                out.append(34)
            }
        case .json:
            out.append(123)
            for name in textFields {
                if name != .host { out.append(44) }
                out.append("\"" + name.rawValue + "\":")
                json(view[name], to: out)
            }
            out.append(",\"status\":"); out.append(decimal: record.status)
            out.append(",\"bytes\":"); out.append(decimal: record.bytes)
            if let referer = view.referer, let agent = view.agent {
                out.append(",\"referer\":"); json(referer, to: out)
                out.append(",\"agent\":"); json(agent, to: out)
            }
            out.append(125)
        case .csv:
            for name in textFields {
                csv(view[name], to: out)
                out.append(44)
            }
            out.append(decimal: record.status); out.append(44)
            out.append(decimal: record.bytes); out.append(44)
            if let referer = view.referer { csv(referer, to: out) }
            out.append(44)
            if let agent = view.agent { csv(agent, to: out) }
        }
    }

    static func append(_ field: Field, to out: ByteBuffer) {
        guard let base = field.bytes.baseAddress else { return }
        out.append(base.assumingMemoryBound(to: UInt8.self), field.count)
    }

    static func json(_ field: Field, to out: ByteBuffer) {
        JSONEscape.appendString(field.bytes.assumingMemoryBound(to: UInt8.self), to: out)
    }

    static func csv(_ field: Field, to out: ByteBuffer) {
        guard field.bytes.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else {
            return append(field, to: out)
        }
        out.append(34)
        for byte in field.bytes {
            if byte == 34 { out.append(34) }
            out.append(byte)
        }
        out.append(34)
    }
}

extension FormattedRecords: CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { status }
}

extension Sequence where Element == Line {
    /// Writes every line followed by `\n` to the file at `path` (created, or truncated, with mode 0644),
    /// buffering about 1 MiB per `write`. Returns the number of lines written. Throws the error of opening or
    /// writing the file (`.noSuchFile`, `.unreadable`, `.io`), naming the path, and, for a sequence that belongs
    /// to a pipeline (`Lines`, a `LogSource`, a `storeLast` or `trace` of one...), the error that ended this
    /// iteration of it, after writing the lines before it.
    @discardableResult
    public func write(toFile path: String) throws -> Int {
        let fd = PathBytes.withCString(path) { Glibc.open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw System.error(path, errno) }
        defer { System.close(fd) }
        return try write(toDescriptor: fd, path: path)
    }

    /// Writes every line followed by `\n` to the open descriptor `fd` (not closed), named `path` in errors; throws
    /// as `write(toFile:)` does.
    @discardableResult
    public func write(toDescriptor fd: Int32, path: String = "-") throws -> Int {
        let buffer = ByteBuffer(capacity: (1 << 20) + 4096)
        var lines = 0
        var iterator = makeIterator()
        // An error the status held before this iteration (a source of the same family read earlier) is not its.
        let status = (self as? CarriesPipelineStatus)?.pipelineStatus
        let earlier = status?.error
        while let line = iterator.next() {
            if let base = line.bytes.baseAddress { buffer.append(base.assumingMemoryBound(to: UInt8.self), line.count) }
            buffer.append(Bytes.newline)
            lines += 1
            if buffer.count >= 1 << 20 {
                try OutputWriter.flush(buffer, fd, path)
            }
        }
        try OutputWriter.flush(buffer, fd, path)
        if let error = status?.error, error != earlier { throw error }
        return lines
    }
}

enum OutputWriter {
    /// Writes the whole buffer, retrying on EINTR and short writes, and empties it.
    static func flush(_ buffer: ByteBuffer, _ fd: Int32, _ path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fd, buffer.base + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw System.error(path, errno)
            }
            offset += written
        }
        buffer.removeAll()
    }
}
