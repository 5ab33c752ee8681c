/// The answer to an aggregate query, merged over every worker.
public enum Answer: Sendable, Equatable {
    /// `sum` and plain `count`.
    case total(Int64)
    /// `count --by`, `distinct` (with counts) and `top`: values with their counts, in output order.
    case counts([Entry])
    /// `distinct` without counts: values sorted bytewise.
    case values([[UInt8]])
    /// `max`/`min`: the winning value and its companion (nil when the query has no `with` field), each as its
    /// own bytes, except that a numeric field's (status, bytes of access logs) is the integer it was read as.
    case extreme(value: [UInt8], with: [UInt8]?)
    /// `max`/`min` over no selected record.
    case noRecords
    /// grep and select write their lines to the output sink instead.
    case streamed

    /// One value and its count.
    public struct Entry: Sendable, Equatable {
        /// The value's bytes, as they appear in the field.
        public var value: [UInt8]
        /// The number of selected records with that value.
        public var count: Int64

        /// An entry of `count` records with `value`, to compare an answer with.
        public init(value: [UInt8], count: Int64) {
            self.value = value
            self.count = count
        }
    }
}

/// Per-input figures, in input order.
public struct InputTally: Sendable, Equatable {
    /// The input's name in messages: its path, or `<stdin>` for standard input.
    public var path: String
    /// Lines read (a final line without `\n` counts).
    public var lines: Int = 0
    /// Records (for grep: lines) that passed every filter.
    public var selected: Int64 = 0
    /// Lines counted as malformed: not records of the format, longer than `maxLineLength`, or records whose
    /// `sum` field is not an integer (or that a custom reduction rejects).
    public var malformed: Int = 0
    /// Lines a pattern gave up on (PCRE2's match or depth limit); each counted as no match, and reading went on.
    public var linesGivenUp: Int = 0
    /// The first line a pattern gave up on (`.matchLimit`), its message counting `linesGivenUp` when over one.
    public var gaveUp: SluiceError?
    /// The error that ended reading this input (it could not be opened, decoded or read to its end); the
    /// figures above cover what was read before it.
    public var error: SluiceError?
}

/// Everything a run produced besides the streamed output.
public struct RunReport: Sendable {
    /// The merged answer; `.streamed` for grep and select, whose counts are in `inputs`.
    public var answer: Answer
    /// One tally per input, in the order the inputs were given.
    public var inputs: [InputTally]
    /// Lines that were not records of the format, over all inputs.
    public var malformed: Int
    /// Where the first malformed line is, as `path` and 1-based line.
    public var firstMalformed: (path: String, line: Int)?
    /// Total records (or grep lines) selected over all inputs.
    public var selected: Int64 { inputs.reduce(0) { $0 + $1.selected } }
    /// Every input's problems, in input order: the first line a pattern gave up on, then the error that ended it.
    public var errors: [SluiceError] { inputs.flatMap { [$0.gaveUp, $0.error].compactMap { $0 } } }
}
