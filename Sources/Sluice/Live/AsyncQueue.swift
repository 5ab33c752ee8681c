import Synchronization

/// What a bounded buffer does when an element arrives and it is full.
public enum OverflowPolicy: Sendable, Equatable {
    /// The sender suspends until there is room (backpressure): nothing is lost, and a slow consumer slows the
    /// producer down.
    case suspend
    /// The oldest buffered element is discarded to make room and counted in `droppedCount`; the sender never
    /// waits, so a slow consumer only loses its own oldest elements.
    case dropOldest
}

/// The result of a non-blocking `AsyncQueue.poll()`.
public enum QueuePoll<Element> {
    /// The next element, now taken from the queue.
    case element(Element)
    /// Nothing is buffered now, but the queue has not ended.
    case empty
    /// The queue was finished (and drained) or closed.
    case ended
}

/// A bounded FIFO queue between tasks with an explicit end (the tutorial's `genqueue`, with `finish()` in place
/// of its `StopIteration` sentinel object).
///
/// - Any number of tasks may `send`; elements from one sender keep their order.
/// - Any number of tasks may consume, with `next()`, `poll()` or `for try await`; each element goes to exactly
///   one consumer. `next()` returns `nil` once the queue is finished and every element sent before `finish()` has
///   been taken, and also when the consuming task is cancelled (the queue itself stays open for others).
/// - `finish(throwing:)` ends the queue from the producing side: buffered elements are still delivered, then the
///   error (if any) is thrown once and `nil` is returned after.
/// - `close()` ends it from the consuming side: buffered elements are discarded, waiting and later senders get
///   `CancellationError`.
///
/// At most `capacity` elements are buffered; `policy` says what happens beyond that. A capacity of 0 makes every
/// `send` wait for a consumer to take its element (a rendezvous) under `.suspend`.
public final class AsyncQueue<Element: Sendable>: AsyncSequence, Sendable {
    private struct Sender {
        var id: UInt64
        var element: Element
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct Receiver {
        var id: UInt64
        var continuation: CheckedContinuation<Result<Element?, Error>, Never>
    }

    private struct State {
        var buffer = Ring<Element>()
        var senders = [Sender]()
        var receivers = [Receiver]()
        var finished = false
        var failure: Error?
        var closed = false
        var dropped = 0
        var nextID: UInt64 = 1
        var cancelledEarly = Set<UInt64>()
    }

    /// Elements buffered at most.
    public let capacity: Int
    /// What `send` does when `capacity` elements are buffered.
    public let policy: OverflowPolicy
    private let state = Mutex(State())

    /// An open, empty queue. Traps when `capacity` is negative, or 0 under `.dropOldest`.
    public init(capacity: Int, whenFull policy: OverflowPolicy = .suspend) {
        precondition(capacity >= 0 && (capacity > 0 || policy == .suspend), "AsyncQueue capacity must be ≥ 1 to drop")
        self.capacity = capacity
        self.policy = policy
    }

    /// Elements discarded by `.dropOldest` so far.
    public var droppedCount: Int { state.withLock { $0.dropped } }

    /// Elements buffered now (not counting senders suspended with theirs).
    public var count: Int { state.withLock { $0.buffer.count } }

    /// True once `finish` or `close` has been called.
    public var isEnded: Bool { state.withLock { $0.finished || $0.closed } }

    /// Adds `element`, suspending while the queue is full under `.suspend`. Throws `CancellationError` when the
    /// queue has been finished or closed, or when the sending task is cancelled while it waits (the element is
    /// then not delivered).
    public func send(_ element: Element) async throws {
        let id: UInt64 = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        defer { state.withLock { _ = $0.cancelledEarly.remove(id) } }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let action = state.withLock { state -> (() -> Void) in
                    if state.closed || state.finished || state.cancelledEarly.remove(id) != nil {
                        return { continuation.resume(throwing: CancellationError()) }
                    }
                    if !state.receivers.isEmpty {
                        let receiver = state.receivers.removeFirst()
                        return {
                            receiver.continuation.resume(returning: .success(element))
                            continuation.resume()
                        }
                    }
                    if state.buffer.count < capacity {
                        state.buffer.append(element)
                        return { continuation.resume() }
                    }
                    if policy == .dropOldest {
                        _ = state.buffer.removeFirst()
                        state.dropped += 1
                        state.buffer.append(element)
                        return { continuation.resume() }
                    }
                    state.senders.append(Sender(id: id, element: element, continuation: continuation))
                    return {}
                }
                action()
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Error>? in
                guard let index = state.senders.firstIndex(where: { $0.id == id }) else {
                    state.cancelledEarly.insert(id)
                    return nil
                }
                return state.senders.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Adds `element` without waiting: hands it to a waiting consumer, buffers it, or (under `.dropOldest`)
    /// drops the oldest buffered element for it. Returns false, dropping `element`, when the queue is full under
    /// `.suspend`, finished or closed.
    @discardableResult
    public func offer(_ element: Element) -> Bool {
        let (accepted, receiver) = state.withLock { state -> (Bool, Receiver?) in
            if state.closed || state.finished { return (false, nil) }
            if !state.receivers.isEmpty { return (true, state.receivers.removeFirst()) }
            if state.buffer.count < capacity {
                state.buffer.append(element)
                return (true, nil)
            }
            guard policy == .dropOldest else { return (false, nil) }
            _ = state.buffer.removeFirst()
            state.dropped += 1
            state.buffer.append(element)
            return (true, nil)
        }
        receiver?.continuation.resume(returning: .success(element))
        return accepted
    }

    /// Takes the next element, suspending while the queue is empty. Returns nil at the end of the queue and when
    /// the calling task is cancelled (then without taking an element, which stays for other consumers); throws
    /// the error passed to `finish(throwing:)`, once.
    public func next() async throws -> Element? {
        if Task.isCancelled { return nil }
        switch try poll() {
        case .element(let element): return element
        case .ended: return nil
        case .empty: break
        }
        let id: UInt64 = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        defer { state.withLock { _ = $0.cancelledEarly.remove(id) } }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Element?, Error>, Never>) in
                let immediate = state.withLock { state -> Result<Element?, Error>? in
                    if state.cancelledEarly.remove(id) != nil { return .success(nil) }
                    if let element = take(&state) { return .success(element) }
                    if state.closed { return .success(nil) }
                    if state.finished {
                        defer { state.failure = nil }
                        return state.failure.map { .failure($0) } ?? .success(nil)
                    }
                    state.receivers.append(Receiver(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Result<Element?, Error>, Never>? in
                guard let index = state.receivers.firstIndex(where: { $0.id == id }) else {
                    state.cancelledEarly.insert(id)
                    return nil
                }
                return state.receivers.remove(at: index).continuation
            }
            continuation?.resume(returning: .success(nil))
        }
        return try result.get()
    }

    /// Takes the next element if one is buffered, without waiting. At the end of a queue finished with an
    /// error, throws that error once (then reports `.ended`).
    public func poll() throws -> QueuePoll<Element> {
        let (outcome, woken, failure) = state.withLock { state -> (QueuePoll<Element>, CheckedContinuation<Void, Error>?, Error?) in
            if state.closed { return (.ended, nil, nil) }
            if state.buffer.count > 0 {
                let element = state.buffer.removeFirst()
                if !state.senders.isEmpty {
                    let sender = state.senders.removeFirst()
                    state.buffer.append(sender.element)
                    return (.element(element), sender.continuation, nil)
                }
                return (.element(element), nil, nil)
            }
            if !state.senders.isEmpty {
                let sender = state.senders.removeFirst()
                return (.element(sender.element), sender.continuation, nil)
            }
            guard state.finished else { return (.empty, nil, nil) }
            defer { state.failure = nil }
            return (.ended, nil, state.failure)
        }
        woken?.resume()
        if let failure { throw failure }
        return outcome
    }

    /// Under the lock: the next buffered element, moving a waiting sender's element into the buffer.
    private func take(_ state: inout State) -> Element? {
        if state.buffer.count > 0 {
            let element = state.buffer.removeFirst()
            if !state.senders.isEmpty {
                let sender = state.senders.removeFirst()
                state.buffer.append(sender.element)
                sender.continuation.resume()  // resuming under the lock is safe: it only schedules the task
            }
            return element
        }
        if !state.senders.isEmpty {
            let sender = state.senders.removeFirst()
            sender.continuation.resume()
            return sender.element
        }
        return nil
    }

    /// Ends the queue from the producing side: consumers get what is buffered, then `error` (if any), then nil.
    /// Later calls to `finish` do nothing; a later `close` still discards what is buffered.
    public func finish(throwing error: Error? = nil) {
        let waiting = state.withLock { state -> [Receiver] in
            guard !state.finished && !state.closed else { return [] }
            state.finished = true
            state.failure = error
            guard state.buffer.count == 0 && state.senders.isEmpty else { return [] }
            defer { state.receivers.removeAll() }
            return state.receivers
        }
        for (index, receiver) in waiting.enumerated() {
            if index == 0, let error { receiver.continuation.resume(returning: .failure(error)) } else {
                receiver.continuation.resume(returning: .success(nil))
            }
        }
        if error != nil && !waiting.isEmpty { state.withLock { $0.failure = nil } }
    }

    /// Ends the queue from the consuming side: discards buffered elements, fails waiting and later senders with
    /// `CancellationError`, and makes every `next()` return nil.
    public func close() {
        let (senders, receivers) = state.withLock { state -> ([Sender], [Receiver]) in
            guard !state.closed else { return ([], []) }
            state.closed = true
            state.buffer = Ring()
            defer { state.senders.removeAll(); state.receivers.removeAll() }
            return (state.senders, state.receivers)
        }
        for sender in senders { sender.continuation.resume(throwing: CancellationError()) }
        for receiver in receivers { receiver.continuation.resume(returning: .success(nil)) }
    }

    /// Takes elements with the queue's `next()`; iterators share the queue, so each element goes to one of them.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: AsyncQueue
        /// The next element; nil at the end of the queue or on task cancellation. Throws the `finish` error once.
        public mutating func next() async throws -> Element? { try await queue.next() }
    }

    /// An iterator over this queue; any number may consume at once, each element going to one of them.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}

/// A growable ring buffer: O(1) append and removeFirst, and a removed slot releases its element at once.
struct Ring<Element> {
    private var slots = [Element?]()
    private var head = 0
    private(set) var count = 0

    mutating func append(_ element: Element) {
        if count == slots.count {
            var grown = [Element?](repeating: nil, count: max(8, slots.count * 2))
            for index in 0..<count { grown[index] = slots[(head + index) % slots.count] }
            slots = grown
            head = 0
        }
        slots[(head + count) % slots.count] = element
        count += 1
    }

    /// The element `index` places after the first.
    func peek(_ index: Int) -> Element { slots[(head + index) % slots.count]! }

    mutating func removeFirst() -> Element {
        let element = slots[head]!
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return element
    }
}
