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
