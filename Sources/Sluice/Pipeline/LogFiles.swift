/// The tutorial's `gen_find`: the log files a pipeline reads, found lazily.
///
/// `LogFiles.find("access-log*", in: "www")` walks `www` recursively when iterated (not before), visiting
/// directory entries in bytewise-sorted order and keeping the regular files whose last path component
/// matches the glob (fnmatch syntax), exactly as `InputFinder` and the CLI's `--name` do. Symbolic links to
/// directories are not followed. A `top` that is a file is kept whatever its name; `-` is standard input.
///
/// If the walk meets an error (a missing `top`, an unreadable directory), the iteration yields nothing and
/// the error is left in `status`: every stage downstream then reads nothing and throws it. With
/// `skippingFailedInputs()`, the files found are still read and the errors kept in `status.skippedInputs`.
public struct LogFiles: Sequence {
    enum Origin {
        case find(glob: String, top: String)
        case paths([String])
    }

    let origin: Origin
    var settings = PipelineSettings()
    /// The status shared by every pipeline built on these files.
    public let status: PipelineStatus

    init(origin: Origin, settings: PipelineSettings = PipelineSettings(), status: PipelineStatus = PipelineStatus()) {
        self.origin = origin
        self.settings = settings
        self.status = status
    }

    /// The files under `top` whose name matches `glob` (`gen_find(glob, top)`).
    public static func find(_ glob: String, in top: String) -> LogFiles {
        LogFiles(origin: .find(glob: glob, top: top))
    }

    /// The named files, in the order given (`-` is standard input, then named `<stdin>`). They are not checked
    /// until opened.
    public init(paths: [String]) {
        self.init(origin: .paths(paths))
    }

    /// The inputs, resolved now. Throws the first error of the walk, unless failed inputs are skipped: then the
    /// walk's errors go to `status.skippedInputs` and the files found are returned.
    func inputs() throws -> [InputSpec] {
        switch origin {
        case .paths(let paths):
            return paths.map { $0 == "-" ? .standardInput : .file($0) }
        case .find(let glob, let top):
            let (inputs, errors) = InputFinder.expand([top], nameGlob: glob)
            if let first = errors.first, !settings.skipsFailedInputs { throw first }
            for error in errors { status.inputFailed(error, path: top, skipping: true) }
            return inputs
        }
    }

    /// The same files, but an input that fails (cannot be found, opened, read or decoded to its end) no longer
    /// ends the pipeline: its lines before the error count, reading goes on with the next input, the error is
    /// kept in `status.skippedInputs`, and the terminal operations give their answer over everything read
    /// instead of throwing it. Check `status.skippedInputs` afterwards. Errors of the pipeline itself (a regex
    /// that gives up, a sum that overflows) still end it.
    public func skippingFailedInputs() -> LogFiles {
        var copy = self
        copy.settings.skipsFailedInputs = true
        return copy
    }

    /// The same files, with terminal operations run as `execution` says.
    public func executing(_ execution: Execution) -> LogFiles {
        var copy = self
        copy.settings.execution = execution
        return copy
    }

    /// Opens each file in turn as it is reached (`gen_open`).
    public func open() -> LogSources { LogSources(files: self) }

    /// Every line of every file, in order (`gen_cat(gen_open(files))`).
    public func lines() -> Lines { Lines(files: self) }

    /// Walks now and iterates over the paths found. Resets `status`.
    public func makeIterator() -> IndexingIterator<[String]> {
        status.reset()
        do {
            return try inputs().map(\.path).makeIterator()
        } catch {
            status.fail(error as? SluiceError ?? SluiceError(.io, path: "", "\(error)"))
            return [String]().makeIterator()
        }
    }
}

/// The tutorial's `gen_open`: each file of a `LogFiles`, opened when the iteration reaches it.
///
/// Opening reads the first bytes of the file to tell plain text, gzip and bzip2 apart by their magic
/// bytes, never by the name. A file that cannot be opened ends the iteration, with the error in `status`.
public struct LogSources: Sequence {
    /// The files these sources open.
    public let files: LogFiles

    /// The status shared with `files`.
    public var status: PipelineStatus { files.status }

    /// Every line of every source, in order (`gen_cat`). The result still knows its files, so its
    /// aggregates can run in parallel.
    public func cat() -> Lines { Lines(files: files) }

    /// Starts a new iteration: the files are found when the first source is asked for; resets `status`.
    public func makeIterator() -> Iterator {
        Iterator(files: files)
    }

    /// Opens the next file on each call.
    public struct Iterator: IteratorProtocol {
        private let files: LogFiles
        private var inputs: [InputSpec]?
        private var index = 0

        init(files: LogFiles) {
            self.files = files
            files.status.reset()
        }

        /// The next file, opened; nil after the last one or after an error (kept in `status`).
        public mutating func next() -> LogSource? {
            if inputs == nil {
                do { inputs = try files.inputs() } catch {
                    files.status.fail(error as? SluiceError ?? SluiceError(.io, path: "", "\(error)"))
                    inputs = []
                }
            }
            while let inputs, index < inputs.count, files.status.error == nil {
                defer { index += 1 }
                do {
                    return LogSource(try LineReader(inputs[index], settings: files.settings, status: files.status),
                                     status: files.status, skipsFailures: files.settings.skipsFailedInputs)
                } catch {
                    // Skipped (the next file is opened) or the end of the iteration.
                    if !files.status.inputFailed(error, path: inputs[index].path, skipping: files.settings.skipsFailedInputs) {
                        return nil
                    }
                }
            }
            return nil
        }
    }
}

/// One opened input: the counterpart of the file object `gen_open` yields. Iterating it reads its lines once,
/// from where the previous iteration stopped, as a Python file does. The descriptor closes when the source
/// is released.
public final class LogSource: Sequence, CustomStringConvertible {
    private let reader: LineReader
    private let status: PipelineStatus
    private let skipsFailures: Bool

    init(_ reader: LineReader, status: PipelineStatus, skipsFailures: Bool = false) {
        self.reader = reader
        self.status = status
        self.skipsFailures = skipsFailures
    }

    /// The path the source was opened from (`<stdin>` for standard input).
    public var path: String { reader.path }

    /// How the source's bytes are stored, as its magic bytes tell.
    public var compression: Compression { reader.compression }

    /// `<plain log 'PATH'>`, `<gzip log 'PATH'>`, `<bzip2 log 'PATH'>`, or the unsupported format's name.
    public var description: String {
        let kind: String
        switch compression {
        case .none: kind = "plain"
        case .gzip: kind = "gzip"
        case .bzip2: kind = "bzip2"
        case .unsupported(let name): kind = name
        }
        return "<\(kind) log '\(path)'>"
    }

    /// An iterator over the source's remaining lines; all iterators of one source share its position.
    public func makeIterator() -> Iterator { Iterator(source: self) }

    /// The source's remaining lines. A read or decoding error ends the iteration and is left in the status
    /// of the `LogSources` the source came from.
    public struct Iterator: IteratorProtocol {
        private let source: LogSource

        init(source: LogSource) { self.source = source }

        /// The source's next line, valid until the following call; nil at its end or after an error.
        public mutating func next() -> Line? {
            do {
                guard let bytes = try source.reader.next() else { return nil }
                return Line(bytes: bytes, number: source.reader.lineNumber)
            } catch {
                source.status.inputFailed(error, path: source.path, skipping: source.skipsFailures)
                return nil
            }
        }
    }
}

extension LogSources: CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { status }
}

extension LogSource: CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { status }
}
