/// The Sluice record transport, version 1: how `sluice send` ships parsed records to `sluice receive` over TCP.
///
/// It is built for peers that are not trusted: every length is checked against a bound before anything is
/// allocated, nothing in a frame is ever executed or used to pick code (unlike the tutorial's pickles), and a
/// peer that breaks the rules loses only its own connection. All integers are unsigned and big-endian.
///
/// **Handshake.** Each side sends a greeting first:
/// - sender → receiver, 10 bytes: `"SLUICE"` (53 4C 55 49 43 45), version `u16` (= 1), flags `u16` (= 0).
/// - receiver → sender, 12 bytes: `"SLUICE"`, version `u16` (= 1), max frame `u32` (the largest frame length
///   the receiver accepts: 4 KiB to 4 MiB, 4 MiB by default).
/// A receiver that does not speak the sender's version still answers with its greeting, then sends an ERROR
/// frame and closes. A sender must complete its greeting within the receiver's handshake timeout (10 s).
///
/// **Frames** follow: length `u32` (the number of bytes after the length field: 1 ... max frame), type `u8`,
/// payload. Sender to receiver:
/// - `0x01` SCHEMA: count `u16` (≤ 1024), then per field flags `u8` (bit 0: integer field) and a name
///   (length `u8`, UTF-8 bytes). Must precede the first RECORDS; a later SCHEMA applies to later records. A
///   sender sends the first 1024 names only, as it sends the first 1024 fields of a record (and says so).
/// - `0x02` RECORDS: count `u32` (≥ 1), then per record: line length `u32`, the line's bytes (no `\n`: lines
///   are split at it, so a line holding one is a violation, which keeps one record one output line), field count
///   `u16` (≤ 1024), and per field start `u32`, end `u32` — a byte range of the line
///   (start ≤ end ≤ line length). Nothing may follow the last record.
/// - `0x03` END: total `u64`, the number of records sent on this connection; the sender sends nothing more.
///
/// Receiver to sender:
/// - `0x81` ACK: count `u64`, the cumulative number of this connection's records the receiver's consumer has
///   taken (for the CLI: written to standard output). Counts never decrease. After END the receiver sends a
///   final ACK equal to the total once every record was taken, then closes.
/// - `0x82` ERROR: a UTF-8 message; the receiver closes the connection after it.
///
/// Delivery is at least once: a sender keeps every unacknowledged record and, when told to retry, resends them
/// on a new connection (framed for that receiver's max frame), so records a dying receiver took without
/// acknowledging arrive twice.
enum Wire {
    static let magic: [UInt8] = Array("SLUICE".utf8)
    static let version: UInt16 = 1
    static let senderHelloSize = 10
    static let receiverHelloSize = 12
    /// The default (and largest accepted) max frame a receiver announces.
    static let defaultMaxFrame = 4 << 20
    /// The smallest max frame a receiver announces: it holds the SCHEMA frame of every built-in format (about
    /// 100 bytes for combined), so only a regex format with many long group names can need more.
    static let minimumMaxFrame = 4 << 10
    static let maxFields = 1024

    enum FrameType: UInt8 {
        case schema = 0x01, records = 0x02, end = 0x03, ack = 0x81, error = 0x82
    }

    static func senderHello(version: UInt16 = Wire.version) -> [UInt8] {
        var out = magic
        out.appendBig(version)
        out.appendBig(UInt16(0))
        return out
    }

    static func receiverHello(maxFrame: Int) -> [UInt8] {
        var out = magic
        out.appendBig(version)
        out.appendBig(UInt32(maxFrame))
        return out
    }

    /// The sender's version, after checking the magic.
    static func parseSenderHello(_ bytes: [UInt8], peer: String) throws -> UInt16 {
        guard bytes.count == senderHelloSize, Array(bytes[0..<6]) == magic else {
            throw SluiceError(.protocolViolation, path: peer, "not a Sluice sender (bad greeting)")
        }
        return UInt16(bytes[6]) << 8 | UInt16(bytes[7])
    }

    /// The receiver's version and max frame, after checking the magic.
    static func parseReceiverHello(_ bytes: [UInt8], peer: String) throws -> (version: UInt16, maxFrame: Int) {
        guard bytes.count == receiverHelloSize, Array(bytes[0..<6]) == magic else {
            throw SluiceError(.protocolViolation, path: peer, "not a Sluice receiver (bad greeting)")
        }
        var reader = WireReader(bytes[6...], peer: peer)
        let version = try reader.u16()
        let maxFrame = Int(try reader.u32())
        return (version, maxFrame)
    }

    /// A whole frame: length, type, payload.
    static func frame(_ type: FrameType, _ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 5)
        out.appendBig(UInt32(payload.count + 1))
        out.append(type.rawValue)
        out.append(contentsOf: payload)
        return out
    }

    static func schemaFrame(_ schema: RecordSchema) -> [UInt8] {
        var payload = [UInt8]()
        let count = Swift.min(schema.names.count, maxFields)
        payload.appendBig(UInt16(count))
        for index in 0..<count {
            payload.append(schema.isNumeric(index) ? 1 : 0)
            let name = Array(schema.names[index].utf8.prefix(255))
            payload.append(UInt8(name.count))
            payload.append(contentsOf: name)
        }
        return frame(.schema, payload)
    }

    static func countFrame(_ type: FrameType, _ count: UInt64) -> [UInt8] {
        var payload = [UInt8]()
        payload.appendBig(count)
        return frame(type, payload)
    }

    static func errorFrame(_ message: String) -> [UInt8] { frame(.error, Array(message.utf8.prefix(4096))) }

    /// Bytes a record takes in a RECORDS frame.
    static func encodedSize(_ record: LogRecord) -> Int { 6 + record.line.count + 8 * Swift.min(record.fields.count, maxFields) }

    static func decodeSchema(_ payload: ArraySlice<UInt8>, peer: String) throws -> RecordSchema {
        var reader = WireReader(payload, peer: peer)
        let count = Int(try reader.u16())
        guard count <= maxFields else { throw reader.violation("schema of \(count) fields (at most \(maxFields))") }
        var names = [String](), numeric = [Bool]()
        for _ in 0..<count {
            numeric.append(try reader.u8() & 1 != 0)
            let length = Int(try reader.u8())
            names.append(String(decoding: try reader.bytes(length), as: UTF8.self))
        }
        try reader.expectEnd("schema")
        return RecordSchema(names: names, numeric: numeric)
    }

    static func decodeRecords(_ payload: ArraySlice<UInt8>, peer: String) throws -> [LogRecord] {
        var reader = WireReader(payload, peer: peer)
        let count = Int(try reader.u32())
        // Each record takes at least 6 bytes: a count beyond that is a lie, rejected before allocating for it.
        guard count >= 1, count <= reader.remaining / 6 else {
            throw reader.violation("records frame claims \(count) records in \(reader.remaining) bytes")
        }
        var records = [LogRecord]()
        records.reserveCapacity(count)
        for _ in 0..<count {
            let length = Int(try reader.u32())
            let line = Array(try reader.bytes(length))
            if line.contains(Bytes.newline) { throw reader.violation("record line of \(length) bytes holds a newline") }
            let fieldCount = Int(try reader.u16())
            guard fieldCount <= maxFields else { throw reader.violation("record with \(fieldCount) fields") }
            var fields = [Range<Int>]()
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount {
                let start = Int(try reader.u32()), end = Int(try reader.u32())
                guard start <= end, end <= length else {
                    throw reader.violation("field span \(start)..<\(end) outside a line of \(length) bytes")
                }
                fields.append(start..<end)
            }
            records.append(LogRecord(line: line, fields: fields))
        }
        try reader.expectEnd("records frame")
        return records
    }
}

/// Builds one RECORDS frame in place: records are appended encoded, and `finish` fills in length and count.
struct RecordsFrameBuilder {
    private(set) var bytes = [UInt8]()
    private(set) var count = 0

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
        removeAll()
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ record: LogRecord) {
        bytes.appendBig(UInt32(record.line.count))
        bytes.append(contentsOf: record.line)
        let fields = record.fields.prefix(Wire.maxFields)
        bytes.appendBig(UInt16(fields.count))
        for field in fields {
            bytes.appendBig(UInt32(field.lowerBound))
            bytes.appendBig(UInt32(field.upperBound))
        }
        count += 1
    }

    /// The finished frame; the builder is empty again afterwards.
    mutating func finish() -> [UInt8] {
        let length = UInt32(bytes.count - 4)
        withUnsafeBytes(of: length.bigEndian) { for index in 0..<4 { bytes[index] = $0[index] } }
        withUnsafeBytes(of: UInt32(count).bigEndian) { for index in 0..<4 { bytes[5 + index] = $0[index] } }
        defer { removeAll() }
        return bytes
    }

    /// Empties the builder (the records appended since the last `finish` are dropped).
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: [0, 0, 0, 0, Wire.FrameType.records.rawValue, 0, 0, 0, 0])
        count = 0
    }
}

/// A bounds-checked cursor over a frame's payload: every read past the end throws `.protocolViolation`.
struct WireReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    let peer: String

    init(_ bytes: ArraySlice<UInt8>, peer: String) {
        self.bytes = bytes
        position = bytes.startIndex
        self.peer = peer
    }

    var remaining: Int { bytes.endIndex - position }

    func violation(_ message: String) -> SluiceError {
        SluiceError(.protocolViolation, path: peer, "malformed frame: \(message)")
    }

    mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw violation("\(count) bytes announced, \(remaining) left")
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func u8() throws -> UInt8 { try bytes(1).first! }

    mutating func u16() throws -> UInt16 {
        let raw = try bytes(2)
        return raw.reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func u32() throws -> UInt32 {
        let raw = try bytes(4)
        return raw.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws -> UInt64 {
        let raw = try bytes(8)
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    func expectEnd(_ what: String) throws {
        if remaining != 0 { throw violation("\(remaining) unexpected bytes after the \(what)") }
    }
}

extension Array where Element == UInt8 {
    mutating func appendBig<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

extension Socket {
    /// Reads one frame: its type byte and payload. Nil when the peer closed cleanly between frames. Throws
    /// `.protocolViolation` for a length of 0 or above `maxFrame`, before reading the payload, and
    /// `.connectionLost` when the length does not arrive by `deadline` (monotonic ns) or the body within
    /// `bodyTimeout` nanoseconds of it.
    func readFrame(maxFrame: Int, deadline: UInt64? = nil, bodyTimeout: UInt64 = UInt64.max / 2,
                   token: ShutdownToken? = nil) async throws -> (type: UInt8, payload: ArraySlice<UInt8>)? {
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 4)
        defer { header.deallocate() }
        guard try await readExactly(header, deadline: deadline, token: token) else { return nil }
        let length = Int(header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length >= 1 else {
            throw SluiceError(.protocolViolation, path: label, "malformed frame: empty frame")
        }
        guard length <= maxFrame else {
            throw SluiceError(.protocolViolation, path: label, "frame of \(length) bytes exceeds the limit of \(maxFrame) bytes")
        }
        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { body.deallocate() }
        guard try await readExactly(body, deadline: monotonicNanoseconds() &+ bodyTimeout, token: token) else {
            throw SluiceError(.connectionLost, path: label, "connection closed in the middle of a frame")
        }
        let bytes = Array(body)
        return (bytes[0], bytes[1...])
    }
}
