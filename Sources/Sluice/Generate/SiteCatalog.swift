#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// Every path's bytes, followed by `copyPadding` zeros; owned by `storage`.
    let bytes: UnsafeMutablePointer<UInt8>
    private let storage: ByteBuffer
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
        let text = ByteBuffer(capacity: max(4096, count * 40))
        let entries = UnsafeMutablePointer<SitePath>.allocate(capacity: count)
        let seen = PathSet(capacity: count, text: text, entries: entries)
        var longest = 0
        /// Keeps the path written at `text[start...]` as the next rank, or returns false when that path is
        /// already in the catalog (the caller then overwrites it).
        func keep(_ start: Int, _ kind: SitePathKind, _ size: Int, unique: Bool = false) -> Bool {
            let rank = seen.count
            guard seen.insert(start, text.count - start, unique: unique) else { return false }
            (entries + rank).initialize(to: SitePath(start: start, length: text.count - start, size: size, kind: kind))
            longest = max(longest, text.count - start)
            return true
        }
        for (path, kind, size) in SiteCatalog.fixedPaths.prefix(count) {
            let start = text.count
            text.append(path)
            _ = keep(start, kind, size)
        }
        while seen.count < count {
            let rank = seen.count
            let kind = SiteCatalog.drawKind(&random)
            var placed = false
            for _ in 0..<6 where !placed {
                let start = text.count
                let size = SiteCatalog.makePath(kind, &random, into: text)
                placed = keep(start, kind, size)
                if !placed { text.count = start }
            }
            if !placed {
                // Six draws were all taken: a seventh, filed under the rank, which no drawn path starts with.
                let start = text.count
                text.append("/archive/")
                text.append(decimal: Int64(rank))
                let size = SiteCatalog.makePath(kind, &random, into: text)
                _ = keep(start, kind, size, unique: true)
            }
        }
        text.reserve(copyPadding)
        text.base.advanced(by: text.count).initialize(repeating: 0, count: copyPadding)
        self.entries = entries
        bytes = text.base
        storage = text
        self.longest = longest
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
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

    /// Appends a path of `kind`, drawn from `random`, to `out` and returns its body size. The draws come in the
    /// order the path reads, and every draw of a path is made even when a choice discards it, so a seed gives
    /// the same site on every build.
    private static func makePath(_ kind: SitePathKind, _ random: inout Xoshiro256StarStar, into out: ByteBuffer) -> Int {
        func word() -> String { words[random.below(words.count)] }
        func directory() -> String { topDirectories[random.below(topDirectories.count)] }
        func number(_ value: Int) { out.append(decimal: Int64(value)) }
        switch kind {
        case .page:
            switch random.below(4) {
            case 0:
                let year = random.within(2002, 2008), month = random.within(1, 12)
                out.append("/blog/"); number(year); out.append(month < 10 ? "/0" : "/"); number(month)
                out.append("/"); out.append(word()); out.append("-"); out.append(word()); out.append(".html")
                return skewedSize(2_000, 60_000, &random)
            case 1:
                out.append("/"); out.append(directory()); out.append("/"); out.append(word()); out.append(".html")
                return skewedSize(1_500, 40_000, &random)
            case 2:
                out.append("/"); out.append(directory()); out.append("/"); out.append(word()); out.append("/")
                out.append(word()); out.append("-"); out.append(word()); out.append(".html")
                return skewedSize(1_500, 80_000, &random)
            default:
                out.append("/"); out.append(directory()); out.append("/"); out.append(word())
                number(random.within(1, 30)); out.append(".html")
                return skewedSize(1_500, 30_000, &random)
            }
        case .directory:
            out.append("/"); out.append(directory()); out.append("/"); out.append(word()); out.append("/")
            return skewedSize(900, 20_000, &random)
        case .image:
            let ext = ["png", "gif", "jpg", "jpg"][random.below(4)]
            if random.below(3) == 0 {
                out.append("/photos/"); number(random.within(2003, 2008)); out.append("/"); out.append(word())
                number(random.within(1, 400)); out.append(".jpg")
                return skewedSize(20_000, 900_000, &random)
            }
            out.append("/images/"); out.append(word()); out.append("_"); out.append(word()); out.append(".")
            out.append(ext)
            return skewedSize(300, 120_000, &random)
        case .stylesheet:
            out.append("/css/"); out.append(word()); out.append(".css")
            return skewedSize(600, 30_000, &random)
        case .script:
            out.append("/js/"); out.append(word()); out.append("-"); number(random.within(1, 3)); out.append(".")
            number(random.below(10)); out.append(".js")
            return skewedSize(800, 150_000, &random)
        case .text:
            out.append("/"); out.append(directory()); out.append("/"); out.append(word()); out.append(".txt")
            return skewedSize(80, 40_000, &random)
        case .tarball:
            if random.below(2) == 0 {
                out.append("/ply/ply-"); number(random.within(1, 3)); out.append("."); number(random.below(12))
                out.append(".tar.gz")
                return skewedSize(40_000, 160_000, &random)
            }
            out.append("/software/"); out.append(word()); out.append("-"); number(random.within(0, 4))
            out.append("."); number(random.below(20)); out.append("."); number(random.below(10)); out.append(".")
            out.append(["tar.gz", "tgz", "zip", "tar.bz2"][random.below(4)])
            return skewedSize(1_000_000, 40_000_000, &random)
        case .document:
            out.append(random.below(2) == 0 ? "/papers/" : "/talks/"); out.append(word()); out.append("-")
            out.append(word()); out.append("."); out.append(["pdf", "pdf", "pdf", "ps", "ppt"][random.below(5)])
            return skewedSize(60_000, 8_000_000, &random)
        case .media:
            out.append("/video/"); out.append(word()); out.append("-"); out.append(word()); out.append("-")
            number(random.within(2005, 2008)); out.append("."); out.append(["mov", "mp3", "mp4", "avi"][random.below(4)])
            return skewedSize(5_000_000, 400_000_000, &random)
        case .query:
            out.append("/cgi-bin/"); out.append(["search", "feedback", "wiki", "calendar"][random.below(4)])
            out.append(".cgi?q="); out.append(word()); out.append("+"); out.append(word()); out.append("&page=")
            number(random.within(1, 9))
            return skewedSize(1_500, 40_000, &random)
        case .missing:
            // Six probes are drawn, eight words in all, and one of them is kept.
            let admin = word(), phpMyAdmin = word(), scripts = word(), backupDirectory = directory()
            let backup = word(), vti = word(), aspDirectory = word(), asp = word()
            switch random.below(6) {
            case 0: out.append("/admin/"); out.append(admin); out.append(".php")
            case 1: out.append("/phpmyadmin/"); out.append(phpMyAdmin); out.append(".php")
            case 2: out.append("/scripts/"); out.append(scripts); out.append(".exe")
            case 3: out.append("/"); out.append(backupDirectory); out.append("/"); out.append(backup); out.append(".bak")
            case 4: out.append("/_vti_bin/"); out.append(vti); out.append(".dll")
            default: out.append("/"); out.append(aspDirectory); out.append("/"); out.append(asp); out.append(".asp")
            }
            return skewedSize(200, 400, &random)
        case .feed:
            out.append("/"); out.append(directory()); out.append("/"); out.append(word()); out.append(".")
            out.append(["xml", "rss", "atom"][random.below(3)])
            return skewedSize(3_000, 60_000, &random)
        }
    }
}

/// The set of paths already in a catalog being built, held as ranks into its entries: open addressing over 32
/// bits of each path's hash and its rank, 8 bytes a slot, with room for `capacity` paths (it does not grow).
/// The paths' bytes are read from `text` through `entries`, as they stand at each call.
private final class PathSet {
    private let slots: UnsafeMutablePointer<UInt64>
    private let mask: Int
    private let text: ByteBuffer
    private let entries: UnsafePointer<SitePath>
    /// Paths inserted so far; the next one inserted gets this rank, and the caller fills its entry before the
    /// next call.
    private(set) var count = 0

    init(capacity: Int, text: ByteBuffer, entries: UnsafePointer<SitePath>) {
        var size = 16
        while size < capacity + capacity / 2 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: 0, count: size)
        mask = size - 1
        self.text = text
        self.entries = entries
    }

    deinit { slots.deallocate() }

    /// Inserts `text[start..<start + length]` as rank `count` and returns true, or returns false when an equal
    /// path is already in. With `unique`, the caller knows it is new, and no path is compared.
    func insert(_ start: Int, _ length: Int, unique: Bool) -> Bool {
        let path = UnsafePointer(text.base + start)
        let hash = ByteTable.longHash(path, length, seed: 0)
        let tag = hash >> 32
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index] != 0 {
            if !unique && slots[index] >> 32 == tag {
                let other = entries[Int(truncatingIfNeeded: slots[index] & 0xFFFF_FFFF) - 1]
                if other.length == length && ByteTable.equal(text.base + other.start, path, length) { return false }
            }
            index = (index + 1) & mask
        }
        count += 1
        slots[index] = tag << 32 | UInt64(count)
        return true
    }
}
