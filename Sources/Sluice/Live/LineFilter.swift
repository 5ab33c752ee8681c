/// The field layout of records: a name per field index, and which fields always hold integers.
///
/// For the access-log formats the fields are `host ident user datetime method request proto status bytes
/// referer agent` (status and bytes numeric); for `regex:` formats they are the pattern's capture groups in
/// order, named by their group names (an unnamed group has the empty name); for the `fields` format the list is
/// empty and field `i` is called `$(i+1)`.
public struct RecordSchema: Sendable, Equatable {
    /// Field names by index; "" for a field without a name.
    public var names: [String]
    /// Whether each field of `names` is an integer field (rendered as a JSON number).
    public var numeric: [Bool]

    /// A schema with `names`; `numeric` is padded with false up to the length of `names`.
    public init(names: [String], numeric: [Bool]) {
        self.names = names
        self.numeric = numeric + [Bool](repeating: false, count: Swift.max(0, names.count - numeric.count))
    }

    /// The name of field `index`: its schema name, or `$N` (1-based) past the named fields.
    public func name(_ index: Int) -> String { index < names.count ? names[index] : "$\(index + 1)" }

    /// True when field `index` is an integer field.
    public func isNumeric(_ index: Int) -> Bool { index < numeric.count && numeric[index] }

    init(_ format: CompiledFormat) {
        switch format.format {
        case .common, .combined, .auto:
            self.init(names: AccessField.names,
                      numeric: AccessField.names.indices.map { $0 == AccessField.status || $0 == AccessField.bytes })
        case .fields:
            self.init(names: [], numeric: [])
        case .regex:
            let pattern = format.pattern!
            var names = [String](repeating: "", count: pattern.captureCount)
            for (name, group) in pattern.namedGroups where group >= 1 && group <= names.count { names[group - 1] = name }
            self.init(names: names, numeric: [])
        }
    }
}

/// One log line and, when it was parsed, its fields as byte ranges of the line.
public struct LogRecord: Sendable, Equatable {
    /// The line without its `\n` (a `\r` before it stays).
    public var line: [UInt8]
    /// Field `i` is `line[fields[i]]`. Empty for a line that was not parsed.
    public var fields: [Range<Int>]

    /// A record of `line` with the given field ranges (none for a line that was not parsed); nothing is checked.
    public init(line: [UInt8], fields: [Range<Int>] = []) {
        self.line = line
        self.fields = fields
    }

    /// The bytes of field `index`, empty past the last field.
    public func field(_ index: Int) -> ArraySlice<UInt8> {
        index < fields.count ? line[fields[index]] : []
    }

    /// One JSON object with a member per named field, in field order, and a newline. Text fields are JSON
    /// strings as `JSONEscape` writes them (as `sluice select --json` does); integer fields of the schema become
    /// numbers (`-`, the access log's "no bytes", becomes 0).
    public func json(_ schema: RecordSchema) -> [UInt8] {
        let out = ByteBuffer(capacity: line.count + 16 * fields.count + 2)
        out.append(123)
        var first = true
        for index in fields.indices {
            var name = schema.name(index)
            if name.isEmpty { continue }
            if !first { out.append(44) }
            first = false
            name.withUTF8 { JSONEscape.appendString($0, to: out) }
            out.append(58)
            let value = field(index)
            if schema.isNumeric(index), let number = LogRecord.integerText(value) {
                number.withUnsafeBufferPointer { out.append($0.baseAddress!, $0.count) }
            } else {
                value.withUnsafeBufferPointer { JSONEscape.appendString($0, to: out) }
            }
        }
        out.append(125)
        out.append(10)
        return out.array
    }

    /// The JSON number for an integer field's bytes, the number the engine reads from them (as `select --json`
    /// writes it): `-` is 0, and a sign and leading zeros go (`+0200` is 200); nil for anything that is not a
    /// 64-bit integer (which is then written as a string).
    static func integerText(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        if value.count == 1 && value.first == 45 { return [48] }
        let number = value.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { Bytes.parseInteger($0, 0, buffer.count) }
        }
        return number.map { ArraySlice(String($0).utf8) }
    }
}

/// A compiled line filter for live sources: the `--grep` prefilter, the record format and the `--where`
/// conditions, compiled once by the engine's own `Pattern`, `CompiledFormat` and `Condition`. It is immutable and
/// can be shared; each task that filters lines makes its own `LineEvaluator`.
public struct LineFilter: @unchecked Sendable {
    let format: CompiledFormat
    let prefilter: Pattern?
    let conditions: [Condition]
    /// The layout of the records this filter's evaluators produce.
    public let schema: RecordSchema

    /// Compiles the filter. Throws `.invalidPattern`, `.unknownField` or `.invalidCondition` as the engine does.
    public init(format: RecordFormat = .auto, grep: String? = nil, conditions: [String] = []) throws {
        let compiled = try CompiledFormat(format)
        self.format = compiled
        prefilter = try grep.map { try Pattern($0) }
        self.conditions = try conditions.map { try Condition($0, format: compiled) }
        schema = RecordSchema(compiled)
    }

    /// True when the filter has neither a prefilter nor conditions, so every line passes `accepts`.
    public var passesEverything: Bool { prefilter == nil && conditions.isEmpty }

    /// A fresh evaluator with its own matchers and scratch record.
    public func makeEvaluator() -> LineEvaluator { LineEvaluator(self) }
}

/// Applies a `LineFilter` to one line at a time, with the same parsing and condition semantics as a query run:
/// the prefilter must match the raw line; then, when there are conditions, the line must parse in the format
/// and satisfy every condition. Owns its matchers, so it must be used by one task at a time.
public final class LineEvaluator {
    /// The filter this evaluator applies.
    public let filter: LineFilter
    private let parser: RecordParser
    private let record: Record
    private let prefilter: Matcher?
    private let conditions: ConditionEvaluator
    /// Lines that had to be parsed and were not records of the format.
    public private(set) var malformedCount = 0
    /// PCRE2's message the last time a pattern gave up on a line (match or depth limit); that line is rejected.
    public private(set) var lastFailure: String?
    /// Why the last line given to `accepts` or `record` was rejected, when that was not the filter's verdict:
    /// `.malformed` or `.patternFailed`; nil when the line passed or the filter left it out.
    public private(set) var lastRejection: LineRejection?

    init(_ filter: LineFilter) {
        self.filter = filter
        parser = RecordParser(filter.format)
        record = parser.record
        prefilter = filter.prefilter.map(Matcher.init)
        conditions = ConditionEvaluator(filter.conditions, accessLog: filter.format.isAccessLog)
    }

    /// True when `line` (without its newline) passes the prefilter and, if there are conditions, parses and
    /// satisfies them. Lines that must be parsed and do not parse count in `malformedCount`.
    public func accepts(_ line: UnsafeRawBufferPointer) -> Bool {
        lastRejection = nil
        return withBase(line) { base, count in
            guard prefilterMatches(base, count) else { return false }
            if conditions.isEmpty { return true }
            return parse(base, count) && conditionsHold()
        }
    }

    /// `accepts` for a byte array.
    public func accepts(_ line: [UInt8]) -> Bool { line.withUnsafeBytes { accepts($0) } }

    /// The line as a parsed record when it passes the prefilter, parses in the format and satisfies the
    /// conditions; nil otherwise (a line that does not parse counts in `malformedCount`).
    public func record(_ line: [UInt8]) -> LogRecord? {
        lastRejection = nil
        return line.withUnsafeBytes { raw in
            withBase(raw) { base, count -> LogRecord? in
                guard prefilterMatches(base, count), parse(base, count), conditionsHold() else { return nil }
                var fields = [Range<Int>]()
                fields.reserveCapacity(record.fieldCount)
                for index in 0..<record.fieldCount {
                    let (start, end) = record.span(FieldRef(index: index))
                    fields.append(start..<Swift.max(start, end))
                }
                return LogRecord(line: line, fields: fields)
            }
        }
    }

    private static let empty: UnsafeMutablePointer<UInt8> = {
        let byte = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        byte.initialize(to: 10)
        return byte
    }()

    private func withBase<T>(_ line: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>, Int) -> T) -> T {
        guard let start = line.baseAddress, line.count > 0 else { return body(LineEvaluator.empty, 0) }
        return body(start.assumingMemoryBound(to: UInt8.self), line.count)
    }

    private func prefilterMatches(_ base: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        guard let prefilter else { return true }
        switch prefilter.search(base, length: count) {
        case .match: return true
        case .noMatch: return false
        case .failed(let message):
            noteFailure(message)
            return false
        }
    }

    private func conditionsHold() -> Bool {
        if conditions.isEmpty || conditions.accepts(record) { return true }
        if let failure = conditions.failure { noteFailure(failure) }
        return false
    }

    private func noteFailure(_ message: String) {
        lastFailure = message
        lastRejection = .patternFailed(message)
    }

    /// Parses `base[0..<count]` into `record`, as the engine's workers do; counts a malformed line.
    private func parse(_ base: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        switch parser.parse(base, 0, count, limit: count) {
        case .record:
            return true
        case .malformed:
            malformedCount += 1
            lastRejection = .malformed
            return false
        case .failed(let message):
            noteFailure(message)
            return false
        }
    }

}
