/// Any sequence with each element passed to a closure as it goes by: the tutorial's `trace` for sequences
/// that are not `Lines` or `Records` (which have a `trace` stage of their own). Lazy: the closure runs when
/// the iteration pulls the element, just before the element is handed on.
public struct TracedSequence<Base: Sequence>: Sequence {
    let base: Base
    let body: (Base.Element) -> Void

    /// An iteration over the base sequence that reports each element.
    public func makeIterator() -> Iterator { Iterator(base: base.makeIterator(), body: body) }

    /// Pulls from the base iterator and reports each element.
    public struct Iterator: IteratorProtocol {
        var base: Base.Iterator
        let body: (Base.Element) -> Void

        /// The base's next element, after passing it to the trace closure.
        public mutating func next() -> Base.Element? {
            guard let element = base.next() else { return nil }
            body(element)
            return element
        }
    }
}

/// A `TextOutputStream` that a trace can hold: a class, so writes reach the caller's stream.
public protocol TraceOutput: TextOutputStream, AnyObject {}

extension Sequence {
    /// The same elements, each passed to `body` as it goes by (`trace`). The library never prints on its own.
    public func trace(_ body: @escaping (Element) -> Void) -> TracedSequence<Self> {
        TracedSequence(base: self, body: body)
    }

    /// The same elements, each written to `output` as `"\(element)\n"` as it goes by.
    public func trace<Output: TraceOutput>(to output: Output) -> TracedSequence<Self> {
        TracedSequence(base: self) { element in
            var target = output
            target.write("\(element)\n")
        }
    }
}

/// The tutorial's `storelast`: a single-pass sequence over `base` that keeps the element it handed out last in
/// `last`, so a later stage's consumer can still read it.
///
/// For view elements (`Line`, `AccessRecord`), `last` follows their lifetime rule: it is readable until the
/// iteration advances again, which is exactly while the downstream stage's current element is being used.
public final class StoreLast<Base: Sequence>: Sequence, IteratorProtocol {
    private var base: Base.Iterator
    /// The element most recently pulled through this sequence, or nil before the first.
    public private(set) var last: Base.Element?

    /// The status of the pipeline `base` belongs to, if it is one; see `CarriesPipelineStatus`.
    let pipelineStatus: PipelineStatus?

    /// Wraps `base`; iteration starts when the first element is pulled.
    public init(_ base: Base) {
        pipelineStatus = (base as? CarriesPipelineStatus)?.pipelineStatus
        self.base = base.makeIterator()
    }

    /// The base's next element, which becomes `last`.
    public func next() -> Base.Element? {
        let element = base.next()
        if let element { last = element }
        return element
    }

    /// The sequence is its own iterator: iterating it twice continues where the first iteration stopped.
    public func makeIterator() -> StoreLast<Base> { self }
}

/// A sequence that belongs to a pipeline, whose errors and counts are in that pipeline's status: a pipeline built
/// on it with `Lines(wrapping:)` shares the status, so its terminal operations throw the wrapped pipeline's errors.
protocol CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { get }
}

extension StoreLast: CarriesPipelineStatus {}

extension TracedSequence: CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { (base as? CarriesPipelineStatus)?.pipelineStatus }
}

extension Lines: CarriesPipelineStatus {
    var pipelineStatus: PipelineStatus? { status }
}

/// The lines of each sequence of `sources` in turn, for pipelines whose sources belong to one (see
/// `CarriesPipelineStatus`): a source that ends with an error its status did not hold when it began ends the lines
/// there; an error that was already there (a file after these sources that could not be opened) ends them after
/// the last source. Either way the error is copied to `status`, so the pipeline reading these lines throws it.
struct ConcatenatedLines<S: Sequence>: Sequence where S.Element: Sequence, S.Element.Element == Line {
    let sources: S
    let status: PipelineStatus

    func makeIterator() -> Iterator { Iterator(outer: sources.makeIterator(), status: status) }

    struct Iterator: IteratorProtocol {
        var outer: S.Iterator
        let status: PipelineStatus
        var inner: S.Element.Iterator?
        var innerStatus: PipelineStatus?
        var innerFailedBefore = false
        /// An error a source's status held before it was read, thrown once every source has been read.
        var earlierError: SluiceError?
        var ended = false

        init(outer: S.Iterator, status: PipelineStatus) {
            self.outer = outer
            self.status = status
        }

        mutating func next() -> Line? {
            while !ended {
                if let line = inner?.next() { return line }
                if let error = innerStatus?.error, !innerFailedBefore {
                    return end(error)
                }
                guard let source = outer.next() else { return end(earlierError) }
                innerStatus = (source as? CarriesPipelineStatus)?.pipelineStatus
                innerFailedBefore = innerStatus?.error != nil
                if earlierError == nil { earlierError = innerStatus?.error }
                inner = source.makeIterator()
            }
            return nil
        }

        private mutating func end(_ error: SluiceError?) -> Line? {
            if let error { status.fail(error) }
            ended = true
            return nil
        }
    }
}
