import CInotify
#if canImport(Glibc)
import Glibc
#endif

/// The inotify side of a follower: one inotify descriptor, a watch on each followed path's directory (which
/// reports files being created, renamed and deleted there, and writes to files in it) and a watch on each open
/// file (which follows the file through renames, so writes to a rotated file or to a symbolic link's target
/// are seen too). `changes()` turns the queued events into the set of paths to check. Not thread-safe.
final class Watcher {
    /// What one watch descriptor stands for.
    private enum Target: Hashable {
        case directory(String)
        case file(Int)  // index of the tail whose open or retired file it watches
    }

    /// The inotify descriptor; readable when events are queued.
    let fd: Int32
    private var targets = [Int32: Set<Target>]()
    private var directoryWatches = [String: Int32]()
    private let buffer: UnsafeMutableRawBufferPointer

    static let directoryMask = CInotify_MODIFY | CInotify_ATTRIB | CInotify_CLOSE_WRITE | CInotify_MOVED_FROM
        | CInotify_MOVED_TO | CInotify_CREATE | CInotify_DELETE | CInotify_ONLYDIR
    static let fileMask = CInotify_MODIFY | CInotify_ATTRIB | CInotify_CLOSE_WRITE | CInotify_MOVE_SELF | CInotify_DELETE_SELF

    /// A watcher, or the reason inotify cannot be had (for the polling notice).
    static func make() -> Result<Watcher, SluiceError> {
        let fd = CInotify_init()
        if fd < 0 { return .failure(SluiceError(.io, path: "inotify", String(cString: strerror(errno)))) }
        return .success(Watcher(fd: fd))
    }

    private init(fd: Int32) {
        self.fd = fd
        buffer = .allocate(byteCount: Swift.max(64 << 10, CInotify_minimum_buffer()), alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// Watches `directory` unless it already is; nil on success, else why not (ENOENT, ENOSPC, ...).
    func watch(directory: String) -> String? {
        if directoryWatches[directory] != nil { return nil }
        let wd = PathBytes.withCString(directory) { CInotify_add_watch(fd, $0, Self.directoryMask) }
        if wd < 0 { return String(cString: strerror(errno)) }
        directoryWatches[directory] = wd
        targets[wd, default: []].insert(.directory(directory))
        return nil
    }

    func isWatching(directory: String) -> Bool { directoryWatches[directory] != nil }

    /// Watches the file at `path` for tail `index`; returns the watch descriptor, or nil when it cannot be had.
    func watch(file path: String, tail index: Int) -> Int32? {
        let wd = PathBytes.withCString(path) { CInotify_add_watch(fd, $0, Self.fileMask) }
        if wd < 0 { return nil }
        targets[wd, default: []].insert(.file(index))
        return wd
    }

    /// Forgets the file watch `wd` of tail `index`, removing it from the kernel once no tail uses it.
    func unwatch(file wd: Int32, tail index: Int) {
        guard var set = targets[wd] else { return }
        set.remove(.file(index))
        if set.isEmpty {
            targets[wd] = nil
            _ = CInotify_rm_watch(fd, wd)
        } else {
            targets[wd] = set
        }
    }

    /// Reads every queued event. Returns the tails whose own files changed, the directories in which something
    /// changed (with the names concerned; an empty name means "anything"), and whether the kernel's event queue
    /// overflowed (events were lost, so everything must be checked).
    func changes() -> (tails: Set<Int>, directories: [String: Set<String>], overflowed: Bool) {
        var tails = Set<Int>()
        var directories = [String: Set<String>]()
        var overflowed = false
        while true {
            let got = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            var offset = 0
            var event = CInotify_event()
            while CInotify_next(buffer.baseAddress!, got, &offset, &event) != 0 {
                if event.mask & CInotify_Q_OVERFLOW != 0 { overflowed = true }
                guard let set = targets[event.wd] else { continue }
                if event.mask & CInotify_IGNORED != 0 {
                    // The kernel dropped the watch (its directory or file is gone): forget it; the follower
                    // then polls that path and watches again when it can.
                    targets[event.wd] = nil
                    for case .directory(let directory) in set { directoryWatches[directory] = nil; directories[directory, default: []].insert("") }
                    overflowed = true
                    continue
                }
                for target in set {
                    switch target {
                    case .file(let index): tails.insert(index)
                    case .directory(let directory):
                        let name = event.name.map {
                            PathBytes.string(UnsafeRawBufferPointer(start: $0, count: event.name_length))
                        } ?? ""
                        directories[directory, default: []].insert(name)
                    }
                }
            }
        }
        return (tails, directories, overflowed)
    }

    /// Closes the inotify descriptor, which removes every watch.
    func close() { _ = Glibc.close(fd) }
}
