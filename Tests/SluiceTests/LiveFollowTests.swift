import XCTest
@testable import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// `Follow` against real files: rotation by rename, copytruncate, delete and re-create, partial lines, missing
/// files, polling, several followers, and shutdown by cancellation and by token without leaking descriptors.
final class LiveFollowTests: XCTestCase {
    private var folder = ""

    override func setUp() {
        folder = Fixture.directory()
        _ = Reactor.shared  // its two descriptors live for the whole process; make them before counting
    }

    private func follow(_ names: [String], fromStart: Bool = false, inotify: Bool = true,
                        configure: (inout FollowOptions) -> Void = { _ in }) -> Collector<FollowedLine> {
        var options = FollowOptions(fromStart: fromStart)
        options.useInotify = inotify
        options.rotateWait = 300_000_000
        configure(&options)
        return Collector(Follow(names.map { folder + "/" + $0 }, options: options).makeAsyncIterator())
    }

    private func texts(_ collector: Collector<FollowedLine>) -> [String] { collector.values.map(\.text) }

    func testStartsAtTheEndAndSkipsTheLineInProgress() async {
        LiveFixture.append("old 1\nold 2\nhalf", to: folder + "/log")
        let lines = follow(["log"])
        LiveFixture.append(" done\nnew 1\n", to: folder + "/log")
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        LiveFixture.append("new 2\n", to: folder + "/log")
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["new 1", "new 2"])
        // Each line carries the byte offset of its first byte in the file.
        XCTAssertEqual(lines.values.map(\.offset), [22, 28])
    }

    func testFromStartReadsWhatIsThere() async {
        LiveFixture.append("a\nb\n", to: folder + "/log")
        let lines = follow(["log"], fromStart: true)
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        LiveFixture.append("c\n", to: folder + "/log")
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["a", "b", "c"])
    }

    /// A read limit of 0 (it spun without delivering a line) and intervals of 0 are brought within their ranges.
    func testOptionsOutsideTheirRangesStillDeliverEveryLine() async {
        LiveFixture.append("a\nb\n", to: folder + "/log")
        let lines = follow(["log"], fromStart: true) { options in
            options.readLimit = 0
            options.pollInterval = 0
            options.rescanInterval = 0
        }
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        LiveFixture.append("c\n", to: folder + "/log")
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["a", "b", "c"])
        var given = FollowOptions()
        given.readLimit = -1
        given.pollInterval = 0
        given.maxLineLength = -5
        let options = Follow(["x"], options: given).options
        XCTAssertEqual(options.readLimit, 1)
        XCTAssertEqual(options.pollInterval, FollowOptions.shortestInterval)
        XCTAssertEqual(options.maxLineLength, 0)
    }

    func testPartialLineIsDeliveredOnlyOnceItsNewlineIsWritten() async {
        LiveFixture.append("", to: folder + "/log")
        let lines = follow(["log"])
        LiveFixture.append("par", to: folder + "/log")
        try? await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(texts(lines), [])
        LiveFixture.append("ti", to: folder + "/log")
        try? await Task.sleep(nanoseconds: 100_000_000)
        LiveFixture.append("al\nnext", to: folder + "/log")
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        LiveFixture.append("\n", to: folder + "/log")
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["partial", "next"])
        // A line read in pieces is placed at its first piece.
        XCTAssertEqual(lines.values.map(\.offset), [0, 8])
    }

    func testRotationByRenameDrainsTheOldFileFirst() async {
        for inotify in [true, false] {
            let path = folder + "/rot-\(inotify)"
            LiveFixture.append("before\n", to: path)
            let lines = follow(["rot-\(inotify)"], inotify: inotify)
            LiveFixture.append("one\ntwo\n", to: path)
            rename(path, path + ".1")
            LiveFixture.append("late write to the old file\n", to: path + ".1")
            LiveFixture.append("three\n", to: path)
            do { let ok = await lines.wait(for: 4); XCTAssertTrue(ok) }
            LiveFixture.append("four\n", to: path)
            do { let ok = await lines.wait(for: 5); XCTAssertTrue(ok) }
            try? await Task.sleep(nanoseconds: 150_000_000)
            await lines.stop()
            XCTAssertEqual(texts(lines), ["one", "two", "late write to the old file", "three", "four"], "inotify: \(inotify)")
        }
        // A rotated file that ends in a line without its newline is closed with a notice, not silently.
        let path = folder + "/rot-partial"
        LiveFixture.append("", to: path)
        let notices = NoticeLog()
        let lines = follow(["rot-partial"]) { options in options.onNotice = { notices.add($0) } }
        LiveFixture.append("whole\npartial", to: path)
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        rename(path, path + ".1")
        LiveFixture.append("next\n", to: path)
        do { let ok = await LiveFixture.eventually(timeout: 5) { notices.all.contains(.unfinishedLine(path, 7)) }; XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["whole", "next"])
    }

    func testManyRotationsLoseAndRepeatNothing() async {
        // Twenty rotations, each followed by writes to the renamed file (its writer has not reopened yet) and to
        // the new one. A follower cannot know files that were rotated away twice between two of its checks, so
        // each round waits until the follower has caught up, as any real rotation interval allows.
        let path = folder + "/busy"
        LiveFixture.append("", to: path)
        let lines = follow(["busy"])
        var expected = [String]()
        for round in 0..<20 {
            for index in 0..<25 {
                expected.append("round \(round) line \(index)")
                LiveFixture.append(expected.last! + "\n", to: path)
            }
            rename(path, path + ".\(round % 3)")
            for index in 0..<5 {
                expected.append("round \(round) late \(index)")
                LiveFixture.append(expected.last! + "\n", to: path + ".\(round % 3)")
            }
            expected.append("round \(round) new file")
            LiveFixture.append(expected.last! + "\n", to: path)
            let caughtUp = await lines.wait(for: expected.count, timeout: 5)
            XCTAssertTrue(caughtUp, "round \(round)")
        }
        try? await Task.sleep(nanoseconds: 200_000_000)
        await lines.stop()
        XCTAssertEqual(texts(lines), expected)
    }

    func testCopyTruncateReadsAgainFromTheStart() async {
        let path = folder + "/ct"
        LiveFixture.append("kept\n", to: path)
        let lines = follow(["ct"])
        LiveFixture.append("first\nsecond\n", to: path)
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        XCTAssertEqual(truncate(path, 0), 0)
        LiveFixture.append("after\n", to: path)
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["first", "second", "after"])
        // After the truncation, offsets are in the new contents.
        XCTAssertEqual(lines.values.map(\.offset), [5, 11, 0])
    }

    func testTruncatedAndRefilledPastTheOldPositionBetweenChecks() async {
        // Polling slowly, the follower sees the file only after it was truncated and written past the position
        // read so far: the size alone would hide the truncation, the remembered last bytes do not.
        let path = folder + "/refill"
        LiveFixture.append("", to: path)
        let lines = follow(["refill"], inotify: false) { $0.pollInterval = 400_000_000; $0.rescanInterval = 400_000_000 }
        LiveFixture.append("short\n", to: path)
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        XCTAssertEqual(truncate(path, 0), 0)
        LiveFixture.append("a much longer first line after truncation\nsecond\n", to: path)
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["short", "a much longer first line after truncation", "second"])
    }

    func testRefilledWithLinesThatEndAlikeIsStillATruncation() async {
        // Fixed-width lines with the same message after their timestamp: the bytes just before the old position
        // are the same after the refill, the 4 KiB before it are not (16 bytes missed it and lost lines 10-19).
        let path = folder + "/heartbeat"
        LiveFixture.append("", to: path)
        let lines = follow(["heartbeat"], inotify: false) { $0.pollInterval = 400_000_000; $0.rescanInterval = 400_000_000 }
        let line = { (index: Int) in "2024-05-01 12:00:\(index < 10 ? "0" : "")\(index) worker heartbeat ok" }
        LiveFixture.append((0..<10).map { line($0) + "\n" }.joined(), to: path)
        do { let ok = await lines.wait(for: 10); XCTAssertTrue(ok) }
        XCTAssertEqual(truncate(path, 0), 0)
        LiveFixture.append((10..<25).map { line($0) + "\n" }.joined(), to: path)
        do { let ok = await lines.wait(for: 25); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), (0..<25).map(line))
    }

    func testRefilledBeforeAnythingNewWasReadIsStillATruncation() async {
        // The same, for a file followed from its end that is truncated and refilled before a byte was read: the
        // 4 KiB before the starting position are remembered too (16 bytes were, and lines 10-19 were lost).
        let path = folder + "/quiet"
        let line = { (index: Int) in "2024-05-01 12:00:\(index < 10 ? "0" : "")\(index) worker heartbeat ok" }
        LiveFixture.append((0..<10).map { line($0) + "\n" }.joined(), to: path)
        let lines = follow(["quiet"], inotify: false) { $0.pollInterval = 400_000_000; $0.rescanInterval = 400_000_000 }
        try? await Task.sleep(nanoseconds: 150_000_000)
        XCTAssertEqual(truncate(path, 0), 0)
        LiveFixture.append((10..<25).map { line($0) + "\n" }.joined(), to: path)
        do { let ok = await lines.wait(for: 15); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), (10..<25).map(line))
    }

    func testDeletedFileIsFollowedAgainWhenRecreated() async {
        let path = folder + "/gone"
        LiveFixture.append("x\n", to: path)
        let notices = NoticeLog()
        let lines = follow(["gone"]) { options in options.onNotice = { notices.add($0) } }
        LiveFixture.append("before delete\n", to: path)
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        unlink(path)
        do { let ok = await LiveFixture.eventually(timeout: 5) { notices.all.contains(.disappeared(path)) }; XCTAssertTrue(ok) }
        try? await Task.sleep(nanoseconds: 100_000_000)
        LiveFixture.append("recreated 1\nrecreated 2\n", to: path)
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["before delete", "recreated 1", "recreated 2"])
        XCTAssertTrue(notices.all.contains(.rotated(path)))
    }

    func testFileThatDoesNotExistYetInAFolderThatDoesNotExistYet() async {
        let lines = follow(["later/log"])
        try? await Task.sleep(nanoseconds: 150_000_000)
        mkdir(folder + "/later", 0o755)
        LiveFixture.append("first\nsecond\n", to: folder + "/later/log")
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        LiveFixture.append("third\n", to: folder + "/later/log")
        do { let ok = await lines.wait(for: 3); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["first", "second", "third"])
    }

    func testSeveralFilesAreMultiplexedAndSeveralFollowersRunAtOnce() async {
        LiveFixture.append("", to: folder + "/a")
        LiveFixture.append("", to: folder + "/b")
        let both = follow(["a", "b"])
        let onlyA = follow(["a"])
        let polled = follow(["a", "b"], inotify: false)
        for index in 0..<50 {
            LiveFixture.append("a\(index)\n", to: folder + "/a")
            LiveFixture.append("b\(index)\n", to: folder + "/b")
        }
        do { let ok = await both.wait(for: 100); XCTAssertTrue(ok) }
        do { let ok = await onlyA.wait(for: 50); XCTAssertTrue(ok) }
        do { let ok = await polled.wait(for: 100); XCTAssertTrue(ok) }
        for collector in [both, onlyA, polled] { await collector.stop() }
        for collector in [both, polled] {
            XCTAssertEqual(collector.values.filter { $0.path.hasSuffix("/a") }.map(\.text), (0..<50).map { "a\($0)" })
            XCTAssertEqual(collector.values.filter { $0.path.hasSuffix("/b") }.map(\.text), (0..<50).map { "b\($0)" })
        }
        XCTAssertEqual(texts(onlyA), (0..<50).map { "a\($0)" })
    }

    func testOverlongLinesAreSkipped() async {
        LiveFixture.append("", to: folder + "/long")
        let notices = NoticeLog()
        let lines = follow(["long"]) { $0.maxLineLength = 100; $0.onNotice = { notices.add($0) } }
        LiveFixture.append("short\n" + String(repeating: "x", count: 70), to: folder + "/long")
        LiveFixture.append(String(repeating: "y", count: 70) + "\nafter\n", to: folder + "/long")
        do { let ok = await lines.wait(for: 2); XCTAssertTrue(ok) }
        await lines.stop()
        XCTAssertEqual(texts(lines), ["short", "after"])
        // Named by where the line starts and the limit, not by however many bytes had been read.
        XCTAssertTrue(notices.all.contains {
            if case .overlongLine(let location, 100) = $0 { return location.offset == 6 && location.path.hasSuffix("long") }
            return false
        }, "\(notices.all)")
    }

    func testCancellingTheConsumerReleasesDescriptorsAndWatches() async {
        for name in ["c1", "c2", "c3"] { LiveFixture.append("", to: folder + "/" + name) }
        await LiveFixture.warmUp()
        let before = LiveFixture.openDescriptorCount()
        let beforeList = LiveFixture.openDescriptors()
        let lines = follow(["c1", "c2", "c3", "missing"])
        XCTAssertGreaterThan(LiveFixture.openDescriptorCount(), before)
        LiveFixture.append("x\n", to: folder + "/c2")
        do { let ok = await lines.wait(for: 1); XCTAssertTrue(ok) }
        let started = monotonicNanoseconds()
        await lines.stop()
        XCTAssertLessThan(monotonicNanoseconds() - started, 500_000_000, "cancellation must be prompt")
        do { let ok = await LiveFixture.eventually(timeout: 2) { LiveFixture.openDescriptorCount() == before }; XCTAssertTrue(ok, "left open: \(Set(LiveFixture.openDescriptors()).subtracting(beforeList))") }
    }

    func testShutdownTokenEndsEveryFollowerAndReleasesDescriptors() async {
        LiveFixture.append("", to: folder + "/t")
        await LiveFixture.warmUp()
        let before = LiveFixture.openDescriptorCount()
        let token = ShutdownToken()
        let followers = (0..<3).map { _ in follow(["t"]) { $0.shutdown = token } }
        LiveFixture.append("one\n", to: folder + "/t")
        for follower in followers { let ok = await follower.wait(for: 1); XCTAssertTrue(ok) }
        token.trigger()
        for follower in followers { let ok = await follower.waitFinished(timeout: 2); XCTAssertTrue(ok) }
        do { let ok = await LiveFixture.eventually(timeout: 2) { LiveFixture.openDescriptorCount() == before }; XCTAssertTrue(ok) }
        // A follower made after the trigger ends at once.
        let late = follow(["t"]) { $0.shutdown = token }
        do { let ok = await late.waitFinished(timeout: 2); XCTAssertTrue(ok) }
    }
}

/// Notices gathered from a follower's callback.
final class NoticeLog: @unchecked Sendable {
    private let lock = NSLockLike()
    private var notices = [FollowNotice]()
    func add(_ notice: FollowNotice) { lock.locked { notices.append(notice) } }
    var all: [FollowNotice] { lock.locked { notices } }
}

/// A tiny mutex for test helpers.
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
