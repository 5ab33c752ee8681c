/// The engine's one hook for the facade: a per-worker accumulator that sees every record that passed the
/// query's filters. It lets a general mergeable reduction (a Swift closure) and the bytes-column idiom run on
/// the parallel engine. The engine side is small: `Query.custom`, `AggregateState.Kind.custom`, one case in
/// `LineProcessor.accept` (plus skipping the `.fields` split when `splitsFields` is false), and `Engine`
/// handing the merged accumulator back through `CustomAggregate.result`.
protocol RecordSink: AnyObject {
    /// Takes one record that passed every filter. Returning false counts the line as malformed instead.
    func accept(_ record: Record) -> Bool
    /// Adds `other`, an accumulator made by the same `CustomAggregate`, into this one.
    func merge(_ other: RecordSink)
}

/// A factory of accumulators, one per worker and run, carried by a `Query`. After a run, `result` holds the
/// accumulator every worker's was merged into.
final class CustomAggregate: @unchecked Sendable {
    let makeSink: () -> RecordSink
    /// With the `.fields` format: false when the sinks read the whole line (`record.lineStart..<lineEnd`)
    /// themselves, so the workers need not split it into fields first.
    let splitsFields: Bool
    /// The merged accumulator of the latest run; set by the engine.
    var result: RecordSink?

    init(splitsFields: Bool = true, _ makeSink: @escaping () -> RecordSink) {
        self.splitsFields = splitsFields
        self.makeSink = makeSink
    }
}
