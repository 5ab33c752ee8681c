#if canImport(Glibc)
import Glibc
#endif

/// Something that happened to a followed path, reported through `FollowOptions.onNotice` (the CLI prints these
/// on standard error, as `tail -F` does). Notices never interrupt the sequence.
public enum FollowNotice: Sendable, Equatable {
    /// The path does not exist (yet); it is followed from its first byte once it appears.
    case waiting(String)
    /// The path exists again, or for the first time: it is followed from its first byte.
    case appeared(String)
    /// A different file now has the path (rotation by rename, or delete and re-create). The old file was read
    /// to its end first and stays open for `FollowOptions.rotateWait` in case its writer adds more.
    case rotated(String)
    /// The file shrank below the position read so far (truncation in place, `copytruncate`): read again from 0.
    case truncated(String)
    /// The path no longer exists. The file stays open and is still read until another file takes the path.
    case disappeared(String)
    /// A line longer than the line-length limit was skipped: where it starts (`path, byte N` from `Follow`,
    /// `path:line` from `StoredLines`) and the limit in bytes.
    case overlongLine(RejectTally.Location, limit: Int)
    /// A rotated file was closed with a last line its writer never ended with `\n`; the line was not delivered
    /// (path, the line's bytes so far).
    case unfinishedLine(String, Int)
    /// The path exists but cannot be opened or read; it is retried.
    case unreadable(SluiceError)
    /// Change notification is not available for this path (no inotify, the watch limit is reached, or its
    /// directory does not exist); it is polled every `FollowOptions.pollInterval` instead.
    case polling(String, reason: String)
}

/// One file descriptor of a followed path: the position read so far and the partial line after it.
final class TailedFile {
    let fd: Int32
    let device: UInt64
    let inode: UInt64
    var offset: Int
    /// Bytes of the current line, read but not yet ended by `\n`.
    var carry = [UInt8]()
    /// True while skipping the rest of a line (an overlong line, or the line in progress when following began).
    var discarding = false
    /// When this file was replaced at its path (monotonic ns), or 0 while it is the current file.
    var retiredAt: UInt64 = 0
    /// When data was last read from it (monotonic ns).
    var lastRead: UInt64
    /// The last bytes read (up to `recentLimit`, ending at `offset`): if they change, the file was truncated and
    /// written again past the old position between two checks, which its size alone would not show. Lines that
    /// end alike (a fixed message after a timestamp) share their last bytes, so the window spans many lines; a
    /// file rewritten with the very same 4 KiB before the position cannot be told from one that was not.
    var recent = [UInt8]()
    static let recentLimit = 4096

    /// Remembers the end of what was just read.
    func noteRead(_ bytes: UnsafeRawBufferPointer) {
        recent.append(contentsOf: bytes.suffix(TailedFile.recentLimit))
        if recent.count > TailedFile.recentLimit { recent.removeFirst(recent.count - TailedFile.recentLimit) }
    }

    /// True when the bytes before `offset` are no longer the ones read there.
    func contentChanged() -> Bool {
        guard !recent.isEmpty, offset >= recent.count else { return false }
        var now = [UInt8](repeating: 0, count: recent.count)
        let got = now.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset - recent.count)) }
        return got == recent.count && now != recent
    }

    init(fd: Int32, info: stat, offset: Int, now: UInt64) {
        self.fd = fd
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        self.offset = offset
        lastRead = now
    }

    func isFile(_ info: stat) -> Bool { UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode }
}

/// Follows one path with `tail -F` semantics. Not thread-safe: one `Follower` drives it.
///
/// Each `check` looks at what the path names now and reads what is new:
/// 1. A different file at the path (another device and inode than the open one) is a rotation: the open file is
///    read to its end, retired, and the new file is read from offset 0. A missing path keeps the open file.
/// 2. Retired files are read (their lines come before the new file's) and closed once they have been idle for
///    `rotateWait`. A retired file's unfinished last line is dropped, with an `.unfinishedLine` notice: it never
///    got its newline.
/// 3. When the open file is now shorter than the position read, or the last bytes read before that position
///    changed (truncated and written again past it between two checks), it was truncated: reading restarts at 0.
/// 4. New bytes are split at `\n`; a line is delivered only once its newline has been read.
final class FileTail {
    let path: String
    /// The directory holding the path, and the path's last component.
    let directory: String
    let name: String
    private let options: FollowOptions
    private(set) var current: TailedFile?
    private(set) var retired = [TailedFile]()
    private var announcedMissing = false
    private var announcedError: String?
    /// Set by the follower when no notification covers this path, so it must be polled.
    var polled = false

    init(path: String, options: FollowOptions) {
        self.path = path
        self.options = options
        if let slash = path.lastIndex(of: "/") {
            let parent = String(path[..<slash])
            directory = parent.isEmpty ? "/" : parent
            name = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            name = path
        }
    }

    var hasRetired: Bool { !retired.isEmpty }

    /// Opens the path if it exists: at its end (a line in progress there is skipped), or at its start with
    /// `fromStart`. A missing path is announced and followed from its first byte once it appears.
    func start(fromStart: Bool, now: UInt64, notice: (FollowNotice) -> Void) {
        guard let (fd, info) = openPath(notice) else {
            if !announcedMissing && announcedError == nil { notice(.waiting(path)) }
            announcedMissing = true
            return
        }
        let file = TailedFile(fd: fd, info: info, offset: fromStart ? 0 : Int(info.st_size), now: now)
        if !fromStart && info.st_size > 0 {
            // As much as `recent` holds, so a truncation refilled past this point before anything new was read
            // is told apart from the same file grown as surely as later on.
            var tail = [UInt8](repeating: 0, count: Swift.min(TailedFile.recentLimit, Int(info.st_size)))
            let got = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(Int(info.st_size) - $0.count)) }
            if got == tail.count {
                file.recent = tail
                if tail.last != 10 { file.discarding = true }
            }
        }
        current = file
    }

    /// Reads what is new; see the type's description. Returns true when it stopped at `readLimit` with more
    /// to read, so the follower checks again without waiting.
    /// `emit` gets each line without its `\n` and the byte offset of its first byte in the file that held it.
    func check(now: UInt64, scratch: UnsafeMutableRawBufferPointer, emit: (UnsafeRawBufferPointer, Int) -> Void,
               notice: (FollowNotice) -> Void) -> Bool {
        var info = stat()
        let exists = PathBytes.withCString(path, { fstatat(AT_FDCWD, $0, &info, 0) }) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        var budget = options.readLimit
        if exists {
            if let file = current, !file.isFile(info) {
                // Rotation: finish the old file before anything of the new one.
                _ = read(file, budget: &budget, now: now, scratch: scratch, emit: emit, notice: notice)
                file.retiredAt = now
                retired.append(file)
                current = nil
                notice(.rotated(path))
                openCurrent(now: now, notice: notice, announce: false)
            } else if current == nil {
                openCurrent(now: now, notice: notice, announce: true)
            } else {
                announcedMissing = false  // the same file is back at the path
            }
        } else if !announcedMissing {
            announcedMissing = true
            notice(current == nil ? .waiting(path) : .disappeared(path))
        }
        var more = false
        var index = 0
        while index < retired.count {
            let file = retired[index]
            if read(file, budget: &budget, now: now, scratch: scratch, emit: emit, notice: notice) {
                more = true
                break
            }
            if now &- Swift.max(file.retiredAt, file.lastRead) >= options.rotateWait {
                if !file.carry.isEmpty && !file.discarding { notice(.unfinishedLine(path, file.carry.count)) }
                Glibc.close(file.fd)
                retired.remove(at: index)
            } else {
                index += 1
            }
        }
        if !more, let file = current {
            var size = stat()
            if fstat(file.fd, &size) == 0 && (Int(size.st_size) < file.offset || file.contentChanged()) {
                file.offset = 0
                file.recent.removeAll()
                file.carry.removeAll()
                file.discarding = false
                notice(.truncated(path))
            }
            more = read(file, budget: &budget, now: now, scratch: scratch, emit: emit, notice: notice)
        }
        return more
    }

    /// Closes every descriptor.
    func close() {
        if let current { Glibc.close(current.fd) }
        for file in retired { Glibc.close(file.fd) }
        current = nil
        retired.removeAll()
    }

    private func openCurrent(now: UInt64, notice: (FollowNotice) -> Void, announce: Bool) {
        guard let (fd, info) = openPath(notice) else { return }
        if announce && announcedMissing { notice(.appeared(path)) }
        announcedMissing = false
        current = TailedFile(fd: fd, info: info, offset: 0, now: now)
    }

    private func openPath(_ notice: (FollowNotice) -> Void) -> (Int32, stat)? {
        let fd = PathBytes.withCString(path) { Glibc.open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else {
            let code = errno
            if code != ENOENT && code != ENOTDIR { report(System.error(path, code), notice) }
            return nil
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            report(SluiceError(.unreadable, path: path, "not a regular file"), notice)
            return nil
        }
        announcedError = nil
        return (fd, info)
    }

    private func report(_ error: SluiceError, _ notice: (FollowNotice) -> Void) {
        guard announcedError != error.message else { return }
        announcedError = error.message
        notice(.unreadable(error))
    }

    /// Reads `file` from its offset until its end or until `budget` bytes; true when the budget ran out.
    private func read(_ file: TailedFile, budget: inout Int, now: UInt64, scratch: UnsafeMutableRawBufferPointer,
                      emit: (UnsafeRawBufferPointer, Int) -> Void, notice: (FollowNotice) -> Void) -> Bool {
        while budget > 0 {
            let at = file.offset
            let got = pread(file.fd, scratch.baseAddress!, Swift.min(scratch.count, budget), off_t(at))
            if got < 0 {
                if errno == EINTR { continue }
                report(System.error(path, errno), notice)
                return false
            }
            if got == 0 { return false }
            file.offset += got
            file.lastRead = now
            file.noteRead(UnsafeRawBufferPointer(rebasing: scratch[0..<got]))
            budget -= got
            split(file, UnsafeRawBufferPointer(rebasing: scratch[0..<got]), at: at, emit: emit, notice: notice)
        }
        return true
    }

    /// Delivers each line `bytes` (read at file offset `at`) completes, with the offset of its first byte, and
    /// keeps the unfinished rest in `file.carry`.
    private func split(_ file: TailedFile, _ bytes: UnsafeRawBufferPointer, at: Int,
                       emit: (UnsafeRawBufferPointer, Int) -> Void, notice: (FollowNotice) -> Void) {
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let end = bytes.count
        var start = 0
        while start < end {
            let newline = Bytes.find(Bytes.newline, base, from: start, end: end)
            if newline == end {
                guard !file.discarding else { return }
                if file.carry.count + (end - start) > options.maxLineLength {
                    notice(.overlongLine(.init(path: path, line: nil, offset: at + start - file.carry.count),
                                         limit: options.maxLineLength))
                    file.carry.removeAll()
                    file.discarding = true
                } else {
                    file.carry.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start))
                }
                return
            }
            if file.discarding {
                file.discarding = false
            } else if file.carry.count + (newline - start) > options.maxLineLength {
                notice(.overlongLine(.init(path: path, line: nil, offset: at + start - file.carry.count),
                                     limit: options.maxLineLength))
                file.carry.removeAll()
            } else if file.carry.isEmpty {
                emit(UnsafeRawBufferPointer(start: base + start, count: newline - start), at + start)
            } else {
                let lineStart = at - file.carry.count
                file.carry.append(contentsOf: UnsafeBufferPointer(start: base + start, count: newline - start))
                file.carry.withUnsafeBytes { emit($0, lineStart) }
                file.carry.removeAll(keepingCapacity: file.carry.capacity <= 1 << 16)
            }
            start = newline + 1
        }
    }
}
