/// How a line becomes a record.
public enum RecordFormat: Sendable, Equatable {
    /// Apache Common Log Format, exactly the lines the tutorial's pattern
    /// `(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)` matches at the start of the line, with an
    /// integer status and a bytes value that is an integer or `-` (read as 0). Anything after bytes is ignored.
    case common
    /// Common plus ` "referer" "agent"` after bytes; lines without them are malformed.
    case combined
    /// Common, with `referer` and `agent` filled in when the line carries them and empty otherwise.
    case auto
    /// A PCRE2 pattern searched in each line; its named groups are the fields. Lines it does not match are malformed.
    case regex(String)
    /// Fields `$1`...`$N` separated by runs of whitespace (space, tab, CR, VT, FF: PCRE2's `\s`), as awk splits
    /// on spaces and tabs; so a CRLF line's `\r` ends its last field instead of belonging to it. Every line is a
    /// record.
    case fields

    /// Parses `common`, `combined`, `auto`, `fields` or `regex:PCRE`; throws `.invalidArgument` for anything
    /// else. A `regex:` pattern is not compiled here: `validate()` and `Engine.init` report an invalid one.
    public init(parsing text: String) throws {
        switch text {
        case "common": self = .common
        case "combined": self = .combined
        case "auto": self = .auto
        case "fields": self = .fields
        default:
            guard text.hasPrefix("regex:") else {
                throw SluiceError(.invalidArgument, path: text,
                                  "unknown format (expected common, combined, auto, fields or regex:PCRE)")
            }
            self = .regex(String(text.dropFirst(6)))
        }
    }
}

extension RecordFormat {
    /// Compiles the format; throws what an `Engine` would for it: `.invalidPattern` for a `regex:` format whose
    /// pattern does not compile or has no named group.
    public func validate() throws {
        _ = try CompiledFormat(self)
    }

    /// True when `name` is a field of this format (for `regex:`, a named group; false if the regex is invalid).
    public func hasField(_ name: String) -> Bool {
        (try? checkField(name)) != nil
    }

    /// Throws what an `Engine` would for a query on field `name`: `.unknownField` naming it and the fields
    /// this format has, or the format's own error (see `validate`).
    public func checkField(_ name: String) throws {
        _ = try CompiledFormat(self).field(name)
    }
}

extension RecordFormat {
    /// True when `name` is a field that always holds an integer in records of this format: status and bytes of
    /// the access-log formats (bytes `-` reads as 0). JSON output writes these as numbers, every other field
    /// as a string.
    public func holdsIntegers(_ name: String) -> Bool {
        guard let compiled = try? CompiledFormat(self), let field = try? compiled.field(name) else { return false }
        return compiled.isNumeric(field)
    }
}

/// A field resolved against a format: an index into the record's spans, or -1 for the whole line. It holds
/// no name, so copying it in the per-line path costs no reference counting.
struct FieldRef: Equatable {
    static let wholeLine = FieldRef(index: -1)
    let index: Int
}

/// Access-log field positions, shared by the common, combined and auto formats.
enum AccessField {
    static let names = ["host", "ident", "user", "datetime", "method", "request", "proto", "status", "bytes",
                        "referer", "agent"]
    static let aliases = ["time": 3, "path": 5, "protocol": 6]
    static let status = 7
    static let bytes = 8
    static let referer = 9
    static let agent = 10
}

/// A format ready to parse: the compiled pattern for `regex:` formats and the field-name table.
final class CompiledFormat: @unchecked Sendable {
    let format: RecordFormat
    let pattern: Pattern?
    /// Field name to span index for named formats.
    private let names: [String: Int]
    /// For a regex whose groups share names (`(?J)`): each name's first group (0-based, its field's span) and the
    /// other groups of that name in order. PCRE2 reads such a name from the first of its groups that is set.
    let sharedNames: [(first: Int, others: [Int])]

    init(_ format: RecordFormat) throws {
        self.format = format
        switch format {
        case .common, .combined, .auto:
            pattern = nil
            var table = [String: Int]()
            for (index, name) in AccessField.names.enumerated() { table[name] = index }
            for (alias, index) in AccessField.aliases { table[alias] = index }
            names = table
            sharedNames = []
        case .fields:
            pattern = nil
            names = [:]
            sharedNames = []
        case .regex(let source):
            let compiled = try Pattern(source)
            pattern = compiled
            var groups = [String: [Int]]()
            for (name, group) in compiled.namedGroups { groups[name, default: []].append(group - 1) }
            if groups.isEmpty {
                throw SluiceError(.invalidPattern, path: source, "regex format needs named groups such as (?<host>\\S+)")
            }
            // `line` names the whole line in every format, so a group of that name could never be read.
            if groups["line"] != nil {
                throw SluiceError(.invalidPattern, path: source, "the group name 'line' is taken by the whole line; rename the group")
            }
            names = groups.mapValues { $0.min()! }
            sharedNames = groups.values.filter { $0.count > 1 }.map { $0.sorted() }.map { ($0[0], Array($0.dropFirst())) }
        }
    }

    var isAccessLog: Bool {
        switch format {
        case .common, .combined, .auto: return true
        default: return false
        }
    }

    /// Resolves a field name: a named field, `$N` for the fields format (`$0` is the whole line), or `line`.
    /// Throws `.unknownField` listing the names this format has.
    func field(_ name: String) throws -> FieldRef {
        if name == "line" || name == "$0" { return FieldRef.wholeLine }
        if case .fields = format {
            if name.hasPrefix("$"), let number = Int(name.dropFirst()), number >= 1 {
                return FieldRef(index: number - 1)
            }
            throw SluiceError(.unknownField, path: name, "unknown field (the fields format has $1, $2, ... and line)")
        }
        guard let index = names[name] else {
            let known = names.keys.sorted().joined(separator: ", ")
            throw SluiceError(.unknownField, path: name, "unknown field (known: \(known), line)")
        }
        return FieldRef(index: index)
    }

    /// True when the field always holds an integer in records of this format (status and bytes of access logs).
    func isNumeric(_ field: FieldRef) -> Bool {
        isAccessLog && (field.index == AccessField.status || field.index == AccessField.bytes)
    }
}
