import CByteScan

/// The hand-written scanner for Apache access logs.
///
/// It accepts exactly the lines that the tutorial's pattern
/// `(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)` matches at the start of the line, and gives
/// the same groups, without running a regex:
/// - `\S` is any byte but tab, LF, VT, FF, CR and space. Each `(\S+)` followed by a space is therefore the
///   maximal non-space run; proto is the run before `" ` minus its closing quote.
/// - The lazy `(.*?)` makes datetime end at the first `] "` after which the rest matches, so each `] "` is
///   tried in turn, as the regex backtracks.
/// Then, as the tutorial's conversions do, status must be an integer and bytes an integer or `-` (0). A line
/// the pattern matches but whose numbers do not convert is malformed.
enum AccessLogScanner {
    static let space: UInt8 = 32
    static let quote: UInt8 = 34
    static let openBracket: UInt8 = 91
    static let closeBracket: UInt8 = 93
    static let backslash: UInt8 = 92
    static let dash: UInt8 = 45

    /// Scans the line starting at `start` (it ends at the first `\n` before `limit`, or at `limit`) into
    /// `record`, setting `record.lineStart` and `record.lineEnd` whether or not the line is a record. With
    /// `requireCombined`, the line must go on with ` "referer" "agent"`; with `wantCombined` those fields are
    /// taken when present and left empty otherwise. With `allFields` false, a caller that reads only status and
    /// bytes (and the line's span) lets the usual line skip storing the other fields' spans, which may then be
    /// stale.
    @inline(__always)
    static func scan(_ base: UnsafePointer<UInt8>, _ start: Int, _ limit: Int, into record: Record,
                     cursor: inout SpaceCursor, wantCombined: Bool, requireCombined: Bool,
                     allFields: Bool = true) -> Bool {
        record.lineStart = start
        if let bytesEnd = (start &+ quickReach <= limit ? quickFields(base, start, record, allFields) : nil)
            ?? fields(base, start, limit, record, &cursor) {
            let lineEnd = (bytesEnd == limit || base[bytesEnd] == Bytes.newline)
                ? bytesEnd : Bytes.find(Bytes.newline, base, from: bytesEnd, end: limit)
            record.lineEnd = lineEnd
            return convert(base, record) && trailer(base, bytesEnd, lineEnd, record, wantCombined, requireCombined)
        }
        record.lineEnd = Bytes.find(Bytes.newline, base, from: start, end: limit)
        return false
    }

    /// How far past a line's start `quickFields` reads.
    static let quickReach = 136

    /// The pattern up to bytes for the usual line, without a branch per field: the first ten whitespace
    /// positions of the 128 bytes from `start` are taken from two bitmasks, and the line's shape is checked
    /// against them all at once. It succeeds only when the fields fit in that window, the datetime holds
    /// exactly one space and the `] "` after it is the first; then it returns what `fields` would return.
    /// Otherwise it returns nil and `fields` decides. Reads `base[start..<start + quickReach]`.
    @inline(__always)
    private static func quickFields(_ base: UnsafePointer<UInt8>, _ start: Int, _ record: Record,
                                    _ allFields: Bool) -> Int? {
        let p = base + start
        var low = CByteScan_whitespace64(p), high = CByteScan_whitespace64(p + 64)
        let p0 = pop(&low, &high), p1 = pop(&low, &high), p2 = pop(&low, &high), p3 = pop(&low, &high)
        let p4 = pop(&low, &high), p5 = pop(&low, &high), p6 = pop(&low, &high), p7 = pop(&low, &high)
        let p8 = pop(&low, &high), p9 = pop(&low, &high)
        // Every field non-empty (proto holds its closing quote too). Once the bits run out, positions repeat
        // 127, so a window without ten whitespace bytes fails here.
        let gaps = (p0 &- 1) | (p1 &- p0 &- 2) | (p2 &- p1 &- 2) | (p5 &- p4 &- 3) | (p6 &- p5 &- 2)
            | (p7 &- p6 &- 3) | (p8 &- p7 &- 2) | (p9 &- p8 &- 2)
        // The separators are spaces, with `[` after user, `] "` at p4 and `" ` closing proto.
        var wrong = (p[p0] ^ space) | (p[p1] ^ space) | (p[p2] ^ space) | (p[p2 &+ 1] ^ openBracket)
        wrong |= (p[p3] ^ space) | (p[p4] ^ space) | (p[p4 &- 1] ^ closeBracket) | (p[p4 &+ 1] ^ quote)
        wrong |= (p[p5] ^ space) | (p[p6] ^ space) | (p[p7] ^ space) | (p[p7 &- 1] ^ quote) | (p[p8] ^ space)
        // The space inside the datetime must not be a `] "` itself: the lazy match would end there.
        let earlier = (p[p3 &- 1] == closeBracket) && (p[p3 &+ 1] == quote)
        guard gaps >= 0, wrong == 0, !earlier, Bytes.isSpace(p[p9]) else { return nil }
        let starts = record.starts, ends = record.ends
        if allFields {
            starts[0] = start; ends[0] = start &+ p0
            starts[1] = start &+ p0 &+ 1; ends[1] = start &+ p1
            starts[2] = start &+ p1 &+ 1; ends[2] = start &+ p2
            starts[3] = start &+ p2 &+ 2; ends[3] = start &+ p4 &- 1
            starts[4] = start &+ p4 &+ 2; ends[4] = start &+ p5
            starts[5] = start &+ p5 &+ 1; ends[5] = start &+ p6
            starts[6] = start &+ p6 &+ 1; ends[6] = start &+ p7 &- 1
        }
        starts[7] = start &+ p7 &+ 1; ends[7] = start &+ p8
        starts[8] = start &+ p8 &+ 1; ends[8] = start &+ p9
        return start &+ p9
    }

    /// The position of the lowest set bit of the 128-bit mask `high:low`, which it then clears; 127 when the
    /// mask is empty. Written as selects on whether `low` is used up rather than as a loop over words.
    @inline(__always)
    private static func pop(_ low: inout UInt64, _ high: inout UInt64) -> Int {
        let inLow = low != 0
        let word = inLow ? low : high | (1 << 63)
        let position = word.trailingZeroBitCount &+ (inLow ? 0 : 64)
        let cleared = high & (high &- 1)
        high = inLow ? high : cleared
        low &= low &- 1
        return position
    }

    /// The pattern up to bytes; returns the end of bytes, or nil when the line does not match. Field starts and
    /// ends go to `record`. The cursor state is copied into locals so that it stays in registers.
    @inline(__always)
    private static func fields(_ base: UnsafePointer<UInt8>, _ start: Int, _ limit: Int, _ record: Record,
                               _ cursor: inout SpaceCursor) -> Int? {
        // The cursor state lives in locals while the line is scanned, so that it stays in registers.
        var blockStart = cursor.blockStart
        var mask = cursor.mask
        defer {
            cursor.blockStart = blockStart
            cursor.mask = mask
        }
        let starts = record.starts, ends = record.ends
        // host, ident, user: maximal non-space runs, each followed by exactly one space.
        var i = start
        var j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
        guard j > i, j < limit, base[j] == space else { return nil }
        starts[0] = i; ends[0] = j
        i = j &+ 1
        j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
        guard j > i, j < limit, base[j] == space else { return nil }
        starts[1] = i; ends[1] = j
        i = j &+ 1
        j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
        guard j > i, j &+ 1 < limit, base[j] == space, base[j &+ 1] == openBracket else { return nil }
        starts[2] = i; ends[2] = j
        let dateStart = j &+ 2
        // datetime: (.*?) cannot cross a newline; each `] "` is tried in turn, as the regex backtracks.
        var w = SpaceCursor.next(dateStart, base, limit, &blockStart, &mask)
        while w < limit {
            let byte = base[w]
            if byte == Bytes.newline { return nil }
            if byte == space && w > dateStart && base[w &- 1] == closeBracket && w &+ 1 < limit && base[w &+ 1] == quote {
                // `(\S+) (\S+) (\S+)" (\S+) (\S+)` after `] "`; a mismatch moves on to the next `] "`.
                repeat {
                    i = w &+ 2
                    j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
                    guard j > i, j < limit, base[j] == space else { break }
                    starts[4] = i; ends[4] = j
                    i = j &+ 1
                    j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
                    guard j > i, j < limit, base[j] == space else { break }
                    starts[5] = i; ends[5] = j
                    i = j &+ 1
                    j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
                    guard j &- i >= 2, j < limit, base[j] == space, base[j &- 1] == quote else { break }
                    starts[6] = i; ends[6] = j &- 1
                    i = j &+ 1
                    j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
                    guard j > i, j < limit, base[j] == space else { break }
                    starts[7] = i; ends[7] = j
                    i = j &+ 1
                    j = SpaceCursor.next(i, base, limit, &blockStart, &mask)
                    guard j > i else { break }
                    starts[8] = i; ends[8] = j
                    starts[3] = dateStart; ends[3] = w &- 1
                    return j
                } while false
            }
            w = SpaceCursor.next(w &+ 1, base, limit, &blockStart, &mask)
        }
        return nil
    }

    /// The int() conversions of status and bytes.
    @inline(__always)
    private static func convert(_ base: UnsafePointer<UInt8>, _ record: Record) -> Bool {
        guard let status = digits(base, record.starts[7], record.ends[7]) else { return false }
        record.status = status
        let bytesStart = record.starts[8], bytesEnd = record.ends[8]
        if bytesEnd &- bytesStart == 1 && base[bytesStart] == dash {
            record.bytes = 0
        } else {
            guard let bytes = digits(base, bytesStart, bytesEnd) else { return false }
            record.bytes = bytes
        }
        return true
    }

    /// The value of `base[start..<end]` as Python's int() reads it. Up to 8 plain digits, the usual case, are
    /// read as one word and combined without a loop, so a number's length costs no mispredicted branch; the
    /// word is the 8 bytes ending at `end`, which lie within the line because status and bytes start at least
    /// 17 bytes into any line the pattern matches. Anything else (a sign, a long number, a non-digit) goes to
    /// `Bytes.parseInteger`.
    @inline(__always)
    private static func digits(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        let count = end &- start
        if count > 0 && count <= 8 {
            // Little-endian: the number is the top `count` bytes of the word, its first digit the lowest of them.
            let word = UnsafeRawPointer(base + (end &- 8)).loadUnaligned(as: UInt64.self)
            let drop = UInt64(truncatingIfNeeded: (8 &- count) &* 8)
            let kept = ~UInt64(0) << drop
            let number = word & kept
            let zeros = 0x3030_3030_3030_3030 & kept
            // Each kept byte is 0x30...0x39: its high nibble is 3, also after adding 6.
            if number & 0xF0F0_F0F0_F0F0_F0F0 == zeros && (number &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == zeros {
                var value = number & 0x0F0F_0F0F_0F0F_0F0F
                value = (value &* 2561) >> 8 & 0x00FF_00FF_00FF_00FF
                value = (value &* 6_553_601) >> 16 & 0x0000_FFFF_0000_FFFF
                value = (value &* 42_949_672_960_001) >> 32
                return Int64(truncatingIfNeeded: value)
            }
        }
        return slowDigits(base, start, end)
    }

    /// `digits` for everything but up to 8 plain digits; kept out of line so that the scanner's loop stays small.
    @inline(never)
    private static func slowDigits(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        Bytes.parseInteger(base, start, end)
    }

    /// ` "referer" "agent"` after bytes, within the line. Quotes inside may be escaped with a backslash.
    @inline(__always)
    private static func trailer(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ record: Record,
                                _ want: Bool, _ require: Bool) -> Bool {
        record.fieldCount = 9
        guard want else { return true }
        if start + 1 < end, base[start] == space, base[start + 1] == quote,
           let refererEnd = quoted(base, start + 2, end),
           refererEnd + 2 < end, base[refererEnd + 1] == space, base[refererEnd + 2] == quote,
           let agentEnd = quoted(base, refererEnd + 3, end) {
            record.set(AccessField.referer, start + 2, refererEnd)
            record.set(AccessField.agent, refererEnd + 3, agentEnd)
            record.fieldCount = 11
            return true
        }
        return !require
    }

    /// Index of the closing quote of a quoted string whose content starts at `start`, skipping `\"` (a quote
    /// preceded by an odd number of backslashes).
    @inline(__always)
    private static func quoted(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var i = start
        while true {
            let hit = Bytes.find(quote, base, from: i, end: end)
            if hit >= end { return nil }
            var backslashes = 0
            while hit &- backslashes &- 1 >= start && base[hit &- backslashes &- 1] == backslash { backslashes &+= 1 }
            if backslashes & 1 == 0 { return hit }
            i = hit &+ 1
        }
    }

    /// End of the maximal run of non-space bytes starting at `i`.
    @inline(__always)
    static func run(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var i = start
        while i < end && !Bytes.isSpace(base[i]) { i &+= 1 }
        return i
    }
}
