/// Terminal operations on records. Each runs on the parallel `Engine` when the pipeline compiles into a
/// `Query` and `Execution` allows it, and otherwise walks the pipeline's iterator on the calling thread,
/// feeding the engine's own aggregate state, so both ways give the same answer. All of them throw the first
/// error of the run (`SluiceError` with the path, and the line or byte offset where known).
extension Records {
    /// The number of records (`len(list(log))`).
    public func count() throws -> Int {
        Int(try total(.count(by: nil), .count))
    }

    /// The sum of `status` or `bytes` (`sum(r['bytes'] for r in log)`). Throws `.invalidArgument` for a text
    /// field and `.numericOverflow` when the sum leaves the 64-bit range.
    public func sum(_ field: LogField) throws -> Int {
        guard field.isNumeric else {
            throw SluiceError(.invalidArgument, path: field.rawValue, "cannot sum a text field (numeric fields: status, bytes)")
        }
        return Int(try total(.sum(field.rawValue), .sum(field.ref)))
    }

    /// The distinct values of a field, sorted bytewise (`sorted(set(r[field] for r in log))`).
    public func distinct(_ field: LogField) throws -> [ByteString] {
        let operation = Operation.distinct(field.rawValue, withCounts: false)
        if let report = try runParallel(operation) {
            guard case .values(let values) = report.answer else { return [] }
            return values.map(ByteString.init(bytes:))
        }
        return try sequential(.table(field.ref)).table!.sortedByKey().map { ByteString(bytes: $0.key) }
    }

    /// Every distinct value of a field with its number of records, most frequent first, ties by value.
    public func countBy(_ field: LogField) throws -> [(value: ByteString, count: Int)] {
        try top(field, Int.max, operation: .count(by: field.rawValue))
    }

    /// The `k` most frequent values of a field: count descending, then value ascending (bytewise). Throws
    /// `.invalidArgument` when `k` is below 1.
    public func top(_ field: LogField, _ k: Int) throws -> [(value: ByteString, count: Int)] {
        let operation = Operation.top(field.rawValue, k: k)
        try operation.checkParameters()
        return try top(field, k, operation: operation)
    }

    private func top(_ field: LogField, _ k: Int, operation: Operation) throws -> [(value: ByteString, count: Int)] {
        if let report = try runParallel(operation) {
            guard case .counts(let entries) = report.answer else { return [] }
            return entries.map { (ByteString(bytes: $0.value), Int($0.count)) }
        }
        return try sequential(.table(field.ref)).table!.top(k).map { (ByteString(bytes: $0.key), Int($0.count)) }
    }

    /// The greatest value of a field with its companion, as Python's `max((r[field], r[with]) for r in log)`:
    /// integers compare as numbers, ties go to the greatest companion. Nil when there are no records.
    public func max(by field: LogField, with companion: LogField? = nil) throws -> (value: ByteString, with: ByteString?)? {
        try extreme(field, companion, isMax: true)
    }

    /// The least value of a field with its companion; ties go to the least companion. Nil when there are no
    /// records.
    public func min(by field: LogField, with companion: LogField? = nil) throws -> (value: ByteString, with: ByteString?)? {
        try extreme(field, companion, isMax: false)
    }

    private func extreme(_ field: LogField, _ companion: LogField?, isMax: Bool) throws -> (value: ByteString, with: ByteString?)? {
        if let report = try runParallel(.extreme(field.rawValue, with: companion?.rawValue, isMax: isMax)) {
            guard case .extreme(let value, let with) = report.answer else { return nil }
            return (ByteString(bytes: value), with.map(ByteString.init(bytes:)))
        }
        let numeric: (LogField) -> Bool = { $0 == .status || $0 == .bytes }
        let best = try sequential(.extreme(field.ref, with: companion?.ref, isMax: isMax, numeric: numeric(field))).best!
        guard best.hasValue else { return nil }
        return (ByteString(bytes: best.printedValue),
                companion.map { ByteString(bytes: best.printedWith(numeric: numeric($0))) })
    }

    /// A general reduction over a mergeable state. Each worker starts from `initial` and folds its share of
    /// the records into it with `update`; the workers' states are then combined with `merge`. So `initial`
    /// must be an identity of `merge`, and `merge` must be associative and commutative: records reach the
    /// workers in no particular order. Run in parallel, `update` and `merge` are called from several threads
    /// at once, each on its own state; they must not touch shared mutable state (they are `@Sendable`, so the
    /// compiler refuses a closure that captures a `var`).
    public func reduce<State: Sendable>(into initial: State,
                                        _ update: @escaping @Sendable (inout State, AccessRecord) -> Void,
                                        merge: @escaping @Sendable (inout State, State) -> Void) throws -> State {
        let aggregate = CustomAggregate {
            ReduceSink<AccessRecord, State>(initial, extract: { AccessRecord($0) }, update: update, merge: merge)
        }
        if let options = lines.parallelOptions, var compiled = compile(.count(by: nil)) {
            compiled.query.custom = aggregate
            _ = try ParallelRun.run(compiled.query, compiled.files, options, status)
            return (aggregate.result as! ReduceSink<AccessRecord, State>).state
        }
        var state = initial
        let cursor = RecordCursor(self)
        while let record = cursor.next() { update(&state, AccessRecord(record)) }
        try check()
        return state
    }

    // MARK: Running

    /// The engine's report when the pipeline compiles and may run in parallel; nil otherwise.
    private func runParallel(_ operation: Operation) throws -> RunReport? {
        guard let options = lines.parallelOptions, let compiled = compile(operation) else { return nil }
        return try ParallelRun.run(compiled.query, compiled.files, options, status)
    }

    private func total(_ operation: Operation, _ kind: AggregateState.Kind) throws -> Int64 {
        if let report = try runParallel(operation) {
            guard case .total(let total) = report.answer else { return 0 }
            return total
        }
        return try sequential(kind).total
    }

    /// Runs the pipeline on this thread into one aggregate state, as a worker's `LineProcessor.accept` would.
    private func sequential(_ kind: AggregateState.Kind) throws -> AggregateState {
        let state = AggregateState(kind)
        let cursor = RecordCursor(self)
        while let record = cursor.next() {
            switch kind {
            case .sum(let field):
                state.add(record.integer(field, accessLog: true) ?? 0)
            case .count:
                state.total &+= 1
            case .table(let field):
                let key = record.text(field, accessLog: true)
                state.table!.add(key.base, key.count)
            case .extreme(let field, let with, _, _):
                let (start, end) = record.span(field)
                let (withStart, withEnd) = with.map { record.span($0) } ?? (record.lineEnd, record.lineEnd)
                state.best!.offer(integer: record.integer(field, accessLog: true), record.base, start, end,
                                  with: with.flatMap { record.integer($0, accessLog: true) }, record.base, withStart, withEnd)
            default:
                break
            }
        }
        try check()
        if state.overflowed {
            throw SluiceError(.numericOverflow, path: kind.fieldName, "sum overflows a 64-bit integer")
        }
        return state
    }
}

extension AggregateState.Kind {
    /// The name the engine's overflow error carries.
    var fieldName: String {
        if case .sum(let field) = self, let name = LogField.allCases.first(where: { $0.index == field.index }) {
            return name.rawValue
        }
        return "sum"
    }
}

/// A `RecordSink` folding records into a Swift value: `extract` turns the engine's record into the element
/// (nil counts the line as malformed), `update` folds it in, `merge` combines two workers' states.
final class ReduceSink<Element, State>: RecordSink {
    var state: State
    private let extract: (Record) -> Element?
    private let update: (inout State, Element) -> Void
    private let combine: (inout State, State) -> Void

    init(_ initial: State, extract: @escaping (Record) -> Element?, update: @escaping (inout State, Element) -> Void,
         merge: @escaping (inout State, State) -> Void) {
        state = initial
        self.extract = extract
        self.update = update
        combine = merge
    }

    func accept(_ record: Record) -> Bool {
        guard let element = extract(record) else { return false }
        update(&state, element)
        return true
    }

    func merge(_ other: RecordSink) {
        combine(&state, (other as! ReduceSink<Element, State>).state)
    }
}
