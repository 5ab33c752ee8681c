/// A push-style stage: the Swift counterpart of the tutorial's `@consumer` coroutines (Part 11), which
/// receive items with `send` instead of pulling them.
///
/// ```swift
/// let r = Consumer<Int>({ n in print("T-minus", n) }, onClose: { print("Kaboom!") })
/// for i in stride(from: 5, to: 0, by: -1) { r.send(i) }
/// r.close()
/// ```
///
/// `send` runs the receive closure synchronously, so a view element (`Line`, `AccessRecord`) is valid for the
/// whole call. `close` runs the close hook once (the coroutine's `GeneratorExit` handler); items sent after
/// `close` are ignored. A consumer is not thread-safe: send from one thread at a time.
public final class Consumer<Input> {
    private let receive: (Input) -> Void
    private let onClose: () -> Void
    /// True once `close` has run.
    public private(set) var isClosed = false

    /// A consumer running `receive` for each item sent and `onClose` when closed.
    public init(_ receive: @escaping (Input) -> Void, onClose: @escaping () -> Void = {}) {
        self.receive = receive
        self.onClose = onClose
    }

    /// A consumer with local state, like a coroutine's local variables: `receive` updates `state` for each
    /// item; `onClose` gets the final state.
    public convenience init<State>(state: State, _ receive: @escaping (inout State, Input) -> Void,
                                   onClose: @escaping (State) -> Void = { _ in }) {
        let box = StateBox(state)
        self.init({ item in receive(&box.value, item) }, onClose: { onClose(box.value) })
    }

    /// Delivers one item (the coroutine's `send`). Ignored after `close`.
    public func send(_ item: Input) {
        guard !isClosed else { return }
        receive(item)
    }

    /// Runs the close hook; later calls do nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        onClose()
    }
}

private final class StateBox<State> {
    var value: State
    init(_ value: State) { self.value = value }
}

/// Sends every element of `source` to each consumer in turn, in order (the tutorial's `broadcast`). With
/// `closing`, closes the consumers once the source is exhausted. Returns the number of elements sent. For a
/// pipeline source, check its status afterwards for an error that ended the iteration.
@discardableResult
public func broadcast<S: Sequence>(_ source: S, to consumers: [Consumer<S.Element>], closing: Bool = false) -> Int {
    var sent = 0
    for item in source {
        for consumer in consumers { consumer.send(item) }
        sent += 1
    }
    if closing { for consumer in consumers { consumer.close() } }
    return sent
}
