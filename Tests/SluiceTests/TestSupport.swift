import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// Fixtures shared by the tests: the package and shared-data paths, temporary files, compression through the
/// library's writers, and runners for the engine and for the built `sluice` binary.
enum Fixture {
    /// The package root, found from this file's path.
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// `../shared/data/tutorial`, beside the project root.
    static let tutorial = root + "/../shared/data/tutorial"

    /// The `sluice` binary built with the tests.
    static let binary = root + "/.build/debug/sluice"

    /// A fresh, empty temporary directory, inside `scratch`.
    static func directory() -> String { temporary(scratch + "/XXXXXX") }

    /// One temporary directory per test process that holds every `directory()`; removed with all it holds when
    /// the process exits, so test runs leave nothing behind in /tmp.
    static let scratch: String = {
        let path = temporary("/tmp/sluice-test-XXXXXX")
        atexit { try? FileManager.default.removeItem(atPath: Fixture.scratch) }
        return path
    }()

    /// A new directory named from `template`, whose trailing `XXXXXX` mkdtemp replaces.
    private static func temporary(_ template: String) -> String {
        var bytes = Array(template.utf8CString)
        return bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    /// Writes `bytes` to `path`.
    @discardableResult
    static func write(_ bytes: [UInt8], to path: String) -> String {
        let file = fopen(path, "wb")!
        bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        return path
    }

    static func read(_ path: String) -> [UInt8] {
        guard let file = fopen(path, "rb") else { return [] }
        defer { fclose(file) }
        var result = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if got == 0 { break }
            result += buffer[0..<got]
        }
        return result
    }

    static func gzip(_ bytes: [UInt8], level: Int = 6) -> [UInt8] {
        var out = [UInt8]()
        let writer = try! GzipWriter(level: level) { out.append(contentsOf: $0) }
        bytes.withUnsafeBytes { try! writer.write($0) }
        try! writer.finish()
        return out
    }

    static func bzip2(_ bytes: [UInt8], level: Int = 9) -> [UInt8] {
        var out = [UInt8]()
        let writer = try! BZip2Writer(level: level) { out.append(contentsOf: $0) }
        bytes.withUnsafeBytes { try! writer.write($0) }
        try! writer.finish()
        return out
    }

    /// A deterministic synthetic log from the library's generator.
    static func log(size: Int, format: GeneratedFormat = .common, seed: UInt64 = 1, hostile: Bool = false) -> [UInt8] {
        var out = [UInt8]()
        try! LogGenerator.generate(GeneratorOptions(size: size, format: format, seed: seed, hosts: 2000, paths: 500,
                                                    hostile: hostile)) { out.append(contentsOf: $0) }
        return out
    }

    /// Runs `query` over `paths` and returns the streamed output and the report.
    static func run(_ query: Query, _ paths: [String], options: ExecutionOptions = ExecutionOptions()) throws -> (output: [UInt8], report: RunReport) {
        let engine = try Engine(query: query, options: options)
        var output = [UInt8]()
        let report = try engine.run(paths.map { $0 == "-" ? .standardInput : .file($0) }) { output.append(contentsOf: $0) }
        return (output, report)
    }

    /// Thread counts, chunk sizes and window sizes that every result must be independent of.
    static let schedules: [ExecutionOptions] = {
        var all = [ExecutionOptions]()
        for threads in [1, 2, 3] {
            for chunk in [1, 7, 4096, 1 << 20] {
                var options = ExecutionOptions(threads: threads, chunkSize: chunk, windowSize: max(chunk * 3, 1 << 16),
                                               smallFileLimit: chunk == 7 ? 0 : 1 << 20)
                options.parallelBzip2 = chunk != 4096
                all.append(options)
            }
        }
        return all
    }()
}

/// The outcome of running the `sluice` binary.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutBytes: [UInt8]
    /// Peak resident set size of the child, in KiB.
    var maxRSS: Int
    /// True when the child was killed by a signal (a crash).
    var signaled: Bool
}

/// Runs `sluice ARGS`, optionally feeding `stdin`, and collects everything.
func sluice(_ arguments: [String], stdin: [UInt8]? = nil) -> CLIResult {
    let scratch = Fixture.directory()
    let outPath = scratch + "/out", errPath = scratch + "/err", inPath = scratch + "/in"
    if let stdin { Fixture.write(stdin, to: inPath) } else { Fixture.write([], to: inPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    // Arguments carry their bytes as `PathBytes` strings, so a test can pass a name that is not UTF-8.
    let argv = ([Fixture.binary] + arguments).map { argument in
        PathBytes.withCString(argument) { strdup($0) }
    } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, Fixture.binary, &actions, nil, argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    precondition(spawned == 0, "cannot start \(Fixture.binary); build it first")
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let out = Fixture.read(outPath), err = Fixture.read(errPath)
    let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
    return CLIResult(status: (status >> 8) & 0xff, stdout: String(decoding: out, as: UTF8.self),
                     stderr: String(decoding: err, as: UTF8.self), stdoutBytes: out, maxRSS: usage.ru_maxrss,
                     signaled: signaled)
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
