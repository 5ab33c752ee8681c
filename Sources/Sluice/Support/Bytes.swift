#if canImport(Glibc)
import Glibc
#endif

/// Byte-level helpers shared by the scanners. All take absolute indices into one base pointer.
enum Bytes {
    static let newline: UInt8 = 10

    /// Index of the first `byte` in `base[from..<end]`, or `end` when there is none (glibc's vectorised memchr).
    @inline(__always)
    static func find(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        guard from < end, let hit = memchr(base + from, Int32(byte), end - from) else { return end }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    /// Index of the last `byte` in `base[from..<end]`, or nil.
    @inline(__always)
    static func findLast(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int? {
        var index = end - 1
        while index >= from {
            if base[index] == byte { return index }
            index -= 1
        }
        return nil
    }

    /// Number of `\n` bytes in `base[from..<end]`, 32 bytes at a time.
    static func countNewlines(_ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        var total = 0
        var index = from
        let raw = UnsafeRawPointer(base)
        let splat = SIMD32<UInt8>(repeating: newline)
        while index + 32 <= end {
            // Up to 255 blocks can accumulate in 8-bit lanes before they must be widened.
            var lanes = SIMD32<UInt8>(repeating: 0)
            var blocks = 0
            while blocks < 255 && index + 32 <= end {
                let block = raw.loadUnaligned(fromByteOffset: index, as: SIMD32<UInt8>.self)
                // A true lane of the comparison mask is all ones (-1), so subtracting it counts one.
                lanes &-= SIMD32<UInt8>(truncatingIfNeeded: unsafeBitCast(block .== splat, to: SIMD32<Int8>.self))
                index += 32
                blocks += 1
            }
            total += Int(SIMD32<UInt16>(truncatingIfNeeded: lanes).wrappedSum())
        }
        while index < end {
            if base[index] == newline { total += 1 }
            index += 1
        }
        return total
    }

    /// True for the bytes PCRE2 and Python treat as `\s` in byte mode: tab, LF, VT, FF, CR and space.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (byte &- 9) < 5 }

    /// Parses `[+-]?[0-9]+` spanning exactly `base[start..<end]`; nil if anything else or if it overflows Int64.
    @inline(__always)
    static func parseInteger(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var index = start
        var negative = false
        if index < end && (base[index] == 45 || base[index] == 43) {
            negative = base[index] == 45
            index += 1
        }
        guard index < end, end - index <= 18 else {
            return index < end ? parseLongInteger(base, index, end, negative) : nil
        }
        var value: Int64 = 0
        while index < end {
            let digit = base[index] &- 48
            if digit > 9 { return nil }
            value = value &* 10 &+ Int64(digit)
            index += 1
        }
        return negative ? -value : value
    }

    private static func parseLongInteger(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                         _ negative: Bool) -> Int64? {
        // A negative number is accumulated below zero, so that Int64.min, whose magnitude is no Int64, fits.
        var value: Int64 = 0
        for index in start..<end {
            let digit = base[index] &- 48
            if digit > 9 { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times.subtractingReportingOverflow(Int64(digit))
                                      : times.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }
}
