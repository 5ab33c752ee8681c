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
    /// taken when present and left empty otherwise.
    @inline(__always)
    static func scan(_ base: UnsafePointer<UInt8>, _ start: Int, _ limit: Int, into record: Record,
                     cursor: inout SpaceCursor, wantCombined: Bool, requireCombined: Bool) -> Bool {
        record.lineStart = start
        if let bytesEnd = fields(base, start, limit, record, &cursor) {
            let lineEnd = (bytesEnd == limit || base[bytesEnd] == Bytes.newline)
                ? bytesEnd : Bytes.find(Bytes.newline, base, from: bytesEnd, end: limit)
            record.lineEnd = lineEnd
            return convert(base, record) && trailer(base, bytesEnd, lineEnd, record, wantCombined, requireCombined)
        }
        record.lineEnd = Bytes.find(Bytes.newline, base, from: start, end: limit)
        return false
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

    /// The value of `base[start..<end]` as Python's int() reads it. 1 to 18 plain digits, the usual case, take
    /// a loop with no early exit; anything else (a sign, a long number, a non-digit) goes to `Bytes.parseInteger`.
    @inline(__always)
    private static func digits(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        let count = end &- start
        if count > 0 && count <= 18 {
            var value: Int64 = 0
            var bad: UInt8 = 0
            var index = start
            repeat {
                let digit = base[index] &- 48
                bad |= digit > 9 ? 1 : 0
                value = value &* 10 &+ Int64(digit)
                index &+= 1
            } while index < end
            if bad == 0 { return value }
        }
        return Bytes.parseInteger(base, start, end)
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

/// Finds whitespace bytes 64 at a time: a bitmask per 64-byte block, so moving from one field to the next
/// costs a count of trailing zeros instead of a loop over every byte. Never reads at or past `limit`.
struct SpaceCursor {
    let base: UnsafePointer<UInt8>
    let limit: Int
    var blockStart = Int.min / 2
    var mask: UInt64 = 0

    init(_ base: UnsafePointer<UInt8>, limit: Int) {
        self.base = base
        self.limit = limit
    }

    /// Index of the first whitespace byte (tab, LF, VT, FF, CR, space) at or after `index`, or `limit`.
    @inline(__always)
    mutating func next(_ index: Int) -> Int { SpaceCursor.next(index, base, limit, &blockStart, &mask) }

    /// `next` on explicit state, for scanners that keep the state in locals.
    @inline(__always)
    static func next(_ index: Int, _ base: UnsafePointer<UInt8>, _ limit: Int, _ blockStart: inout Int,
                     _ mask: inout UInt64) -> Int {
        var i = index
        while true {
            let offset = UInt(bitPattern: i &- blockStart)
            if offset < 64 {
                let bits = mask & (~UInt64(0) << UInt64(offset))
                if bits != 0 { return blockStart &+ bits.trailingZeroBitCount }
                i = blockStart &+ 64
            }
            if i >= limit { return limit }
            if i &+ 64 <= limit {
                blockStart = i
                mask = CByteScan_whitespace64(base + i)
                continue
            }
            while i < limit && !Bytes.isSpace(base[i]) { i &+= 1 }
            return i
        }
    }
}

/// awk-style splitting: fields are maximal runs of non-space bytes; leading and trailing spaces are ignored.
enum FieldSplitter {
    static func split(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into record: Record) {
        var count = 0
        var i = start
        while true {
            while i < end && Bytes.isSpace(base[i]) { i += 1 }
            if i >= end { break }
            let j = AccessLogScanner.run(base, i, end)
            if count == record.capacity { record.ensureCapacity(count + 1) }
            record.set(count, i, j)
            count += 1
            i = j
        }
        record.fieldCount = count
    }
}
