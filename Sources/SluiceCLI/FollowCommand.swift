import ArgumentParser
import Dispatch
import Sluice
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `sluice follow FILE...`: prints lines as they are appended, with `tail -F` semantics, optionally filtered by
/// `--grep` and `--where` exactly as the query commands filter (the tutorial's `follow` and `realtime404`).
struct FollowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print lines appended to files as they are written (tail -F), optionally filtered.",
        discussion: """
            Starts at the current end of each file (--from-start: at its start) and prints every line appended \
            afterwards exactly once, as soon as its newline is written. Follows rotation by rename, \
            delete-and-recreate and truncation in place (copytruncate); files that do not exist yet are waited \
            for. Several files are merged into one stream; --label prefixes each line with its path. Changes are \
            learned through inotify (polling every 100 ms where that is unavailable). SIGINT or SIGTERM stops it \
            with everything printed so far flushed, exit status 0 (2 if a pattern gave up on a line). Notices (rotation, truncation, missing files) \
            go to standard error unless --quiet.

              sluice follow run/foo/access-log --where status=404
            """)

    @Argument(help: "Files to follow.")
    var paths: [String]

    @Option(parsing: .unconditional, help: "Record format for --where: common, combined, auto, fields or regex:PCRE.")
    var format: String = "auto"

    @Option(name: .customLong("where"), parsing: .unconditionalSingleValue, help: "A condition FIELD OP VALUE (OP: = != < <= > >= ~ !~); repeatable, ANDed.")
    var conditions: [String] = []

    @Option(parsing: .unconditional, help: "Only lines matching this PCRE2 pattern.")
    var grep: String?

    @Flag(help: "Start at the beginning of each file instead of its end.")
    var fromStart = false

    @Flag(help: "Prefix each line with its path (`path: line`).")
    var label = false

    @Flag(help: "Do not print notices about rotation, truncation and missing files (skipped lines and unreadable files are still told).")
    var quiet = false

    @Flag(help: ArgumentHelp("Poll every 100 ms instead of using inotify.", visibility: .hidden))
    var poll = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("follow needs at least one file") }
    }

    func run() throws {
        let filter: LineFilter
        do {
            filter = try LineFilter(format: try RecordFormat(parsing: format), grep: grep, conditions: conditions)
            try FollowCommand.reserveDescriptors(for: paths.count)
        } catch let error as SluiceError {
            QueryRunner.fatal(error)
        }
        let token = ShutdownToken()
        SignalTrap.install(token)
        ReaderWatch.start { token.trigger() }
        var options = FollowOptions(fromStart: fromStart, shutdown: token)
        options.useInotify = !poll
        let quiet = self.quiet
        options.onNotice = { notice in
            switch notice {
            case .unreadable:
                FollowCommand.unreadableSeen.store(true, ordering: .relaxed)
                LiveMessages.print(notice)
            case .overlongLine, .unfinishedLine: LiveMessages.print(notice)  // lines not printed
            default: if !quiet { LiveMessages.print(notice) }
            }
        }
        let follow = Follow(paths, options: options)
        let label = self.label
        let tally = RejectTally()
        let status = LiveRuntime.block {
            let evaluator = filter.makeEvaluator()
            let everything = filter.passesEverything
            for await batch in follow.batches {
                for line in batch {
                    guard everything || evaluator.accepts(line.bytes) else {
                        if let rejection = evaluator.lastRejection, tally.note(rejection, line) {
                            // The first of its kind is told at once: a follow may run for days before the total.
                            LiveMessages.firstRejection(rejection, line)
                        }
                        continue
                    }
                    if label { Output.standard.write(line.path + ": ") }
                    Output.standard.write(line.bytes)
                    Output.standard.write("\n")
                }
                Output.standard.flush()
            }
            Output.standard.flush()
            return 0
        }
        let reported = LiveMessages.report(tally.counts, firstToldAlready: true)
        if status != 0 || reported != 0 { throw ExitCode(status != 0 ? status : reported) }
        // A file that could not be read (a directory, a FIFO, no permission) makes the status 2, as in the query commands.
        if FollowCommand.unreadableSeen.load(ordering: .relaxed) { throw ExitCode(2) }
    }

    /// Set once a followed path could not be read.
    static let unreadableSeen = Atomic<Bool>(false)
}

extension FollowCommand {
    /// Descriptors kept for everything but the followed files (inotify, epoll, the runtime's own, a rotated file
    /// still being read): out of descriptors, libdispatch traps rather than failing a call.
    static let reservedDescriptors = 16

    /// Raises the soft limit on open files, up to the hard one, to room for every file and a rotated predecessor
    /// of each still being read (a logrotate run rotates them all at once), and throws `.invalidArgument` when
    /// even the files alone do not fit, rather than following some and crashing once descriptors run out.
    static func reserveDescriptors(for files: Int) throws {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let needed = rlim_t(files + reservedDescriptors)
        let wanted = rlim_t(2 * files + reservedDescriptors)
        if limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = min(wanted, limit.rlim_max)
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur < needed {
            throw SluiceError(.invalidArgument, path: "follow",
                              "following \(files) file\(files == 1 ? "" : "s") needs \(needed) open files (\(reservedDescriptors) for "
                                + "sluice itself), more than the \(limit.rlim_cur) this process may have (ulimit -n)")
        }
    }
}

/// Standard-error messages for live commands.
enum LiveMessages {
    static func print(_ notice: FollowNotice) {
        let text: String
        switch notice {
        case .waiting(let path): text = "\(path): does not exist yet; waiting for it"
        case .appeared(let path): text = "\(path): appeared; following from its start"
        case .rotated(let path): text = "\(path): has been replaced; following the new file"
        case .truncated(let path): text = "\(path): file truncated; reading from its start"
        case .disappeared(let path): text = "\(path): has disappeared; still reading the open file"
        case .overlongLine(let location, let limit):
            text = "\(location): skipped a line longer than the limit of \(ByteCount.describe(limit))"
        case .unfinishedLine(let path, let bytes):
            text = "\(path): the rotated file ended in an unfinished line of \(bytes) bytes; it was not printed"
        case .unreadable(let error): text = error.description
        case .polling(let path, let reason): text = "\(path): polling for changes (\(reason))"
        }
        line(text)
    }

    /// Tells the first line of a kind that live filtering rejected without the filter's verdict.
    static func firstRejection(_ rejection: LineRejection, _ line: FollowedLine) {
        let location = RejectTally.Location(line)
        switch rejection {
        case .malformed: self.line("\(location): malformed line skipped (the total is printed at exit)")
        case .patternFailed(let message): self.line("\(location): regex gave up: \(message) (the total is printed at exit)")
        }
    }

    /// Prints a `RejectTally`'s counts as the query commands report theirs: `N malformed lines skipped (first at
    /// path:line)`, and for lines a pattern gave up on, the first as `path:line: regex gave up: message` with the
    /// number of such lines; or, when `firstToldAlready` (follow tells the first of each kind as it arrives), as
    /// a total: `regex gave up on N lines (first at path, byte N: message)`. Returns 2 when a pattern gave up on
    /// any line, 0 otherwise.
    static func report(_ counts: RejectTally.Counts, firstToldAlready: Bool = false) -> Int32 {
        if let first = counts.firstMalformed {
            line("\(counts.malformed) malformed \(counts.malformed == 1 ? "line" : "lines") skipped (first at \(first))")
        }
        guard let first = counts.firstFailure, let message = counts.failureMessage else { return 0 }
        let lines = counts.failures == 1 ? "line" : "lines"
        if firstToldAlready {
            line("regex gave up on \(counts.failures) \(lines) (first at \(first): \(message))")
        } else {
            line("\(first): regex gave up: \(message)\(counts.failures == 1 ? "" : " (\(counts.failures) lines)")")
        }
        return 2
    }

    /// Writes `text` and a newline to standard error at once (unbuffered, so notices from several tasks do not
    /// mix), a path's bytes that are not UTF-8 as they are (`PathBytes`).
    static func line(_ text: String) {
        PathBytes.withBytes(text + "\n") { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

/// Runs async work from a synchronous `ParsableCommand.run()`: the main thread waits while the work runs on
/// Swift's concurrency threads.
enum LiveRuntime {
    static func block(_ body: @escaping @Sendable () async -> Int32) -> Int32 {
        let result = Mutex<Int32>(0)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let status = await body()
            result.withLock { $0 = status }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 }
    }
}

/// Watches standard output, on a thread of its own, for its reader going away (a pipe whose reader closed, a
/// terminal hung up), so that a live command waiting for input ends then, as `tail -F | head -3` does, instead of
/// at the next line it prints. A regular file or device never reports either, and then the thread just sleeps.
enum ReaderWatch {
    /// Runs `action` once standard output reports an error or a hang-up.
    static func start(_ action: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(action))
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let action = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().action
            var entry = pollfd(fd: 1, events: 0, revents: 0)
            while true {
                if poll(&entry, 1, -1) < 0 {
                    if errno == EINTR { continue }
                    return nil
                }
                if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { break }
            }
            action()
            return nil
        }, box.toOpaque())
        if created == 0 { pthread_detach(thread) } else { box.release() }
    }

    private final class Box {
        let action: @Sendable () -> Void
        init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    }
}

/// SIGINT and SIGTERM trigger a shutdown token, so live commands stop cleanly with their output flushed; another
/// signal at least `repeatGap` later exits at once (status 130). One sooner is taken for the same signal delivered
/// twice, as `timeout` does when it is itself terminated (to the child and to its process group).
enum SignalTrap {
    nonisolated(unsafe) private static var sources = [DispatchSourceSignal]()
    /// When the first signal was handled (`DispatchTime` uptime in ns), 0 before.
    private static let first = Atomic<UInt64>(0)
    static let repeatGap: UInt64 = 250_000_000

    static func install(_ token: ShutdownToken) { install { token.trigger() } }

    /// Runs `action` on the first of `signals` (on a dispatch thread); SIGPIPE is ignored from then on.
    static func install(signals: [Int32] = [SIGINT, SIGTERM], _ action: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let nanoseconds = DispatchTime.now().uptimeNanoseconds
                let (exchanged, earlier) = first.compareExchange(expected: 0, desired: nanoseconds, ordering: .relaxed)
                if !exchanged {
                    if nanoseconds &- earlier >= repeatGap { _exit(130) }
                    return
                }
                action()
            }
            source.resume()
            sources.append(source)
        }
    }
}
