#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Deterministic synthetic Apache access logs, for benchmarks and tests.
//
// Everything that decides a byte of output comes from one xoshiro256** stream seeded with SplitMix64 from
// `GeneratorOptions.seed`, plus integer arithmetic and IEEE-754 operations that are correctly rounded everywhere
// (+, *, /, sqrt): no libm transcendental, no floating-point formatting, no system randomness. The same options
// therefore give the same bytes on every machine and every build mode.

// MARK: - Public API

/// The line layout `LogGenerator.generate` writes.
public enum GeneratedFormat: String, Sendable, CaseIterable {
    /// Apache Common Log Format: `host ident user [date] "request" status bytes`.
    case common
    /// Apache Combined Log Format: the common fields, then ` "referer" "user-agent"`.
    case combined
}

/// What `LogGenerator.generate` produces. Every field takes part in the output: equal options give
/// byte-identical output on every machine.
public struct GeneratorOptions: Sendable, Equatable {
    /// Target size in bytes. Output stops at the first line end at or after this many bytes (so it is at least
    /// `size` bytes, and shorter than `size` plus one line); `0` gives empty output.
    public var size: Int
    /// Common or combined lines.
    public var format: GeneratedFormat
    /// Seeds the one pseudo-random stream everything is drawn from.
    public var seed: UInt64
    /// Size of the client population (distinct IPv4 addresses), drawn Zipf-distributed (s = 1) by rank.
    /// 1 ... 100_000_000.
    public var hosts: Int
    /// Size of the site's path population, drawn Zipf-distributed (s = 1.0625) by rank. 1 ... 10_000_000.
    public var paths: Int
    /// Also mix in, at about 4 % of lines in total, inputs a parser must survive: CRLF line ends, very long URLs
    /// (1–64 KiB; and after every 1–4 MiB of output one URL of 2–2.5 MiB, so a 10 MB file holds about two),
    /// bytes that are not UTF-8 (`ff`, `c3 28`, `80`) in paths and user agents, `"-"` requests answered
    /// `400 0`, IPv6 hosts (`2001:db8::…`), backslash-escaped quotes in the request, and empty lines.
    public var hostile: Bool
    /// Tests only: the first timestamp, in local seconds since 1970 (default 2008-02-24 00:08:59 -0600).
    var startSeconds: Int? = nil

    /// Options with the defaults of `sluice gen`: 10 MiB of common lines, seed 1, 200 000 hosts, 20 000 paths.
    public init(size: Int = 10 << 20, format: GeneratedFormat = .common, seed: UInt64 = 1, hosts: Int = 200_000,
                paths: Int = 20_000, hostile: Bool = false) {
        self.size = size
        self.format = format
        self.seed = seed
        self.hosts = hosts
        self.paths = paths
        self.hostile = hostile
    }
}

/// Writers of synthetic and repeated log data.
public enum LogGenerator {
    /// The size of the blocks passed to sinks: `generate` hands over a block once it holds at least this many
    /// bytes (a line longer than this makes one longer block); `repeatFile` hands over blocks of at most about
    /// this size when the file is small, and the file's bytes in pieces of this size otherwise.
    public static let blockSize = 1 << 20

    /// Writes synthetic Apache access-log lines described by `options` to `sink`, in blocks of about
    /// `blockSize` bytes that always end at a line end. The buffer passed to `sink` is valid only during the call.
    /// Throws `SluiceError(.invalidArgument, ...)` for a negative size or a host or path population out of range,
    /// and rethrows whatever `sink` throws (the generation then stops).
    /// With `site`, the lines visit that site (its hosts, pages and the strings around them) instead of the one
    /// `options.seed` describes, which saves rebuilding it for each of many files; `options.seed` then still
    /// decides the order and content of the visits. `site` must have been built with the same hosts and paths.
    public static func generate(_ options: GeneratorOptions, site: GeneratedSite? = nil,
                                to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if options.size < 0 {
            throw SluiceError(.invalidArgument, path: "size", "size must not be negative (got \(options.size))")
        }
        try checkPopulations(options)
        if let site, site.hosts != options.hosts || site.paths != options.paths {
            throw SluiceError(.invalidArgument, path: "site", "the site was built for other hosts or paths")
        }
        if options.size == 0 { return }
        let generator = LineGenerator(options, shared: try site ?? GeneratedSite(options))
        try generator.run(sink)
    }

    /// Writes the bytes of the file at `path` to `sink` `times` times over (the tutorial's `makebig`); nothing
    /// when `times <= 0`. A file of at most 64 MiB is read once; a larger one is read again for each copy.
    /// Throws `SluiceError(.noSuchFile / .unreadable, path: path, ...)` when the file cannot be read, and
    /// rethrows whatever `sink` throws.
    public static func repeatFile(_ path: String, times: Int, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let file = try ReadOnlyFile(path)
        defer { file.closeFile() }
        if times <= 0 { return }
        let size = try file.size()
        if size == 0 { return }
        if size <= 64 << 20 {
            let data = try file.readAll(expected: size)
            defer { data.deallocate() }
            if size >= blockSize / 2 {
                for _ in 0..<times { try sink(UnsafeRawBufferPointer(start: data, count: size)) }
                return
            }
            // Small file: tile copies into one block so the sink is not called once per copy.
            let copiesPerBlock = max(1, blockSize / size)
            let block = ByteBuffer(capacity: copiesPerBlock * size)
            for _ in 0..<min(copiesPerBlock, times) { block.append(data, size) }
            var remaining = times
            while remaining >= copiesPerBlock {
                try sink(block.bytes)
                remaining -= copiesPerBlock
            }
            if remaining > 0 { try sink(UnsafeRawBufferPointer(start: block.base, count: remaining * size)) }
        } else {
            let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: blockSize)
            defer { chunk.deallocate() }
            for _ in 0..<times {
                var offset = 0
                while offset < size {
                    let got = try file.read(into: chunk, count: min(blockSize, size - offset), at: offset)
                    if got == 0 {
                        throw SluiceError(.fileShrank, path: path, "file shrank while being repeated", offset: offset)
                    }
                    try sink(UnsafeRawBufferPointer(start: chunk, count: got))
                    offset += got
                }
            }
        }
    }

    /// The seed for the `index`-th of several files generated from one `seed` (as `sluice gen --files` does):
    /// a SplitMix64 mix of both, so neighbouring indexes give unrelated streams.
    public static func derivedSeed(_ seed: UInt64, index: Int) -> UInt64 {
        var mixer = SplitMix64(state: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
    }

    /// Throws `SluiceError(.invalidArgument, ...)` unless hosts and paths are within their limits.
    static func checkPopulations(_ options: GeneratorOptions) throws {
        if options.hosts < 1 || options.hosts > maximumHosts {
            throw SluiceError(.invalidArgument, path: "hosts", "hosts must be in 1...\(maximumHosts) (got \(options.hosts))")
        }
        if options.paths < 1 || options.paths > maximumPaths {
            throw SluiceError(.invalidArgument, path: "paths", "paths must be in 1...\(maximumPaths) (got \(options.paths))")
        }
    }

    /// The largest accepted `GeneratorOptions.hosts`.
    public static let maximumHosts = 100_000_000
    /// The largest accepted `GeneratorOptions.paths`.
    public static let maximumPaths = 10_000_000
}

// MARK: - Reading a file to repeat

/// A file opened read-only with POSIX calls, reporting failures as `SluiceError`.
struct ReadOnlyFile {
    let path: String
    let descriptor: Int32

    init(_ path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw SluiceError(code == ENOENT ? .noSuchFile : .unreadable, path: path, String(cString: strerror(code)))
        }
        descriptor = fd
    }

    func closeFile() { _ = close(descriptor) }

    func size() throws -> Int {
        var info = stat()
        if fstat(descriptor, &info) != 0 {
            throw SluiceError(.unreadable, path: path, String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw SluiceError(.unreadable, path: path, "is a directory")
        }
        return Int(info.st_size)
    }

    /// Reads up to `count` bytes at `offset`; 0 only at end of file.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int, at offset: Int) throws -> Int {
        while true {
            let got = pread(descriptor, buffer, count, off_t(offset))
            if got >= 0 { return got }
            if errno == EINTR { continue }
            throw SluiceError(.unreadable, path: path, String(cString: strerror(errno)), offset: offset)
        }
    }

    /// The whole file (`expected` bytes) in a new allocation the caller deallocates.
    func readAll(expected: Int) throws -> UnsafeMutablePointer<UInt8> {
        let data = UnsafeMutablePointer<UInt8>.allocate(capacity: expected)
        var offset = 0
        do {
            while offset < expected {
                let got = try read(into: data + offset, count: expected - offset, at: offset)
                if got == 0 { throw SluiceError(.fileShrank, path: path, "file shrank while being read", offset: offset) }
                offset += got
            }
        } catch {
            data.deallocate()
            throw error
        }
        return data
    }
}
