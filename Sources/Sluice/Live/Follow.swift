#if canImport(Glibc)
import Glibc
#endif

/// How a `Follow` watches and reads its files. Times are in nanoseconds.
public struct FollowOptions: Sendable {
    /// Read each file from its first byte instead of its current end.
    public var fromStart = false
    /// Use inotify to learn about changes at once; when false, or when inotify is unavailable, every path is
    /// polled every `pollInterval` instead.
    public var useInotify = true
    /// How often paths without change notification are checked (default 100 ms).
    public var pollInterval: UInt64 = 100_000_000
    /// How often every path is checked even without notification, as a safety net (default 1 s).
    public var rescanInterval: UInt64 = 1_000_000_000
    /// How long a rotated file stays open after its last read, in case its writer still adds to it (default 1 s).
    public var rotateWait: UInt64 = 1_000_000_000
    /// Lines longer than this are skipped and reported with `.overlongLine` (default 1 MiB).
    public var maxLineLength = 1 << 20
    /// Bytes read from each file in one check before the lines are handed over (default 1 MiB).
    public var readLimit = 1 << 20
    /// Ends the sequence when triggered.
    public var shutdown: ShutdownToken?
    /// Called, on the iterating task, for each notice (rotation, truncation, missing files...).
    public var onNotice: (@Sendable (FollowNotice) -> Void)?

    /// Options with the given `fromStart` and `shutdown`, and every other setting at its default.
    public init(fromStart: Bool = false, shutdown: ShutdownToken? = nil) {
        self.fromStart = fromStart
        self.shutdown = shutdown
    }

    /// The shortest `pollInterval` and `rescanInterval` a follower uses (1 ms), so that it never spins.
    public static let shortestInterval: UInt64 = 1_000_000

    /// These options with `pollInterval` and `rescanInterval` at least `shortestInterval`, `readLimit` at least
    /// 1 and `maxLineLength` at least 0; `Follow` uses them so.
    public func withinLimits() -> FollowOptions {
        var options = self
        options.pollInterval = max(pollInterval, FollowOptions.shortestInterval)
        options.rescanInterval = max(rescanInterval, FollowOptions.shortestInterval)
        options.readLimit = max(readLimit, 1)
        options.maxLineLength = max(maxLineLength, 0)
        return options
    }
}

/// One line read from a followed file.
public struct FollowedLine: Sendable, Equatable {
    /// The path as given to `Follow`.
    public let path: String
    /// The line without its `\n`.
    public let bytes: [UInt8]
    /// The line's 1-based number in its input, when the source knows it: `StoredLines` numbers every line,
    /// `Follow` (which may start anywhere in a file) none.
    public let line: Int?
    /// The byte offset of the line's first byte in the file that held it when it was read, when the source
    /// knows it: `Follow` gives it for every line (after a rotation or truncation it is an offset in the new
    /// file or contents), `StoredLines` numbers lines instead.
    public let offset: Int?

    /// A line of `path` with `bytes` (without the `\n`), its 1-based number and its byte offset, when known.
    public init(path: String, bytes: [UInt8], line: Int? = nil, offset: Int? = nil) {
        self.path = path
        self.bytes = bytes
        self.line = line
        self.offset = offset
    }

    /// The line decoded as UTF-8 (invalid bytes become U+FFFD).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Lines appended to files, as they are written (the tutorial's `follow`, with `tail -F` semantics):
///
/// - Each path is read from its current end (or its start with `fromStart`); a line already in progress at the
///   end is skipped. A path that does not exist yet is read from its first byte once it appears.
/// - Every line appended afterwards is delivered exactly once, and only once its `\n` has been written.
/// - Rotation by rename and delete-and-recreate (another file at the path) and truncation in place
///   (`copytruncate`) are followed as `FileTail` describes; a path may disappear for any time.
/// - Several paths are multiplexed into one sequence: lines of one file keep their order; files are read in the
///   order given whenever several have news at once.
///
/// Changes are learned from inotify (through a watch on each path's directory and on each open file) within
/// milliseconds; paths that cannot be watched are polled every `pollInterval`, and all are rechecked every
/// `rescanInterval`. While nothing changes the iterating task is suspended in the reactor: no thread spins.
///
/// Files are opened when the iterator is made (so lines written after `makeAsyncIterator()` are seen). The
/// sequence ends — returning nil and closing every descriptor and watch — when the iterating task is cancelled
/// or `options.shutdown` is triggered; dropping the iterator closes them as well.
public struct Follow: AsyncSequence, Sendable {
    /// The followed paths, in the order files with news at once are read.
    public let paths: [String]
    /// How the paths are watched and read, and the token that ends the sequence: the options as given, brought
    /// within their limits (see `FollowOptions.withinLimits()`).
    public let options: FollowOptions

    /// Follows `paths`; nothing is opened until an iterator is made.
    public init(_ paths: [String], options: FollowOptions = FollowOptions()) {
        self.paths = paths
        self.options = options.withinLimits()
    }

    /// The same lines, handed over in the groups read together (one group per check): handy to write a group
    /// and flush once.
    public var batches: Batches { Batches(follow: self) }

    /// The lines of a `Follow` in the groups read by one check; see `batches`.
    public struct Batches: AsyncSequence, Sendable {
        let follow: Follow
        /// Reads the paths through its own `Follower`, closed when the sequence ends or the iterator goes away.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let follower: Follower
            /// The lines of the next check that finds any (never empty); nil once the task is cancelled or
            /// `options.shutdown` is triggered.
            public mutating func next() async -> [FollowedLine]? { await follower.nextBatch() }
        }
        /// Opens every path and starts watching it now, so lines written after this call are seen.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(follower: Follower(follow.paths, follow.options)) }
    }

    /// Reads the paths through its own `Follower` and hands over each group's lines one at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let follower: Follower
        var batch = [FollowedLine]()
        var index = 0

        /// The next appended line; nil once the task is cancelled or `options.shutdown` is triggered and the
        /// lines already read have been returned.
        public mutating func next() async -> FollowedLine? {
            if index == batch.count {
                guard let next = await follower.nextBatch() else { return nil }
                batch = next
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    /// Opens every path and starts watching it now, so lines written after this call are seen.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(follower: Follower(paths, options)) }
}

/// The engine behind `Follow`: the tails, the inotify watcher and the waiting. Used by one task at a time.
final class Follower: @unchecked Sendable {
    private let options: FollowOptions
    private var tails: [FileTail]
    private var watcher: Watcher?
    /// The file watch of each tail's open and retired files, by inode.
    private var fileWatches: [[UInt64: Int32]]
    private var dirty = Set<Int>()
    /// Tails whose open file could not be watched (watch limit reached): polled like unwatched directories.
    private var unwatchedFiles = Set<Int>()
    private var lastRescan: UInt64
    private var closed = false
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    init(_ paths: [String], _ options: FollowOptions) {
        self.options = options
        tails = paths.map { FileTail(path: $0, options: options) }
        fileWatches = Array(repeating: [:], count: paths.count)
        let now = monotonicNanoseconds()
        lastRescan = now
        if options.useInotify {
            switch Watcher.make() {
            case .success(let made): watcher = made
            case .failure(let error):
                for tail in tails {
                    tail.polled = true
                    notice(.polling(tail.path, reason: error.description))
                }
            }
        } else {
            for tail in tails { tail.polled = true }
        }
        dirty = Set(tails.indices)
        for index in tails.indices {
            watchDirectory(index)
            tails[index].start(fromStart: options.fromStart, now: now, notice: notice)
            syncFileWatches(index)
        }
    }

    deinit {
        shutdown()
        scratch.deallocate()
    }

    private func notice(_ notice: FollowNotice) { options.onNotice?(notice) }

    /// The lines of the next check that finds any; nil once shut down.
    func nextBatch() async -> [FollowedLine]? {
        var batch = [FollowedLine]()
        while !closed {
            if Task.isCancelled || options.shutdown?.isTriggered == true { break }
            let now = monotonicNanoseconds()
            if now &- lastRescan >= options.rescanInterval {
                lastRescan = now
                dirty.formUnion(tails.indices)
            }
            for index in tails.indices where tails[index].polled || tails[index].hasRetired { dirty.insert(index) }
            dirty.formUnion(unwatchedFiles)
            var more = Set<Int>()
            for index in dirty.sorted() {
                let tail = tails[index]
                let path = tail.path
                if tail.check(now: now, scratch: scratch, emit: { batch.append(FollowedLine(path: path, bytes: Array($0), offset: $1)) },
                              notice: notice) {
                    more.insert(index)
                }
                syncFileWatches(index)
            }
            dirty = more
            if !batch.isEmpty { return batch }
            if !more.isEmpty { continue }
            if !(await waitForChanges()) { break }
        }
        shutdown()
        return nil
    }

    /// Suspends until something may have changed; false when interrupted (cancellation or shutdown).
    private func waitForChanges() async -> Bool {
        let now = monotonicNanoseconds()
        let polling = !unwatchedFiles.isEmpty || tails.contains { $0.polled || $0.hasRetired }
        let deadline = now &+ (polling ? options.pollInterval : options.rescanInterval)
        switch await Reactor.shared.wait(fd: watcher?.fd, deadline: deadline, token: options.shutdown) {
        case .interrupted:
            return false
        case .timedOut:
            return true
        case .ready:
            guard let watcher else { return true }
            let (changedTails, directories, overflowed) = watcher.changes()
            if overflowed {
                dirty.formUnion(tails.indices)
                for index in tails.indices { watchDirectory(index) }
            }
            dirty.formUnion(changedTails)
            for (index, tail) in tails.enumerated() {
                guard let names = directories[tail.directory] else { continue }
                if names.contains("") || names.contains(tail.name) || tail.hasRetired { dirty.insert(index) }
            }
            return true
        }
    }

    /// Watches tail `index`'s directory; the tail is polled while that is impossible.
    private func watchDirectory(_ index: Int) {
        guard let watcher else { return }
        let tail = tails[index]
        if let reason = watcher.watch(directory: tail.directory) {
            if !tail.polled { notice(.polling(tail.path, reason: "\(tail.directory): \(reason)")) }
            tail.polled = true
        } else {
            tail.polled = false
        }
    }

    /// Makes the file watches of tail `index` match its open and retired files.
    private func syncFileWatches(_ index: Int) {
        guard let watcher else { return }
        let tail = tails[index]
        if tail.polled { watchDirectory(index) }
        var open = Set<UInt64>()
        if let current = tail.current { open.insert(current.inode) }
        for file in tail.retired { open.insert(file.inode) }
        for (inode, wd) in fileWatches[index] where !open.contains(inode) {
            watcher.unwatch(file: wd, tail: index)
            fileWatches[index][inode] = nil
        }
        if let current = tail.current, fileWatches[index][current.inode] == nil {
            // Watch the open descriptor itself through /proc, so the watch is on this inode even if the path
            // has already been replaced again.
            if let wd = watcher.watch(file: "/proc/self/fd/\(current.fd)", tail: index) {
                fileWatches[index][current.inode] = wd
                unwatchedFiles.remove(index)
            } else if unwatchedFiles.insert(index).inserted {
                notice(.polling(tail.path, reason: "cannot watch the open file: \(String(cString: strerror(errno)))"))
            }
        }
    }

    /// Closes every file, watch and the inotify descriptor. Later batches are nil.
    func shutdown() {
        guard !closed else { return }
        closed = true
        for tail in tails { tail.close() }
        watcher?.close()
        watcher = nil
    }
}
