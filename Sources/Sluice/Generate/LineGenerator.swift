#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// A writer for `options` over the tables of `shared`, which must have the same hosts and paths.
    init(_ options: GeneratorOptions, shared: GeneratedSite) {
        self.options = options
        combined = options.format == .combined
        hostile = options.hostile
        hostKey = shared.hostKey
        hostRanks = shared.hostRanks
        pathRanks = shared.pathRanks
        site = shared.catalog
        agents = shared.agents
        referrers = shared.referrers
        searchEngines = shared.searchEngines
        words = shared.words
        users = shared.users
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
