/// Exact sums past the 64-bit range, in two integers: a total kept modulo 2^64 and a count of its wraps. The
/// exact sum is `wraps × 2^64 + total`, so partial sums add up to the same pair in any grouping or order, and
/// the sum fits a 64-bit integer exactly when `wraps` is 0. A plain overflow flag would depend on the order:
/// 2^62 + 2^62 − 2^62 overflows on the way in one order and not in another.
enum WrappingSum {
    /// Adds `value` to `total`, wrapping, and counts the wrap in `wraps` (+1 past the top, −1 past the bottom).
    @inline(__always)
    static func add<T: FixedWidthInteger & SignedInteger>(_ value: T, to total: inout T, wraps: inout T) {
        let (sum, overflow) = total.addingReportingOverflow(value)
        total = sum
        if overflow { wraps &+= value < 0 ? -1 : 1 }
    }

    /// Adds the pair (`otherTotal`, `otherWraps`) into (`total`, `wraps`).
    @inline(__always)
    static func merge<T: FixedWidthInteger & SignedInteger>(_ otherTotal: T, _ otherWraps: T, into total: inout T,
                                                            wraps: inout T) {
        add(otherTotal, to: &total, wraps: &wraps)
        wraps &+= otherWraps
    }
}
