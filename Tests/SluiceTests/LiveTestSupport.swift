import Synchronization
import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// Fixtures for the live and transport tests: the `sluice` binary built beside this test bundle, child processes
/// whose output is read as it comes, descriptor counts, and collectors for async sequences. Every wait here has
/// a timeout.
enum LiveFixture {
    /// The `sluice` executable in the same build folder as the running test bundle (so `--scratch-path` builds
    /// test their own binary), else `.build/debug/sluice`.
    static let binary: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let executable = String(cString: buffer)
            var folder = String(executable[..<(executable.lastIndex(of: "/") ?? executable.endIndex)])
            // On platforms where the tests are a bundle folder, step out of it.
            while folder.contains(".xctest") { folder = String(folder[..<(folder.lastIndex(of: "/") ?? folder.endIndex)]) }
            if access(folder + "/sluice", X_OK) == 0 { return folder + "/sluice" }
        }
        return Fixture.binary
    }()

    /// Open descriptors of this process (entries of /proc/self/fd, minus the one listing them).
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        closedir(directory)
        return count - 3  // ".", ".." and the directory's own descriptor
    }

    /// Creates the process-wide descriptors that live code and Swift's runtime make on first use (the reactor's
    /// epoll and eventfd, dispatch's timer), so a descriptor count taken afterwards sees only what a test opens.
    static func warmUp() async {
        _ = Reactor.shared
        try? await Task.sleep(nanoseconds: 1_000_000)
        _ = await Reactor.shared.sleep(until: monotonicNanoseconds() + 1_000_000)
    }

    /// What each open descriptor of this process refers to (for messages when a count is off).
    static func openDescriptors() -> [String] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var result = [String]()
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var link = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/fd/\(name)", &link, link.count - 1)
            if length > 0 { result.append("\(name) -> \(String(cString: link))") }
        }
        return result
    }

    /// Appends `text` with one write(2) on an O_APPEND descriptor, as a logging process would.
    static func append(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot open \(path)")
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` seconds pass; returns whether it held.
    @discardableResult
    static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        while !condition() {
            if monotonicNanoseconds() > deadline { return false }
            usleep(5000)
        }
        return true
    }

    /// The async form of `waitUntil`, which does not block a thread of the cooperative pool.
    @discardableResult
    static func eventually(timeout: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        while !condition() {
            if monotonicNanoseconds() > deadline { return false }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return true
    }

    static func lines(_ text: String) -> [String] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
}

/// Collects the elements of an async iterator on a task of its own, so a test can wait for them with a timeout
/// and then stop the iteration by cancelling that task.
final class Collector<Element: Sendable>: @unchecked Sendable {
    private let items = Mutex<[Element]>([])
    private let finished = Atomic<Bool>(false)
    private var task: Task<Void, Never>?

    init<Iterator: AsyncIteratorProtocol>(_ iterator: Iterator) where Iterator.Element == Element {
        nonisolated(unsafe) var iterator = iterator
        task = Task {
            while let element = try? await iterator.next() { self.items.withLock { $0.append(element) } }
            self.finished.store(true, ordering: .releasing)
        }
    }

    var values: [Element] { items.withLock { $0 } }
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Waits until at least `count` elements arrived; false after `timeout` seconds.
    func wait(for count: Int, timeout: Double = 5) async -> Bool {
        await LiveFixture.eventually(timeout: timeout) { values.count >= count }
    }

    /// Cancels the iteration and waits for it to end.
    func stop() async {
        task?.cancel()
        await task?.value
    }

    /// Waits for the iteration to end by itself; false after `timeout` seconds.
    func waitFinished(timeout: Double = 5) async -> Bool {
        await LiveFixture.eventually(timeout: timeout) { isFinished }
    }
}

/// A `sluice` child process with standard output in a file (or, with `pipe`, on a pipe, for latency
/// measurements), read as it arrives, and standard error in a file. A file never fills up, so a test that is
/// busy elsewhere does not throttle the child through backpressure.
final class LiveProcess {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrPath: String
    private var output = [UInt8]()
    private var exitStatus: Int32?

    init(_ arguments: [String], pipe usePipe: Bool = false) {
        let scratch = Fixture.directory()
        stderrPath = scratch + "/stderr"
        var pipeFDs: [Int32] = [-1, -1]
        if usePipe {
            precondition(pipe(&pipeFDs) == 0)
            for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        } else {
            Fixture.write([], to: scratch + "/stdout")
            pipeFDs[0] = open(scratch + "/stdout", O_RDONLY | O_CLOEXEC)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if usePipe {
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, scratch + "/stdout", O_WRONLY | O_APPEND, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([LiveFixture.binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, LiveFixture.binary, &actions, nil, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        precondition(spawned == 0, "cannot start \(LiveFixture.binary); build it first")
        if usePipe { close(pipeFDs[1]) }
        stdoutFD = pipeFDs[0]
        _ = fcntl(stdoutFD, F_SETFL, fcntl(stdoutFD, F_GETFL) | O_NONBLOCK)
        pid = child
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(stdoutFD)
    }

    private var newlines = 0

    /// Everything written to standard output so far.
    var stdout: [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress!, $0.count) }
            if got <= 0 { break }
            output += buffer[0..<got]
            newlines += buffer[0..<got].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        return output
    }

    /// Complete lines written to standard output so far.
    var lineCount: Int {
        _ = stdout
        return newlines
    }

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stdoutLines: [String] { LiveFixture.lines(stdoutText) }
    var stderr: String { String(decoding: Fixture.read(stderrPath), as: UTF8.self) }

    /// Waits until standard output holds at least `count` complete lines.
    @discardableResult
    func waitForLines(_ count: Int, timeout: Double = 10) -> Bool {
        LiveFixture.waitUntil(timeout: timeout) { lineCount >= count }
    }

    /// `waitForLines` without polling delays: blocks in poll(2) on the pipe, so it returns within microseconds
    /// of the line's arrival (for latency measurements).
    @discardableResult
    func waitForLinesPromptly(_ count: Int, timeout: Double) -> Bool {
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        while lineCount < count {
            let now = monotonicNanoseconds()
            if now >= deadline { return false }
            var request = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&request, 1, Int32((deadline - now) / 1_000_000) + 1)
        }
        return true
    }

    /// Waits until standard error contains `text`.
    @discardableResult
    func waitForStderr(_ text: String, timeout: Double = 10) -> Bool {
        LiveFixture.waitUntil(timeout: timeout) { stderr.contains(text) }
    }

    /// Waits until the process holds `path` open (so a follower has started reading it).
    @discardableResult
    func waitUntilOpen(_ path: String, timeout: Double = 10) -> Bool {
        var resolved = [CChar](repeating: 0, count: 4096)
        guard realpath(path, &resolved) != nil else { return false }
        let target = String(cString: resolved)
        return LiveFixture.waitUntil(timeout: timeout) {
            guard let directory = opendir("/proc/\(pid)/fd") else { return false }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                var link = [CChar](repeating: 0, count: 4096)
                let length = readlink("/proc/\(pid)/fd/\(name)", &link, link.count - 1)
                if length > 0 && String(cString: link) == target { return true }
            }
            return false
        }
    }

    /// The port in the receiver's `listening on HOST:PORT` line.
    func listeningPort(timeout: Double = 10) -> Int? {
        guard waitForStderr("listening on ", timeout: timeout) else { return nil }
        let line = stderr.split(separator: "\n").first { $0.hasPrefix("listening on ") } ?? ""
        return line.split(separator: ":").last.flatMap { Int($0) }
    }

    /// CPU time used so far (user + system), in clock ticks.
    var cpuTicks: Int {
        let stat = String(decoding: Fixture.read("/proc/\(pid)/stat"), as: UTF8.self)
        guard let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// True once the process has exited (collecting its status).
    var hasExited: Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return false }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return true
    }

    /// Waits for the process to exit and returns its exit status (128 + N when killed by signal N); after
    /// `timeout` seconds it is killed and the result is nil.
    func wait(timeout: Double = 10) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let exited = LiveFixture.waitUntil(timeout: timeout) { waitpid(pid, &status, WNOHANG) == pid }
        if !exited {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            exitStatus = -1
            return nil
        }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }
}
