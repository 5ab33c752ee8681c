import Synchronization

/// Several sequences merged into one (the tutorial's `genmultiplex`, with tasks in place of threads).
///
/// Iterating starts one child task per source inside a single task group; each child moves its source's
/// elements into a shared `AsyncQueue` of `bufferSize` elements and suspends while it is full, so a consumer
/// that falls behind slows every source down (backpressure) instead of growing memory.
///
/// - Elements of one source keep their order; elements of different sources are interleaved in arrival order.
/// - The merged sequence ends when every source has ended. When a source throws, the other sources are
///   cancelled, the elements already buffered are delivered, and then the error is thrown.
/// - Cancelling the consuming task, breaking out of the loop or dropping the iterator cancels every source's
///   child task, so each source's `next()` sees cancellation and releases what it holds.
public struct Multiplexed<Element: Sendable>: AsyncSequence, Sendable {
    typealias Pump = @Sendable (AsyncQueue<Element>) async throws -> Void
    let pumps: [Pump]
    /// Elements buffered between the sources and the consumer.
    public let bufferSize: Int

    /// Merges `sources`, which all have the same type.
    public init<Source: AsyncSequence & Sendable>(_ sources: [Source], bufferSize: Int = 64)
    where Source.Element == Element {
        self.init(pumps: sources.map(Multiplexed.pump), bufferSize: bufferSize)
    }

    init(pumps: [Pump], bufferSize: Int) {
        self.pumps = pumps
        self.bufferSize = Swift.max(1, bufferSize)
    }

    /// This merge with `other` (of any sequence type with the same element) added as one more source.
    public func merging<Other: AsyncSequence & Sendable>(_ other: Other) -> Multiplexed where Other.Element == Element {
        Multiplexed(pumps: pumps + [Multiplexed.pump(other)], bufferSize: bufferSize)
    }

    private static func pump<Source: AsyncSequence & Sendable>(_ source: Source) -> Pump where Source.Element == Element {
        return { queue in
            for try await element in source { try await queue.send(element) }
        }
    }

    /// Owns the task that runs the sources; cancels it when the iterator goes away.
    final class Driver: @unchecked Sendable {
        let queue: AsyncQueue<Element>
        private let pumps: [Pump]
        private let task = Mutex<Task<Void, Never>?>(nil)

        init(pumps: [Pump], bufferSize: Int) {
            self.pumps = pumps
            queue = AsyncQueue(capacity: bufferSize)
        }

        func startIfNeeded() {
            task.withLock { task in
                guard task == nil else { return }
                let queue = self.queue, pumps = self.pumps
                task = Task {
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for pump in pumps { group.addTask { try await pump(queue) } }
                            // The first failure leaves the group at once, which cancels the other sources
                            // (`waitForAll` would wait for them first).
                            while try await group.next() != nil {}
                        }
                        queue.finish()
                    } catch {
                        queue.finish(throwing: error is CancellationError ? nil : error)
                    }
                }
            }
        }

        func stop() {
            task.withLock { $0?.cancel() }
            queue.close()
        }

        deinit { stop() }
    }

    /// Owns one run of the sources, started by its first `next()` and cancelled when the iterator goes away.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let driver: Driver

        /// The next element of any source (the first call starts the sources); nil once every source has ended or
        /// the task is cancelled. Throws a source's error after the buffered elements. Either way the sources stop.
        public mutating func next() async throws -> Element? {
            driver.startIfNeeded()
            do {
                guard let element = try await driver.queue.next() else {
                    driver.stop()
                    return nil
                }
                return element
            } catch {
                driver.stop()
                throw error
            }
        }
    }

    /// A new iterator with its own run of the sources, each of which is iterated anew.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(driver: Driver(pumps: pumps, bufferSize: bufferSize))
    }
}

/// Merges sequences of different types with the same element into one; see `Multiplexed`.
public func multiplex<A: AsyncSequence & Sendable, B: AsyncSequence & Sendable>(_ first: A, _ second: B,
                                                                                bufferSize: Int = 64)
    -> Multiplexed<A.Element> where A.Element == B.Element, A.Element: Sendable {
    Multiplexed([first], bufferSize: bufferSize).merging(second)
}

/// One source fanned out to several consumers (the tutorial's `broadcast`, with each consumer a task that owns
/// its own bounded buffer, as its `consthread` gives each consumer a thread and a queue).
///
/// Create the hub, `subscribe` once per consumer, then `run()` it in a task of its own. Every element the source
/// produces is offered to every subscription in the order subscriptions were made; a subscription made while
/// the hub runs sees the elements from then on. What happens when a consumer is slow is chosen per subscription:
/// - `.suspend` (the default): the hub waits until that consumer has room, so a slow consumer throttles the
///   source and every other consumer (backpressure; nothing is lost, memory stays bounded).
/// - `.dropOldest`: that consumer's oldest buffered element is discarded and counted in its `droppedCount`;
///   the others are not slowed down.
///
/// A consumer that is cancelled, or calls `cancel()`, never blocks the hub again; the hub drops its subscription
/// at the next element it offers. When the source
/// ends, every subscription ends after its buffered elements; when it throws, each subscription throws the error
/// after its buffered elements. Cancelling the task running `run()` ends every subscription.
public final class Broadcast<Element: Sendable>: Sendable {
    private let source: @Sendable () -> AsyncThrowingStreamIterator<Element>
    private let subscriptions = Mutex<[Subscription]>([])

    /// A hub over `source`, which is iterated only by `run()`, with a new iterator on each call.
    public init<Source: AsyncSequence & Sendable>(_ source: Source) where Source.Element == Element {
        self.source = { AsyncThrowingStreamIterator(source.makeAsyncIterator()) }
    }

    /// A new consumer with its own buffer of `bufferSize` elements and overflow `policy`.
    public func subscribe(bufferSize: Int = 64, whenFull policy: OverflowPolicy = .suspend) -> Subscription {
        let subscription = Subscription(AsyncQueue(capacity: max(1, bufferSize), whenFull: policy))
        subscriptions.withLock { $0.append(subscription) }
        return subscription
    }

    /// Number of subscriptions the hub still holds: a cancelled one counts until the hub offers it an element.
    public var subscriberCount: Int { subscriptions.withLock { $0.count } }

    /// Reads the source to its end, delivering every element to every subscription; returns the number of
    /// elements read. Rethrows the source's error after passing it on to the subscriptions.
    @discardableResult
    public func run() async throws -> Int {
        var iterator = source()
        var delivered = 0
        do {
            while let element = try await iterator.next() {
                delivered += 1
                for subscription in subscriptions.withLock({ $0 }) {
                    do {
                        try await subscription.queue.send(element)
                    } catch {
                        if Task.isCancelled { throw CancellationError() }
                        subscriptions.withLock { $0.removeAll { $0 === subscription } }
                    }
                }
                if Task.isCancelled { throw CancellationError() }
            }
            for subscription in subscriptions.withLock({ $0 }) { subscription.queue.finish() }
        } catch {
            for subscription in subscriptions.withLock({ $0 }) {
                subscription.queue.finish(throwing: error is CancellationError ? nil : error)
            }
            if !(error is CancellationError) { throw error }
        }
        return delivered
    }

    /// One consumer's view of a `Broadcast`: an `AsyncSequence` over its own bounded buffer.
    public final class Subscription: AsyncSequence, Sendable {
        let queue: AsyncQueue<Element>

        init(_ queue: AsyncQueue<Element>) { self.queue = queue }

        /// Elements this consumer lost to `.dropOldest` so far.
        public var droppedCount: Int { queue.droppedCount }

        /// Leaves the broadcast: buffered elements are discarded and the hub no longer waits for this consumer.
        public func cancel() { queue.close() }

        /// Iterate a subscription once: when its iterator is dropped (the loop ended or was left), the consumer
        /// leaves the broadcast.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let lifetime: Lifetime
            /// The next element; nil once the source has ended, the subscription was cancelled or the task is
            /// cancelled (which also leaves the broadcast). Throws the source's error after the buffered elements.
            public mutating func next() async throws -> Element? {
                let subscription = lifetime.subscription
                let element = try await subscription.queue.next()
                if element == nil && Task.isCancelled { subscription.cancel() }
                return element
            }
        }

        /// Cancels the subscription when the last copy of its iterator goes away.
        final class Lifetime: Sendable {
            let subscription: Subscription
            init(_ subscription: Subscription) { self.subscription = subscription }
            deinit { subscription.cancel() }
        }

        /// An iterator over this subscription; when its last copy goes away, the subscription is cancelled.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(lifetime: Lifetime(self)) }
    }
}

/// A type-erased iterator, so a hub can hold a source of any sequence type.
struct AsyncThrowingStreamIterator<Element>: AsyncIteratorProtocol {
    private let step: () async throws -> Element?

    init<Base: AsyncIteratorProtocol>(_ base: Base) where Base.Element == Element {
        let box = IteratorBox(base)
        step = { try await box.next() }
    }

    mutating func next() async throws -> Element? { try await step() }
}

private final class IteratorBox<Base: AsyncIteratorProtocol>: @unchecked Sendable {
    var base: Base
    init(_ base: Base) { self.base = base }
    func next() async throws -> Base.Element? { try await base.next() }
}
