/// What to compute over the records (or, for `grep`, the raw lines) of the inputs.
public enum Operation: Sendable, Equatable {
    /// The sum of an integer field.
    case sum(String)
    /// The number of records, or the number per distinct value of a field.
    case count(by: String?)
    /// The distinct values of a field, sorted bytewise, optionally with their counts.
    case distinct(String, withCounts: Bool)
    /// The record with the greatest (`isMax`) or least value of a field. Integer fields compare as numbers.
    /// With `with`, the comparison is on the pair (value, with), so ties go to the greatest (for max) or least
    /// (for min) `with` value, as Python's `max((bytes, request))` and `min(...)` do.
    case extreme(String, with: String?, isMax: Bool)
    /// The `k` most frequent values of a field (`k` at least 1): count descending, then value ascending.
    case top(String, k: Int)
    /// The listed fields of every record, one line per record in input order: space-joined, or with `json`
    /// one JSON object per line (integer fields as numbers, other fields JSON strings as `JSONEscape` writes
    /// them).
    case select([String], json: Bool = false)
    /// The raw lines matching a PCRE2 pattern, in input order; with `countOnly`, only their number per input.
    case grep(String, countOnly: Bool)
}

extension Operation {
    /// The field the operation is about, if any.
    var fieldName: String? {
        switch self {
        case .sum(let name), .distinct(let name, _), .top(let name, _), .extreme(let name, _, _): return name
        case .count(let by): return by
        case .select, .grep: return nil
        }
    }
}

extension Operation {
    /// Throws `.invalidArgument` for a parameter out of range: `top` with `k` below 1.
    func checkParameters() throws {
        if case .top(_, let k) = self, k < 1 {
            throw SluiceError(.invalidArgument, path: "top", "k must be at least 1, got \(k)")
        }
    }
}

/// A complete query: how lines become records, which records count, and what to compute.
public struct Query: Sendable {
    /// How lines become records (`.auto` by default).
    public var format: RecordFormat
    /// A PCRE2 pattern that raw lines must match before they are parsed (the tutorial's `gen_grep` stage).
    public var prefilter: String?
    /// `FIELD OP VALUE` conditions, all of which a record must satisfy.
    public var conditions: [String]
    /// What to compute over the records that pass.
    public var operation: Operation
    /// When true, the first malformed line is an error instead of being counted.
    public var strict: Bool
    /// The pipeline facade's general reduction: with `.count(by: nil)`, each worker folds the records that pass
    /// into its own accumulator instead of counting them (see `CustomAggregate`).
    var custom: CustomAggregate?

    /// Stores the query as given; nothing is compiled or checked until an `Engine` is made from it.
    public init(format: RecordFormat = .auto, prefilter: String? = nil, conditions: [String] = [],
                operation: Operation, strict: Bool = false) {
        self.format = format
        self.prefilter = prefilter
        self.conditions = conditions
        self.operation = operation
        self.strict = strict
    }
}

/// How the work is spread. None of these settings changes any answer, output or tally; only the message and
/// offset of an error in damaged gzip data depend on `gzipDecoder`, since the two decoders notice the damage in
/// their own words and places. Values out of range are brought within it (see `withinLimits()`), here and again
/// when an `Engine` takes the options.
public struct ExecutionOptions: Sendable {
    /// The most worker threads an engine starts; each holds its own record, buffers and aggregate.
    public static let maximumThreads = 1024
    /// The largest unit of parallel work.
    public static let maximumChunkSize = 1 << 30
    /// The most bytes of a file mapped at a time.
    public static let maximumWindowSize = 1 << 40

    /// Worker threads, 1 to `maximumThreads`; defaults to the number of active cores.
    public var threads: Int
    /// Target size of one unit of parallel work, in bytes (1 to `maximumChunkSize`); chunks end at the next
    /// newline after it.
    public var chunkSize: Int
    /// Bytes of a plain file mapped at a time, `chunkSize` to `maximumWindowSize` (32 MiB by default). A finished
    /// window is unmapped while the next one is read, so at most two windows of a file are mapped at once.
    public var windowSize: Int
    /// Plain files up to this size are read whole by one worker, so many small files run in parallel.
    public var smallFileLimit: Int
    /// Decode bzip2 blocks in parallel when the stream allows it.
    public var parallelBzip2: Bool
    /// The gzip decoder: ISA-L (fast) or zlib (reference).
    public var gzipDecoder: GzipDecoderKind
    /// Lines longer than this (not counting the `\n`; 0 or more) are skipped unread and counted as malformed,
    /// whether the file was mapped, read whole or decoded, so memory stays bounded on any input (a
    /// decompression bomb of zeros is one endless line) and the answer does not depend on how the input was cut.
    public var maxLineLength: Int = 64 << 20
    /// The most bytes of grep or select output a batch of small files holds before it is merged: plain files
    /// fill a batch up to this many listed bytes, and decoded ones (whose output their size does not bound)
    /// share this much as they go; the others are read again one by one, as large files are. Internal, so that
    /// tests can make it small.
    var batchOutputBudget = 64 << 20

    /// The given settings, brought within their limits (`threads` nil: the number of active cores). `maxLineLength`
    /// keeps its default of 64 MiB.
    public init(threads: Int? = nil, chunkSize: Int = 1 << 20, windowSize: Int = 32 << 20,
                smallFileLimit: Int = 1 << 20, parallelBzip2: Bool = true, gzipDecoder: GzipDecoderKind = .isal) {
        self.threads = threads ?? System.activeCores
        self.chunkSize = chunkSize
        self.windowSize = windowSize
        self.smallFileLimit = smallFileLimit
        self.parallelBzip2 = parallelBzip2
        self.gzipDecoder = gzipDecoder
        self = withinLimits()
    }

    /// These options with `threads`, `chunkSize`, `windowSize`, `maxLineLength` and `smallFileLimit` brought
    /// within their ranges: a value below its range becomes the lowest, one above it the highest.
    public func withinLimits() -> ExecutionOptions {
        var options = self
        options.threads = min(max(1, threads), ExecutionOptions.maximumThreads)
        options.chunkSize = min(max(1, chunkSize), ExecutionOptions.maximumChunkSize)
        options.windowSize = min(max(options.chunkSize, windowSize), ExecutionOptions.maximumWindowSize)
        options.maxLineLength = max(0, maxLineLength)
        options.smallFileLimit = max(0, smallFileLimit)
        return options
    }
}

/// The gzip decoders Sluice carries.
public enum GzipDecoderKind: Sendable {
    case isal, zlib
}
