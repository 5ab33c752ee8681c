/// The tutorial's bytes-column idiom as a lazy sequence of integers:
///
/// ```python
/// bytecolumn = (line.rsplit(None,1)[1] for line in lines)
/// bytes      = (int(x) for x in bytecolumn if x != '-')
/// ```
///
/// Each line's last whitespace-separated field, read as a decimal integer (an optional sign and digits), with
/// `-` read as 0. A line with fewer than two fields, or whose last field is neither `-` nor an integer, is
/// where Python would raise; here it is skipped and counted in `status.malformed`.
///
/// **Parallelism.** When the lines compile (files read with `grep`/`containing` stages only, see `Lines`),
/// `sum`, `count`, `maximum`, `minimum` and `reduce` run on the parallel `Engine`: the first grep is the
/// engine's prefilter, and each worker folds the last field of the lines that pass into its own state.
public struct BytesColumn: Sequence {
    let lines: Lines

    init(lines: Lines) { self.lines = lines }

    /// The status shared with the lines.
    public var status: PipelineStatus { lines.status }

    /// The same column, with terminal operations run as `execution` says.
    public func executing(_ execution: Execution) -> BytesColumn { BytesColumn(lines: lines.executing(execution)) }

    /// Throws the error that ended the latest iteration, if any.
    public func check() throws { try status.check() }

    /// The engine query the column's aggregates run as, or nil when they run sequentially.
    public var query: Query? { lines.compile(.count(by: nil))?.query }

    /// The last field of `base[start..<end]` as the idiom reads it, or nil when the line is malformed for it.
    @inline(__always)
    static func value(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        guard let span = Line.lastField(base, start, end) else { return nil }
        let (fieldStart, fieldEnd) = span
        if fieldEnd - fieldStart == 1 && base[fieldStart] == AccessLogScanner.dash { return 0 }
        return Bytes.parseInteger(base, fieldStart, fieldEnd).map { Int($0) }
    }

    /// The value of the line an engine worker hands over (format `.fields`, left unsplit: see `CustomAggregate`).
    @inline(__always)
    static func value(_ record: Record) -> Int? { value(record.base, record.lineStart, record.lineEnd) }

    // MARK: Terminal operations

    /// The total (`sum(bytes)`). Throws `.numericOverflow` when it leaves the 64-bit range.
    public func sum() throws -> Int {
        let fold = try run(.sum)
        if fold.overflowed { throw SluiceError(.numericOverflow, path: "bytes", "sum overflows a 64-bit integer") }
        return fold.total
    }

    /// The number of values (lines with a readable bytes column).
    public func count() throws -> Int { try run(.count).count }

    /// The greatest value, or nil when there is none.
    public func maximum() throws -> Int? { try run(.maximum).best }

    /// The least value, or nil when there is none.
    public func minimum() throws -> Int? { try run(.minimum).best }

    /// Runs one of the built-in folds, on the engine (one `ColumnSink` per worker) or on this thread.
    private func run(_ kind: ColumnFold.Kind) throws -> ColumnFold {
        if let options = lines.parallelOptions, var compiled = lines.compile(.count(by: nil)) {
            let aggregate = CustomAggregate(splitsFields: false) { ColumnSink(ColumnFold(kind)) }
            compiled.query.custom = aggregate
            _ = try ParallelRun.run(compiled.query, compiled.files, options, status)
            return (aggregate.result as! ColumnSink).fold
        }
        var fold = ColumnFold(kind)
        var iterator = makeIterator()
        while let value = iterator.next() { fold.add(value) }
        try check()
        return fold
    }

    /// A general reduction over a mergeable state; the rules of `Records.reduce(into:_:merge:)` apply.
    public func reduce<State: Sendable>(into initial: State,
                                        _ update: @escaping @Sendable (inout State, Int) -> Void,
                                        merge: @escaping @Sendable (inout State, State) -> Void) throws -> State {
        if let options = lines.parallelOptions, var compiled = lines.compile(.count(by: nil)) {
            let aggregate = CustomAggregate(splitsFields: false) {
                ReduceSink<Int, State>(initial, extract: BytesColumn.value, update: update, merge: merge)
            }
            compiled.query.custom = aggregate
            _ = try ParallelRun.run(compiled.query, compiled.files, options, status)
            return (aggregate.result as! ReduceSink<Int, State>).state
        }
        var state = initial
        var iterator = makeIterator()
        while let value = iterator.next() { update(&state, value) }
        try check()
        return state
    }

    /// Starts a new iteration: nothing is opened or read before the first `next()`; resets `status`.
    public func makeIterator() -> Iterator { Iterator(lines) }

    /// Reads lines and yields their bytes column.
    public struct Iterator: IteratorProtocol {
        private let cursor: LineCursor
        private let status: PipelineStatus

        init(_ lines: Lines) {
            cursor = LineCursor(lines)
            status = lines.status
        }

        /// The next line's value; nil at the end of the input or after an error (kept in `status`).
        public mutating func next() -> Int? {
            while let line = cursor.next() {
                if let base = line.bytes.baseAddress,
                   let value = BytesColumn.value(base.assumingMemoryBound(to: UInt8.self), 0, line.count) {
                    return value
                }
                status.malformed += 1
            }
            return nil
        }
    }
}

/// The running answer of `sum`, `count`, `maximum` and `minimum`: plain stored integers, so that the
/// per-line work on the engine's workers is a few instructions, with no closure or generic dispatch.
struct ColumnFold {
    enum Kind { case sum, count, maximum, minimum }

    let kind: Kind
    var total = 0
    /// The wraps of `total` (see `WrappingSum`).
    var wraps = 0
    /// True when the exact sum does not fit a 64-bit integer.
    var overflowed: Bool { wraps != 0 }
    var count = 0
    var best: Int?

    init(_ kind: Kind) { self.kind = kind }

    @inline(__always)
    mutating func add(_ value: Int) {
        count &+= 1
        switch kind {
        case .sum:
            WrappingSum.add(value, to: &total, wraps: &wraps)
        case .count:
            break
        case .maximum:
            if best == nil || value > best! { best = value }
        case .minimum:
            if best == nil || value < best! { best = value }
        }
    }

    mutating func merge(_ other: ColumnFold) {
        WrappingSum.merge(other.total, other.wraps, into: &total, wraps: &wraps)
        count &+= other.count
        if let value = other.best {
            if kind == .maximum { if best == nil || value > best! { best = value } } else if best == nil || value < best! { best = value }
        }
    }
}

/// One worker's `ColumnFold` on the engine: reads the last field of each line that passed the prefilter.
final class ColumnSink: RecordSink {
    var fold: ColumnFold

    init(_ fold: ColumnFold) { self.fold = fold }

    func accept(_ record: Record) -> Bool {
        guard let value = BytesColumn.value(record) else { return false }
        fold.add(value)
        return true
    }

    func merge(_ other: RecordSink) { fold.merge((other as! ColumnSink).fold) }
}

extension Lines {
    /// The bytes column of the lines: each line's last field as an integer, `-` as 0 (see `BytesColumn`).
    public func bytesColumn() -> BytesColumn { BytesColumn(lines: self) }
}
