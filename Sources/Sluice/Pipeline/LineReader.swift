#if canImport(Glibc)
import Glibc
#endif

/// Reads one input sequentially as lines: the sequential engine behind every facade iterator.
///
/// The input is opened when the reader is made; its first bytes say whether it is plain, gzip or bzip2
/// (`Compression.detect`), and the matching `DecodedStream` fills one reusable buffer about `blockSize`
/// bytes at a time. Lines are handed out as pointers into that buffer: no copy, no allocation and no system
/// call per line. A line cut by the end of a block is moved to the front of the buffer before the next
/// refill, so a line stays valid until the following call to `next()`.
///
/// A line longer than `maxLineLength` is not buffered: its bytes are dropped as they arrive and it is counted
/// as malformed, so memory stays bounded on any input.
final class LineReader {
    let path: String
    let compression: Compression
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let stream: DecodedStream
    private let buffer: ByteBuffer
    private let blockSize: Int
    private let maxLineLength: Int
    private let status: PipelineStatus
    /// Start of the next line in `buffer`.
    private var position = 0
    /// Where the search for the next newline resumes (bytes before it, from `position`, hold none).
    private var scanFrom = 0
    private var ended = false
    /// Inside a line longer than `maxLineLength`, whose bytes are being dropped.
    private var skipping = false
    /// Number of the last line handed out (or skipped).
    private(set) var lineNumber = 0

    /// Opens `input` and reads its first bytes to tell how it is compressed.
    init(_ input: InputSpec, settings: PipelineSettings, status: PipelineStatus) throws {
        path = input.path
        fd = try input.open()
        ownsDescriptor = input != .standardInput
        blockSize = max(settings.blockSize, 4096)
        maxLineLength = max(settings.maxLineLength, 1)
        self.status = status
        buffer = ByteBuffer(capacity: blockSize + (1 << 16))
        let (fd, path) = (self.fd, self.path)
        do {
            let info = try System.stat(fd, path: path)
            if System.isDirectory(info) { throw SluiceError(.unreadable, path: path, "Is a directory") }
            var head = [UInt8](repeating: 0, count: 4)
            let got = try head.withUnsafeMutableBytes { try System.readFully(fd, $0.baseAddress!, 4, path: path) }
            head.removeSubrange(got...)
            let compression = head.withUnsafeBytes { Compression.detect($0) }
            self.compression = compression
            stream = Decoders.stream(compression, CompressedInput(path: path, fd: fd, prefix: head), gzip: settings.gzipDecoder)
        } catch {
            if ownsDescriptor { System.close(fd) }
            throw error
        }
    }

    deinit {
        if ownsDescriptor { System.close(fd) }
    }

    /// The next line, viewed in the buffer, or nil at the end of the input. Throws the decoder's error (corrupt
    /// or truncated stream, read failure) once the lines decoded before the fault have been handed out.
    @inline(__always)
    func next() throws -> UnsafeRawBufferPointer? {
        while true {
            let count = buffer.count
            if scanFrom < count {
                let end = Bytes.find(Bytes.newline, buffer.base, from: scanFrom, end: count)
                if end < count {
                    let start = position
                    position = end &+ 1
                    scanFrom = position
                    lineNumber &+= 1
                    status.linesRead &+= 1
                    // A line over the limit is skipped also when its newline came in the same block as the
                    // bytes that took it over (`refill` only catches lines still open at a block's end).
                    if skipping || end &- start > maxLineLength {
                        skipping = false
                        status.malformed += 1
                        continue
                    }
                    return UnsafeRawBufferPointer(start: buffer.base + start, count: end &- start)
                }
                scanFrom = count
            }
            if ended {
                if let error = stream.error {
                    // The bytes after the last newline are a fragment of a line whose end was never decoded.
                    let unfinished = skipping ? 0 : count - position
                    skipping = false
                    position = count
                    throw error.droppingUnfinishedLine(unfinished)
                }
                if count - position > maxLineLength { skipping = true }
                if position < count && !skipping {
                    let start = position
                    position = count
                    lineNumber &+= 1
                    status.linesRead &+= 1
                    return UnsafeRawBufferPointer(start: buffer.base + start, count: count - start)
                }
                if skipping {
                    skipping = false
                    lineNumber &+= 1
                    status.linesRead &+= 1
                    status.malformed += 1
                }
                position = count
                return nil
            }
            refill()
        }
    }

    /// Moves the unfinished line to the front and decodes the next block after it.
    private func refill() {
        let pending = buffer.count - position
        if pending > maxLineLength {
            skipping = true  // counted when its newline (or the end of the input) arrives
        }
        if skipping {
            buffer.count = 0
        } else if position > 0 {
            if pending > 0 { memmove(buffer.base, buffer.base + position, pending) }
            buffer.count = pending
        }
        position = 0
        scanFrom = buffer.count
        status.blocksRead += 1
        if !stream.fill(buffer, limit: buffer.count + blockSize) { ended = true }
    }
}
