/// A lazy sequence of the lines of some inputs, with filters: the tutorial's `gen_cat`, `gen_grep` and
/// `lines_from_dir`.
///
/// Nothing is opened or read until iteration; files are opened one at a time as the iteration reaches them,
/// and breaking out of the loop (or `prefix(n)`) stops reading. Each `Line` is a view into the reader's
/// buffer, with no copy, allocation or system call per line.
///
/// **Lifetime rule.** A `Line` (and every `Field`, `AccessRecord` or `Match` derived from it) is valid only
/// until the iterator that produced it advances or is destroyed. Use it inside the loop body or copy what
/// you need (`line.string`, `line.owned`). Collecting views (`Array(lines)`, the eager `Sequence.filter`,
/// `sorted`) keeps dangling pointers; `prefix(n)`, `where`, and `map` with a copying transform are fine.
///
/// **Errors.** A `for` loop cannot throw from the iterator: an error (unreadable file, corrupt stream, a
/// regex giving up) ends the iteration and is kept in `status`; call `try lines.check()` after the loop.
/// Terminal operations (`count`, the `BytesColumn` and `Records` aggregates) throw it themselves. With
/// `skippingFailedInputs()`, an input's error skips that input instead (see `LogFiles.skippingFailedInputs()`).
///
/// **Parallelism.** A pipeline that reads files (not a wrapped sequence) and has only `grep`/`containing`
/// stages compiles into a `Query` (`query`), so its aggregates run on the parallel `Engine`. A `where`
/// closure or `trace` stage is arbitrary Swift code: the pipeline then runs sequentially.
public struct Lines: Sequence {
    enum Origin {
        case files(LogFiles)
        case wrapped(() -> AnyIterator<Line>)
    }

    enum Stage {
        case grep(Pattern)
        case filter((Line) -> Bool)
        case observe((Line) -> Void)
    }

    var origin: Origin
    var stages: [Stage] = []
    var settings: PipelineSettings
    /// The status shared by the pipelines built on the same source.
    public let status: PipelineStatus
    /// Whether reading a wrapped sequence adds its lines to `linesRead` (not when the status is shared with it).
    var countsWrappedLines = true

    init(files: LogFiles) {
        origin = .files(files)
        settings = files.settings
        status = files.status
    }

    /// Lines from any sequence of lines, such as a `StoreLast` or a `TracedSequence`. Such a pipeline
    /// always runs sequentially, and its lines follow the wrapped sequence's own lifetime rule. When the wrapped
    /// sequence is a `Lines`, or a `StoreLast` or `TracedSequence` of one, the new pipeline shares its status,
    /// so a read or decoding error of the wrapped pipeline is thrown by this one's terminal operations.
    public init<S: Sequence>(wrapping lines: S) where S.Element == Line {
        let shared = (lines as? CarriesPipelineStatus)?.pipelineStatus
        self.init(wrapping: lines, status: shared ?? PipelineStatus(), countingLines: shared == nil)
    }

    /// Lines from `lines` with `status`; `countingLines` false when the wrapped pipeline counts its lines in
    /// that status itself.
    init<S: Sequence>(wrapping lines: S, status: PipelineStatus, countingLines: Bool) where S.Element == Line {
        origin = .wrapped { AnyIterator(lines.makeIterator()) }
        settings = PipelineSettings()
        self.status = status
        countsWrappedLines = countingLines
    }

    /// The lines of the named files, in order; compressed files are decoded (Python's `open`, made
    /// compression-aware). `-` is standard input.
    public static func open(_ paths: String...) -> Lines { LogFiles(paths: paths).lines() }

    /// The lines of the files under `directory` whose name matches `glob` (`lines_from_dir`).
    public static func fromDirectory(_ glob: String, _ directory: String) -> Lines {
        LogFiles.find(glob, in: directory).lines()
    }

    // MARK: Stages

    /// The lines that a PCRE2 pattern matches somewhere (`gen_grep`, Python's `re.search`). The pattern is
    /// compiled now, in byte mode with JIT; `^` and `$` match at the line's ends. Throws `.invalidPattern`.
    public func grep(_ pattern: String, caseless: Bool = false) throws -> Lines {
        var copy = self
        copy.stages.append(.grep(try Pattern(pattern, caseless: caseless)))
        return copy
    }

    /// The lines holding `literal`'s bytes (Python's `literal in line`), searched as a quoted PCRE2 pattern
    /// so that the stage stays parallel.
    public func containing(_ literal: String) -> Lines {
        if !literal.contains("\\E"), let pattern = try? Pattern("\\Q" + literal + "\\E") {
            var copy = self
            copy.stages.append(.grep(pattern))
            return copy
        }
        return self.where { $0.contains(literal) }
    }

    /// The lines for which `isIncluded` returns true, lazily: Python's `(line for line in lines if ...)`.
    /// A closure stage: aggregates of the result run sequentially. (Not `filter`: `Sequence.filter` is eager
    /// and would collect views that do not outlive the iteration.)
    public func `where`(_ isIncluded: @escaping (Line) -> Bool) -> Lines {
        var copy = self
        copy.stages.append(.filter(isIncluded))
        return copy
    }

    /// The same lines, each passed to `body` as it goes by (the tutorial's `trace`). The library never prints:
    /// `body` decides where the line goes. A closure stage: aggregates run sequentially.
    public func trace(_ body: @escaping (Line) -> Void) -> Lines {
        var copy = self
        copy.stages.append(.observe(body))
        return copy
    }

    /// The same lines, with terminal operations run as `execution` says.
    public func executing(_ execution: Execution) -> Lines {
        var copy = self
        copy.settings.execution = execution
        return copy
    }

    /// The same lines, skipping the inputs that fail: see `LogFiles.skippingFailedInputs()`. A pipeline over a
    /// wrapped sequence skips nothing it did not skip already.
    public func skippingFailedInputs() -> Lines {
        var copy = self
        copy.settings.skipsFailedInputs = true
        if case .files(let files) = origin { copy.origin = .files(files.skippingFailedInputs()) }
        return copy
    }

    /// Throws the error that ended the latest iteration, if any (see `PipelineStatus`).
    public func check() throws { try status.check() }

    // MARK: Compilation

    /// The engine query for counting these lines, or nil when a stage cannot be expressed as one. The format
    /// is `.fields` (every line is a record); the first `grep` becomes the prefilter and any further ones
    /// `line~PATTERN` conditions.
    public var query: Query? { compile(.count(by: nil))?.query }

    /// The query for `operation`, with the files to run it on.
    func compile(_ operation: Operation, format: RecordFormat = .fields) -> (query: Query, files: LogFiles)? {
        guard case .files(let files) = origin else { return nil }
        var prefilter: String?
        var conditions = [String]()
        for stage in stages {
            guard case .grep(let pattern) = stage else { return nil }
            if prefilter == nil {
                prefilter = pattern.sourceWithOptions
            } else {
                // The pattern as the condition's value when it reads back exactly; `(?:...)` keeps one with
                // spaces at its ends whole, unless quoting or comments could swallow the closing parenthesis.
                let source = pattern.sourceWithOptions
                let wrapped = source.contains("\\Q") || source.contains("#") ? nil : "(?:" + source + ")"
                guard let text = ConditionText.make("line", .matches, source)
                        ?? wrapped.flatMap({ ConditionText.make("line", .matches, $0) }) else { return nil }
                conditions.append(text)
            }
        }
        return (Query(format: format, prefilter: prefilter, conditions: conditions, operation: operation), files)
    }

    /// The engine's options when the pipeline should run in parallel.
    var parallelOptions: ExecutionOptions? {
        if case .automatic(let options) = settings.execution { return options }
        return nil
    }

    // MARK: Terminal operations

    /// The number of lines that pass every stage. Throws the first error of the run.
    public func count() throws -> Int {
        if let options = parallelOptions, let compiled = compile(.count(by: nil)) {
            let report = try ParallelRun.run(compiled.query, compiled.files, options, status)
            guard case .total(let total) = report.answer else { return 0 }
            return Int(total)
        }
        var total = 0
        var iterator = makeIterator()
        while iterator.next() != nil { total += 1 }
        try check()
        return total
    }

    /// Starts a new iteration: nothing is opened or read before the first `next()`; resets `status`.
    public func makeIterator() -> Iterator { Iterator(self) }

    /// Reads the lines of one input after another and applies the stages in order.
    public struct Iterator: IteratorProtocol {
        private let core: LineCursor

        init(_ lines: Lines) { core = LineCursor(lines) }

        /// The next line that passes every stage, valid until the following call; nil at the end of the
        /// inputs or after an error (kept in `status`).
        public mutating func next() -> Line? { core.next() }
    }
}

/// The state of one iteration over `Lines`: the current reader and one matcher per grep stage.
final class LineCursor {
    private enum Test {
        case grep(Matcher)
        case filter((Line) -> Bool)
        case observe((Line) -> Void)
    }

    private let status: PipelineStatus
    private let settings: PipelineSettings
    private let countsWrappedLines: Bool
    private let tests: [Test]
    private var wrapped: AnyIterator<Line>?
    private var files: LogFiles?
    private var inputs: [InputSpec]?
    private var index = 0
    private var reader: LineReader?
    private var done = false

    init(_ lines: Lines) {
        status = lines.status
        settings = lines.settings
        countsWrappedLines = lines.countsWrappedLines
        tests = lines.stages.map { stage in
            switch stage {
            case .grep(let pattern): return .grep(Matcher(pattern))
            case .filter(let body): return .filter(body)
            case .observe(let body): return .observe(body)
            }
        }
        switch lines.origin {
        case .files(let files): self.files = files
        case .wrapped(let make): wrapped = make()
        }
        status.reset()
    }

    /// The path of the input being read, for messages (a wrapped sequence's lines come from no path it knows).
    var path: String { reader?.path ?? "<wrapped sequence>" }

    @inline(__always)
    func next() -> Line? {
        while !done {
            guard let line = nextRaw() else {
                done = true
                return nil
            }
            if tests.isEmpty || passes(line) { return line }
        }
        return nil
    }

    @inline(__always)
    private func passes(_ line: Line) -> Bool {
        for test in tests {
            switch test {
            case .grep(let matcher):
                guard let base = line.bytes.baseAddress else {
                    if case .match = matcher.search(UnsafePointer(emptySubject), length: 0) { continue }
                    return false
                }
                switch matcher.search(base.assumingMemoryBound(to: UInt8.self), length: line.count) {
                case .match: continue
                case .noMatch: return false
                case .failed(let message):
                    status.fail(SluiceError(.matchLimit, path: path, "regex gave up: \(message)", line: line.number))
                    done = true
                    return false
                }
            case .filter(let isIncluded):
                if !isIncluded(line) { return false }
            case .observe(let body):
                body(line)
            }
        }
        return true
    }

    /// The next line of the inputs, before any stage.
    @inline(__always)
    private func nextRaw() -> Line? {
        if let wrapped {
            let line = wrapped.next()
            if line != nil && countsWrappedLines { status.linesRead += 1 }
            return line
        }
        while true {
            if let reader {
                do {
                    if let bytes = try reader.next() { return Line(bytes: bytes, number: reader.lineNumber) }
                } catch {
                    if !status.inputFailed(error, path: reader.path, skipping: settings.skipsFailedInputs) { return nil }
                }
                self.reader = nil
            }
            if inputs == nil {
                do { inputs = try files?.inputs() ?? [] } catch {
                    status.fail(error as? SluiceError ?? SluiceError(.io, path: "", "\(error)"))
                    return nil
                }
            }
            guard let inputs, index < inputs.count else { return nil }
            index += 1
            do {
                reader = try LineReader(inputs[index - 1], settings: settings, status: status)
            } catch {
                if !status.inputFailed(error, path: inputs[index - 1].path, skipping: settings.skipsFailedInputs) { return nil }
            }
        }
    }
}

/// A readable byte for searching empty lines, which have no base address.
private let emptySubject: UnsafeMutablePointer<UInt8> = {
    let byte = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    byte.initialize(to: 0)
    return byte
}()
