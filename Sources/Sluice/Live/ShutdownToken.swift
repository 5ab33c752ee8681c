import Synchronization

/// An external request to stop, shared by any number of live sequences, servers and senders (the tutorial's
/// `shutdownevt`, without its polling: waiters are woken at once).
///
/// There are two ways to stop a live sequence, and both end it promptly and release its descriptors and watches:
/// - cancel the task that consumes it (the tutorial's `genshutdown`, `close()` on a generator): the pending
///   `next()` returns `nil`;
/// - trigger a `ShutdownToken` it was given, from any thread or task: the pending and every later `next()`
///   return `nil`. `trigger()` takes a lock and runs handlers, so it is not async-signal-safe: to stop on a
///   signal, trigger it from a `DispatchSource` signal source (as the `sluice` CLI does), not a `sigaction`
///   handler.
///
/// Triggering is idempotent and cannot be undone.
public final class ShutdownToken: Sendable {
    private struct State {
        var triggered = false
        var nextHandler = 0
        var handlers = [Int: @Sendable () -> Void]()
    }

    private let state = Mutex(State())

    /// A token that has not been triggered.
    public init() {}

    /// True once `trigger()` has been called.
    public var isTriggered: Bool { state.withLock { $0.triggered } }

    /// Requests shutdown: wakes every wait that observes this token. Later calls do nothing.
    public func trigger() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.triggered else { return [] }
            state.triggered = true
            let handlers = Array(state.handlers.values)
            state.handlers.removeAll()
            return handlers
        }
        for handler in handlers { handler() }
    }

    /// Suspends until the token is triggered or the calling task is cancelled.
    public func wait() async {
        _ = await Reactor.shared.wait(fd: nil, deadline: nil, token: self)
    }

    /// Registers `handler` to run once on `trigger()`; returns its registration, or nil (without registering)
    /// when the token is already triggered.
    func onTrigger(_ handler: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { state in
            guard !state.triggered else { return nil }
            let id = state.nextHandler
            state.nextHandler += 1
            state.handlers[id] = handler
            return id
        }
    }

    /// Forgets a handler registered with `onTrigger`.
    func removeHandler(_ id: Int) {
        state.withLock { _ = $0.handlers.removeValue(forKey: id) }
    }
}

/// Remembers the last element a sequence produced (the tutorial's `storelast`): wrap a sequence with
/// `storingLast(in:)`, and after the loop ends (or from another task, while it runs) read `box.value`.
public final class LastValue<Element: Sendable>: Sendable {
    private let storage = Mutex<Element?>(nil)
    /// A box that holds no element yet.
    public init() {}
    /// The last element delivered so far, or nil before the first.
    public var value: Element? { storage.withLock { $0 } }
    func store(_ element: Element) { storage.withLock { $0 = element } }
}

/// A sequence that passes its base's elements through unchanged and stores each in a `LastValue` as it is
/// delivered. Ends, throws and stops on cancellation exactly when its base does.
public struct StoreLastSequence<Base: AsyncSequence>: AsyncSequence where Base.Element: Sendable {
    /// The base's element type: elements pass through unchanged.
    public typealias Element = Base.Element
    let base: Base
    let box: LastValue<Base.Element>

    /// Wraps an iterator of the base and stores each element it returns in the box.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let box: LastValue<Base.Element>
        /// The base's next element, stored in the box before it is returned; nil or throws when the base does,
        /// leaving the box as it was.
        public mutating func next() async throws -> Base.Element? {
            guard let element = try await base.next() else { return nil }
            box.store(element)
            return element
        }
    }

    /// An iterator over a new iterator of the base, storing into this sequence's box.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), box: box) }
}

extension AsyncSequence where Element: Sendable {
    /// This sequence, recording each element in `box` as it is delivered (the tutorial's `storelast`).
    public func storingLast(in box: LastValue<Element>) -> StoreLastSequence<Self> {
        StoreLastSequence(base: self, box: box)
    }
}
