/// The fields of an Apache access-log record, named as the engine and the CLI name them. The tutorial calls
/// `ident` "referrer"; its dictionaries (`AccessRecord.row`) keep that name.
public enum LogField: String, CaseIterable, Sendable {
    case host, ident, user, datetime, method, request, proto, status, bytes, referer, agent

    /// Position of the field in the engine's record.
    var index: Int {
        switch self {
        case .host: return 0
        case .ident: return 1
        case .user: return 2
        case .datetime: return 3
        case .method: return 4
        case .request: return 5
        case .proto: return 6
        case .status: return AccessField.status
        case .bytes: return AccessField.bytes
        case .referer: return AccessField.referer
        case .agent: return AccessField.agent
        }
    }

    var ref: FieldRef { FieldRef(index: index) }

    /// True for `status` and `bytes`, which are integers in every record.
    public var isNumeric: Bool { self == .status || self == .bytes }
}

/// How `apacheLog` reads lines: all three accept exactly the lines the tutorial's pattern
/// `(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)` matches at the start of the line, with an
/// integer status and a bytes value that is an integer or `-` (0).
public enum AccessLogFormat: Sendable {
    /// Anything after bytes is ignored.
    case common
    /// Lines must go on with ` "referer" "agent"`; others are malformed.
    case combined
    /// Referer and agent are read when present.
    case auto

    var recordFormat: RecordFormat {
        switch self {
        case .common: return .common
        case .combined: return .combined
        case .auto: return .auto
        }
    }
}

/// One access-log record (the tutorial's `apache_log` dictionary), viewed in place: every text field is a
/// `Field` into the line's buffer, `status` and `bytes` are integers (`-` bytes read as 0).
///
/// Same lifetime as the `Line` it was parsed from: valid until the iterator advances. Copy with `row`,
/// `field.string` or `field.owned` to keep anything.
public struct AccessRecord: CustomStringConvertible {
    unowned(unsafe) let record: Record

    init(_ record: Record) { self.record = record }

    /// The field's bytes. For `status` and `bytes` that is their text (`-` for a dash); for `referer` and
    /// `agent` of a line without them, it is empty.
    public subscript(field: LogField) -> Field {
        let (start, end) = record.span(field.ref)
        return Field(bytes: UnsafeRawBufferPointer(start: record.base + start, count: end - start))
    }

    /// The client address (the first field).
    public var host: Field { self[.host] }
    /// The identd answer, usually `-` (the tutorial's "referrer").
    public var ident: Field { self[.ident] }
    /// The authenticated user, usually `-`.
    public var user: Field { self[.user] }
    /// The text between the brackets, e.g. `24/Feb/2008:00:08:59 -0600`.
    public var datetime: Field { self[.datetime] }
    /// The request method, e.g. `GET`.
    public var method: Field { self[.method] }
    /// The requested path, e.g. `/ply/ply-2.3.tar.gz`.
    public var request: Field { self[.request] }
    /// The protocol, e.g. `HTTP/1.1`, without the closing quote.
    public var proto: Field { self[.proto] }
    /// The HTTP status, as an integer.
    public var status: Int { Int(record.status) }
    /// The response size; `-` reads as 0.
    public var bytes: Int { Int(record.bytes) }
    /// The referer, for a line that carries ` "referer" "agent"` (combined and auto formats).
    public var referer: Field? { record.fieldCount > AccessField.referer ? self[.referer] : nil }
    /// The user agent, when the line carries it.
    public var agent: Field? { record.fieldCount > AccessField.agent ? self[.agent] : nil }

    /// The whole line the record was parsed from.
    public var line: Line {
        Line(bytes: UnsafeRawBufferPointer(start: record.base + record.lineStart, count: record.lineEnd - record.lineStart))
    }

    /// The tutorial's dictionary: keys `host`, `referrer`, `user`, `datetime`, `method`, `request`, `proto`,
    /// `status`, `bytes` in that order, status and bytes as integers. A copy.
    public var row: Row {
        Row(names: Row.tutorialNames, values: [
            .text(host.string), .text(ident.string), .text(user.string), .text(datetime.string),
            .text(method.string), .text(request.string), .text(proto.string),
            .integer(status), .integer(bytes),
        ])
    }

    /// `row` as Python prints it: `{'host': '140.180.132.213', 'referrer': '-', ..., 'status': 200, 'bytes': 97238}`.
    public var description: String { row.description }
}
