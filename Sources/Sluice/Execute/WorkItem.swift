/// One unit of parallel work: a line-aligned piece of an input already in memory, or a small file that one
/// worker opens, reads (decoding it if compressed) and processes whole.
final class WorkItem {
    enum Source {
        /// `base[start..<end]`, starting at a line start and ending after a `\n` or at the end of the input.
        case bytes(UnsafePointer<UInt8>, start: Int, end: Int)
        case wholeFile(String)
        /// A line longer than the line-length limit, skipped unread and counted as one malformed line.
        case overlongLine
    }

    /// Index of the input the piece belongs to.
    let input: Int
    let source: Source
    /// Keeps the memory behind `.bytes` alive while the item exists.
    let owner: AnyObject?
    var report = ChunkReport()
    /// An I/O or decoding error met while processing a whole file.
    var error: SluiceError?
    /// A whole file that stopped because its output would have gone over its batch's budget; its report is
    /// discarded and the engine reads the file again on its own.
    var deferred = false

    init(input: Int, source: Source, owner: AnyObject? = nil) {
        self.input = input
        self.source = source
        self.owner = owner
        if case .overlongLine = source { report.noteOverlongLine() }
    }

    /// Splits `base[start..<end]` into items of about `chunkSize` bytes, each ending just after a `\n` (or at
    /// `end`). A line longer than `chunkSize` stays whole in one item.
    static func split(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, chunkSize: Int, input: Int,
                      owner: AnyObject?, into items: inout [WorkItem]) {
        var position = start
        while position < end {
            var cut = position + chunkSize
            if cut >= end {
                cut = end
            } else {
                cut = Bytes.find(Bytes.newline, base, from: cut - 1, end: end)
                cut = cut < end ? cut + 1 : end
            }
            items.append(WorkItem(input: input, source: .bytes(base, start: position, end: cut), owner: owner))
            position = cut
        }
    }
}

/// Turns decoded blocks, which may cut lines anywhere, into line-aligned work items. A line split across
/// blocks is copied into a small buffer of its own; everything else is referenced in place.
///
/// A line longer than `maxLineLength` (not counting its `\n`) is not buffered: its bytes are dropped as they
/// arrive and it becomes one `.overlongLine` item, so memory stays bounded even for a stream without any newline.
final class LineStitcher {
    private var pending = ByteBuffer(capacity: 256)
    private var skipping = false
    private var skipped = 0  // bytes of the overlong line dropped so far
    let input: Int
    let chunkSize: Int
    let maxLineLength: Int

    init(input: Int, chunkSize: Int, maxLineLength: Int) {
        self.input = input
        self.chunkSize = chunkSize
        self.maxLineLength = maxLineLength
    }

    /// Adds the complete lines that `block` ends, in order. `block` must stay alive while the items do.
    func add(_ block: ByteBuffer, into items: inout [WorkItem]) {
        let base = UnsafePointer(block.base)
        let count = block.count
        let first = Bytes.find(Bytes.newline, base, from: 0, end: count)
        guard first < count else {
            if !skipping && pending.count + count > maxLineLength {
                skipping = true
                skipped = pending.count
                pending = ByteBuffer(capacity: 256)
            }
            if skipping { skipped += count } else { pending.append(base, count) }
            return
        }
        if skipping || pending.count + first > maxLineLength {
            skipping = false
            pending = ByteBuffer(capacity: 256)
            items.append(WorkItem(input: input, source: .overlongLine))
        } else {
            pending.append(base, first + 1)
            items.append(WorkItem(input: input, source: .bytes(UnsafePointer(pending.base), start: 0, end: pending.count), owner: pending))
            pending = ByteBuffer(capacity: 256)
        }
        let last = Bytes.findLast(Bytes.newline, base, from: first + 1, end: count) ?? first
        if last > first {
            WorkItem.split(base, first + 1, last + 1, chunkSize: chunkSize, input: input, owner: block, into: &items)
        }
        pending.append(base + last + 1, count - last - 1)
    }

    /// The final line when the input does not end with `\n`.
    func finish(into items: inout [WorkItem]) {
        if skipping {
            skipping = false
            items.append(WorkItem(input: input, source: .overlongLine))
            return
        }
        guard pending.count > 0 else { return }
        items.append(WorkItem(input: input, source: .bytes(UnsafePointer(pending.base), start: 0, end: pending.count), owner: pending))
        pending = ByteBuffer(capacity: 256)
    }

    /// Drops the bytes after the last `\n` instead of making them a line, for a stream that failed: they are a
    /// fragment of a line whose end was never decoded. Returns how many bytes were dropped.
    func discardUnfinished() -> Int {
        let count = skipping ? skipped : pending.count
        skipping = false
        pending = ByteBuffer(capacity: 256)
        return count
    }
}

extension SluiceError {
    /// This error, saying that the `count` bytes decoded after the last newline before it were not read: a
    /// decoder that fails mid-line leaves only a fragment of that line, which would parse as a different record.
    func droppingUnfinishedLine(_ count: Int) -> SluiceError {
        guard count > 0 else { return self }
        var error = self
        error.message += "; the unfinished line before it (\(count) bytes) was not read"
        return error
    }
}
