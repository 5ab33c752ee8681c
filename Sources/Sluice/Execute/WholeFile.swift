#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The small-file strategy: one worker opens a file, reads it whole into its own scratch buffer and processes
/// it, decoding it block by block first when its magic bytes say it is compressed. Many small files thus run
/// in parallel, one per worker, with no per-file thread handoff. A file that turns out larger than it was
/// listed (it grew, or is a /proc file of size 0) is read on as a stream, in blocks, so memory stays bounded.
enum WholeFile {
    /// Processes the file at `path` as `item`. Output from decoded bytes (a compressed file, or what a plain file
    /// grew by) is taken from `outputBudget` block by block; once the budget runs out the item stops and is
    /// marked `deferred`, its report incomplete.
    static func process(_ path: String, _ item: WorkItem, _ processor: LineProcessor, blockSize: Int,
                        gzip: GzipDecoderKind, maxLineLength: Int, outputBudget: borrowing Atomic<Int>) {
        let fd: Int32, info: stat
        do { (fd, info) = try System.openRegular(path) } catch {
            item.error = error as? SluiceError
            return
        }
        defer { System.close(fd) }
        let scratch = processor.readScratch
        scratch.removeAll()
        // Up to 1 MiB more than listed is read whole; past that the rest is read as a stream.
        let wholeLimit = max(Int(info.st_size), 0) + (1 << 20)
        var atEnd = false
        do {
            while scratch.count < wholeLimit {
                scratch.reserve(max(Int(info.st_size) - scratch.count, 0) + 4096)
                let wanted = scratch.capacity - scratch.count
                let got = try System.read(fd, scratch.base + scratch.count, wanted, path: path)
                scratch.count += got
                // A short read of a regular file that reached its listed size is its end: no read to hear 0.
                // (A /proc file, listed as 0 bytes, may read short before its end, and is read to a 0.)
                if got == 0 || got < wanted && info.st_size > 0 && scratch.count >= Int(info.st_size) {
                    atEnd = true
                    break
                }
            }
        } catch {
            item.error = error as? SluiceError
            return
        }
        let compression = Compression.detect(UnsafeRawBufferPointer(start: scratch.base, count: min(scratch.count, 4)))
        if compression == .none && atEnd {
            processor.process(scratch.base, 0, scratch.count, into: &item.report)
            return
        }
        let input = CompressedInput(path: path, fd: atEnd ? nil : fd, prefix: scratch.array)
        let stream = Decoders.stream(compression, input, gzip: gzip, bzip2Decoder: processor.bzip2Decoder)
        let decoded = processor.decodeScratch
        decoded.removeAll()
        var skipping = false  // inside a line longer than maxLineLength, whose bytes are dropped
        while true {
            let more = stream.fill(decoded, limit: decoded.count + blockSize)
            var from = 0
            if skipping {
                let end = Bytes.find(Bytes.newline, decoded.base, from: 0, end: decoded.count)
                if end == decoded.count {
                    decoded.count = 0
                    if more { continue } else { break }
                }
                item.report.noteOverlongLine()
                skipping = false
                from = end + 1
            }
            if let last = Bytes.findLast(Bytes.newline, decoded.base, from: from, end: decoded.count) {
                let written = item.report.output?.count ?? 0
                processor.process(decoded.base, from, last + 1, into: &item.report)
                from = last + 1
                let grown = (item.report.output?.count ?? 0) - written
                if grown > 0 && outputBudget.subtract(grown, ordering: .relaxed).newValue < 0 {
                    item.deferred = true
                    return
                }
            }
            let tail = decoded.count - from
            if tail > 0 && from > 0 { memmove(decoded.base, decoded.base + from, tail) }
            decoded.count = tail
            if tail > maxLineLength {
                skipping = true
                decoded.count = 0
            }
            if !more { break }
        }
        if let error = stream.error {
            // The bytes after the last newline are a fragment of a line the decoder never reached the end of.
            item.error = error.droppingUnfinishedLine(decoded.count)
        } else {
            if skipping { item.report.noteOverlongLine() }
            if decoded.count > 0 { processor.process(decoded.base, 0, decoded.count, into: &item.report) }
        }
        if decoded.capacity > 4 * blockSize { processor.decodeScratch = ByteBuffer(capacity: blockSize) }
    }
}
