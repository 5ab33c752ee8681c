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

    /// Parses `FIELD OP VALUE` (spaces around the operator are allowed; `==` means `=`).
    init(_ text: String, format: CompiledFormat) throws {
        let bytes = Array(text.utf8)
        guard let opStart = bytes.firstIndex(where: { "=!<>~".utf8.contains($0) }) else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: expected FIELD OP VALUE with OP one of = != < <= > >= ~ !~")
        }
        var opEnd = opStart + 1
        if opEnd < bytes.count && (bytes[opEnd] == UInt8(ascii: "=") || bytes[opEnd] == UInt8(ascii: "~")) { opEnd += 1 }
        var opText = String(decoding: bytes[opStart..<opEnd], as: UTF8.self)
        if opText == "==" { opText = "=" }
        guard let op = Op(rawValue: opText) else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: unknown operator '\(opText)'")
        }
        let name = String(decoding: bytes[..<opStart], as: UTF8.self).trimmingSpaces
        guard !name.isEmpty else {
            throw SluiceError(.invalidCondition, path: text, "bad --where: missing field name")
        }
        let valueText = String(decoding: bytes[opEnd...], as: UTF8.self).trimmingSpaces
        self.field = try format.field(name)
        self.op = op
        self.value = Array(valueText.utf8)
        self.integer = value.withUnsafeBufferPointer { buffer in
            buffer.isEmpty ? nil : Bytes.parseInteger(buffer.baseAddress!, 0, buffer.count)
        }
        self.fieldIsNumeric = format.isNumeric(field)
        if op == .matches || op == .notMatches {
            pattern = try Pattern(valueText)
        } else {
            pattern = nil
            if fieldIsNumeric && integer == nil {
                throw SluiceError(.invalidCondition, path: text, "bad --where: field '\(name)' is numeric but '\(valueText)' is not an integer")
            }
        }
    }
}

/// One worker's evaluator for a list of conditions: owns a matcher per regex condition.
final class ConditionEvaluator {
    private let conditions: [Condition]
    private let matchers: [Matcher?]
    private let accessLog: Bool
    /// PCRE2's message when a regex condition gave up on the last record.
    private(set) var failure: String?

    init(_ conditions: [Condition], accessLog: Bool) {
        self.conditions = conditions
        self.matchers = conditions.map { $0.pattern.map(Matcher.init) }
        self.accessLog = accessLog
    }

    var isEmpty: Bool { conditions.isEmpty }

    /// True when `record` satisfies every condition. Sets `failure` and returns false if a regex gave up.
    @inline(__always)
    func accepts(_ record: Record) -> Bool {
        for index in conditions.indices where !accepts(record, conditions[index], matchers[index]) { return false }
        return true
    }

    private func accepts(_ record: Record, _ condition: Condition, _ matcher: Matcher?) -> Bool {
        let (start, end) = record.span(condition.field)
        if let matcher {
            switch matcher.search(record.base + start, length: end - start) {
            case .match: return condition.op == .matches
            case .noMatch: return condition.op == .notMatches
            case .failed(let message):
                failure = message
                return false
            }
        }
        let order: Int
        if let wanted = condition.integer,
           let actual = condition.fieldIsNumeric ? record.integer(condition.field, accessLog: accessLog)
                                                 : Bytes.parseInteger(record.base, start, end) {
            order = actual < wanted ? -1 : (actual > wanted ? 1 : 0)
        } else {
            order = condition.value.withUnsafeBufferPointer { wanted in
                Extreme.compare(record.base + start, end - start, wanted.baseAddress ?? record.base, wanted.count)
            }
        }
        return condition.op.holds(order)
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
