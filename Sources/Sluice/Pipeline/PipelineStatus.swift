/// How a pipeline's terminal operations run.
///
/// Only aggregates (`count`, `sum`, `distinct`, `countBy`, `top`, `max`, `min`, `reduce`) can run in parallel;
/// iterating a pipeline with `for` is always sequential.
public enum Execution: Sendable {
    /// On the parallel `Engine` with these options when every stage of the pipeline compiles into a `Query`
    /// (see `Lines.query`), sequentially otherwise. Both give the same answers.
    case automatic(ExecutionOptions)
    /// Always sequentially, on the calling thread, through the pipeline's iterators.
    case sequential

    /// `.automatic` with default options: one worker per active core.
    public static var automatic: Execution { .automatic(ExecutionOptions()) }
}

/// Settings a pipeline carries from its source to its terminal operation. Value semantics: changing them on
/// one pipeline value does not affect others.
struct PipelineSettings {
    var execution: Execution = .automatic
    /// Bytes decoded per refill of a sequential reader's buffer.
    var blockSize = 1 << 20
    /// Lines longer than this are skipped and counted as malformed, as the engine does.
    var maxLineLength = ExecutionOptions().maxLineLength
    var gzipDecoder: GzipDecoderKind = .isal
    /// Inputs that fail are skipped and their errors kept in `PipelineStatus.skippedInputs` (see
    /// `LogFiles.skippingFailedInputs()`).
    var skipsFailedInputs = false
}

/// What the latest run of a pipeline met: the error that ended it, and counts. Every pipeline derived from the
/// same source (`LogFiles`, `Lines(wrapping:)`) shares one status, which each new iteration or terminal
/// operation resets. Iterate one pipeline of a family at a time.
///
/// A `for` loop cannot throw from inside the iterator, so a sequential iteration that meets an error (an
/// unreadable file, a corrupt gzip stream, a regex giving up) ends early and leaves the error here. Call
/// `check()` after the loop; terminal operations do it themselves and throw.
public final class PipelineStatus {
    /// The first error of the latest run, with the path and, where known, the line or byte offset.
    public internal(set) var error: SluiceError?
    /// Lines of the latest run that were not records of the stage that read them: lines the access-log
    /// format does not match, lines without an integer bytes column, and lines longer than the line-length
    /// limit. Such lines are skipped, as the tutorial's generators skip them.
    public internal(set) var malformed = 0
    /// Lines read from the inputs by the latest run, before any filter.
    public internal(set) var linesRead = 0
    /// True when the latest terminal operation ran on the parallel engine.
    public internal(set) var ranInParallel = false
    /// Blocks read or decoded by sequential readers since the status was created; never reset. Shows how far a
    /// lazy iteration actually read.
    public internal(set) var blocksRead = 0
    /// For a pipeline built with `skippingFailedInputs()`: the errors of the inputs the latest run skipped, in
    /// the order met: the walk's (a missing or unreadable directory) and those of each input that could not be
    /// opened, read or decoded to its end (its lines before the error were read). They leave `error` nil, so
    /// the terminal operations still give their answer over the rest.
    public internal(set) var skippedInputs: [SluiceError] = []

    init() {}

    /// Forgets the previous run.
    func reset() {
        error = nil
        malformed = 0
        linesRead = 0
        ranInParallel = false
        skippedInputs = []
    }

    /// Keeps the first error of a run.
    func fail(_ failure: SluiceError) {
        if error == nil { error = failure }
    }

    /// An input's error: kept in `skippedInputs` when the pipeline skips failed inputs (`skipping`), otherwise
    /// the error that ends the run. Returns `skipping`, whether the run goes on.
    @discardableResult
    func inputFailed(_ failure: Error, path: String, skipping: Bool) -> Bool {
        let error = failure as? SluiceError ?? SluiceError(.io, path: path, "\(failure)")
        if skipping { skippedInputs.append(error) } else { fail(error) }
        return skipping
    }

    /// Throws the error of the latest run, if any.
    public func check() throws {
        if let error { throw error }
    }
}
