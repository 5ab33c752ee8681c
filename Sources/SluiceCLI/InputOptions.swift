import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Sluice

/// Options every query subcommand shares: what to read and how to turn lines into records.
struct InputOptions: ParsableArguments {
    @Argument(help: "Files or directories to read; '-' or nothing reads standard input.")
    var paths: [String] = []

    @Option(parsing: .unconditional, help: "In directories, read only the files whose name matches this glob, e.g. 'access-log*'.")
    var name: String?

    @Option(parsing: .unconditional, help: "Record format: common, combined, auto, fields or regex:PCRE (named groups are fields).")
    var format: String = "auto"

    @Option(name: .customLong("where"), parsing: .unconditionalSingleValue, help: "A condition FIELD OP VALUE (OP: = != < <= > >= ~ !~; spaces around FIELD and VALUE are ignored); repeatable, ANDed.")
    var conditions: [String] = []

    @Option(parsing: .unconditional, help: "Only lines matching this PCRE2 pattern are parsed (the tutorial's gen_grep stage).")
    var grep: String?

    @Flag(help: "Treat the first malformed line as an error.")
    var strict = false

    @Option(parsing: .unconditional, help: "Worker threads (default: active cores).")
    var threads: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Bytes per unit of parallel work (results never depend on it).", visibility: .hidden))
    var chunkSize: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Lines longer than this are skipped and counted as malformed.", visibility: .hidden))
    var maxLineLength: String?

    @Option(help: ArgumentHelp("gzip decoder: isal or zlib.", visibility: .hidden))
    var gzipDecoder: String = "isal"

    @Flag(help: ArgumentHelp("Decode bzip2 sequentially.", visibility: .hidden))
    var sequentialBzip2 = false

    @Flag(help: "Print the answer as JSON.")
    var json = false

    /// The parsed `--format` (`QueryRunner` refuses an invalid one before any answer is printed).
    var recordFormat: RecordFormat { (try? RecordFormat(parsing: format)) ?? .auto }

    /// Whether per-input output names its inputs, as rg decides: more than one path, or a directory, was given.
    var namesInputs: Bool {
        paths.count > 1 || paths.contains { path in
            var info = stat()
            return path != "-" && PathBytes.withCString(path) { stat($0, &info) } == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        }
    }

    /// The execution options these flags ask for; throws `.invalidArgument` naming the flag for a value out of
    /// range, rather than letting the engine bring it within its limits silently.
    func execution() throws -> ExecutionOptions {
        if let threads, !(1...ExecutionOptions.maximumThreads).contains(threads) {
            throw SluiceError(.invalidArgument, path: "--threads",
                              "expected 1...\(ExecutionOptions.maximumThreads), got \(threads)")
        }
        var options = ExecutionOptions(threads: threads)
        if let chunkSize {
            let bytes = try ByteCount.parse(chunkSize, option: "--chunk-size", in: 1...ExecutionOptions.maximumChunkSize,
                                            named: "1 byte to 1G")
            options = ExecutionOptions(threads: threads, chunkSize: bytes, windowSize: max(bytes * 8, 1 << 16))
        }
        if let maxLineLength {
            options.maxLineLength = try ByteCount.parse(maxLineLength, option: "--max-line-length", in: 1...Int.max,
                                                        named: "at least 1 byte")
        }
        options.parallelBzip2 = !sequentialBzip2
        switch gzipDecoder {
        case "isal": options.gzipDecoder = .isal
        case "zlib": options.gzipDecoder = .zlib
        default: throw ValidationError("bad --gzip-decoder '\(gzipDecoder)' (isal or zlib)")
        }
        return options
    }
}
