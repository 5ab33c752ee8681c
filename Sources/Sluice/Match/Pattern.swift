import CPCRE2

/// A PCRE2 pattern compiled once in byte mode (no UTF, no UCP, so any byte sequence is a valid subject; `(*UTF)`
/// is refused) with `MULTILINE` on and LF as the newline, so `^` and `$` match at line boundaries inside a
/// chunk, and JIT-compiled when the platform allows. A `Pattern` is immutable and shared by all workers; each
/// worker matches through its own `Matcher`.
public final class Pattern: @unchecked Sendable {
    /// The pattern text as given.
    public let source: String
    /// Whether the pattern was compiled caseless (`init(_:caseless:)`), which `source` does not show.
    let caseless: Bool
    let code: OpaquePointer
    /// The literal every match starts with, when the pattern has one (see `LiteralPrefix`).
    let literalPrefix: LiteralPrefix?
    /// Whether a search over many lines at once finds the same lines as a search of each (see `LineLocality`).
    let isLineLocal: Bool
    /// `PCRE2_NOTEMPTY` and `PCRE2_NOTEMPTY_ATSTART` for a pattern that starts with `(*NOTEMPTY)` or
    /// `(*NOTEMPTY_ATSTART)`: pcre2_match reads those settings from the compiled pattern, the JIT fast path does
    /// not, so they are passed to every search.
    let matchOptions: UInt32
    /// PCRE2's default match limit (10,000,000) and a depth limit of 100,000, both kept on.
    static let matchLimit: UInt32 = 10_000_000
    static let depthLimit: UInt32 = 100_000

    /// Compiles `source`; with `anchored`, a match must start where the search starts (Python's `re.match` on a
    /// line). Throws `.invalidPattern` naming the pattern and PCRE2's message and offset.
    public init(_ source: String, caseless: Bool = false, anchored: Bool = false) throws {
        self.source = source
        var errorCode: Int32 = 0
        var errorOffset = 0
        var options = UInt32(PCRE2_MULTILINE)
        if caseless { options |= UInt32(PCRE2_CASELESS) }
        if anchored { options |= UInt32(PCRE2_ANCHORED) }
        // The pattern's own bytes, also those that are not UTF-8 (`PathBytes`: so they come from the command line).
        let bytes = PathBytes.bytes(source)
        let compiled = bytes.withUnsafeBufferPointer { buffer in
            CPCRE2_compile(buffer.baseAddress, buffer.count, options, &errorCode, &errorOffset)
        }
        guard let compiled else {
            throw SluiceError(.invalidPattern, path: source,
                              "invalid regex: \(Pattern.message(for: errorCode)) at offset \(errorOffset)")
        }
        code = compiled
        literalPrefix = caseless ? nil : LiteralPrefix(bytes)
        isLineLocal = LineLocality.isLineLocal(bytes)
        self.caseless = caseless
        matchOptions = Pattern.leadingSettings(bytes).names.reduce(0) { options, setting in
            switch setting {
            case "NOTEMPTY": options | UInt32(PCRE2_NOTEMPTY)
            case "NOTEMPTY_ATSTART": options | UInt32(PCRE2_NOTEMPTY_ATSTART)
            default: options
            }
        }
    }

    /// The pattern text with its options written into it: `(?i)` after any leading settings when `caseless`
    /// (before them PCRE2 would not take the settings), so that the text alone compiles to this pattern.
    var sourceWithOptions: String {
        guard caseless else { return source }
        let bytes = PathBytes.bytes(source)
        let settings = Pattern.leadingSettings(bytes).length
        return PathBytes.string(Array(bytes[..<settings]) + Array("(?i)".utf8) + Array(bytes[settings...]))
    }

    /// The names of the start-of-pattern settings `(*NAME)` and `(*NAME=VALUE)` that `pattern` begins with, in
    /// order (as PCRE2 reads them: only at the very start, one after another), and how many bytes they take.
    static func leadingSettings(_ pattern: [UInt8]) -> (names: [String], length: Int) {
        var names = [String]()
        var index = 0
        while pattern.count - index > 3 && pattern[index] == UInt8(ascii: "(") && pattern[index + 1] == UInt8(ascii: "*") {
            var end = index + 2
            while end < pattern.count, pattern[end] == UInt8(ascii: "_") || pattern[end] == UInt8(ascii: "=")
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(pattern[end])
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(pattern[end]) {
                end += 1
            }
            guard end < pattern.count, pattern[end] == UInt8(ascii: ")"), end > index + 2 else { break }
            let item = pattern[(index + 2)..<end]
            names.append(String(decoding: item.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self))
            index = end + 1
        }
        return (names, index)
    }

    deinit { CPCRE2_code_free(code) }

    /// True when PCRE2 JIT-compiled the pattern.
    public var isJIT: Bool { CPCRE2_jit_ok(code) != 0 }

    /// Number of capture groups.
    public var captureCount: Int { Int(CPCRE2_capture_count(code)) }

    /// Named capture groups as (name, group number), in name-table order (alphabetical, as PCRE2 keeps it).
    public var namedGroups: [(name: String, group: Int)] {
        (0..<CPCRE2_name_count(code)).map { index in
            var group: UInt32 = 0
            let name = String(cString: CPCRE2_name_entry(code, index, &group))
            return (name, Int(group))
        }
    }

    static func message(for errorCode: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = buffer.withUnsafeMutableBufferPointer {
            CPCRE2_error_message(errorCode, $0.baseAddress, $0.count)
        }
        return length > 0 ? String(decoding: buffer[0..<Int(length)], as: UTF8.self) : "PCRE2 error \(errorCode)"
    }
}

/// The outcome of one search.
enum MatchOutcome {
    case match(start: Int, end: Int)
    case noMatch
    /// PCRE2 gave up (match limit, depth limit, JIT stack): carries PCRE2's message.
    case failed(String)
}

/// One worker's handle on a `Pattern`: owns the match data and match context, so it must not be shared
/// between threads. Nothing is allocated per search.
final class Matcher {
    let pattern: Pattern
    private let data: OpaquePointer
    private let context: OpaquePointer
    /// Whether the pattern was JIT-compiled: then searches take PCRE2's JIT fast path.
    private let jit: Bool
    /// The larger JIT stack, made when a search first runs out of PCRE2's default 32 KiB (a lookaround repeated
    /// over a line of some kilobytes can), so that only such patterns pay for it.
    private var jitStack: OpaquePointer?
    /// How far that stack may grow; beyond it the search fails with PCRE2's "JIT stack limit reached".
    static let jitStackLimit = 8 << 20

    init(_ pattern: Pattern) {
        self.pattern = pattern
        jit = pattern.isJIT
        data = CPCRE2_match_data_create(pattern.code)
        context = CPCRE2_match_context_create(Pattern.matchLimit, Pattern.depthLimit)
    }

    deinit {
        CPCRE2_match_data_free(data)
        CPCRE2_match_context_free(context)
        if let jitStack { CPCRE2_jit_stack_free(jitStack) }
    }

    /// The capture offsets of the last successful search (pairs of start/end, relative to that subject).
    var ovector: UnsafeMutablePointer<Int> { CPCRE2_ovector(data)! }

    /// Searches `subject[0..<length]` for the leftmost match at or after `from`.
    @inline(__always)
    func search(_ subject: UnsafePointer<UInt8>, length: Int, from: Int = 0) -> MatchOutcome {
        let options = pattern.matchOptions
        var rc = jit ? CPCRE2_jit_match(pattern.code, subject, length, from, options, data, context)
            : CPCRE2_match(pattern.code, subject, length, from, options, data, context)
        if rc == PCRE2_ERROR_JIT_STACKLIMIT && jitStack == nil,
           let stack = CPCRE2_jit_stack_attach(context, Matcher.jitStackLimit) {
            jitStack = stack
            rc = CPCRE2_jit_match(pattern.code, subject, length, from, options, data, context)
        }
        if rc > 0 || rc == 0 {
            let vector = CPCRE2_ovector(data)!
            return .match(start: vector[0], end: vector[1])
        }
        if rc == PCRE2_ERROR_NOMATCH { return .noMatch }
        return .failed(Pattern.message(for: rc))
    }
}
