/// A lazy sequence of access-log records: the tutorial's `apache_log`, followed by record filters.
///
/// Each line goes through the engine's own access-log scanner, which accepts exactly the lines the tutorial's
/// regex matches (see `AccessLogFormat`). Lines that are not records are skipped, as the tutorial skips
/// them, and counted in `status.malformed`.
///
/// Records follow the lifetime rule of `Lines`: an `AccessRecord` is valid until the iterator advances.
///
/// **Parallelism.** Predicates made with `where` (`.status == 404`, `.bytes > 1_000_000`,
/// `.request.contains("robots.txt")`, ...) compile into the engine's `FIELD OP VALUE` conditions. When the
/// lines compile too (see `Lines`), every aggregate (`count`, `sum`, `distinct`, `countBy`, `top`, `max`,
/// `min`, `reduce`) runs on the parallel `Engine`. A `where { ... }` or `trace` closure makes them sequential.
public struct Records: Sequence {
    enum Stage {
        case condition(text: String, Condition)
        case filter((AccessRecord) -> Bool)
        case observe((AccessRecord) -> Void)
    }

    let lines: Lines
    let format: AccessLogFormat
    var stages: [Stage] = []

    init(lines: Lines, format: AccessLogFormat) {
        self.lines = lines
        self.format = format
    }

    /// The status shared with the lines.
    public var status: PipelineStatus { lines.status }

    /// The records satisfying `predicate`.
    public func `where`(_ predicate: RecordPredicate) -> Records {
        switch predicate.kind {
        case .condition(let text):
            // `RecordPredicate` only holds texts that parse; a failure here would be a bug in it.
            guard let compiled = try? CompiledFormat(format.recordFormat),
                  let condition = try? Condition(text, format: compiled) else {
                preconditionFailure("unparsable condition \(text)")
            }
            var copy = self
            copy.stages.append(.condition(text: text, condition))
            return copy
        case .closure(let test):
            return self.where(test)
        }
    }

    /// The records for which `isIncluded` returns true, lazily: `(r for r in log if ...)`. A closure stage:
    /// aggregates run sequentially. (Not `filter`: `Sequence.filter` is eager and would collect views.)
    public func `where`(_ isIncluded: @escaping (AccessRecord) -> Bool) -> Records {
        var copy = self
        copy.stages.append(.filter(isIncluded))
        return copy
    }

    /// The same records, each passed to `body` as it goes by (`trace`). Aggregates run sequentially.
    public func trace(_ body: @escaping (AccessRecord) -> Void) -> Records {
        var copy = self
        copy.stages.append(.observe(body))
        return copy
    }

    /// The same records, with terminal operations run as `execution` says.
    public func executing(_ execution: Execution) -> Records {
        Records(lines: lines.executing(execution), format: format, stages: stages)
    }

    private init(lines: Lines, format: AccessLogFormat, stages: [Stage]) {
        self.lines = lines
        self.format = format
        self.stages = stages
    }

    /// Throws the error that ended the latest iteration, if any.
    public func check() throws { try status.check() }

    /// The engine query counting these records, or nil when a stage is a closure.
    public var query: Query? { compile(.count(by: nil))?.query }

    func compile(_ operation: Operation) -> (query: Query, files: LogFiles)? {
        guard var compiled = lines.compile(operation, format: format.recordFormat) else { return nil }
        for stage in stages {
            guard case .condition(let text, _) = stage else { return nil }
            compiled.query.conditions.append(text)
        }
        return compiled
    }

    /// Starts a new iteration: nothing is opened or read before the first `next()`; resets `status`.
    public func makeIterator() -> Iterator { Iterator(self) }

    /// Parses the lines one by one and applies the record stages in order.
    public struct Iterator: IteratorProtocol {
        private let cursor: RecordCursor

        init(_ records: Records) { cursor = RecordCursor(records) }

        /// The next record that passes every stage, valid until the following call; nil at the end of the
        /// inputs or after an error (kept in `status`).
        public mutating func next() -> AccessRecord? {
            cursor.next().map(AccessRecord.init)
        }
    }
}

extension Lines {
    /// The lines parsed as access-log records (`apache_log`); lines that are not records are skipped and
    /// counted in `status.malformed`.
    public func apacheLog(_ format: AccessLogFormat = .auto) -> Records { Records(lines: self, format: format) }
}

extension Records {
    /// Each record as the tutorial's dictionary (`AccessRecord.row`), copied so it can be kept. Sequential.
    public func rows() -> Rows {
        let records = self
        return Rows {
            var iterator = records.makeIterator()
            return AnyIterator { iterator.next()?.row }
        }
    }
}

/// One sequential iteration over `Records`: a line cursor, the scanner's reusable record, and one evaluator
/// per condition (the same evaluator the engine's workers use).
final class RecordCursor {
    private enum Test {
        case condition(ConditionEvaluator)
        case filter((AccessRecord) -> Bool)
        case observe((AccessRecord) -> Void)
    }

    private let lines: LineCursor
    private let status: PipelineStatus
    let record = Record()
    private let tests: [Test]
    private let wantCombined: Bool
    private let requireCombined: Bool
    private var done = false

    init(_ records: Records) {
        lines = LineCursor(records.lines)
        status = records.status
        tests = records.stages.map { stage in
            switch stage {
            case .condition(_, let condition): return .condition(ConditionEvaluator([condition], accessLog: true))
            case .filter(let body): return .filter(body)
            case .observe(let body): return .observe(body)
            }
        }
        wantCombined = records.format != .common
        requireCombined = records.format == .combined
    }

    /// The next record that passes every stage, parsed into `record`.
    func next() -> Record? {
        while !done, let line = lines.next() {
            guard let raw = line.bytes.baseAddress else {
                status.malformed += 1
                continue
            }
            let base = raw.assumingMemoryBound(to: UInt8.self)
            record.base = base
            var cursor = SpaceCursor(base, limit: line.count)
            guard AccessLogScanner.scan(base, 0, line.count, into: record, cursor: &cursor,
                                        wantCombined: wantCombined, requireCombined: requireCombined) else {
                status.malformed += 1
                continue
            }
            if tests.isEmpty || passes(line) { return record }
        }
        done = true
        return nil
    }

    private func passes(_ line: Line) -> Bool {
        for test in tests {
            switch test {
            case .condition(let evaluator):
                if evaluator.accepts(record) { continue }
                if let failure = evaluator.failure {
                    status.fail(SluiceError(.matchLimit, path: lines.path, "regex gave up: \(failure)", line: line.number))
                    done = true
                }
                return false
            case .filter(let isIncluded):
                if !isIncluded(AccessRecord(record)) { return false }
            case .observe(let body):
                body(AccessRecord(record))
            }
        }
        return true
    }
}

/// A test on records. Made with the operators on `LogField` (`.status == 404`, `.bytes > 1_000_000`,
/// `.request == "/ply/ply-2.3.tar.gz"`, `.request.contains("robots.txt")`, `.host.matches("^66\\.")`),
/// which compile into the engine's `--where` conditions and so keep a pipeline parallel, or from a closure.
///
/// Comparisons follow `--where`: `status` and `bytes` compare as integers; a text field compares bytewise,
/// except that when both the field and the value read as integers they compare as numbers.
public struct RecordPredicate {
    enum Kind {
        case condition(String)
        case closure((AccessRecord) -> Bool)
    }

    let kind: Kind

    /// A predicate running `test` on each record. Sequential only.
    public init(_ test: @escaping (AccessRecord) -> Bool) { kind = .closure(test) }

    init(condition: String) { kind = .condition(condition) }

    /// A condition `field op value`, or an exact closure equivalent when the text cannot carry the value
    /// (leading or trailing spaces).
    static func compare(_ field: LogField, _ op: Condition.Op, _ value: String) -> RecordPredicate {
        if let text = ConditionText.make(field.rawValue, op, value, format: .auto) { return RecordPredicate(condition: text) }
        let wanted = Array(value.utf8)
        let integer = wanted.withUnsafeBufferPointer { $0.isEmpty ? nil : Bytes.parseInteger($0.baseAddress!, 0, $0.count) }
        return RecordPredicate { record in
            let actual = record[field]
            let order: Int
            if let integer, let number = field.isNumeric ? Int64(field == .status ? record.status : record.bytes)
                                                         : actual.integer.map(Int64.init) {
                order = number < integer ? -1 : (number > integer ? 1 : 0)
            } else {
                order = wanted.withUnsafeBufferPointer { wantedBytes in
                    Extreme.compare(actual.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), actual.count,
                                    wantedBytes.baseAddress ?? UnsafePointer(emptyBytes), wantedBytes.count)
                }
            }
            return op.holds(order)
        }
    }
}

private let emptyBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

/// The fields again, as members of `RecordPredicate`, so that inside `where(...)` an implicit member chain such
/// as `.request.contains("robots.txt")` can start from a field. Each is the `LogField` of the same name.
extension RecordPredicate {
    /// `LogField.host`.
    public static var host: LogField { .host }
    /// `LogField.ident`.
    public static var ident: LogField { .ident }
    /// `LogField.user`.
    public static var user: LogField { .user }
    /// `LogField.datetime`.
    public static var datetime: LogField { .datetime }
    /// `LogField.method`.
    public static var method: LogField { .method }
    /// `LogField.request`.
    public static var request: LogField { .request }
    /// `LogField.proto`.
    public static var proto: LogField { .proto }
    /// `LogField.status`.
    public static var status: LogField { .status }
    /// `LogField.bytes`.
    public static var bytes: LogField { .bytes }
    /// `LogField.referer`.
    public static var referer: LogField { .referer }
    /// `LogField.agent`.
    public static var agent: LogField { .agent }
}

/// Comparisons of a field with a value, as `--where` conditions: `.status == 404`, `.bytes > 1_000_000`,
/// `.method != "GET"`. Each makes a `RecordPredicate` that compiles into the engine's `FIELD OP VALUE` condition
/// (semantics in `RecordPredicate`), or into an exact closure when the value cannot be written in one.
extension LogField {
    /// Records whose field is equal to `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func == (field: LogField, value: Int) -> RecordPredicate { .compare(field, .equal, String(value)) }
    /// Records whose field is not equal to `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func != (field: LogField, value: Int) -> RecordPredicate { .compare(field, .notEqual, String(value)) }
    /// Records whose field is less than `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func < (field: LogField, value: Int) -> RecordPredicate { .compare(field, .less, String(value)) }
    /// Records whose field is at most `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func <= (field: LogField, value: Int) -> RecordPredicate { .compare(field, .lessEqual, String(value)) }
    /// Records whose field is greater than `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func > (field: LogField, value: Int) -> RecordPredicate { .compare(field, .greater, String(value)) }
    /// Records whose field is at least `value`, compared as integers on status and bytes (on a text field, as
    /// numbers when the field reads as one, bytewise otherwise, as `--where` does).
    public static func >= (field: LogField, value: Int) -> RecordPredicate { .compare(field, .greaterEqual, String(value)) }
    /// Records whose field is equal to `value`, compared bytewise (as numbers when both read as integers).
    public static func == (field: LogField, value: String) -> RecordPredicate { .compare(field, .equal, value) }
    /// Records whose field is not equal to `value`, compared bytewise (as numbers when both read as integers).
    public static func != (field: LogField, value: String) -> RecordPredicate { .compare(field, .notEqual, value) }
    /// Records whose field is less than `value`, compared bytewise (as numbers when both read as integers).
    public static func < (field: LogField, value: String) -> RecordPredicate { .compare(field, .less, value) }
    /// Records whose field is at most `value`, compared bytewise (as numbers when both read as integers).
    public static func <= (field: LogField, value: String) -> RecordPredicate { .compare(field, .lessEqual, value) }
    /// Records whose field is greater than `value`, compared bytewise (as numbers when both read as integers).
    public static func > (field: LogField, value: String) -> RecordPredicate { .compare(field, .greater, value) }
    /// Records whose field is at least `value`, compared bytewise (as numbers when both read as integers).
    public static func >= (field: LogField, value: String) -> RecordPredicate { .compare(field, .greaterEqual, value) }

    /// Records whose field holds `literal`'s bytes (Python's `literal in r[field]`).
    public func contains(_ literal: String) -> RecordPredicate {
        if !literal.contains("\\E"), let text = ConditionText.make(rawValue, .matches, "\\Q" + literal + "\\E", format: .auto) {
            return RecordPredicate(condition: text)
        }
        return RecordPredicate { $0[self].contains(literal) }
    }

    /// Records whose field a PCRE2 pattern matches somewhere (byte mode, `^`/`$` at the field's ends). Throws
    /// `.invalidPattern`.
    public func matches(_ pattern: String) throws -> RecordPredicate {
        let compiled = try Pattern(pattern)
        if let text = ConditionText.make(rawValue, .matches, pattern, format: .auto) { return RecordPredicate(condition: text) }
        let matcher = Matcher(compiled)
        return RecordPredicate { record in
            let field = record[self]
            let base = field.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyBytes)
            if case .match = matcher.search(base, length: field.count) { return true }
            return false
        }
    }
}
