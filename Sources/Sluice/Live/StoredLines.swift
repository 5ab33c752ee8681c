#if canImport(Glibc)
import Glibc
#endif

/// The lines of stored inputs — files, gzip and bzip2 files (told by their magic bytes), or standard input —
/// read once from start to end, as an `AsyncSequence` with the same elements as `Follow`: for shipping whole
/// files with `RecordSender` the way `Follow` ships live ones.
///
/// Inputs are read in order, in blocks, by the engine's decoders. Each line carries its 1-based number in its
/// input. A final line without `\n` is delivered too (the input has ended, so it is complete). Lines longer than
/// `maxLineLength` are skipped and reported to `onNotice` as `.overlongLine` with their number. An input
/// that cannot be opened or decoded throws its `SluiceError` after the lines read before the fault were
/// delivered.
public struct StoredLines: AsyncSequence, Sendable {
    /// The inputs, read in this order.
    public let inputs: [InputSpec]
    /// Lines longer than this are skipped.
    public let maxLineLength: Int
    /// Called (on the reading task) for each line skipped as too long.
    public let onNotice: (@Sendable (FollowNotice) -> Void)?

    /// The lines of `inputs`, skipping lines longer than `maxLineLength` bytes (default 1 MiB). Nothing is opened
    /// until iteration reaches an input.
    public init(_ inputs: [InputSpec], maxLineLength: Int = 1 << 20,
                onNotice: (@Sendable (FollowNotice) -> Void)? = nil) {
        self.inputs = inputs
        self.maxLineLength = maxLineLength
        self.onNotice = onNotice
    }

    /// Reads the inputs through its own reader, opening each once the one before has ended.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: StoredLineReader
        var batch = [FollowedLine]()
        var index = 0

        /// The next line, or nil after the last input or once the task is cancelled. Throws the `SluiceError` of an
        /// input that cannot be opened or decoded; a later call goes on with the next input.
        public mutating func next() async throws -> FollowedLine? {
            while index == batch.count {
                guard let next = try await reader.nextBatch() else { return nil }
                batch = next
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    /// A new iterator that reads every input from its start; the first input is opened by its first `next()`.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: StoredLineReader(inputs, maxLineLength: maxLineLength, onNotice: onNotice))
    }

    /// The same lines, in the groups decoded together (about 64 KiB of input each).
    public var batches: Batches { Batches(lines: self) }

    /// The lines of a `StoredLines` in the groups decoded together; see `batches`.
    public struct Batches: AsyncSequence, Sendable {
        let lines: StoredLines
        /// Reads the inputs through its own reader, one decoded block per group.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let reader: StoredLineReader
            /// The lines of the next decoded block that has any (never empty); nil after the last input or once
            /// the task is cancelled. Throws the `SluiceError` of an input that cannot be opened or decoded.
            public mutating func next() async throws -> [FollowedLine]? { try await reader.nextBatch() }
        }
        /// A new iterator that reads every input from its start; the first input is opened by its first `next()`.
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(reader: StoredLineReader(lines.inputs, maxLineLength: lines.maxLineLength,
                                                   onNotice: lines.onNotice))
        }
    }
}

/// Reads `StoredLines` input by input, one decoded block at a time.
final class StoredLineReader: @unchecked Sendable {
    private var inputs: [InputSpec]
    private let maxLineLength: Int
    private var stream: DecodedStream?
    private var input: CompressedInput?
    private var fd: Int32 = -1
    private var path = ""
    private let block = ByteBuffer(capacity: 1 << 16)
    private var carry = [UInt8]()
    private var discarding = false
    /// Lines of the current input completed so far.
    private var lineNumber = 0
    /// The fault that ended an input, held back while the lines decoded before it are delivered.
    private var pendingFailure: SluiceError?
    private let onNotice: (@Sendable (FollowNotice) -> Void)?

    init(_ inputs: [InputSpec], maxLineLength: Int, onNotice: (@Sendable (FollowNotice) -> Void)?) {
        self.inputs = inputs.reversed()
        self.maxLineLength = maxLineLength
        self.onNotice = onNotice
    }

    deinit { closeInput() }

    /// The lines of the next decoded block that has any; nil after the last input. An input's fault is thrown
    /// by the call after the one that returned the last lines decoded before it.
    func nextBatch() async throws -> [FollowedLine]? {
        while true {
            if let failure = pendingFailure {
                pendingFailure = nil
                throw failure
            }
            if Task.isCancelled {
                closeInput()
                return nil
            }
            if stream == nil {
                guard let next = inputs.popLast() else { return nil }
                try open(next)
            }
            if fd == 0, await Reactor.shared.wait(fd: 0, for: .read) == .interrupted {
                closeInput()
                return nil
            }
            block.removeAll()
            let more = stream!.fill(block, limit: fd == 0 ? 1 : 1 << 16)
            var lines = [FollowedLine]()
            split(block.bytes, into: &lines)
            if !more {
                if let error = stream!.error {
                    // A decoder that failed mid-line left a fragment of that line: it is not a line.
                    pendingFailure = error.droppingUnfinishedLine(discarding ? 0 : carry.count)
                } else if !carry.isEmpty && !discarding {
                    lines.append(FollowedLine(path: path, bytes: carry, line: lineNumber + 1))
                }
                closeInput()
            }
            if !lines.isEmpty { return lines }
        }
    }

    private func open(_ spec: InputSpec) throws {
        path = spec.path
        fd = try spec.open()
        var head = [UInt8](repeating: 0, count: 4)
        let got = try head.withUnsafeMutableBytes { try System.readFully(fd, $0.baseAddress!, 4, path: path) }
        head.removeLast(4 - got)
        let compression = head.withUnsafeBytes { Compression.detect($0) }
        let input = CompressedInput(path: path, fd: fd, prefix: head, blockSize: 1 << 16)
        self.input = input
        stream = Decoders.stream(compression, input, gzip: .isal)
        carry.removeAll()
        discarding = false
        lineNumber = 0
    }

    private func closeInput() {
        if fd > 0 { System.close(fd) }
        fd = -1
        stream = nil
        input = nil
    }

    private func split(_ bytes: UnsafeRawBufferPointer, into lines: inout [FollowedLine]) {
        guard let raw = bytes.baseAddress, bytes.count > 0 else { return }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        var start = 0
        while start < bytes.count {
            let newline = Bytes.find(Bytes.newline, base, from: start, end: bytes.count)
            let piece = UnsafeBufferPointer(start: base + start, count: newline - start)
            if discarding {
                // Skipping an overlong line until its end.
            } else if carry.count + piece.count > maxLineLength {
                onNotice?(.overlongLine(.init(path: path, line: lineNumber + 1), limit: maxLineLength))
                carry.removeAll()
                discarding = true
            } else {
                carry.append(contentsOf: piece)
            }
            if newline == bytes.count { return }
            lineNumber += 1
            if !discarding { lines.append(FollowedLine(path: path, bytes: carry, line: lineNumber)) }
            carry.removeAll(keepingCapacity: true)
            discarding = false
            start = newline + 1
        }
    }
}

/// A followed or stored line that passed a `LineFilter`, parsed into a record.
public struct FollowedRecord: Sendable, Equatable {
    /// The path the line came from, as given.
    public let path: String
    /// The parsed line.
    public let record: LogRecord
    /// The line's 1-based number in its input, when the source numbers lines (`StoredLines` does).
    public let line: Int?
    /// The byte offset of the line's first byte in its file, when the source gives it (`Follow` does).
    public let offset: Int?

    /// The record of `line`, which keeps its path, number and offset.
    public init(_ record: LogRecord, of line: FollowedLine) {
        path = line.path
        self.record = record
        self.line = line.line
        offset = line.offset
    }

    /// Where the line was: `path:line` or `path, byte N`.
    public var location: RejectTally.Location { RejectTally.Location(path: path, line: line, offset: offset) }
}

/// The lines of `Base` that pass a `LineFilter`, parsed into records. Lines that do not parse, or that a pattern
/// gave up on, are skipped and counted in `tally` when there is one. Each iterator makes its own `LineEvaluator`.
public struct LineRecords<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == FollowedLine {
    let base: Base
    let filter: LineFilter
    let tally: RejectTally?

    /// Reads `Base` through its own `LineEvaluator`, counting rejections in `tally` when there is one.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var lines: Base.AsyncIterator
        let evaluator: LineEvaluator
        let tally: RejectTally?
        /// The next line of `Base` that passes the filter, as a record; nil when `Base` ends. Rethrows its errors.
        public mutating func next() async throws -> FollowedRecord? {
            while let line = try await lines.next() {
                if let record = evaluator.record(line.bytes) { return FollowedRecord(record, of: line) }
                if let rejection = evaluator.lastRejection { tally?.note(rejection, line) }
            }
            return nil
        }
    }

    /// A new iterator over `Base` with a fresh `LineEvaluator`.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lines: base.makeAsyncIterator(), evaluator: filter.makeEvaluator(), tally: tally)
    }
}

extension AsyncSequence where Self: Sendable, Element == FollowedLine {
    /// The lines that pass `filter`, parsed into records; rejections other than the filter's go to `tally`.
    public func records(_ filter: LineFilter, tally: RejectTally? = nil) -> LineRecords<Self> {
        LineRecords(base: self, filter: filter, tally: tally)
    }
}

/// The groups of lines of `Base` (such as `Follow.batches` or `StoredLines.batches`) turned into groups of the
/// records that pass a `LineFilter`, each with its place in the input; groups left empty are skipped. Lines that do not parse, or that a pattern
/// gave up on, are counted in `tally` when there is one. Each iterator makes its own `LineEvaluator`.
public struct RecordBatches<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == [FollowedLine] {
    let base: Base
    let filter: LineFilter
    let tally: RejectTally?

    /// Reads `Base` through its own `LineEvaluator`, counting rejections in `tally` when there is one.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var batches: Base.AsyncIterator
        let evaluator: LineEvaluator
        let tally: RejectTally?
        /// The records of the next group of `Base` with any line that passes, in line order (never empty); nil
        /// when `Base` ends. Rethrows its errors.
        public mutating func next() async throws -> [FollowedRecord]? {
            while let batch = try await batches.next() {
                var records = [FollowedRecord]()
                for line in batch {
                    if let record = evaluator.record(line.bytes) {
                        records.append(FollowedRecord(record, of: line))
                    } else if let rejection = evaluator.lastRejection {
                        tally?.note(rejection, line)
                    }
                }
                if !records.isEmpty { return records }
            }
            return nil
        }
    }

    /// A new iterator over `Base` with a fresh `LineEvaluator`.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(batches: base.makeAsyncIterator(), evaluator: filter.makeEvaluator(), tally: tally)
    }
}

extension AsyncSequence where Self: Sendable, Element == [FollowedLine] {
    /// Each group's lines that pass `filter`, parsed into records; rejections other than the filter's go to
    /// `tally`.
    public func records(_ filter: LineFilter, tally: RejectTally? = nil) -> RecordBatches<Self> {
        RecordBatches(base: self, filter: filter, tally: tally)
    }
}
