#if canImport(Glibc)
import Glibc
#endif

/// One `FIELD OP VALUE` filter, parsed and resolved against a format.
struct Condition {
    enum Op: String, CaseIterable {
        case equal = "=", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
        case matches = "~", notMatches = "!~"

        /// Whether a comparison whose result is `order` (negative, zero, positive) satisfies the operator; the
        /// regex operators are decided by a match instead, so they give false here.
        func holds(_ order: Int) -> Bool {
            switch self {
            case .equal: return order == 0
            case .notEqual: return order != 0
            case .less: return order < 0
            case .lessEqual: return order <= 0
            case .greater: return order > 0
            case .greaterEqual: return order >= 0
            case .matches, .notMatches: return false
            }
        }
    }

    let field: FieldRef
    let op: Op
    let value: [UInt8]
    /// The value as an integer, when it is one.
    let integer: Int64?
    let pattern: Pattern?
    let fieldIsNumeric: Bool

    /// Parses `FIELD OP VALUE` (`==` means `=`). Spaces around the field name and the value are dropped, so
    /// `status = 404` works and a value cannot start or end with a space (a pattern writes it `\x20`). The
    /// value's other bytes are compared as given, including any that are not UTF-8 (`PathBytes`).
    init(_ text: String, format: CompiledFormat) throws {
        let bytes = PathBytes.bytes(text)
        guard let opStart = bytes.firstIndex(where: { "=!<>~".utf8.contains($0) }) else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: expected FIELD OP VALUE with OP one of = != < <= > >= ~ !~")
        }
        var opEnd = opStart + 1
        if opEnd < bytes.count && (bytes[opEnd] == UInt8(ascii: "=") || bytes[opEnd] == UInt8(ascii: "~")) { opEnd += 1 }
        var opText = String(decoding: bytes[opStart..<opEnd], as: UTF8.self)
        if opText == "==" { opText = "=" }
        if opText == "=~" { opText = "~" }  // awk's and Perl's spelling of a match
        guard let op = Op(rawValue: opText) else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: unknown operator '\(opText)'")
        }
        let name = PathBytes.string(bytes[..<opStart]).trimmingSpaces
        guard !name.isEmpty else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: missing field name")
        }
        let valueText = PathBytes.string(bytes[opEnd...]).trimmingSpaces
        self.field = try format.field(name)
        self.op = op
        self.value = PathBytes.bytes(valueText)
        self.integer = value.withUnsafeBufferPointer { buffer in
            buffer.isEmpty ? nil : Bytes.parseInteger(buffer.baseAddress!, 0, buffer.count)
        }
        self.fieldIsNumeric = format.isNumeric(field)
        if op == .matches || op == .notMatches {
            do { pattern = try Pattern(valueText) } catch let error as SluiceError {
                throw SluiceError(.invalidPattern, path: text, "bad --where: \(error.message)")
            }
        } else {
            pattern = nil
            if fieldIsNumeric && integer == nil {
                throw SluiceError(.invalidCondition, path: text, "bad --where: field '\(name)' is numeric but '\(valueText)' is not a 64-bit integer")
            }
        }
    }
}

/// One worker's evaluator for a list of conditions: owns a matcher per regex condition.
///
/// The conditions are flattened into plain values, with each comparison value copied into memory the evaluator
/// owns, so testing a record copies no array and touches no reference count.
final class ConditionEvaluator {
    /// A condition reduced to trivially copyable parts.
    private struct Test {
        let field: FieldRef
        let op: Condition.Op
        let integer: Int64?
        let fieldIsNumeric: Bool
        /// The comparison value's bytes; the allocation holds at least one byte, so an empty value has a base.
        let value: UnsafeMutableBufferPointer<UInt8>
        /// The comparison value's length, which may be 0 (`--where 'referer='`).
        let valueCount: Int
        /// Index into `matchers` for `~` and `!~`, else -1.
        let matcher: Int
    }

    private let tests: UnsafeMutableBufferPointer<Test>
    private let matchers: [Matcher]
    private let accessLog: Bool
    /// PCRE2's message when a regex condition gave up on the last record.
    private(set) var failure: String?

    init(_ conditions: [Condition], accessLog: Bool) {
        var matchers = [Matcher]()
        tests = .allocate(capacity: conditions.count)
        for (index, condition) in conditions.enumerated() {
            let value = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(condition.value.count, 1))
            _ = value.initialize(from: condition.value)
            var matcher = -1
            if let pattern = condition.pattern {
                matcher = matchers.count
                matchers.append(Matcher(pattern))
            }
            (tests.baseAddress! + index).initialize(to: Test(
                field: condition.field, op: condition.op, integer: condition.integer,
                fieldIsNumeric: condition.fieldIsNumeric, value: value, valueCount: condition.value.count,
                matcher: matcher))
        }
        self.matchers = matchers
        self.accessLog = accessLog
    }

    deinit {
        for test in tests { test.value.deallocate() }
        tests.deallocate()
    }

    var isEmpty: Bool { tests.isEmpty }

    /// True when `record` satisfies every condition. Sets `failure` and returns false if a regex gave up;
    /// clears `failure` otherwise (only a failure left from an earlier record, so the usual record writes nothing).
    @inline(__always)
    func accepts(_ record: Record) -> Bool {
        if failure != nil { failure = nil }
        for index in 0..<tests.count where !accepts(record, tests[index]) { return false }
        return true
    }

    @inline(__always)
    private func accepts(_ record: Record, _ test: Test) -> Bool {
        let (start, end) = record.span(test.field)
        if test.matcher >= 0 {
            // A numeric field is searched as the number every command shows (bytes `-` as 0, status 0404 as 404).
            let subject = test.fieldIsNumeric ? record.text(test.field, accessLog: accessLog) : (record.base + start, end - start)
            switch matchers[test.matcher].search(subject.0, length: subject.1) {
            case .match: return test.op == .matches
            case .noMatch: return test.op == .notMatches
            case .failed(let message):
                failure = message
                return false
            }
        }
        let order: Int
        if let wanted = test.integer,
           let actual = test.fieldIsNumeric ? record.integer(test.field, accessLog: accessLog)
                                            : Bytes.parseInteger(record.base, start, end) {
            order = actual < wanted ? -1 : (actual > wanted ? 1 : 0)
        } else {
            order = Extreme.compare(record.base + start, end - start, test.value.baseAddress!, test.valueCount)
        }
        return test.op.holds(order)
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
