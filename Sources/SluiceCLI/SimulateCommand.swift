import ArgumentParser
import Sluice
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `sluice simulate OUT --rate N/s`: a web server writing its access log live, for `follow`, `send --follow` and
/// tests (the tutorial's `logsim` and `runservers`).
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a live access log at a steady rate, optionally rotating it.",
        discussion: """
            Appends synthetic lines (what `sluice gen --hosts 2000 --paths 500` writes for the seed) to OUT at \
            --rate lines per second, each line written whole with its newline. With --rotate-every SIZE, once OUT \
            holds at least SIZE bytes it is rotated: renamed to OUT.1 (the older copies that exist shift to \
            OUT.2 ... up to --keep) and a new OUT is created; with --copytruncate it is copied to OUT.1 and \
            truncated in place instead. Stops after --duration seconds, after --lines lines, or on SIGINT/SIGTERM.
            """)

    @Argument(help: "The log file to write (appended to if it exists).")
    var output: String

    @Option(parsing: .unconditional, help: "Lines per second: N or N/s.")
    var rate: String = "10/s"

    @Option(help: "Line format: common or combined.")
    var format: String = "common"

    @Option(parsing: .unconditional, help: "Rotate once the file holds at least this many bytes (K, M, G suffixes).")
    var rotateEvery: String?

    @Flag(help: "Rotate by copying to OUT.1 and truncating OUT in place, instead of renaming.")
    var copytruncate = false

    @Option(parsing: .unconditional, help: "Rotated copies to keep (OUT.1 ... OUT.N).")
    var keep: Int = 3

    @Option(parsing: .unconditional, help: "Stop after this many seconds (decimals allowed).")
    var duration: Double?

    @Option(parsing: .unconditional, help: "Stop after writing this many lines.")
    var lines: Int?

    @Option(parsing: .unconditional, help: "Seed of the pseudo-random stream.")
    var seed: UInt64 = 1

    /// Lines per second, from --rate.
    private var perSecond: Double? {
        Double(rate.hasSuffix("/s") ? String(rate.dropLast(2)) : rate).flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
    }

    /// The --rotate-every size in bytes.
    private var rotateAt: Int? {
        rotateEvery.flatMap { try? ByteCount.parse($0, option: "--rotate-every") }.flatMap { $0 > 0 ? $0 : nil }
    }

    func validate() throws {
        if perSecond == nil { throw ValidationError("bad --rate '\(rate)' (expected N or N/s with N > 0)") }
        if GeneratedFormat(rawValue: format) == nil { throw ValidationError("bad --format '\(format)' (common or combined)") }
        if let rotateEvery, rotateAt == nil {
            throw ValidationError("bad --rotate-every '\(rotateEvery)' (expected a byte count > 0 such as 10M)")
        }
        if keep < 1 { throw ValidationError("--keep must be at least 1, got \(keep)") }
        if let duration, !(duration.isFinite && duration >= 0) {
            throw ValidationError("--duration must be a number of seconds ≥ 0, got \(duration)")
        }
        if let lines, lines < 0 { throw ValidationError("--lines must be at least 0, got \(lines)") }
    }

    func run() throws {
        guard let perSecond, let lineFormat = GeneratedFormat(rawValue: format) else { return }
        let rotateAt = self.rotateAt
        SignalTrap.install { SimulateCommand.stopRequested.store(true, ordering: .relaxed) }
        let writer: LogWriter
        do { writer = try LogWriter(path: output, copytruncate: copytruncate, keep: keep) } catch let error as SluiceError {
            QueryRunner.fatal(error)
        }
        defer { writer.close() }
        let started = SimulateCommand.monotonicSeconds()
        let interval = 1.0 / perSecond
        var written = 0
        var pending = [UInt8]()
        let lines = self.lines, duration = self.duration
        func finished() -> Bool {
            SimulateCommand.stopRequested.load(ordering: .relaxed) || lines.map { written >= $0 } == true
                || duration.map { SimulateCommand.monotonicSeconds() - started >= $0 } == true
        }
        let options = GeneratorOptions(size: Int.max / 2, format: lineFormat, seed: seed, hosts: 2000, paths: 500)
        do {
            if finished() { throw Finished() }
            try LogGenerator.generate(options) { block in
                let bytes = block.bindMemory(to: UInt8.self)
                var lineStart = 0
                while lineStart < bytes.count {
                    guard let newline = bytes[lineStart...].firstIndex(of: 10) else { break }
                    pending.append(contentsOf: bytes[lineStart...newline])
                    lineStart = newline + 1
                    written += 1
                    let due = started + Double(written) * interval
                    let now = SimulateCommand.monotonicSeconds()
                    // The line that brings the file to the rotation size is the last one it gets.
                    let rotates = rotateAt.map { writer.size + pending.count >= $0 } ?? false
                    // Lines due within the next millisecond go out together, so high rates cost few syscalls.
                    if rotates || due > now + 0.001 || pending.count > 1 << 16 || lines == written {
                        try writer.append(pending)
                        pending.removeAll(keepingCapacity: true)
                        if rotates { try writer.rotate() }
                        while !finished(), SimulateCommand.monotonicSeconds() < due {
                            SimulateCommand.sleep(seconds: min(0.05, due - SimulateCommand.monotonicSeconds()))
                        }
                    }
                    if finished() { throw Finished() }
                }
            }
        } catch is Finished {
        } catch let error as SluiceError {
            QueryRunner.fatal(error)
        }
        if !pending.isEmpty { try? writer.append(pending) }
    }

    private struct Finished: Error {}

    static let stopRequested = Atomic<Bool>(false)

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// The simulated server's log file: appends whole buffers and rotates by rename or by copy and truncate.
private final class LogWriter {
    let path: String
    let copytruncate: Bool
    let keep: Int
    private var fd: Int32
    private(set) var size = 0

    init(path: String, copytruncate: Bool, keep: Int) throws {
        self.path = path
        self.copytruncate = copytruncate
        self.keep = keep
        fd = -1
        try open()
    }

    private func open() throws {
        fd = PathBytes.withCString(path) { Glibc.open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
        if fd < 0 { throw SluiceError(.io, path: path, String(cString: strerror(errno))) }
        var info = stat()
        size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func append(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let done = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if done < 0 {
                if errno == EINTR { continue }
                throw SluiceError(.io, path: path, String(cString: strerror(errno)))
            }
            offset += done
        }
        size += bytes.count
    }

    /// Shifts the copies OUT.1 ... OUT.n up by one, n being the last of the run that exists from OUT.1 (at most
    /// keep-1; OUT.(n+1) is replaced), then moves the current contents to OUT.1. It costs O(existing copies),
    /// not O(keep).
    func rotate() throws {
        var existing = 0
        while existing < keep - 1, LogWriter.exists("\(path).\(existing + 1)") { existing += 1 }
        for index in stride(from: existing, through: 1, by: -1) {
            _ = LogWriter.rename("\(path).\(index)", "\(path).\(index + 1)")
        }
        if copytruncate {
            let source = PathBytes.withCString(path) { Glibc.open($0, O_RDONLY | O_CLOEXEC) }
            let target = PathBytes.withCString("\(path).1") { Glibc.open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            defer { if source >= 0 { Glibc.close(source) }; if target >= 0 { Glibc.close(target) } }
            guard source >= 0, target >= 0 else { throw SluiceError(.io, path: path, String(cString: strerror(errno))) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let got = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress!, $0.count) }
                if got <= 0 { break }
                _ = buffer.withUnsafeBytes { write(target, $0.baseAddress!, got) }
            }
            if ftruncate(fd, 0) != 0 { throw SluiceError(.io, path: path, String(cString: strerror(errno))) }
            size = 0
        } else {
            if LogWriter.rename(path, "\(path).1") != 0 { throw SluiceError(.io, path: path, String(cString: strerror(errno))) }
            Glibc.close(fd)
            try open()
        }
    }

    func close() { if fd >= 0 { Glibc.close(fd); fd = -1 } }

    /// True when `path` names something (a broken symbolic link counts).
    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return PathBytes.withCString(path) { lstat($0, &info) } == 0
    }

    /// rename(2) for paths that may carry bytes that are not UTF-8 (`PathBytes`).
    private static func rename(_ from: String, _ to: String) -> Int32 {
        PathBytes.withCString(from) { old in PathBytes.withCString(to) { new in Glibc.rename(old, new) } }
    }
}
