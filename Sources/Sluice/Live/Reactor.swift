import CInotify
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Readiness a task can wait for on a descriptor.
struct IOEvents: OptionSet, Sendable, Hashable {
    /// The event bits: 1 for `read`, 2 for `write`.
    let rawValue: UInt32
    /// The events whose bits are set in `rawValue`.
    init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Data (or a connection, or end of file, or an error) can be read without blocking.
    static let read = IOEvents(rawValue: 1)
    /// Data can be written without blocking.
    static let write = IOEvents(rawValue: 2)
}

/// How one `Reactor.wait` ended.
enum WaitOutcome: Equatable {
    /// The descriptor became ready for some of the events asked for (errors and hang-ups count as ready).
    case ready(IOEvents)
    /// The deadline passed first.
    case timedOut
    /// The waiting task was cancelled or the shutdown token was triggered.
    case interrupted
}

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`), the clock every deadline in `Live` and `Transport` uses.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// The one place live code waits for the operating system. A single background thread blocks in `epoll_wait`
/// and resumes the tasks whose descriptors became ready or whose deadlines passed, so no task ever blocks a
/// thread of Swift's cooperative pool, and an idle process sleeps in the kernel (no polling loop).
///
/// Every wait is one-shot: the descriptor is registered with `EPOLLONESHOT` for the duration of one `wait` and
/// removed when it ends, so one descriptor has at most one waiter at a time (two tasks that must wait on the
/// same socket, one reading and one writing, use a `dup` of it each). A wait ends early, with `.interrupted`,
/// when its task is cancelled or its `ShutdownToken` is triggered.
///
/// The reactor is created on first use and lives for the rest of the process, holding two descriptors (the
/// epoll instance and an eventfd that wakes its thread when a nearer deadline arrives). When it cannot have them
/// or its thread (the process is out of descriptors or threads), it still works, by polling: each wait checks
/// its descriptor, deadline, task and tokens every `pollingStep`.
final class Reactor: @unchecked Sendable {
    static let shared = Reactor(polling: false)

    /// How often a reactor without epoll checks its waits.
    static let pollingStep: UInt64 = 10_000_000

    private struct Waiter {
        var continuation: CheckedContinuation<WaitOutcome, Never>
        var fd: Int32?
        var deadline: UInt64
    }

    private struct State {
        var nextID: UInt64 = 1
        /// Waits that have started (`wait` was entered) and not yet returned.
        var pending = Set<UInt64>()
        /// Waits interrupted before their continuation was registered.
        var interruptedEarly = Set<UInt64>()
        var waiters = [UInt64: Waiter]()
        /// The deadline the thread is sleeping until, so a nearer one can wake it.
        var sleepingUntil = UInt64.max
    }

    private let epoll: Int32
    private let wakeFD: Int32
    /// False when the epoll instance, the eventfd or the thread could not be had: waits then poll. Set only
    /// while the reactor is made.
    private(set) var usesEpoll = false
    private let state = Mutex(State())

    /// A reactor with its epoll thread, or, with `polling` or when that cannot be had, one that polls.
    init(polling: Bool) {
        var epoll: Int32 = -1, wakeFD: Int32 = -1
        if !polling {
            epoll = CInotify_epoll_create()
            wakeFD = CInotify_eventfd()
        }
        guard epoll >= 0, wakeFD >= 0, CInotify_epoll_watch(epoll, wakeFD, 0) == 0 else {
            if epoll >= 0 { Glibc.close(epoll) }
            if wakeFD >= 0 { Glibc.close(wakeFD) }
            (self.epoll, self.wakeFD) = (-1, -1)
            return
        }
        (self.epoll, self.wakeFD) = (epoll, wakeFD)
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { argument in
            let reactor = Unmanaged<Reactor>.fromOpaque(argument!).takeRetainedValue()
            reactor.loop()
            return nil
        }, box.toOpaque())
        if created == 0 {
            pthread_detach(handle)
            usesEpoll = true
        } else {
            box.release()
            Glibc.close(epoll)
            Glibc.close(wakeFD)
        }
    }

    /// Suspends until `fd` is ready for `events`, `deadline` (monotonic nanoseconds) passes, the calling task is
    /// cancelled, or `token` is triggered. With `fd` nil it is an interruptible sleep until `deadline`. A
    /// descriptor epoll cannot watch (a regular file) counts as ready at once.
    func wait(fd: Int32?, for events: IOEvents = .read, deadline: UInt64? = nil,
              token: ShutdownToken? = nil) async -> WaitOutcome {
        await wait(fd: fd, for: events, deadline: deadline, tokens: token.map { [$0] } ?? [])
    }

    /// `wait` interrupted by any of several tokens.
    func wait(fd: Int32?, for events: IOEvents = .read, deadline: UInt64? = nil,
              tokens: [ShutdownToken]) async -> WaitOutcome {
        guard usesEpoll else { return await pollingWait(fd: fd, for: events, deadline: deadline, tokens: tokens) }
        let id = state.withLock { state -> UInt64 in
            let id = state.nextID
            state.nextID += 1
            state.pending.insert(id)
            return id
        }
        defer { state.withLock { _ = $0.pending.remove(id); _ = $0.interruptedEarly.remove(id) } }
        var registrations = [(ShutdownToken, Int)]()
        defer { for (token, registration) in registrations { token.removeHandler(registration) } }
        for token in tokens {
            guard let registration = token.onTrigger({ [self] in interrupt(id) }) else { return .interrupted }
            registrations.append((token, registration))
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<WaitOutcome, Never>) in
                let due = deadline ?? UInt64.max
                let (immediate, wake) = state.withLock { state -> (WaitOutcome?, Bool) in
                    if state.interruptedEarly.remove(id) != nil { return (.interrupted, false) }
                    if let fd, CInotify_epoll_arm(epoll, fd, events.contains(.read) ? 1 : 0,
                                                  events.contains(.write) ? 1 : 0, id) != 0 {
                        return (.ready(events), false)
                    }
                    if due <= monotonicNanoseconds() {
                        if let fd { _ = CInotify_epoll_remove(epoll, fd) }
                        return (.timedOut, false)
                    }
                    state.waiters[id] = Waiter(continuation: continuation, fd: fd, deadline: due)
                    let wake = due < state.sleepingUntil
                    if wake { state.sleepingUntil = due }
                    return (nil, wake)
                }
                if let immediate { continuation.resume(returning: immediate) }
                if wake { poke() }
            }
        } onCancel: {
            interrupt(id)
        }
    }

    /// `wait` without epoll: checks the task, the tokens, the descriptor (`poll` with no timeout) and the deadline
    /// every `pollingStep`.
    private func pollingWait(fd: Int32?, for events: IOEvents, deadline: UInt64?,
                             tokens: [ShutdownToken]) async -> WaitOutcome {
        while true {
            if Task.isCancelled || tokens.contains(where: \.isTriggered) { return .interrupted }
            if let fd {
                let asked = (events.contains(.read) ? Int16(POLLIN) : 0) | (events.contains(.write) ? Int16(POLLOUT) : 0)
                var request = pollfd(fd: fd, events: asked, revents: 0)
                if poll(&request, 1, 0) > 0 {
                    let trouble = request.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
                    var fired: IOEvents = []
                    if events.contains(.read) && (request.revents & Int16(POLLIN) != 0 || trouble) { fired.insert(.read) }
                    if events.contains(.write) && (request.revents & Int16(POLLOUT) != 0 || trouble) { fired.insert(.write) }
                    return .ready(fired)
                }
            }
            let now = monotonicNanoseconds()
            if let deadline, deadline <= now { return .timedOut }
            let step = Swift.min(Reactor.pollingStep, (deadline ?? UInt64.max) - now)
            try? await Task.sleep(nanoseconds: step)
        }
    }

    /// Sleeps until `deadline` unless the task is cancelled or `token` triggered first; true when it slept fully.
    func sleep(until deadline: UInt64, token: ShutdownToken? = nil) async -> Bool {
        await wait(fd: nil, deadline: deadline, token: token) == .timedOut
    }

    /// Ends wait `id` with `.interrupted`, now if it is registered or as soon as it registers.
    private func interrupt(_ id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<WaitOutcome, Never>? in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                if state.pending.contains(id) { state.interruptedEarly.insert(id) }
                return nil
            }
            if let fd = waiter.fd { _ = CInotify_epoll_remove(epoll, fd) }
            return waiter.continuation
        }
        continuation?.resume(returning: .interrupted)
    }

    private func poke() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func loop() {
        let capacity = 64
        let events = UnsafeMutablePointer<CInotify_ready>.allocate(capacity: capacity)
        var ready = [(CheckedContinuation<WaitOutcome, Never>, WaitOutcome)]()
        while true {
            let timeout: Int32 = state.withLock { state in
                let nearest = state.waiters.values.lazy.map(\.deadline).min() ?? UInt64.max
                state.sleepingUntil = nearest
                if nearest == UInt64.max { return -1 }
                let now = monotonicNanoseconds()
                if nearest <= now { return 0 }
                return Int32(clamping: (nearest - now + 999_999) / 1_000_000)
            }
            let count = CInotify_epoll_wait(epoll, events, Int32(capacity), timeout)
            if count < 0 && errno != EINTR { continue }
            let now = monotonicNanoseconds()
            state.withLock { state in
                for index in 0..<max(0, Int(count)) {
                    let event = events[index]
                    let id = event.token
                    if id == 0 {
                        var drained: UInt64 = 0
                        _ = Glibc.read(wakeFD, &drained, 8)
                        continue
                    }
                    guard let waiter = state.waiters.removeValue(forKey: id) else { continue }
                    if let fd = waiter.fd { _ = CInotify_epoll_remove(epoll, fd) }
                    var fired: IOEvents = []
                    if event.readable != 0 { fired.insert(.read) }
                    if event.writable != 0 { fired.insert(.write) }
                    ready.append((waiter.continuation, .ready(fired)))
                }
                for (id, waiter) in state.waiters where waiter.deadline <= now {
                    state.waiters.removeValue(forKey: id)
                    if let fd = waiter.fd { _ = CInotify_epoll_remove(epoll, fd) }
                    ready.append((waiter.continuation, .timedOut))
                }
            }
            for (continuation, outcome) in ready { continuation.resume(returning: outcome) }
            ready.removeAll(keepingCapacity: true)
        }
    }
}
