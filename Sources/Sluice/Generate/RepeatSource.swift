/// A file to write many times over, as the tutorial's `makebig` does (`data = open(f).read()`, then `data` N
/// times). It is opened when made, so that a caller can check it (and that its output is another file) before
/// creating that output.
///
/// A regular file of more than 64 MiB is read again for each copy, so memory stays bounded. Anything else (a
/// smaller file, a pipe, `/dev/stdin`, a `/proc` file whose size reads 0) is read to its end once, when the source
/// is made, and written from memory.
public final class RepeatSource {
    /// The path as given.
    public let path: String
    /// The file's device and inode numbers.
    public let device: UInt64, inode: UInt64
    private let descriptor: Int32
    /// The whole contents, unless the file is read again for each copy.
    private var contents: [UInt8]?
    private let size: Int

    /// The largest file held in memory.
    static let memoryLimit = 64 << 20

    /// Opens `path` and, unless it is a regular file of more than 64 MiB, reads it. Throws what `System` throws
    /// when it cannot be opened or read (`.noSuchFile` for a missing one), `.unreadable` for a directory, and
    /// `.invalidArgument` for a pipe, device or /proc file that gives more than 64 MiB (`/dev/zero` never ends).
    public init(_ path: String) throws {
        self.path = path
        descriptor = try System.open(path)
        do {
            let info = try System.stat(descriptor, path: path)
            if System.isDirectory(info) { throw SluiceError(.unreadable, path: path, "is a directory") }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int(info.st_size)
            if !System.isRegular(info) || size <= RepeatSource.memoryLimit { contents = try readToEnd() }
        } catch {
            System.close(descriptor)
            throw error
        }
    }

    deinit { System.close(descriptor) }

    /// Writes the file's bytes to `sink` `times` times over; nothing when `times <= 0`. A file read whole (up to
    /// 64 MiB) goes to the sink as one block per copy, or, under half of `LogGenerator.blockSize`, tiled into
    /// blocks of at most that size; a larger file goes in pieces of `LogGenerator.blockSize`.
    /// Throws `.fileShrank` when a large file shrinks between copies, and rethrows whatever `sink` throws.
    public func write(times: Int, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard times > 0 else { return }
        let blockSize = LogGenerator.blockSize
        if let contents {
            guard !contents.isEmpty else { return }
            try contents.withUnsafeBytes { data in
                if data.count >= blockSize / 2 {
                    for _ in 0..<times { try sink(data) }
                    return
                }
                let copiesPerBlock = max(1, blockSize / data.count)
                let block = ByteBuffer(capacity: copiesPerBlock * data.count)
                for _ in 0..<min(copiesPerBlock, times) { block.append(data.baseAddress!.assumingMemoryBound(to: UInt8.self), data.count) }
                var remaining = times
                while remaining >= copiesPerBlock {
                    try sink(block.bytes)
                    remaining -= copiesPerBlock
                }
                if remaining > 0 { try sink(UnsafeRawBufferPointer(start: block.base, count: remaining * data.count)) }
            }
            return
        }
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: blockSize)
        defer { chunk.deallocate() }
        for _ in 0..<times {
            var offset = 0
            while offset < size {
                let got = try System.read(descriptor, chunk, min(blockSize, size - offset), at: offset, path: path)
                if got == 0 { throw SluiceError(.fileShrank, path: path, "file shrank while being repeated", offset: offset) }
                try sink(UnsafeRawBufferPointer(start: chunk, count: got))
                offset += got
            }
        }
    }

    /// Everything from the current position to the end.
    private func readToEnd() throws -> [UInt8] {
        var bytes = [UInt8]()
        var piece = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = try piece.withUnsafeMutableBytes { try System.read(descriptor, $0.baseAddress!, $0.count, path: path) }
            if got == 0 { return bytes }
            bytes.append(contentsOf: piece[0..<got])
            if bytes.count > RepeatSource.memoryLimit {
                throw SluiceError(.invalidArgument, path: path,
                                  "gives more than 64 MiB, which is held in memory when it is not a regular file; copy it to a file first")
            }
        }
    }
}
