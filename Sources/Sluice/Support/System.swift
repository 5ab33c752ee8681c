#if canImport(Glibc)
import Glibc
#endif

/// The only place the library calls the operating system for file access. Every call retries on EINTR and
/// turns errno into a `SluiceError` that names the path. Paths may carry bytes that are not UTF-8 (`PathBytes`).
enum System {
    /// Cores the scheduler may use now.
    static var activeCores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    static var pageSize: Int { sysconf(Int32(_SC_PAGESIZE)) }

    /// Asks the kernel to back the whole 2 MiB stretches of `count` bytes at `start` with transparent huge pages,
    /// where the system grants them on request (`madvise` mode): a table read at random then takes far fewer TLB
    /// misses. Does nothing for less than 4 MiB; the memory's contents are unchanged either way.
    static func adviseHugePages(_ start: UnsafeMutableRawPointer, _ count: Int) {
        guard count >= 4 << 20 else { return }
        let huge = UInt(2 << 20)
        let first = (UInt(bitPattern: start) + huge - 1) & ~(huge - 1)
        let last = (UInt(bitPattern: start) + UInt(count)) & ~(huge - 1)
        guard last > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(aligned, Int(last - first), MADV_HUGEPAGE)
    }

    /// Opens `path` read-only; the open of a FIFO waits for a writer, as `cat`'s does.
    static func open(_ path: String) throws -> Int32 {
        try open(path, flags: 0)
    }

    /// Opens `path` read-only if it is a regular file, and returns the descriptor with its status. The open never
    /// waits, so a FIFO put in the place of a file that a directory walk or a size check found regular is an
    /// error, not a hang. (`O_NONBLOCK` does not change how a regular file reads.)
    static func openRegular(_ path: String) throws -> (Int32, stat) {
        let fd = try open(path, flags: O_NONBLOCK)
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw SluiceError(.unreadable, path: path, isDirectory(info) ? "Is a directory" : "no longer a regular file")
        }
        return (fd, info)
    }

    private static func open(_ path: String, flags: Int32) throws -> Int32 {
        while true {
            let fd = PathBytes.withCString(path) { Glibc.open($0, O_RDONLY | O_CLOEXEC | flags) }
            if fd >= 0 { return fd }
            if errno != EINTR { throw error(path, errno) }
        }
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// File status of an open descriptor.
    static func stat(_ fd: Int32, path: String) throws -> stat {
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0 else { throw error(path, errno) }
        return info
    }

    /// File status of a path, following symbolic links.
    static func stat(path: String) throws -> stat {
        var info = Glibc.stat()
        guard PathBytes.withCString(path, { fstatat(AT_FDCWD, $0, &info, 0) }) == 0 else { throw error(path, errno) }
        return info
    }

    /// Reads up to `count` bytes; returns 0 at end of file.
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        while true {
            let result = Glibc.read(fd, buffer, count)
            if result >= 0 { return result }
            if errno != EINTR { throw error(path, errno) }
        }
    }

    /// Reads up to `count` bytes at file offset `offset` (`pread`), retrying on EINTR; 0 only at end of file.
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, at offset: Int, path: String) throws -> Int {
        while true {
            let result = pread(fd, buffer, count, off_t(offset))
            if result >= 0 { return result }
            if errno != EINTR { throw error(path, errno) }
        }
    }

    /// Reads until `count` bytes or end of file; returns the number read.
    static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        var total = 0
        while total < count {
            let got = try read(fd, buffer + total, count - total, path: path)
            if got == 0 { break }
            total += got
        }
        return total
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegular(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }

    /// A `SluiceError` for errno `code` on `path`.
    static func error(_ path: String, _ code: Int32) -> SluiceError {
        let text = String(cString: strerror(code))
        switch code {
        case ENOENT: return SluiceError(.noSuchFile, path: path, "No such file or directory")
        case EACCES, EPERM, EISDIR: return SluiceError(.unreadable, path: path, text)
        default: return SluiceError(.io, path: path, text)
        }
    }
}
