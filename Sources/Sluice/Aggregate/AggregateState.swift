#if canImport(Glibc)
import Glibc
#endif

/// One worker's running answer for an aggregate operation. States merge associatively and commutatively, so
/// the merged answer does not depend on how records were spread over workers or chunks.
final class AggregateState {
    enum Kind {
        case sum(FieldRef)
        case count
        case table(FieldRef)
        /// `numeric`: the value is a field the format reads as a number (status and bytes of access logs).
        case extreme(FieldRef, with: FieldRef?, isMax: Bool, numeric: Bool)
        /// The facade's accumulator (`Query.custom`, held in `sink`); `total` counts the records it accepted.
        /// It carries no payload, so the per-line switch over `Kind` copies a trivial value.
        case custom
        case none
    }

    let kind: Kind
    // Each worker owns its state, so the per-record updates need no dynamic exclusivity check.
    @exclusivity(unchecked) var total: Int64 = 0
    /// The wraps of `total` for `sum` (see `WrappingSum`).
    @exclusivity(unchecked) var wraps: Int64 = 0
    /// True when the exact sum does not fit a 64-bit integer.
    var overflowed: Bool { wraps != 0 }
    let table: ByteTable?
    let best: Extreme?
    let sink: RecordSink?

    init(_ kind: Kind, custom: CustomAggregate? = nil) {
        self.kind = kind
        sink = custom?.makeSink()
        switch kind {
        case .table: table = ByteTable(); best = nil
        case .extreme(_, _, let isMax, let numeric): table = nil; best = Extreme(isMax: isMax, numeric: numeric)
        default: table = nil; best = nil
        }
    }

    /// Adds `value` to the sum.
    @inline(__always)
    func add(_ value: Int64) { WrappingSum.add(value, to: &total, wraps: &wraps) }

    /// Adds `other` into this state.
    func merge(_ other: AggregateState) {
        WrappingSum.merge(other.total, other.wraps, into: &total, wraps: &wraps)
        if let table, let otherTable = other.table { table.merge(otherTable) }
        if let best, let otherBest = other.best { best.merge(otherBest) }
        if let sink, let otherSink = other.sink { sink.merge(otherSink) }
    }
}

/// The greatest (or least) value seen, with its companion field. Integers compare as numbers and sort before
/// non-integers, which compare bytewise; ties on value go to the greater (max) or lesser (min) companion, compared
/// the same way (so `max request --with bytes` prefers 10 to 9, as Python's `max((request, bytes))` does). The
/// spelling of values equal as numbers (7, 007) orders them too, so the order is total and the merged answer the
/// same for every schedule: for a field read as text it comes right after the number, before the companion (the
/// two are different values, and `--with` must not change which one is reported); for a `numeric` field (status
/// and bytes, which the tutorial converts with int() and Sluice prints as numbers) the two are one number, so the
/// companion decides first and the spelling only last.
final class Extreme {
    let isMax: Bool
    private(set) var hasValue = false
    private(set) var isInteger = false
    private(set) var integer: Int64 = 0
    private(set) var withIsInteger = false
    private(set) var withInteger: Int64 = 0
    let value = ByteBuffer(capacity: 64)
    let with = ByteBuffer(capacity: 64)

    /// Whether the value is a number to the format (see the type's comment).
    let numeric: Bool

    init(isMax: Bool, numeric: Bool) {
        self.isMax = isMax
        self.numeric = numeric
    }

    /// Offers a candidate: its value `base[start..<end]` (an integer when `candidate` is not nil) and its companion
    /// `withBase[withStart..<withEnd]` (an integer when `withCandidate` is not nil); copies it only when it wins.
    @inline(__always)
    func offer(integer candidate: Int64?, _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
               with withCandidate: Int64?, _ withBase: UnsafePointer<UInt8>, _ withStart: Int, _ withEnd: Int) {
        if hasValue {
            // Spellings of equal numbers (7 and 007) are compared bytewise, a text value's before the companion,
            // a numeric one's after it (see the type's comment). Equal non-numbers are equal bytes.
            var order = Extreme.order(candidate, base + start, end - start, isInteger ? integer : nil, value)
            if order == 0 && candidate != nil && !numeric {
                order = Extreme.compare(base + start, end - start, value.base, value.count)
            }
            if order == 0 {
                order = Extreme.order(withCandidate, withBase + withStart, withEnd - withStart,
                                      withIsInteger ? withInteger : nil, with)
            }
            if order == 0 && withCandidate != nil {
                order = Extreme.compare(withBase + withStart, withEnd - withStart, with.base, with.count)
            }
            if order == 0 && candidate != nil && numeric {
                order = Extreme.compare(base + start, end - start, value.base, value.count)
            }
            if isMax ? order <= 0 : order >= 0 { return }
        }
        hasValue = true
        isInteger = candidate != nil
        integer = candidate ?? 0
        withIsInteger = withCandidate != nil
        withInteger = withCandidate ?? 0
        value.removeAll()
        value.append(base + start, end - start)
        with.removeAll()
        with.append(withBase + withStart, withEnd - withStart)
    }

    /// The kept value as printed: a `numeric` field's (status and bytes of access logs) as the integer it was read
    /// as (bytes `-` is 0, as the tutorial's int() gives it), any other field's as its own bytes.
    var printedValue: [UInt8] { numeric && isInteger ? Array(String(integer).utf8) : value.array }

    /// The kept companion as printed, the same way.
    func printedWith(numeric: Bool) -> [UInt8] { numeric && withIsInteger ? Array(String(withInteger).utf8) : with.array }

    func merge(_ other: Extreme) {
        guard other.hasValue else { return }
        offer(integer: other.isInteger ? other.integer : nil, other.value.base, 0, other.value.count,
              with: other.withIsInteger ? other.withInteger : nil, other.with.base, 0, other.with.count)
    }

    /// The order of a candidate (`number`, or the bytes `a[0..<count]`) against a kept one (`keptNumber`, or the
    /// bytes of `kept`): numbers as numbers, before any non-number; non-numbers bytewise.
    @inline(__always)
    private static func order(_ number: Int64?, _ a: UnsafePointer<UInt8>, _ count: Int, _ keptNumber: Int64?,
                              _ kept: ByteBuffer) -> Int {
        switch (number, keptNumber) {
        case let (number?, keptNumber?): return number < keptNumber ? -1 : (number > keptNumber ? 1 : 0)
        case (.some, nil): return -1
        case (nil, .some): return 1
        case (nil, nil): return compare(a, count, kept.base, kept.count)
        }
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let common = min(aCount, bCount)
        let prefix = common == 0 ? 0 : Int(memcmp(a, b, common))
        if prefix != 0 { return prefix }
        return aCount < bCount ? -1 : (aCount > bCount ? 1 : 0)
    }
}
