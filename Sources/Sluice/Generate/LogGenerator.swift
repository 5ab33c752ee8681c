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
    /// bytes (a line longer than this makes one longer block); for `RepeatSource.write`, see there.
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

    /// Writes the bytes of the file at `path` to `sink` `times` times over (the tutorial's `makebig`); see
    /// `RepeatSource`, which opens the file first so that a caller can check it before creating its output.
    public static func repeatFile(_ path: String, times: Int, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try RepeatSource(path).write(times: times, to: sink)
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
