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
        case extreme(FieldRef, with: FieldRef?, isMax: Bool)
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
        case .extreme(_, _, let isMax): table = nil; best = Extreme(isMax: isMax)
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
/// non-integers, which compare bytewise; ties on value go to the greater (max) or lesser (min) companion.
final class Extreme {
    let isMax: Bool
    private(set) var hasValue = false
    private(set) var isInteger = false
    private(set) var integer: Int64 = 0
    let value = ByteBuffer(capacity: 64)
    let with = ByteBuffer(capacity: 64)

    init(isMax: Bool) { self.isMax = isMax }

    /// Offers a candidate; copies it only when it wins.
    @inline(__always)
    func offer(integer candidate: Int64?, _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
               with withBase: UnsafePointer<UInt8>, _ withStart: Int, _ withEnd: Int) {
        if hasValue {
            var order: Int
            if let candidate {
                order = isInteger ? (candidate < integer ? -1 : (candidate > integer ? 1 : 0)) : -1
            } else {
                order = isInteger ? 1 : Extreme.compare(base + start, end - start, value.base, value.count)
            }
            if order == 0 { order = Extreme.compare(withBase + withStart, withEnd - withStart, with.base, with.count) }
            if isMax ? order <= 0 : order >= 0 { return }
        }
        hasValue = true
        isInteger = candidate != nil
        integer = candidate ?? 0
        value.removeAll()
        value.append(base + start, end - start)
        with.removeAll()
        with.append(withBase + withStart, withEnd - withStart)
    }

    func merge(_ other: Extreme) {
        guard other.hasValue else { return }
        offer(integer: other.isInteger ? other.integer : nil, other.value.base, 0, other.value.count,
              with: other.with.base, 0, other.with.count)
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let common = min(aCount, bCount)
        let prefix = common == 0 ? 0 : Int(memcmp(a, b, common))
        if prefix != 0 { return prefix }
        return aCount < bCount ? -1 : (aCount > bCount ? 1 : 0)
    }
}
