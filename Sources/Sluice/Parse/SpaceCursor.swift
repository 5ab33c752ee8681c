import CByteScan

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
