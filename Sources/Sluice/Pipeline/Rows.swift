/// The lines a PCRE2 pattern matches at their start, with the capture groups viewed in place: the tutorial's
/// `retuple` step, `(logpat.match(line) for line in lines)` keeping the matches. Lines the pattern does not
/// match are skipped (not counted as malformed: a regex match is a filter here). Always sequential.
///
/// Matches follow the lifetime rule of `Lines`: valid until the iterator advances.
public struct Matches: Sequence {
    let lines: Lines
    let pattern: Pattern

    /// The status shared with the lines.
    public var status: PipelineStatus { lines.status }

    /// Throws the error that ended the latest iteration, if any.
    public func check() throws { try status.check() }

    /// Each match's groups as a dictionary keyed by `names` (`dict(zip(colnames, t))`): values are text, or
    /// `.none` for a group that did not take part; extra names or groups are dropped, as `zip` drops them.
    public func rows(_ names: [String]) -> Rows {
        let matches = self
        return Rows {
            var iterator = matches.makeIterator()
            return AnyIterator {
                guard let match = iterator.next() else { return nil }
                let count = Swift.min(names.count, match.groupCount)
                return Row(names: Array(names.prefix(count)),
                           values: (0..<count).map { match.group($0 + 1).map { .text($0.string) } ?? .none })
            }
        }
    }

    /// Starts a new iteration: nothing is opened or read before the first `next()`; resets `status`.
    public func makeIterator() -> Iterator { Iterator(self) }

    /// Searches each line in turn.
    public struct Iterator: IteratorProtocol {
        private let cursor: LineCursor
        private let matcher: Matcher
        private let status: PipelineStatus

        init(_ matches: Matches) {
            cursor = LineCursor(matches.lines)
            matcher = Matcher(matches.pattern)
            status = matches.status
        }

        /// The next matching line's match, valid until the following call; nil at the end or after an error.
        public mutating func next() -> Match? {
            while let line = cursor.next() {
                let base = line.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyLine)
                switch matcher.search(base, length: line.count) {
                case .match:
                    return Match(base: base, ovector: matcher.ovector, groupCount: matcher.pattern.captureCount)
                case .noMatch:
                    continue
                case .failed(let message):
                    status.fail(SluiceError(.matchLimit, path: cursor.path, "regex gave up: \(message)", line: line.number))
                    return nil
                }
            }
            return nil
        }
    }
}

private let emptyLine = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

extension Lines {
    /// The lines `pattern` matches at their start (Python's `re.match`), with their groups. The pattern is
    /// compiled now, anchored at the line's start; throws `.invalidPattern` naming it.
    public func match(_ pattern: String) throws -> Matches {
        Matches(lines: self, pattern: try Pattern(pattern, anchored: true))
    }
}

/// One successful match, viewing the line and the matcher's capture offsets in place.
public struct Match: CustomStringConvertible {
    let base: UnsafePointer<UInt8>
    let ovector: UnsafeMutablePointer<Int>
    /// Number of capture groups in the pattern.
    public let groupCount: Int

    /// Group `number` (0 is the whole match), or nil when the group did not take part in the match or does not
    /// exist (Python's `m.group(n)`, which gives None).
    public func group(_ number: Int) -> Field? {
        guard number >= 0 && number <= groupCount else { return nil }
        let start = ovector[2 * number], end = ovector[2 * number + 1]
        guard start != Int(bitPattern: UInt.max), start <= end else { return nil }
        return Field(bytes: UnsafeRawBufferPointer(start: base + start, count: end - start))
    }

    /// The groups as Python prints `m.groups()`: `('140.180.132.213', '-', ...)`, `None` for an unset group.
    public var description: String {
        let items = (0..<groupCount).map { group($0 + 1).map { PythonRepr.string($0.string) } ?? "None" }
        return "(" + items.joined(separator: ", ") + (groupCount == 1 ? ",)" : ")")
    }
}

/// A value of a `Row`: text as read, an integer once converted (`field_map(log, "bytes", int)`), or none.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case text(String)
    case integer(Int)
    case none

    /// The text, or nil for other values.
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// The integer, or nil for other values.
    public var integer: Int? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// As Python prints it inside a container: `'text'`, `123` or `None`.
    public var description: String {
        switch self {
        case .text(let text): return PythonRepr.string(text)
        case .integer(let value): return String(value)
        case .none: return "None"
        }
    }
}

/// An ordered dictionary of values: the tutorial's record dictionaries. An owned copy, so rows can be kept.
public struct Row: CustomStringConvertible, Equatable {
    /// The tutorial's column names for `apache_log`.
    public static let tutorialNames = ["host", "referrer", "user", "datetime", "method", "request", "proto", "status", "bytes"]

    /// The keys, in insertion order.
    public private(set) var names: [String]
    /// The values, parallel to `names`.
    public private(set) var values: [Value]

    /// A row of `names` and `values` (the shorter one decides the length).
    public init(names: [String], values: [Value]) {
        let count = Swift.min(names.count, values.count)
        self.names = Array(names.prefix(count))
        self.values = Array(values.prefix(count))
    }

    /// The value under `name`, or nil. Setting a new name appends it; setting nil removes it.
    public subscript(name: String) -> Value? {
        get { names.firstIndex(of: name).map { values[$0] } }
        set {
            if let index = names.firstIndex(of: name) {
                if let newValue { values[index] = newValue } else {
                    names.remove(at: index)
                    values.remove(at: index)
                }
            } else if let newValue {
                names.append(name)
                values.append(newValue)
            }
        }
    }

    /// As Python 3 prints a dict: `{'host': '140.180.132.213', ..., 'status': 200}`.
    public var description: String {
        "{" + zip(names, values).map { PythonRepr.string($0) + ": " + $1.description }.joined(separator: ", ") + "}"
    }
}

/// A lazy sequence of rows (`redict`, `field_map`). Rows are copies, so they may be kept; always sequential.
public struct Rows: Sequence {
    let make: () -> AnyIterator<Row>

    /// Rows produced by `make`'s iterator, made anew for each iteration.
    public init(_ make: @escaping () -> AnyIterator<Row>) { self.make = make }

    /// The rows with `name`'s value replaced by `transform(value)` (`field_map(rows, name, func)`). Rows without
    /// `name` pass unchanged.
    public func fieldMap(_ name: String, _ transform: @escaping (Value) -> Value) -> Rows {
        let base = self
        return Rows {
            let iterator = base.make()
            return AnyIterator {
                guard var row = iterator.next() else { return nil }
                if let value = row[name] { row[name] = transform(value) }
                return row
            }
        }
    }

    /// A fresh iteration over the rows.
    public func makeIterator() -> AnyIterator<Row> { make() }
}

/// Python 3's `repr` of a string, for printing rows and tuples as the tutorial's programs do.
enum PythonRepr {
    static func string(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if !isPrintable(scalar) {
                    // As Python escapes what str.isprintable() rejects: \xhh, \uhhhh or \Uhhhhhhhh.
                    let hex = String(scalar.value, radix: 16)
                    let (prefix, width) = scalar.value < 0x100 ? ("\\x", 2) : (scalar.value < 0x10000 ? ("\\u", 4) : ("\\U", 8))
                    out += prefix + String(repeating: "0", count: width - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Python's str.isprintable() for one character: false for the "Other" and "Separator" categories (controls,
    /// format characters, surrogates, private use, unassigned, line, paragraph and space separators), except the
    /// ASCII space.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
             .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
