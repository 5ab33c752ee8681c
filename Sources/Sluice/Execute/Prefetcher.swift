import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a decoder on its own thread, one block ahead of the workers: the decoder fills buffers from a small
/// fixed pool while the workers parse the blocks it filled before, so decoding and parsing overlap. Memory is
/// bounded by the pool: `depth` buffers of about `blockSize` bytes.
final class Prefetcher: @unchecked Sendable {
    private let stream: DecodedStream
    private let blockSize: Int
    private let ready = DispatchSemaphore(value: 0)
    private let free: DispatchSemaphore
    private let queue = Mutex<[ByteBuffer?]>([])
    private let pool = Mutex<[ByteBuffer]>([])
    private let cancelled = Atomic<Bool>(false)
    private var thread: pthread_t?
    private var inline = false
    private var ended = false

    init(_ stream: DecodedStream, blockSize: Int, depth: Int) {
        self.stream = stream
        self.blockSize = blockSize
        free = DispatchSemaphore(value: depth)
        pool.withLock { pool in
            for _ in 0..<depth { pool.append(ByteBuffer(capacity: blockSize + (1 << 16))) }
        }
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { argument in
            let prefetcher = Unmanaged<Prefetcher>.fromOpaque(argument!).takeRetainedValue()
            prefetcher.decodeLoop()
            return nil
        }, box.toOpaque())
        if created == 0 {
            thread = handle
        } else {
            box.release()
            inline = true  // no thread to be had: `next` decodes each block itself, one at a time
        }
    }

    /// The decoder's error, valid once `next` has returned nil.
    var error: SluiceError? { stream.error }

    private func decodeLoop() {
        while !cancelled.load(ordering: .acquiring) && decodeOne() {}
    }

    /// Waits for a free buffer, decodes one block into it and queues it; false once the stream has ended.
    private func decodeOne() -> Bool {
        free.wait()
        if cancelled.load(ordering: .acquiring) { return false }
        let buffer = pool.withLock { $0.removeLast() }
        buffer.removeAll()
        let more = stream.fill(buffer, limit: blockSize)
        queue.withLock { queue in
            if buffer.count > 0 { queue.append(buffer) }
            if !more { queue.append(nil) }
        }
        if buffer.count == 0 { recycle(buffer) }
        ready.signal()
        return more
    }

    /// The next decoded block, waiting for it if `wait`; nil at the end of the stream (or, without `wait`,
    /// when no block is ready yet — check `isEnded`).
    func next(wait: Bool) -> ByteBuffer? {
        guard !ended else { return nil }
        while true {
            if let item = queue.withLock({ queue -> ByteBuffer?? in queue.isEmpty ? .none : .some(queue.removeFirst()) }) {
                if item == nil { ended = true }
                return item
            }
            if !wait { return nil }
            if inline { _ = decodeOne() } else { ready.wait() }
        }
    }

    /// True once the end of the stream has been taken.
    var isEnded: Bool { ended }

    /// Returns a block to the pool once nothing refers to its bytes any more.
    func recycle(_ buffer: ByteBuffer) {
        pool.withLock { $0.append(buffer) }
        free.signal()
    }

    /// Stops the decoder and waits for its thread, then returns the blocks decoded but never taken (a run that
    /// stopped early, as `--strict` does) to the pool: libdispatch traps when a semaphore is freed below the value
    /// it was made with. Safe to call more than once.
    func finish() {
        if let handle = thread {
            cancelled.store(true, ordering: .releasing)
            free.signal()
            pthread_join(handle, nil)
            thread = nil
        }
        let untaken = queue.withLock { queue -> [ByteBuffer] in
            defer { queue.removeAll() }
            return queue.compactMap { $0 }
        }
        for buffer in untaken { recycle(buffer) }
    }

    deinit { finish() }
}
