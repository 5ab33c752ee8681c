import ArgumentParser
import Sluice

/// Options every query subcommand shares: what to read and how to turn lines into records.
struct InputOptions: ParsableArguments {
    @Argument(help: "Files or directories to read; '-' or nothing reads standard input.")
    var paths: [String] = []

    @Option(help: "Keep only files under directories whose name matches this glob, e.g. 'access-log*'.")
    var name: String?

    @Option(help: "Record format: common, combined, auto, fields or regex:PCRE (named groups are fields).")
    var format: String = "auto"

    @Option(name: .customLong("where"), help: "A condition FIELD OP VALUE (OP: = != < <= > >= ~ !~); repeatable, ANDed.")
    var conditions: [String] = []

    @Option(help: "Only lines matching this PCRE2 pattern are parsed (the tutorial's gen_grep stage).")
    var grep: String?

    @Flag(help: "Treat the first malformed line as an error.")
    var strict = false

    @Option(help: "Worker threads (default: active cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Bytes per unit of parallel work (results never depend on it).", visibility: .hidden))
    var chunkSize: String?

    @Option(help: ArgumentHelp("Lines longer than this are skipped and counted as malformed.", visibility: .hidden))
    var maxLineLength: String?

    @Option(help: ArgumentHelp("gzip decoder: isal or zlib.", visibility: .hidden))
    var gzipDecoder: String = "isal"

    @Flag(help: ArgumentHelp("Decode bzip2 sequentially.", visibility: .hidden))
    var sequentialBzip2 = false

    @Flag(help: "Print the answer as JSON.")
    var json = false

    func execution() throws -> ExecutionOptions {
        var options = ExecutionOptions(threads: threads)
        if let chunkSize {
            guard let bytes = SizeParser.parse(chunkSize), bytes > 0 else {
                throw ValidationError("bad --chunk-size '\(chunkSize)'")
            }
            options = ExecutionOptions(threads: threads, chunkSize: bytes, windowSize: max(bytes * 8, 1 << 16))
        }
        if let maxLineLength {
            guard let bytes = SizeParser.parse(maxLineLength), bytes > 0 else {
                throw ValidationError("bad --max-line-length '\(maxLineLength)'")
            }
            options.maxLineLength = bytes
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

/// Sizes such as `4096`, `64K`, `256M`, `1G` (binary multiples).
enum SizeParser {
    static func parse(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let multipliers: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let multiplier = multipliers[last] { return Int(text.dropLast()).map { $0 * multiplier } }
        return Int(text)
    }
}
