import Sluice
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One benchmark input on disk: its path and the number of log bytes it holds once decoded.
struct InputFile {
    let path: String
    let logBytes: Int
}

/// The benchmark inputs, generated in-process with `LogGenerator` (deterministic for given options) and kept in
/// a cache folder between runs, since the benchmark tool starts the benchmark executable once per benchmark.
/// The folder is `$SLUICE_PERF_DATA/micro`, by default `/tmp/perf-data/micro`. A file is written under a
/// temporary name and renamed when complete, so an interrupted run never leaves a short input behind; the
/// decoded size of compressed inputs is kept beside them in `NAME.bytes`.
enum Inputs {
    enum Packing: String {
        case plain = "log"
        case gzip = "log.gz"
        case bzip2 = "log.bz2"
    }

    static let directory: String = {
        let root = getenv("SLUICE_PERF_DATA").map { String(cString: $0) } ?? "/tmp/perf-data"
        return root + "/micro"
    }()

    /// The file for `options`, packed as asked, generating it when it is not in the cache yet.
    static func file(_ options: GeneratorOptions, _ packing: Packing) throws -> InputFile {
        try makeFolder(directory)
        let name = "\(options.format.rawValue)-seed\(options.seed)-hosts\(options.hosts)-paths\(options.paths)"
            + "-\(options.size).\(packing.rawValue)"
        let path = directory + "/" + name
        let sizePath = path + ".bytes"
        if let recorded = readNumber(sizePath), fileSize(path) > 0 {
            return InputFile(path: path, logBytes: recorded)
        }
        let temporary = path + ".partial-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InputError(path: temporary, message: String(cString: strerror(errno))) }
        var logBytes = 0
        do {
            defer { close(fd) }
            let write: (UnsafeRawBufferPointer) throws -> Void = { try writeAll(fd, $0, path: temporary) }
            switch packing {
            case .plain:
                try LogGenerator.generate(options) { logBytes += $0.count; try write($0) }
            case .gzip:
                let writer = try GzipWriter(level: 6, sink: write)
                try LogGenerator.generate(options) { logBytes += $0.count; try writer.write($0) }
                try writer.finish()
            case .bzip2:
                let writer = try BZip2Writer(level: 9, sink: write)
                try LogGenerator.generate(options) { logBytes += $0.count; try writer.write($0) }
                try writer.finish()
            }
        }
        guard rename(temporary, path) == 0 else {
            throw InputError(path: path, message: String(cString: strerror(errno)))
        }
        try writeNumber(logBytes, to: sizePath)
        return InputFile(path: path, logBytes: logBytes)
    }

    // MARK: - Small file helpers

    private static func makeFolder(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw InputError(path: prefix, message: String(cString: strerror(errno)))
            }
            prefix += "/"
        }
    }

    private static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    private static func readNumber(_ path: String) -> Int? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int(text.filter { $0.isNumber })
    }

    private static func writeNumber(_ value: Int, to path: String) throws {
        let temporary = path + ".partial-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InputError(path: temporary, message: String(cString: strerror(errno))) }
        var text = "\(value)\n"
        try text.withUTF8 { try writeAll(fd, UnsafeRawBufferPointer($0), path: temporary) }
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw InputError(path: path, message: String(cString: strerror(errno)))
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw InputError(path: path, message: String(cString: strerror(errno)))
            }
            offset += written
        }
    }
}

struct InputError: Error, CustomStringConvertible {
    let path: String
    let message: String
    var description: String { "\(path): \(message)" }
}
