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
    public static func generate(_ options: GeneratorOptions, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if options.size < 0 {
            throw SluiceError(.invalidArgument, path: "size", "size must not be negative (got \(options.size))")
        }
        if options.hosts < 1 || options.hosts > maximumHosts {
            throw SluiceError(.invalidArgument, path: "hosts", "hosts must be in 1...\(maximumHosts) (got \(options.hosts))")
        }
        if options.paths < 1 || options.paths > maximumPaths {
            throw SluiceError(.invalidArgument, path: "paths", "paths must be in 1...\(maximumPaths) (got \(options.paths))")
        }
        if options.size == 0 { return }
        let generator = LineGenerator(options)
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

    /// The largest accepted `GeneratorOptions.hosts`.
    public static let maximumHosts = 100_000_000
    /// The largest accepted `GeneratorOptions.paths`.
    public static let maximumPaths = 10_000_000
}

// MARK: - Pseudo-random numbers

/// SplitMix64 (Steele, Lea, Flood): used to seed xoshiro and to mix indexes.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna): the generator's one random stream.
struct Xoshiro256StarStar {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A value in `0..<bound` (bound > 0), by multiply-high: deterministic, bias below 2^-32 for our bounds.
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A value in `low...high`.
    @inline(__always)
    mutating func within(_ low: Int, _ high: Int) -> Int { low + below(high - low + 1) }
}

/// `value` scaled into `0..<bound` from its top bits (for 16-bit fields of one draw).
@inline(__always)
private func scale16(_ field: UInt64, _ bound: Int) -> Int { Int(truncatingIfNeeded: ((field & 0xFFFF) &* UInt64(bound)) >> 16) }

// MARK: - Zipf sampling

/// A Zipf distribution over ranks `0..<count` with weight 1 / (k^s) for rank k - 1, where s = 1 + sixteenths/16.
/// The cumulative weights are stored as 63-bit fixed-point integers and searched with a 4096-bucket guide table,
/// so a sample costs one table look-up and a short binary search.
final class ZipfTable {
    let count: Int
    private let cumulative: UnsafeMutablePointer<UInt64>
    private let guide: UnsafeMutablePointer<Int32>
    private static let guideBits = 12
    private static let one: UInt64 = 1 << 63

    init(count: Int, sixteenths: Int) {
        precondition(count >= 1 && count < Int(Int32.max))
        self.count = count
        cumulative = .allocate(capacity: count)
        guide = .allocate(capacity: (1 << ZipfTable.guideBits) + 1)
        // k^(e/16) by repeated multiplication of the 16th root; sqrt, * and / are correctly rounded in IEEE-754,
        // so these weights are the same on every machine.
        // Two identical passes (the total first, then the running sums) instead of a temporary array.
        @inline(__always) func weight(_ index: Int) -> Double {
            let k = Double(index + 1)
            var power = k
            if sixteenths > 0 {
                let root = k.squareRoot().squareRoot().squareRoot().squareRoot()
                for _ in 0..<sixteenths { power *= root }
            }
            return 1.0 / power
        }
        var total = 0.0
        for index in 0..<count { total += weight(index) }
        let scale = 9_223_372_036_854_775_808.0  // 2^63
        var partial = 0.0
        for index in 0..<count {
            partial += weight(index)
            let value = partial / total * scale
            cumulative[index] = value >= scale ? ZipfTable.one : UInt64(value)
        }
        cumulative[count - 1] = ZipfTable.one
        let buckets = 1 << ZipfTable.guideBits
        var position = 0
        for bucket in 0...buckets {
            let threshold = UInt64(bucket) << UInt64(63 - ZipfTable.guideBits)
            while position < count - 1 && cumulative[position] <= threshold { position += 1 }
            guide[bucket] = Int32(position)
        }
    }

    deinit {
        cumulative.deallocate()
        guide.deallocate()
    }

    /// The 0-based rank for the random value `random`: the first rank whose cumulative weight exceeds its top 63 bits.
    @inline(__always)
    func sample(_ random: UInt64) -> Int {
        let r = random >> 1
        let bucket = Int(truncatingIfNeeded: r >> UInt64(63 - ZipfTable.guideBits))
        var low = Int(guide[bucket])
        var high = Int(guide[bucket + 1])
        while low < high {
            let middle = (low + high) >> 1
            if cumulative[middle] > r { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

// MARK: - Dates

/// Calendar arithmetic (Howard Hinnant's days-from-civil algorithms) and the Apache `%t` layout.
enum GeneratedDate {
    /// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01.
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Bytes `format` writes.
    static let length = 26
    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Writes `dd/Mon/yyyy:hh:mm:ss ±hhmm` (26 bytes) for `localSeconds` (seconds since 1970-01-01 00:00 in the
    /// zone itself) and the zone offset `zoneMinutes` east of UTC. Years outside 0...9999 are written modulo 10000.
    static func format(localSeconds: Int, zoneMinutes: Int, into out: UnsafeMutablePointer<UInt8>) {
        var days = localSeconds / 86_400
        var secondOfDay = localSeconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let date = civil(days: days)
        @inline(__always) func two(_ value: Int, _ at: Int) {
            out[at] = UInt8(truncatingIfNeeded: 48 + value / 10)
            out[at + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
        }
        two(date.day, 0)
        out[2] = UInt8(ascii: "/")
        let monthNames = months.utf8Start + (date.month - 1) * 3
        out[3] = monthNames[0]; out[4] = monthNames[1]; out[5] = monthNames[2]
        out[6] = UInt8(ascii: "/")
        let year = ((date.year % 10000) + 10000) % 10000
        two(year / 100, 7)
        two(year % 100, 9)
        out[11] = UInt8(ascii: ":")
        two(secondOfDay / 3600, 12)
        out[14] = UInt8(ascii: ":")
        two(secondOfDay / 60 % 60, 15)
        out[17] = UInt8(ascii: ":")
        two(secondOfDay % 60, 18)
        out[20] = UInt8(ascii: " ")
        out[21] = zoneMinutes < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
        let zone = abs(zoneMinutes)
        two(zone / 60 % 100, 22)
        two(zone % 60, 24)
    }
}

// MARK: - Byte tables

/// Bytes of zeroed padding after every table that `copyPadded` reads from.
fileprivate let copyPadding = 16

/// Copies `count` bytes from `source` to `out` and advances `out`, in 16-byte chunks: the source must have
/// `copyPadding` readable bytes past its end and the destination as many writable ones (the generator's line
/// buffer always has that slack, and whatever lands past the end is overwritten by what follows).
@inline(__always)
fileprivate func copyPadded(_ source: UnsafePointer<UInt8>, _ count: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
    var offset = 0
    let from = UnsafeRawPointer(source)
    let to = UnsafeMutableRawPointer(out)
    repeat {
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self), toByteOffset: offset,
                      as: SIMD16<UInt8>.self)
        offset += 16
    } while offset < count
    out += count
}

/// Strings packed into one allocation, addressed by index, with an optional 4096-entry weighted pick table.
final class GeneratorStrings {
    let count: Int
    let bytes: UnsafeMutablePointer<UInt8>
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    private let picks: UnsafeMutablePointer<UInt16>
    let longest: Int

    /// `weights`, when given, must have one positive entry per string.
    init(_ strings: [String], weights: [Int]? = nil) {
        count = strings.count
        let utf8 = strings.map { Array($0.utf8) }
        let total = utf8.reduce(0) { $0 + $1.count }
        bytes = .allocate(capacity: total + copyPadding)
        bytes.initialize(repeating: 0, count: total + copyPadding)
        starts = .allocate(capacity: count)
        lengths = .allocate(capacity: count)
        var offset = 0
        var longest = 0
        for (index, string) in utf8.enumerated() {
            starts[index] = offset
            lengths[index] = string.count
            let target = bytes + offset
            string.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
            offset += string.count
            longest = max(longest, string.count)
        }
        self.longest = longest
        picks = .allocate(capacity: 4096)
        let weights = weights ?? [Int](repeating: 1, count: count)
        let weightTotal = weights.reduce(0, +)
        var index = 0
        var cumulative = weights[0]
        for slot in 0..<4096 {
            // Slot s goes to the string whose cumulative weight range holds (s + 0.5) / 4096 of the total.
            while (2 * slot + 1) * weightTotal >= 2 * 4096 * cumulative && index < count - 1 {
                index += 1
                cumulative += weights[index]
            }
            picks[slot] = UInt16(index)
        }
    }

    deinit {
        bytes.deallocate(); starts.deallocate(); lengths.deallocate(); picks.deallocate()
    }

    /// The weighted choice for the 12-bit value `slot` (0..<4096).
    @inline(__always)
    func pick(_ slot: Int) -> Int { Int(picks[slot & 4095]) }

    @inline(__always)
    func write(_ index: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
        copyPadded(bytes + starts[index], lengths[index], &out)
    }
}

// MARK: - The site

/// What a path serves; decides response sizes and which statuses make sense.
enum SitePathKind: UInt8 {
    case page, directory, image, stylesheet, script, text, tarball, document, media, query, missing, feed

    /// Whether browsers revalidate it (so it is often answered 304).
    var cacheable: Bool {
        switch self {
        case .page, .directory, .image, .stylesheet, .script, .text, .feed, .document: return true
        case .tarball, .media, .query, .missing: return false
        }
    }

    /// Whether clients fetch it in ranges or abort it (206, short byte counts).
    var large: Bool { self == .tarball || self == .document || self == .media }
}

/// One path of the synthetic site.
struct SitePath {
    var start: Int
    var length: Int
    var size: Int
    var kind: SitePathKind
}

/// The site's `paths` distinct paths in popularity order (rank 0 is the most requested), with a fixed body size
/// and kind each. Built once per generation from its own random stream.
final class SiteCatalog {
    let count: Int
    let entries: UnsafeMutablePointer<SitePath>
    let bytes: UnsafeMutablePointer<UInt8>
    let longest: Int

    /// The most popular paths of the site, in rank order, with their kinds and body sizes.
    static let fixedPaths: [(String, SitePathKind, Int)] = [
        ("/", .page, 9_482),
        ("/favicon.ico", .image, 1_406),
        ("/ply/", .page, 12_760),
        ("/ply/ply-2.3.tar.gz", .tarball, 97_238),
        ("/robots.txt", .text, 68),
        ("/ply/ply.html", .page, 98_116),
        ("/style.css", .stylesheet, 4_210),
        ("/python/", .page, 6_893),
        ("/software.html", .page, 7_211),
        ("/papers/generators.pdf", .document, 1_831_302),
        ("/rss.xml", .feed, 18_440),
        ("/ply/ply-2.2.tar.gz", .tarball, 95_961),
        ("/video/pycon2008-generators.mov", .media, 187_324_521),
        ("/cgi-bin/search.cgi?q=python", .query, 5_120),
        ("/wp-login.php", .missing, 0),
        ("/software/swig-1.3.33.tar.gz", .tarball, 4_892_311),
        ("/images/logo.png", .image, 11_829),
        ("/ply/example.html", .page, 23_102),
        ("/ply/ply-2.1.tar.gz", .tarball, 94_510),
        ("/talks/", .directory, 5_511),
        ("/papers/", .directory, 4_377),
        ("/js/site.js", .script, 14_092),
        ("/ply/ply-1.8.tar.gz", .tarball, 72_331),
        ("/software/iso/teaching-vm-2008.iso", .media, 698_351_616),
    ]

    static let words = [
        "python", "generators", "coroutines", "parsing", "lexer", "yacc", "compiler", "threads", "gil", "swig",
        "extension", "tutorial", "course", "slides", "notes", "intro", "advanced", "systems", "unix", "network",
        "socket", "server", "client", "http", "logs", "apache", "pipeline", "stream", "iterator", "decorator",
        "closure", "object", "class", "module", "package", "import", "testing", "debugging", "profiling", "memory",
        "cache", "database", "query", "index", "search", "archive", "photos", "travel", "chicago", "pycon",
        "conference", "keynote", "workshop", "book", "reference", "essential", "cookbook", "recipe", "example",
        "demo", "benchmark", "performance", "optimization", "numeric", "science", "simulation", "physics",
        "cluster", "parallel", "distributed", "message", "queue", "actor", "concurrency", "async", "events",
        "gui", "tkinter", "curses", "terminal", "shell", "scripting", "automation", "config", "xml", "json",
        "csv", "regex", "unicode", "strings", "numbers", "dates", "files", "directories", "process", "signals",
        "pipes", "daemon", "cron", "backup", "security", "crypto", "hashing", "random", "math", "graphics",
        "plotting", "teaching", "students", "homework", "exam", "lecture", "chapter", "appendix", "errata",
        "news", "updates", "release", "changes", "faq", "about", "contact", "projects", "software", "papers",
    ]

    private static let topDirectories = [
        "python", "ply", "papers", "talks", "software", "courses", "writing", "blog", "photos", "projects",
        "docs", "teaching", "swig", "notes", "archive",
    ]

    init(count: Int, seed: UInt64) {
        self.count = count
        var random = Xoshiro256StarStar(seed: seed ^ 0x5171_E5A7_A11C_0DE5)
        var seen = Set<String>()
        var built: [(String, SitePathKind, Int)] = []
        built.reserveCapacity(count)
        for fixed in SiteCatalog.fixedPaths.prefix(count) {
            built.append(fixed)
            seen.insert(fixed.0)
        }
        while built.count < count {
            let rank = built.count
            let kind = SiteCatalog.drawKind(&random)
            var entry: (String, SitePathKind, Int)? = nil
            for _ in 0..<6 {
                let candidate = SiteCatalog.makePath(kind, &random)
                if seen.insert(candidate.0).inserted { entry = candidate; break }
            }
            if entry == nil {
                var candidate = SiteCatalog.makePath(kind, &random)
                candidate.0 = "/archive/\(rank)" + candidate.0
                seen.insert(candidate.0)
                entry = candidate
            }
            built.append(entry!)
        }
        let total = built.reduce(0) { $0 + $1.0.utf8.count }
        bytes = .allocate(capacity: total + copyPadding)
        bytes.initialize(repeating: 0, count: total + copyPadding)
        entries = .allocate(capacity: count)
        var offset = 0
        var longest = 0
        for (index, (path, kind, size)) in built.enumerated() {
            let utf8 = Array(path.utf8)
            let target = bytes + offset
            utf8.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
            (entries + index).initialize(to: SitePath(start: offset, length: utf8.count, size: size, kind: kind))
            offset += utf8.count
            longest = max(longest, utf8.count)
        }
        self.longest = longest
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
        bytes.deallocate()
    }

    private static func drawKind(_ random: inout Xoshiro256StarStar) -> SitePathKind {
        let roll = random.below(1000)
        switch roll {
        case ..<340: return .page
        case ..<540: return .image
        case ..<610: return .directory
        case ..<640: return .stylesheet
        case ..<680: return .script
        case ..<710: return .text
        case ..<790: return .tarball
        case ..<860: return .document
        case ..<880: return .media
        case ..<925: return .query
        case ..<970: return .missing
        default: return .feed
        }
    }

    /// A size in `low...high`, skewed towards `low` (quadratic), drawn from `random`.
    private static func skewedSize(_ low: Int, _ high: Int, _ random: inout Xoshiro256StarStar) -> Int {
        let u = UInt64(random.below(1 << 16))
        return low + Int((UInt64(high - low) &* u &* u) >> 32)
    }

    private static func makePath(_ kind: SitePathKind, _ random: inout Xoshiro256StarStar) -> (String, SitePathKind, Int) {
        func word() -> String { words[random.below(words.count)] }
        func directory() -> String { topDirectories[random.below(topDirectories.count)] }
        func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        switch kind {
        case .page:
            switch random.below(4) {
            case 0:
                let year = random.within(2002, 2008)
                return ("/blog/\(year)/\(twoDigits(random.within(1, 12)))/\(word())-\(word()).html", kind,
                        skewedSize(2_000, 60_000, &random))
            case 1: return ("/\(directory())/\(word()).html", kind, skewedSize(1_500, 40_000, &random))
            case 2: return ("/\(directory())/\(word())/\(word())-\(word()).html", kind, skewedSize(1_500, 80_000, &random))
            default: return ("/\(directory())/\(word())\(random.within(1, 30)).html", kind, skewedSize(1_500, 30_000, &random))
            }
        case .directory:
            return ("/\(directory())/\(word())/", kind, skewedSize(900, 20_000, &random))
        case .image:
            let extensions = ["png", "gif", "jpg", "jpg"]
            let ext = extensions[random.below(extensions.count)]
            if random.below(3) == 0 {
                return ("/photos/\(random.within(2003, 2008))/\(word())\(random.within(1, 400)).jpg", kind,
                        skewedSize(20_000, 900_000, &random))
            }
            return ("/images/\(word())_\(word()).\(ext)", kind, skewedSize(300, 120_000, &random))
        case .stylesheet:
            return ("/css/\(word()).css", kind, skewedSize(600, 30_000, &random))
        case .script:
            return ("/js/\(word())-\(random.within(1, 3)).\(random.below(10)).js", kind, skewedSize(800, 150_000, &random))
        case .text:
            return ("/\(directory())/\(word()).txt", kind, skewedSize(80, 40_000, &random))
        case .tarball:
            if random.below(2) == 0 {
                return ("/ply/ply-\(random.within(1, 3)).\(random.below(12)).tar.gz", kind,
                        skewedSize(40_000, 160_000, &random))
            }
            let extensions = ["tar.gz", "tgz", "zip", "tar.bz2"]
            return ("/software/\(word())-\(random.within(0, 4)).\(random.below(20)).\(random.below(10)).\(extensions[random.below(4)])",
                    kind, skewedSize(1_000_000, 40_000_000, &random))
        case .document:
            let extensions = ["pdf", "pdf", "pdf", "ps", "ppt"]
            return ("/\(random.below(2) == 0 ? "papers" : "talks")/\(word())-\(word()).\(extensions[random.below(5)])", kind,
                    skewedSize(60_000, 8_000_000, &random))
        case .media:
            let extensions = ["mov", "mp3", "mp4", "avi"]
            return ("/video/\(word())-\(word())-\(random.within(2005, 2008)).\(extensions[random.below(4)])", kind,
                    skewedSize(5_000_000, 400_000_000, &random))
        case .query:
            let scripts = ["search", "feedback", "wiki", "calendar"]
            return ("/cgi-bin/\(scripts[random.below(4)]).cgi?q=\(word())+\(word())&page=\(random.within(1, 9))", kind,
                    skewedSize(1_500, 40_000, &random))
        case .missing:
            let probes = ["/admin/\(word()).php", "/phpmyadmin/\(word()).php", "/scripts/\(word()).exe",
                          "/\(directory())/\(word()).bak", "/_vti_bin/\(word()).dll", "/\(word())/\(word()).asp"]
            return (probes[random.below(probes.count)], kind, skewedSize(200, 400, &random))
        case .feed:
            let extensions = ["xml", "rss", "atom"]
            return ("/\(directory())/\(word()).\(extensions[random.below(3)])", kind, skewedSize(3_000, 60_000, &random))
        }
    }
}

// MARK: - The line writer

/// Writes the lines of one generation. All tables are raw pointers so the hot loop does no reference counting
/// and no bounds checks; every line is formatted straight into the output buffer.
final class LineGenerator {
    private let options: GeneratorOptions
    private let combined: Bool
    private let hostile: Bool
    private let hostRanks: ZipfTable
    private let pathRanks: ZipfTable
    private let site: SiteCatalog
    private let agents: GeneratorStrings
    private let referrers: GeneratorStrings
    private let searchEngines: GeneratorStrings
    private let words: GeneratorStrings
    private let users: GeneratorStrings
    private let octets: UnsafeMutablePointer<UInt32>
    private let digitPairs: UnsafeMutablePointer<UInt8>
    private let filler: UnsafeMutablePointer<UInt8>
    private let date: UnsafeMutablePointer<UInt8>
    private let hostKey: UInt32
    /// The mutable state of a run, kept in a local so the hot loop pays no exclusivity checks.
    struct State {
        var random: Xoshiro256StarStar
        /// Local seconds of the current line's timestamp.
        var clock: Int
        /// The second and day whose text `date` holds.
        var dateSecond = Int.min
        var dateDay = Int.min
        /// Output position at or after which the next line gets a URL longer than 2 MiB (hostile mode).
        var nextGiant = Int.max
    }
    /// Bytes a normal line can take, with room to spare.
    private let lineBound: Int

    static let fillerSize = 4096
    static let zoneMinutes = -360
    /// 2008-02-24 00:08:59 in the log's zone (-0600).
    static let startSeconds = GeneratedDate.days(year: 2008, month: 2, day: 24) * 86_400 + 8 * 60 + 59

    static let agentList: [(String, Int)] = [
        ("Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.8.1.12) Gecko/20080201 Firefox/2.0.0.12", 180),
        ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; .NET CLR 1.1.4322; .NET CLR 2.0.50727)", 150),
        ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", 120),
        ("Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_5_2; en-us) AppleWebKit/525.13 (KHTML, like Gecko) Version/3.1 Safari/525.13", 90),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 80),
        ("Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.8.1.12) Gecko/20080207 Ubuntu/7.10 (gutsy) Firefox/2.0.0.12", 60),
        ("msnbot/1.0 (+http://search.msn.com/msnbot.htm)", 50),
        ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", 45),
        ("Mozilla/5.0 (Macintosh; U; Intel Mac OS X; en-US; rv:1.8.1.12) Gecko/20080201 Firefox/2.0.0.12", 40),
        ("Opera/9.26 (Windows NT 5.1; U; en)", 30),
        ("Wget/1.10.2", 25),
        ("Python-urllib/2.5", 20),
        ("curl/7.16.3 (powerpc-apple-darwin9.0) libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3", 20),
        ("Mozilla/5.0 (iPhone; U; CPU like Mac OS X; en) AppleWebKit/420+ (KHTML, like Gecko) Version/3.0 Mobile/1C28 Safari/419.3", 15),
        ("Mozilla/5.0 (Windows; U; Windows NT 6.0; en-US; rv:1.8.1.12) Gecko/20080201 Firefox/2.0.0.12", 15),
        ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0; SLCC1; .NET CLR 2.0.50727; Media Center PC 5.0)", 12),
        ("Baiduspider+(+http://www.baidu.com/search/spider.htm)", 10),
        ("Java/1.6.0_04", 10),
        ("Lynx/2.8.6rel.4 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/0.9.8g", 8),
        ("-", 5),
    ]

    static let referrerList: [(String, Int)] = [
        ("http://www.python.org/", 30),
        ("http://reddit.com/r/programming/", 25),
        ("http://news.ycombinator.com/", 20),
        ("http://del.icio.us/popular/python", 12),
        ("http://wiki.python.org/moin/LanguageParsing", 10),
        ("http://www.dzone.com/links/index.html", 8),
        ("http://planet.python.org/", 15),
        ("http://groups.google.com/group/comp.lang.python/browse_thread/thread/", 10),
        ("http://en.wikipedia.org/wiki/Generator_(computer_science)", 6),
        ("http://www.stumbleupon.com/refer.php", 4),
    ]

    static let searchList: [(String, Int)] = [
        ("http://www.google.com/search?q=", 70),
        ("http://search.yahoo.com/search?p=", 15),
        ("http://search.live.com/results.aspx?q=", 10),
        ("http://www.google.co.uk/search?hl=en&q=", 5),
    ]

    static let userList = ["alice", "bob", "guest", "dave", "admin", "carol"]

    init(_ options: GeneratorOptions) {
        self.options = options
        combined = options.format == .combined
        hostile = options.hostile
        hostKey = UInt32(truncatingIfNeeded: SplitMix64(state: options.seed ^ 0x4057_0000).nextValue())
        hostRanks = ZipfTable(count: options.hosts, sixteenths: 0)
        pathRanks = ZipfTable(count: options.paths, sixteenths: 1)
        site = SiteCatalog(count: options.paths, seed: options.seed)
        agents = GeneratorStrings(LineGenerator.agentList.map { $0.0 }, weights: LineGenerator.agentList.map { $0.1 })
        referrers = GeneratorStrings(LineGenerator.referrerList.map { $0.0 }, weights: LineGenerator.referrerList.map { $0.1 })
        searchEngines = GeneratorStrings(LineGenerator.searchList.map { $0.0 }, weights: LineGenerator.searchList.map { $0.1 })
        words = GeneratorStrings(SiteCatalog.words)
        users = GeneratorStrings(LineGenerator.userList)
        octets = .allocate(capacity: 256)
        for value in 0..<256 {
            // Up to three ASCII digits in the low bytes, the digit count in the top byte.
            let text = Array(String(value).utf8)
            var word: UInt32 = UInt32(text.count) << 24
            for (index, byte) in text.enumerated() { word |= UInt32(byte) << (8 * UInt32(index)) }
            octets[value] = word
        }
        digitPairs = .allocate(capacity: 200)
        for value in 0..<100 {
            digitPairs[2 * value] = UInt8(48 + value / 10)
            digitPairs[2 * value + 1] = UInt8(48 + value % 10)
        }
        filler = .allocate(capacity: LineGenerator.fillerSize)
        var fillerRandom = SplitMix64(state: 0xF111_E400)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%-_.~".utf8)
        for index in 0..<LineGenerator.fillerSize {
            filler[index] = alphabet[Int(fillerRandom.next() % UInt64(alphabet.count))]
        }
        date = .allocate(capacity: GeneratedDate.length + copyPadding)
        date.initialize(repeating: 0, count: GeneratedDate.length + copyPadding)
        lineBound = 1024 + 2 * site.longest + agents.longest + referrers.longest
    }

    deinit {
        octets.deallocate(); digitPairs.deallocate(); filler.deallocate(); date.deallocate()
    }

    /// Generates until `options.size` bytes are reached, handing full blocks to `sink`.
    func run(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let target = options.size
        let block = LogGenerator.blockSize
        var state = State(random: Xoshiro256StarStar(seed: options.seed),
                          clock: options.startSeconds ?? LineGenerator.startSeconds)
        if hostile { state.nextGiant = state.random.within(1 << 20, 4 << 20) }
        // Lines are written through `cursor`; `out.count` is brought up to date only before a flush or a
        // reservation. Invariant: at a line start at least `lineBound` bytes are free, because the capacity
        // never drops below `block + lineBound` and the buffer is flushed once `block` bytes are used.
        let out = ByteBuffer(capacity: block + lineBound + (64 << 10))
        var flushed = 0
        var cursor = out.base
        while true {
            let used = cursor - out.base
            if flushed + used >= target { break }
            writeLine(out, &cursor, &state, position: flushed + used)
            if cursor - out.base >= block {
                out.count = cursor - out.base
                try sink(out.bytes)
                flushed += out.count
                out.removeAll()
                cursor = out.base
            }
        }
        out.count = cursor - out.base
        if out.count > 0 { try sink(out.bytes) }
    }


    // MARK: Line assembly

    @inline(__always)
    private func put(_ text: StaticString, _ out: inout UnsafeMutablePointer<UInt8>) {
        out.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        out += text.utf8CodeUnitCount
    }

    @inline(__always)
    private func putDecimal(_ value: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
        var v = value
        var digits = 1
        var probe = v
        while probe >= 100 { digits += 2; probe /= 100 }
        if probe >= 10 { digits += 1 }
        var end = out + digits
        out = end
        while v >= 100 {
            let pair = v % 100
            v /= 100
            end -= 2
            end[0] = digitPairs[2 * pair]
            end[1] = digitPairs[2 * pair + 1]
        }
        if v >= 10 {
            end -= 2
            end[0] = digitPairs[2 * v]
            end[1] = digitPairs[2 * v + 1]
        } else {
            end -= 1
            end[0] = UInt8(truncatingIfNeeded: 48 + v)
        }
    }

    @inline(__always)
    private func putHex(_ value: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
        let hex: StaticString = "0123456789abcdef"
        var shift = 12
        while shift > 0 && (value >> shift) & 15 == 0 { shift -= 4 }
        while shift >= 0 {
            out[0] = hex.utf8Start[(value >> shift) & 15]
            out += 1
            shift -= 4
        }
    }

    /// The IPv4 address of host `rank`: a keyed bijection of the rank onto public-looking unicast addresses
    /// (first octet 1...223 except 10 and 127), so distinct ranks give distinct hosts.
    @inline(__always)
    private func putHost(_ rank: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
        let address = LineGenerator.address(rank: rank, key: hostKey)
        let raw = UnsafeMutableRawPointer(out)
        var position = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            let word = octets[Int((address >> UInt32(shift)) & 255)]
            raw.storeBytes(of: word.littleEndian, toByteOffset: position, as: UInt32.self)
            position += Int(word >> 24)
            if shift > 0 { out[position] = UInt8(ascii: "."); position += 1 }
        }
        out += position
    }

    /// The IPv4 address (as a 32-bit number) of host `rank` under `key`. Cycle-walking a keyed 32-bit
    /// permutation is a bijection of the valid addresses onto themselves; inputs start at 11.0.0.0, so every rank
    /// below ~1.9 billion is itself a valid address and distinct ranks give distinct addresses.
    @inline(__always)
    static func address(rank: Int, key: UInt32) -> UInt32 {
        var address = UInt32(truncatingIfNeeded: rank) &+ (11 << 24)
        repeat {
            address = permute(address ^ key) ^ key
        } while !validAddress(address)
        return address
    }

    @inline(__always)
    static func permute(_ value: UInt32) -> UInt32 {
        var x = value
        x ^= x >> 16
        x &*= 0x7FEB_352D
        x ^= x >> 15
        x &*= 0x846C_A68B
        x ^= x >> 16
        return x
    }

    @inline(__always)
    static func validAddress(_ address: UInt32) -> Bool {
        let first = address >> 24
        return first >= 1 && first <= 223 && first != 10 && first != 127
    }

    @inline(__always)
    private func putFiller(_ count: Int, _ random: inout Xoshiro256StarStar, _ out: inout UnsafeMutablePointer<UInt8>) {
        var remaining = count
        var offset = random.below(LineGenerator.fillerSize)
        while remaining > 0 {
            let piece = min(remaining, LineGenerator.fillerSize - offset)
            out.update(from: filler + offset, count: piece)
            out += piece
            remaining -= piece
            offset = 0
        }
    }

    /// One of the three non-UTF-8 sequences the hostile mode plants: `ff`, `c3 28` or `80`.
    @inline(__always)
    private func putInvalidUTF8(_ choice: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
        switch choice % 3 {
        case 0: out[0] = 0xFF; out += 1
        case 1: out[0] = 0xC3; out[1] = 0x28; out += 2
        default: out[0] = 0x80; out += 1
        }
    }

    /// Hostile path variants (per 65536 lines).
    private enum Odds {
        static let emptyLine = 200
        static let dashRequest = 260
        static let ipv6 = 520
        static let crlf = 520
        static let invalidPath = 260
        static let escapedQuote = 200
        static let longURL = 100
        static let invalidAgent = 260
    }

    /// Writes one line at `cursor` (which has `lineBound` bytes free) and advances it; `position` is the
    /// line's offset in the whole output.
    private func writeLine(_ buffer: ByteBuffer, _ cursor: inout UnsafeMutablePointer<UInt8>, _ state: inout State,
                           position: Int) {
        // Advance the clock: mostly several lines per second, with the odd lull.
        let step = state.random.next()
        let tick = Int(step & 0xFFFF)
        if tick >= 45_000 {
            if tick < 60_000 { state.clock += 1 } else if tick < 64_500 { state.clock += 2 } else if tick < 65_300 {
                state.clock += 3 + Int((step >> 16) & 3)
            } else { state.clock += 6 + Int((step >> 16) & 31) }
        }
        if state.clock != state.dateSecond {
            let day = state.clock / 86_400
            if day == state.dateDay {
                // Same day: only hh:mm:ss changes.
                let second = state.clock - day * 86_400
                @inline(__always) func two(_ value: Int, _ at: Int) {
                    date[at] = UInt8(truncatingIfNeeded: 48 + value / 10)
                    date[at + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
                }
                two(second / 3600, 12)
                two(second / 60 % 60, 15)
                two(second % 60, 18)
            } else {
                GeneratedDate.format(localSeconds: state.clock, zoneMinutes: LineGenerator.zoneMinutes, into: date)
                state.dateDay = day
            }
            state.dateSecond = state.clock
        }

        // Hostile decisions, one 16-bit field each.
        var ipv6 = false, crlf = false, dashRequest = false
        var pathTrouble = 0  // 0 none, 1 invalid UTF-8, 2 escaped quote, 3 long URL, 4 giant URL
        var agentTrouble = false
        var extra = 0
        if hostile {
            let h = state.random.next()
            let kind = Int(h & 0xFFFF)
            if kind < Odds.emptyLine {
                cursor[0] = UInt8(ascii: "\n")
                cursor += 1
                return
            }
            dashRequest = kind < Odds.emptyLine + Odds.dashRequest
            ipv6 = Int((h >> 16) & 0xFFFF) < Odds.ipv6
            crlf = Int((h >> 32) & 0xFFFF) < Odds.crlf
            let trouble = Int(h >> 48)
            if trouble < Odds.invalidPath { pathTrouble = 1 } else if trouble < Odds.invalidPath + Odds.escapedQuote {
                pathTrouble = 2
            } else if trouble < Odds.invalidPath + Odds.escapedQuote + Odds.longURL {
                pathTrouble = 3
                extra = state.random.within(1 << 10, 64 << 10)
            }
            if position >= state.nextGiant {
                pathTrouble = 4
                dashRequest = false
                extra = state.random.within((2 << 20) + 1, (5 << 19))
            }
            agentTrouble = combined && Int(step >> 48) < Odds.invalidAgent
        }

        if extra > 0 {
            buffer.count = cursor - buffer.base
            buffer.reserve(lineBound + extra)
            cursor = buffer.base + buffer.count
        }
        let base = cursor
        var out = base

        // Host, ident, user.
        let hostRank = hostRanks.sample(state.random.next())
        if ipv6 {
            put("2001:db8:", &out)
            let mixed = Int(LineGenerator.permute(UInt32(truncatingIfNeeded: hostRank) ^ hostKey))
            if mixed & 1 == 0 {
                put(":", &out)
                putHex((mixed >> 1) & 0xFFF, &out)
            } else {
                putHex((mixed >> 16) & 0xFFFF, &out)
                put("::", &out)
                putHex(mixed & 0xFFFF, &out)
            }
        } else {
            putHost(hostRank, &out)
        }
        let d = state.random.next()
        if Int(d & 0xFFFF) < 200 {
            put(" - ", &out)
            users.write(users.pick(Int(d >> 48) & 4095), &out)
            put(" [", &out)
        } else {
            put(" - - [", &out)
        }
        copyPadded(date, GeneratedDate.length, &out)

        if dashRequest {
            put("] \"-\" 400 0", &out)
            if combined { put(" \"-\" \"-\"", &out) }
            if crlf { put("\r\n", &out) } else { put("\n", &out) }
            cursor = out
            return
        }

        // Request line.
        let path = site.entries[pathRanks.sample(state.random.next())]
        let methodRoll = scale16(d >> 16, 1000)
        var method = 0  // 0 GET, 1 POST, 2 HEAD
        if path.kind == .query {
            if methodRoll < 300 { method = 1 }
        } else if methodRoll < 30 {
            method = 2
        } else if methodRoll < 40 && path.kind == .page {
            method = 1
        }
        put("] \"", &out)
        switch method {
        case 1: put("POST ", &out)
        case 2: put("HEAD ", &out)
        default: put("GET ", &out)
        }
        let pathBytes = site.bytes + path.start
        switch pathTrouble {
        case 1, 2:
            let cut = max(1, path.length / 2)
            out.update(from: pathBytes, count: cut)
            out += cut
            if pathTrouble == 1 { putInvalidUTF8(Int(d >> 40), &out) } else { put("\\\"", &out) }
            out.update(from: pathBytes + cut, count: path.length - cut)
            out += path.length - cut
        case 3:
            out.update(from: pathBytes, count: path.length)
            out += path.length
            put(path.kind == .query ? "&x=" : "?q=", &out)
            putFiller(extra, &state.random, &out)
        case 4:
            put("/cgi-bin/search.cgi?q=", &out)
            putFiller(extra, &state.random, &out)
        default:
            copyPadded(pathBytes, path.length, &out)
        }
        if scale16(d >> 32, 100) < 15 { put(" HTTP/1.0\" ", &out) } else { put(" HTTP/1.1\" ", &out) }

        // Status and bytes: about 81 % 200, 9 % 304 (revalidated GETs), 2.5 % 404 plus the site's missing
        // paths, 2.5 % 301/302, 1 % 206 for big downloads, 0.5 % each 403 and 500. The byte count is the path's
        // size, "-" for 304, HEAD and some errors, or a short error page.
        let statusRoll = scale16(step >> 32, 10_000)
        let detail = state.random.next()
        var status = 200
        if path.kind == .missing {
            status = 404
        } else if statusRoll < 8_100 {
            status = 200
        } else if statusRoll < 9_250 {
            status = path.kind.cacheable && method == 0 ? 304 : 200
        } else if statusRoll < 9_500 {
            status = 404
        } else if statusRoll < 9_750 {
            status = path.kind == .directory ? 301 : (statusRoll & 1 == 0 ? 301 : 302)
        } else if statusRoll < 9_850 {
            status = path.kind.large && method == 0 ? 206 : 200
        } else if statusRoll < 9_900 {
            status = 403
        } else if statusRoll < 9_950 {
            status = 500
        }
        var bytes = -1  // -1 writes "-"
        switch status {
        case 200:
            if method == 2 {
                bytes = -1
            } else if path.kind == .query {
                bytes = path.size + Int(detail & 0x3FF)
            } else if path.kind.large && Int(detail & 0xFF) < 13 {
                bytes = Int((UInt64(path.size) &* ((detail >> 8) & 0xFFFF)) >> 16)  // aborted download
            } else {
                bytes = path.size
            }
        case 206: bytes = Int((UInt64(path.size) &* ((detail >> 8) & 0xFFFF)) >> 16)
        case 404: bytes = detail & 1 == 0 ? -1 : 209 + Int((detail >> 1) & 127)
        case 301, 302: bytes = 229 + Int((detail >> 1) & 31)
        case 403: bytes = 280 + Int((detail >> 1) & 31)
        case 500: bytes = detail & 1 == 0 ? -1 : 535 + Int((detail >> 1) & 63)
        default: bytes = -1  // 304
        }
        putDecimal(status, &out)
        put(" ", &out)
        if bytes < 0 { put("-", &out) } else { putDecimal(bytes, &out) }

        if combined {
            // Referer: none, a page of this site, a search engine, or another site.
            let r = state.random.next()
            let refRoll = Int(r & 0x3FF)
            if refRoll < 400 {
                put(" \"-\" \"", &out)
            } else if refRoll < 760 {
                put(" \"http://www.example.com", &out)
                // A page that links here; other kinds of paths are not pages, so the home page stands in.
                let from = site.entries[pathRanks.sample(state.random.next())]
                if from.kind == .page || from.kind == .directory {
                    copyPadded(site.bytes + from.start, from.length, &out)
                } else {
                    put("/", &out)
                }
                put("\" \"", &out)
            } else if refRoll < 920 {
                put(" \"", &out)
                searchEngines.write(searchEngines.pick(Int(r >> 10) & 4095), &out)
                words.write(scale16(r >> 24, words.count), &out)
                put("+", &out)
                words.write(scale16(r >> 40, words.count), &out)
                put("\" \"", &out)
            } else {
                put(" \"", &out)
                referrers.write(referrers.pick(Int(r >> 10) & 4095), &out)
                put("\" \"", &out)
            }
            // User agent: fixed per host, as a real client's would be.
            let agent = agents.pick(Int(LineGenerator.permute(UInt32(truncatingIfNeeded: hostRank) &+ hostKey) >> 20))
            if agentTrouble {
                let length = agents.lengths[agent]
                let cut = length / 2
                let text = agents.bytes + agents.starts[agent]
                out.update(from: text, count: cut)
                out += cut
                putInvalidUTF8(Int(step >> 20), &out)
                out.update(from: text + cut, count: length - cut)
                out += length - cut
            } else {
                agents.write(agent, &out)
            }
            put("\"", &out)
        }
        if crlf { put("\r\n", &out) } else { put("\n", &out) }
        cursor = out
        if pathTrouble == 4 {
            state.nextGiant = position + (out - base) + state.random.within(1 << 20, 4 << 20)
        }
    }
}

extension SplitMix64 {
    /// The first output of a fresh mixer (for one-off derived keys).
    func nextValue() -> UInt64 {
        var copy = self
        return copy.next()
    }
}

// MARK: - Reading a file to repeat

/// A file opened read-only with POSIX calls, reporting failures as `SluiceError`.
private struct ReadOnlyFile {
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
