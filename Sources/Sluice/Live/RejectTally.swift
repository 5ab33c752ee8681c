import Synchronization

/// Why a `LineEvaluator` left a line out, when it was not the filter's own verdict.
public enum LineRejection: Sendable, Equatable {
    /// The line had to be parsed (for conditions, or to become a record) and is not a record of the format.
    case malformed
    /// A pattern gave up on the line (PCRE2's match or depth limit); carries PCRE2's message.
    case patternFailed(String)
}

/// The lines live filtering rejected without the filter's verdict (see `LineRejection`), counted for a report:
/// the live counterpart of a query's malformed-line count and first failure. Shared by the task that filters and
/// the one that reports, so it locks; it is touched only for rejected lines.
public final class RejectTally: Sendable {
    /// A place in the input: the path, and the 1-based line number when the source knows it (`StoredLines`
    /// does), or else the line's byte offset (`Follow`, which starts anywhere in a file, gives offsets).
    public struct Location: Sendable, Equatable, CustomStringConvertible {
        /// The path the line came from, as given to the source.
        public let path: String
        /// The line's 1-based number in its input, or nil when the source does not number its lines.
        public let line: Int?
        /// The byte offset of the line's first byte in its file, or nil when the source does not give it.
        public let offset: Int?

        /// The place `path`, at 1-based `line` or byte `offset` when known.
        public init(path: String, line: Int?, offset: Int? = nil) {
            self.path = path
            self.line = line
            self.offset = offset
        }

        /// The place of `line` as its source gave it.
        public init(_ line: FollowedLine) {
            self.init(path: line.path, line: line.line, offset: line.offset)
        }

        /// `path:line`, else `path, byte N`, else `path`.
        public var description: String {
            if let line { return "\(path):\(line)" }
            if let offset { return "\(path), byte \(offset)" }
            return path
        }
    }

    /// The counts so far.
    public struct Counts: Sendable, Equatable {
        /// Lines that were not records of the format.
        public var malformed = 0
        /// Where the first malformed line was; nil while there is none.
        public var firstMalformed: Location?
        /// Lines a pattern gave up on.
        public var failures = 0
        /// Where the first line a pattern gave up on was; nil while there is none.
        public var firstFailure: Location?
        /// PCRE2's message for the first failure.
        public var failureMessage: String?
    }

    private let state = Mutex(Counts())

    /// A tally with every count at zero.
    public init() {}

    /// Counts `rejection` of `line`; returns true when it is the first of its kind.
    @discardableResult
    public func note(_ rejection: LineRejection, _ line: FollowedLine) -> Bool {
        let location = Location(line)
        return state.withLock { counts in
            switch rejection {
            case .malformed:
                counts.malformed += 1
                if counts.firstMalformed == nil { counts.firstMalformed = location }
                return counts.malformed == 1
            case .patternFailed(let message):
                counts.failures += 1
                if counts.firstFailure == nil {
                    counts.firstFailure = location
                    counts.failureMessage = message
                }
                return counts.failures == 1
            }
        }
    }

    /// A copy of the counts so far, taken under the lock, so any task may read it.
    public var counts: Counts { state.withLock { $0 } }
}
