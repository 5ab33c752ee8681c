import ArgumentParser
import Sluice
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sluice gen`: writes synthetic Apache logs (or copies of a file) to standard output, a file, or a folder of
/// numbered files, optionally gzip- or bzip2-compressed in-process.
struct GenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Generate synthetic Apache access logs (deterministic for a given seed).",
        discussion: """
            Writes realistic common or combined log lines with Zipf-distributed hosts and paths and steadily \
            increasing timestamps. The same options always give the same bytes. With --repeat FILE N the output \
            is FILE's bytes N times instead (the generation options do not apply then). With --files N and -o DIR, N files DIR/log-00000 ... are written, \
            each of SIZE/N bytes: one site (hosts and pages from --seed), each file with its own visits.
            """
    )

    @Option(parsing: .unconditional, help: "Target size of the uncompressed lines: bytes, or with a K, M, G or T suffix (1K = 1024); default 10M. Output ends at the first line end at or after it.")
    var size: String?

    @Option(help: "Line format: common (default) or combined.")
    var format: String?

    @Option(parsing: .unconditional, help: "Seed of the pseudo-random stream (default 1).")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Number of distinct client hosts (default 200000).")
    var hosts: Int?

    @Option(parsing: .unconditional, help: "Number of distinct paths on the site (default 20000).")
    var paths: Int?

    @Flag(help: "Mix in malformed and awkward lines (CRLF, huge URLs, non-UTF-8 bytes, IPv6 hosts, empty lines...).")
    var hostile = false

    @Option(name: .customLong("repeat"), parsing: .upToNextOption,
            help: ArgumentHelp("Write FILE's bytes N times instead of generating.", valueName: "FILE N"))
    var repeatArguments: [String] = []

    @Flag(help: "Compress the output with gzip.")
    var gzip = false

    @Flag(help: "Compress the output with bzip2.")
    var bzip2 = false

    @Option(parsing: .unconditional, help: "Compression level (gzip 0-9, default 6; bzip2 1-9, default 9).")
    var level: Int?

    @Option(parsing: .unconditional, help: "Write N files into the folder given with -o instead of one output.")
    var files: Int?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output file (or folder with --files); standard output when absent or -.")
    var output: String?

    func run() throws {
        // Interrupted: the files being written are removed, not left half written.
        SignalTrap.install(signals: [SIGINT, SIGTERM, SIGHUP]) {
            OutputFile.interrupt { _exit(130) }
        }
        do {
            try generate()
        } catch let error as SluiceError {
            Output.error.line(error.description)
            Output.error.flush()
            throw ExitCode(2)
        } catch is BrokenPipe {
            return  // the reader went away (`sluice gen | head`, or a FIFO's): stop quietly
        } catch is OutputFile.Interrupted {
            throw ExitCode(130)
        }
    }

    // MARK: - Plan

    private enum Compression { case none, gzip(Int32), bzip2(Int32) }

    private func generate() throws {
        if !repeatArguments.isEmpty {
            // These describe generated lines; with --repeat they would be ignored.
            let given: [(String, Bool)] = [("--size", size != nil), ("--format", format != nil), ("--seed", seed != nil),
                                           ("--hosts", hosts != nil), ("--paths", paths != nil), ("--hostile", hostile),
                                           ("--files", files != nil)]
            if let (option, _) = given.first(where: { $0.1 }) {
                throw SluiceError(.invalidArgument, path: option, "does not apply to --repeat, which copies FILE as it is")
            }
        }
        let target = try ByteCount.parse(size ?? "10M", option: "--size")
        let format = self.format ?? "common", seed = self.seed ?? 1, hosts = self.hosts ?? 200_000, paths = self.paths ?? 20_000
        guard let lineFormat = GeneratedFormat(rawValue: format.lowercased()) else {
            throw SluiceError(.invalidArgument, path: "--format", "expected common or combined, got '\(format)'")
        }
        if hosts < 1 || hosts > LogGenerator.maximumHosts {
            throw SluiceError(.invalidArgument, path: "--hosts", "expected 1...\(LogGenerator.maximumHosts), got \(hosts)")
        }
        if paths < 1 || paths > LogGenerator.maximumPaths {
            throw SluiceError(.invalidArgument, path: "--paths", "expected 1...\(LogGenerator.maximumPaths), got \(paths)")
        }
        if gzip && bzip2 {
            throw SluiceError(.invalidArgument, path: "--gzip", "cannot be combined with --bzip2")
        }
        var compression = Compression.none
        if gzip || bzip2 {
            let chosen = level ?? (gzip ? 6 : 9)
            let range = gzip ? 0...9 : 1...9
            guard range.contains(chosen) else {
                throw SluiceError(.invalidArgument, path: "--level",
                                  "expected \(range.lowerBound)...\(range.upperBound) for \(gzip ? "gzip" : "bzip2"), got \(chosen)")
            }
            compression = gzip ? .gzip(Int32(chosen)) : .bzip2(Int32(chosen))
        } else if level != nil {
            throw SluiceError(.invalidArgument, path: "--level", "needs --gzip or --bzip2")
        }
        // The file to repeat is opened (and read, unless large) before any output is created, so that a failing
        // run leaves an existing output alone, and an output that is the same file is refused before emptying it.
        var repeatSource: (source: RepeatSource, times: Int)? = nil
        if !repeatArguments.isEmpty {
            guard repeatArguments.count == 2, let times = Int(repeatArguments[1]), times >= 0 else {
                let problem = repeatArguments.count > 2 ? "given more than once, or with more than FILE N" : "expected FILE N"
                throw SluiceError(.invalidArgument, path: "--repeat", "\(problem) (N a count ≥ 0): \(repeatArguments.joined(separator: " "))")
            }
            let source = try RepeatSource(repeatArguments[0])
            var info = stat()
            if let output, output != "-", PathBytes.withCString(output, { stat($0, &info) }) == 0,
               UInt64(info.st_dev) == source.device, UInt64(info.st_ino) == source.inode {
                throw SluiceError(.invalidArgument, path: output, "is the --repeat input file; it would be emptied")
            }
            repeatSource = (source, times)
        }
        let options = GeneratorOptions(size: target, format: lineFormat, seed: seed, hosts: hosts, paths: paths,
                                       hostile: hostile)

        // One output's content: either the repeated file or generated lines.
        // With --files every file logs the same site (built once, from --seed), each with its own visits.
        let site = repeatSource == nil && files != nil ? try GeneratedSite(options) : nil
        func produce(_ options: GeneratorOptions, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            if let repeatSource {
                try repeatSource.source.write(times: repeatSource.times, to: sink)
            } else {
                try LogGenerator.generate(options, site: site, to: sink)
            }
        }

        if let files {
            guard files >= 1 else {
                throw SluiceError(.invalidArgument, path: "--files", "expected a count ≥ 1, got \(files)")
            }
            guard let folder = output, folder != "-" else {
                throw SluiceError(.invalidArgument, path: "--files", "needs -o DIR (a folder, not standard output)")
            }
            try GenCommand.makeFolder(folder)
            let suffix: String
            switch compression {
            case .none: suffix = ""
            case .gzip: suffix = ".gz"
            case .bzip2: suffix = ".bz2"
            }
            let width = max(5, String(files - 1).count)
            for index in 0..<files {
                var fileOptions = options
                fileOptions.size = target / files + (index < target % files ? 1 : 0)
                fileOptions.seed = LogGenerator.derivedSeed(seed, index: index)
                let number = String(index)
                let name = "log-" + String(repeating: "0", count: width - number.count) + number + suffix
                let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                let file = try OutputFile(path: path)
                defer { file.closeQuietly() }
                try GenCommand.emit(compression, to: file) { try produce(fileOptions, $0) }
                try file.sync()
            }
        } else if let output, output != "-" {
            let file = try OutputFile(path: output)
            defer { file.closeQuietly() }
            try GenCommand.emit(compression, to: file) { try produce(options, $0) }
            try file.sync()
        } else {
            signal(SIGPIPE, SIG_IGN)
            let file = OutputFile(standardOutput: ())
            try GenCommand.emit(compression, to: file) { try produce(options, $0) }
        }
    }

    /// Runs `body`, sending what it produces to `file` through the chosen compressor.
    private static func emit(_ compression: Compression, to file: OutputFile,
                              _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let plain: (UnsafeRawBufferPointer) throws -> Void = { try file.send($0) }
        switch compression {
        case .none:
            try body(plain)
        case .gzip(let level):
            let writer = try GzipWriter(level: Int(level), sink: plain)
            try body { try writer.write($0) }
            try writer.finish()
        case .bzip2(let level):
            let writer = try BZip2Writer(level: Int(level), sink: plain)
            try body { try writer.write($0) }
            try writer.finish()
        }
    }

    // MARK: - Helpers

    /// Creates `path` and any missing parent folders; an existing folder is fine.
    static func makeFolder(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if PathBytes.withCString(prefix, { mkdir($0, 0o755) }) != 0 && errno != EEXIST {
                throw SluiceError(.io, path: prefix, String(cString: strerror(errno)))
            }
            prefix += "/"
        }
        var info = stat()
        if PathBytes.withCString(path, { stat($0, &info) }) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            throw SluiceError(.io, path: path, "not a folder")
        }
    }
}

/// Thrown by a sink whose reader has closed the pipe (standard output or a FIFO).
private struct BrokenPipe: Error {}

/// A file descriptor written with `write(2)`, retrying short writes and EINTR. A regular file is written in
/// place (its inode, mode and links kept) and removed again if the run fails or is interrupted before `sync()`,
/// so no partial file is left that looks finished; a FIFO or device is never removed.
private final class OutputFile {
    let path: String
    let descriptor: Int32
    private let owned: Bool
    /// Whether the file is removed when the run ends before `sync()`: a regular file.
    private let removable: Bool

    /// Regular files being written, and whether a signal is ending the run; one lock, so that no file is
    /// created or finished while `interrupt` removes the unfinished ones.
    private static let unfinished = Mutex<(paths: Set<String>, interrupted: Bool)>(([], false))

    init(path: String) throws {
        (descriptor, removable) = try OutputFile.unfinished.withLock { state -> (Int32, Bool) in
            if state.interrupted { throw OutputFile.Interrupted() }
            let fd = PathBytes.withCString(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            if fd < 0 { throw SluiceError(.io, path: path, String(cString: strerror(errno))) }
            var info = stat()
            let regular = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            if regular { state.paths.insert(path) }
            return (fd, regular)
        }
        self.path = path
        owned = true
    }

    init(standardOutput: Void) {
        path = "standard output"
        descriptor = 1
        owned = false
        removable = false
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw BrokenPipe() }
                throw SluiceError(.io, path: path, "write failed: " + String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    private var closed = false

    /// Closes the file, reporting a failed close (for example a full disk on NFS) as an error; the file is
    /// finished once this returns.
    func sync() throws {
        guard owned && !closed else { return }
        closed = true
        if close(descriptor) != 0 {
            let message = String(cString: strerror(errno))
            remove()
            throw SluiceError(.io, path: path, message)
        }
        OutputFile.unfinished.withLock { _ = $0.paths.remove(path) }
    }

    /// Closes and removes the file if `sync()` has not finished it, ignoring errors (for error paths).
    func closeQuietly() {
        if owned && !closed {
            closed = true
            _ = close(descriptor)
            remove()
        }
    }

    private func remove() {
        OutputFile.unfinished.withLock { state in
            if removable, state.paths.remove(path) != nil { _ = PathBytes.withCString(path) { unlink($0) } }
        }
    }

    /// Thrown when a file would be created after a signal began ending the run.
    struct Interrupted: Error {}

    /// For a signal that ends the run: removes the regular files not yet finished, and keeps any more from being
    /// created. Holds the lock to the end, so the caller exits before the writer can finish or start a file.
    static func interrupt(then exit: () -> Never) -> Never {
        unfinished.withLock { state -> Never in
            state.interrupted = true
            for path in state.paths { _ = PathBytes.withCString(path) { unlink($0) } }
            exit()
        }
    }
}
