import Synchronization
import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// The queue, multiplex, broadcast and storelast building blocks: ordering, explicit ends, backpressure, the
/// slow-consumer policies and cancellation.
final class LiveCombinatorTests: XCTestCase {
    /// A source of `count` numbers, optionally pausing between them, that records whether it was cancelled.
    struct Numbers: AsyncSequence, Sendable {
        let range: Range<Int>
        var pause: UInt64 = 0
        var failAt: Int?
        let cancelled = Counter()

        struct Boom: Error, Equatable {}

        struct AsyncIterator: AsyncIteratorProtocol {
            let source: Numbers
            var next: Int
            mutating func next() async throws -> Int? {
                if Task.isCancelled { source.cancelled.value.add(1, ordering: .relaxed); return nil }
                guard next < source.range.upperBound else { return nil }
                if source.pause > 0 {
                    do { try await Task.sleep(nanoseconds: source.pause) } catch {
                        source.cancelled.value.add(1, ordering: .relaxed)
                        return nil
                    }
                }
                if next == source.failAt { throw Boom() }
                defer { next += 1 }
                return next
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self, next: range.lowerBound) }
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    func testQueueDeliversInOrderThenEndsExplicitly() async throws {
        let queue = AsyncQueue<Int>(capacity: 4)
        let producer = Task {
            for value in 0..<100 { try await queue.send(value) }
            queue.finish()
        }
        var received = [Int]()
        for try await value in queue { received.append(value) }
        XCTAssertEqual(received, Array(0..<100))
        try await producer.value
        let afterEnd = try await queue.next()
        XCTAssertNil(afterEnd)
        do {
            try await queue.send(1)
            XCTFail("send after finish must fail")
        } catch is CancellationError {}
    }

    func testQueueFinishWithErrorDeliversBufferedElementsFirst() async throws {
        struct Broken: Error {}
        let queue = AsyncQueue<Int>(capacity: 8)
        try await queue.send(1)
        try await queue.send(2)
        queue.finish(throwing: Broken())
        var received = [Int]()
        do {
            for try await value in queue { received.append(value) }
            XCTFail("the error must be thrown")
        } catch is Broken {}
        XCTAssertEqual(received, [1, 2])
        let after = try await queue.next()
        XCTAssertNil(after)
    }

    func testQueueBackpressureSuspendsTheSender() async throws {
        let queue = AsyncQueue<Int>(capacity: 2)
        let sent = Atomic<Int>(0)
        let producer = Task {
            for value in 0..<10 {
                try await queue.send(value)
                sent.add(1, ordering: .relaxed)
            }
            queue.finish()
        }
        try await Task.sleep(nanoseconds: 50_000_000)
        XCTAssertEqual(sent.load(ordering: .relaxed), 2, "only the buffer's worth may be sent ahead")
        let first = try await queue.next()
        XCTAssertEqual(first, 0)
        let advanced = await LiveFixture.eventually(timeout: 2) { sent.load(ordering: .relaxed) == 3 }
        XCTAssertTrue(advanced)
        var rest = [Int]()
        for try await value in queue { rest.append(value) }
        XCTAssertEqual(rest, Array(1..<10))
        try await producer.value
    }

    func testQueueCloseFailsWaitingSenders() async throws {
        let queue = AsyncQueue<Int>(capacity: 1)
        try await queue.send(0)
        let blocked = Task { try await queue.send(1) }
        try await Task.sleep(nanoseconds: 20_000_000)
        queue.close()
        do {
            try await blocked.value
            XCTFail("a sender waiting on a closed queue must fail")
        } catch is CancellationError {}
        let next = try await queue.next()
        XCTAssertNil(next)
    }

    func testQueueNextReturnsNilWhenTheConsumerIsCancelled() async throws {
        let queue = AsyncQueue<Int>(capacity: 1)
        let consumer = Task { try await queue.next() }
        try await Task.sleep(nanoseconds: 20_000_000)
        consumer.cancel()
        let value = try await consumer.value
        XCTAssertNil(value)
        try await queue.send(7)
        let kept = try await queue.next()
        XCTAssertEqual(kept, 7, "cancelling one consumer leaves the queue open")
        // A cancelled consumer takes nothing that is buffered (its loop went on draining the queue).
        try await queue.send(8)
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await queue.next()
        }
        let none = try await cancelled.value
        XCTAssertNil(none)
        let left = try await queue.next()
        XCTAssertEqual(left, 8)
    }

    func testMultiplexMergesAndKeepsEachSourcesOrder() async throws {
        let sources = [Numbers(range: 0..<50, pause: 1_000_000), Numbers(range: 100..<130),
                       Numbers(range: 200..<240, pause: 500_000)]
        var merged = [Int]()
        for try await value in Multiplexed(sources, bufferSize: 4) { merged.append(value) }
        XCTAssertEqual(merged.count, 120)
        XCTAssertEqual(merged.filter { $0 < 100 }, Array(0..<50))
        XCTAssertEqual(merged.filter { $0 >= 100 && $0 < 200 }, Array(100..<130))
        XCTAssertEqual(merged.filter { $0 >= 200 }, Array(200..<240))
        let mixed = multiplex(Numbers(range: 0..<3), AsyncQueueSource(values: [10, 11]))
        var both = [Int]()
        for try await value in mixed { both.append(value) }
        XCTAssertEqual(both.sorted(), [0, 1, 2, 10, 11])
    }

    func testMultiplexThrowsAfterBufferedElementsAndCancelsTheOtherSources() async throws {
        let endless = Numbers(range: 0..<1_000_000, pause: 1_000_000)
        let failing = Numbers(range: 0..<10, failAt: 5)
        var received = [Int]()
        do {
            for try await value in Multiplexed([endless, failing], bufferSize: 2) { received.append(value) }
            XCTFail("the source's error must be thrown")
        } catch is Numbers.Boom {}
        let cancelled = await LiveFixture.eventually(timeout: 2) { endless.cancelled.value.load(ordering: .relaxed) > 0 }
        XCTAssertTrue(cancelled, "the endless source must see cancellation")
        XCTAssertLessThan(received.count, 1000)
    }

    func testCancellingAMultiplexedFollowReleasesEverything() async throws {
        let folder = Fixture.directory()
        for name in ["a", "b"] { LiveFixture.append("", to: "\(folder)/\(name)") }
        await LiveFixture.warmUp()
        let before = LiveFixture.openDescriptorCount()
        let merged = multiplex(Follow([folder + "/a"]), Follow([folder + "/b"]))
        let lines = Collector(merged.makeAsyncIterator())
        try await Task.sleep(nanoseconds: 100_000_000)
        LiveFixture.append("from a\n", to: folder + "/a")
        LiveFixture.append("from b\n", to: folder + "/b")
        let both = await lines.wait(for: 2)
        XCTAssertTrue(both)
        XCTAssertEqual(Set(lines.values.map(\.text)), ["from a", "from b"])
        await lines.stop()
        let released = await LiveFixture.eventually(timeout: 2) { LiveFixture.openDescriptorCount() == before }
        XCTAssertTrue(released)
    }

    func testBroadcastWithASlowConsumerBlocksTheProducerByDefault() async throws {
        let hub = Broadcast(Numbers(range: 0..<40))
        let fast = hub.subscribe(bufferSize: 4)
        let slow = hub.subscribe(bufferSize: 4)
        let started = monotonicNanoseconds()
        let running = Task { try await hub.run() }
        let fastTask = Task { var seen = [Int](); for try await value in fast { seen.append(value) }; return seen }
        let slowTask = Task {
            var seen = [Int]()
            for try await value in slow {
                seen.append(value)
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            return seen
        }
        let delivered = try await running.value
        let elapsed = monotonicNanoseconds() - started
        let fastSeen = try await fastTask.value, slowSeen = try await slowTask.value
        XCTAssertEqual(delivered, 40)
        XCTAssertEqual(fastSeen, Array(0..<40))
        XCTAssertEqual(slowSeen, Array(0..<40), "backpressure loses nothing")
        XCTAssertGreaterThan(elapsed, 30 * 5_000_000, "the producer waited for the slow consumer")
        XCTAssertEqual(slow.droppedCount, 0)
    }

    func testBroadcastDropOldestKeepsTheOthersFastAndCountsLosses() async throws {
        let hub = Broadcast(Numbers(range: 0..<200, pause: 200_000))
        let fast = hub.subscribe(bufferSize: 256)
        let lossy = hub.subscribe(bufferSize: 4, whenFull: .dropOldest)
        let running = Task { try await hub.run() }
        let lossyTask = Task {
            var seen = [Int]()
            for try await value in lossy {
                seen.append(value)
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            return seen
        }
        _ = try await running.value
        var fastSeen = [Int]()
        for try await value in fast { fastSeen.append(value) }
        let lossySeen = try await lossyTask.value
        XCTAssertEqual(fastSeen, Array(0..<200))
        XCTAssertGreaterThan(lossy.droppedCount, 0)
        XCTAssertEqual(lossySeen.count + lossy.droppedCount, 200, "every element is either delivered or counted")
        XCTAssertEqual(lossySeen, lossySeen.sorted(), "what is kept stays in order")
        XCTAssertEqual(lossySeen.last, 199, "the newest elements are kept")
    }

    func testBroadcastForgetsACancelledConsumer() async throws {
        let hub = Broadcast(Numbers(range: 0..<100))
        let kept = hub.subscribe(bufferSize: 2)
        let quitter = hub.subscribe(bufferSize: 2)
        let running = Task { try await hub.run() }
        let quitterTask = Task { var count = 0; for try await _ in quitter { count += 1 }; return count }
        quitterTask.cancel()
        var seen = [Int]()
        for try await value in kept { seen.append(value) }
        _ = try await running.value
        XCTAssertEqual(seen, Array(0..<100))
        XCTAssertEqual(hub.subscriberCount, 1)
    }

    func testStoreLastRemembersTheLastElement() async throws {
        let box = LastValue<Int>()
        XCTAssertNil(box.value)
        var count = 0
        for try await value in Numbers(range: 0..<10).storingLast(in: box) {
            count += 1
            XCTAssertEqual(box.value, value)
        }
        XCTAssertEqual(count, 10)
        XCTAssertEqual(box.value, 9)
    }

    /// A reactor that could not have its epoll descriptors (a process out of descriptors trapped on a
    /// precondition) waits by polling, with the same outcomes: deadline, readiness, token and cancellation.
    func testAReactorWithoutEpollStillWaits() async throws {
        let reactor = Reactor(polling: true)
        XCTAssertFalse(reactor.usesEpoll)
        XCTAssertTrue(Reactor.shared.usesEpoll)
        let start = monotonicNanoseconds()
        let slept = await reactor.sleep(until: start + 30_000_000)
        XCTAssertTrue(slept)
        XCTAssertGreaterThanOrEqual(monotonicNanoseconds() - start, 30_000_000)
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]); close(ends[1]) }
        let outcome = await reactor.wait(fd: ends[0], deadline: monotonicNanoseconds() + 20_000_000)
        XCTAssertEqual(outcome, .timedOut)
        XCTAssertEqual(write(ends[1], "x", 1), 1)
        let ready = await reactor.wait(fd: ends[0], deadline: monotonicNanoseconds() + 5_000_000_000)
        XCTAssertEqual(ready, .ready(.read))
        let token = ShutdownToken()
        Task { try await Task.sleep(nanoseconds: 20_000_000); token.trigger() }
        let stopped = await reactor.wait(fd: nil, deadline: nil, token: token)
        XCTAssertEqual(stopped, .interrupted)
        let waiter = Task { await reactor.wait(fd: nil, deadline: nil, tokens: []) }
        try await Task.sleep(nanoseconds: 20_000_000)
        waiter.cancel()
        let cancelled = await waiter.value
        XCTAssertEqual(cancelled, .interrupted)
    }
}

/// A second sequence type, to merge sources of different types.
struct AsyncQueueSource: AsyncSequence, Sendable {
    let values: [Int]
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<Int>
        mutating func next() async -> Int? { rest.popFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: values[...]) }
}
