import CSysGuard
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a query over inputs. Each input is read by the strategy that suits it: small files whole, one per
/// worker; large plain files through bounded memory-mapped windows split into chunks; large gzip files through
/// a decoder thread feeding the workers; bzip2 block-parallel, from a mapped file or as its blocks arrive. Every
/// strategy hands line-aligned pieces to the same per-worker `LineProcessor`s, and the pieces' reports are
/// merged in input order, so the result is the same for every thread count, chunk size and strategy.
///
/// The engine never prints: ordered output goes to the `output` closure, and errors are returned in the report
/// (per input, the first line a pattern gave up on and the error that ended it), after the other inputs have
/// still been processed. Only `strict` and a triggered `shutdown` token stop a run early.
///
/// The first `run` in a process installs a SIGBUS handler that keeps a file truncated while it is mapped from
/// killing the process; every SIGBUS outside Sluice's own mappings goes on to the action installed before it.
public final class Engine {
    /// The query as given.
    public let query: Query
    /// The options as given, brought within their limits (see `ExecutionOptions.withinLimits()`).
    public let options: ExecutionOptions
    let plan: Plan
    private let processors: [LineProcessor]
    private var tallies: [InputTally] = []
    private var malformed = 0
    private var firstMalformed: (path: String, line: Int)?

    /// After `run` threw (a `strict` stop, a sum overflow, a shutdown): what the run had found by then, so that a
    /// caller can still report the other inputs' problems: every input's tally, errors included, and the
    /// malformed lines. Its answer is `.streamed`, since the run gave none. After a run stopped early (`strict`,
    /// shutdown), how far it got depends on the schedule (the pieces being read when it stopped are merged
    /// whole), so unlike a finished run's, these tallies differ between thread counts and chunk sizes. nil after
    /// a run that returned.
    public private(set) var interruptedRun: RunReport?
    /// Set by a strict run at its first malformed line.
    private var strictStop = false
    /// The current run's shutdown token.
    private var shutdown: ShutdownToken?
    /// True once a strict run met its first malformed line or the run's shutdown token was triggered: reading
    /// stops at the next piece.
    private var stopped: Bool { strictStop || shutdown?.isTriggered == true }
    private var output: (UnsafeRawBufferPointer) -> Void = { _ in }
    private let wantsOutput: Bool
    /// The current run's inputs.
    private var inputs: [InputSpec] = []
    /// Output buffers of the last batch, handed to the next: a fresh megabyte per chunk would be faulted in and
    /// zeroed by the kernel each time (a fifth of `grep`'s time when most lines match).
    private var spareOutputs: [ByteBuffer] = []

    /// Compiles the query; throws `.invalidPattern`, `.unknownField` or `.invalidCondition` for the pattern, a
    /// field or a condition, and `.invalidArgument` for a query that cannot run (`select` without fields, `sum`
    /// of a text field, `top` with k < 1).
    public init(query: Query, options: ExecutionOptions = ExecutionOptions()) throws {
        self.query = query
        let options = options.withinLimits()
        self.options = options
        let plan = try Plan(query)
        self.plan = plan
        processors = (0..<options.threads).map { _ in LineProcessor(plan, maxLineLength: options.maxLineLength) }
        switch plan.output {
        case .grepLines, .select: wantsOutput = true
        default: wantsOutput = false
        }
    }

    /// Processes `inputs` in order. Lines for grep and select are passed to `output` in input order, in pieces
    /// whose bytes are valid only during the call. Triggering `shutdown` (from another thread or task) stops the
    /// run at the next piece of input, within milliseconds unless it waits for a pipe to deliver data: it then
    /// throws `.cancelled`, and `interruptedRun` holds what was found.
    /// With `strict`, the first malformed line throws `.malformedLine`; a `sum` that leaves the 64-bit range
    /// throws `.numericOverflow` once every input was read (see `interruptedRun` for what was found); any other
    /// problem with an input is recorded in that input's tally and the run goes on.
    public func run(_ inputs: [InputSpec], shutdown: ShutdownToken? = nil,
                    output: @escaping (UnsafeRawBufferPointer) -> Void = { _ in }) throws -> RunReport {
        self.output = output
        self.shutdown = shutdown
        self.inputs = inputs
        defer {
            spareOutputs = []
            self.shutdown = nil
            self.inputs = []
        }
        tallies = inputs.map { InputTally(path: $0.path) }
        malformed = 0
        firstMalformed = nil
        interruptedRun = nil
        strictStop = false
        CSysGuard_install()
        var index = 0
        while index < inputs.count && !stopped {
            switch inputs[index] {
            case .standardInput:
                runStandardInput(index)
                index += 1
            case .file, .foundFile:
                index = runFiles(from: index)
            }
        }
        for index in tallies.indices where tallies[index].linesGivenUp > 1 {
            let count = tallies[index].linesGivenUp
            tallies[index].gaveUp?.message += " (on \(count) lines, each counted as no match; this is the first)"
        }
        if let shutdown, shutdown.isTriggered {
            for processor in processors { processor.reset() }
            interruptedRun = RunReport(answer: .streamed, inputs: tallies, malformed: malformed, firstMalformed: firstMalformed)
            // Named after the last input reading had reached.
            let path = inputs.isEmpty ? "" : inputs[max(0, min(index, inputs.count) - 1)].path
            throw SluiceError(.cancelled, path: path, "run stopped by its shutdown token")
        }
        if query.strict, let first = firstMalformed {
            for processor in processors { processor.reset() }  // the next run starts from nothing
            interruptedRun = RunReport(answer: .streamed, inputs: tallies, malformed: malformed, firstMalformed: first)
            throw SluiceError(.malformedLine, path: first.path, "malformed line", line: first.line)
        }
        let (answer, overflowed) = mergedAnswer()
        if overflowed {
            interruptedRun = RunReport(answer: .streamed, inputs: tallies, malformed: malformed, firstMalformed: firstMalformed)
            throw SluiceError(.numericOverflow, path: query.operation.fieldName ?? "sum", "sum overflows a 64-bit integer")
        }
        return RunReport(answer: answer, inputs: tallies, malformed: malformed, firstMalformed: firstMalformed)
    }

    // MARK: Strategies

    /// Reads the run's inputs from `start` on with a strategy each; consecutive small files are batched together.
    /// Returns the next index.
    private func runFiles(from start: Int) -> Int {
        var batch = [WorkItem]()
        var index = start
        var listed = 0
        while index < inputs.count, let path = inputs[index].filePath {
            var info = stat()
            if PathBytes.withCString(path, { fstatat(AT_FDCWD, $0, &info, 0) }) == 0 && System.isRegular(info) && Int(info.st_size) <= options.smallFileLimit
                && !Engine.prefersBlockParallel(path, size: Int(info.st_size), options) {
                batch.append(WorkItem(input: index, source: .wholeFile(path)))
                index += 1
                listed += Int(info.st_size)
                // A batch's lines are held until all of it is read: for grep and select, a batch of plain files
                // stops at `batchOutputBudget` listed bytes (decoded ones draw on the budget as they go).
                if batch.count >= 4096 || wantsOutput && listed >= options.batchOutputBudget { break }
            } else {
                break
            }
        }
        if !batch.isEmpty {
            execute(batch)
            return index
        }
        runLargeFile(start, inputs[start])
        return start + 1
    }

    /// A bzip2 file big enough to be worth splitting into blocks goes the block-parallel way even when it is
    /// small on disk, since it decodes to many times its size.
    private static func prefersBlockParallel(_ path: String, size: Int, _ options: ExecutionOptions) -> Bool {
        guard options.parallelBzip2 && size > (64 << 10), let (fd, _) = try? System.openRegular(path) else { return false }
        defer { System.close(fd) }
        var head = [UInt8](repeating: 0, count: 4)
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        return got == 4 && head.withUnsafeBytes { Compression.detect($0) } == .bzip2
    }

    private func runLargeFile(_ index: Int, _ input: InputSpec) {
        let path = input.path
        let fd: Int32
        do { fd = try input.open() } catch { return fail(index, error) }
        defer { System.close(fd) }
        do {
            let info = try System.stat(fd, path: path)
            if System.isDirectory(info) {
                return fail(index, SluiceError(.unreadable, path: path, "Is a directory"))
            }
            var head = [UInt8](repeating: 0, count: 4)
            let got = try head.withUnsafeMutableBytes { try System.readFully(fd, $0.baseAddress!, 4, path: path) }
            head.removeSubrange(got...)
            let compression = head.withUnsafeBytes { Compression.detect($0) }
            switch compression {
            case .none where System.isRegular(info):
                runMapped(index, path: path, fd: fd)
            case .bzip2 where System.isRegular(info) && options.parallelBzip2:
                runBZip2Parallel(index, path: path, fd: fd, size: Int(info.st_size))
            default:
                runStream(index, path: path, fd: fd, owned: true, head: head)
            }
        } catch {
            fail(index, error)
        }
    }

    /// Standard input. A plain regular file (`sluice sum bytes < access.log`) is mapped like a named one, from
    /// the descriptor's current offset to the end, and the offset is then left at the end, as a reader's would
    /// be; a pipe, a terminal or compressed data is read as a stream.
    private func runStandardInput(_ index: Int) {
        var info = stat()
        let offset = lseek(0, 0, SEEK_CUR)
        if offset >= 0, fstat(0, &info) == 0, System.isRegular(info), Int(info.st_size) > Int(offset) {
            var head = [UInt8](repeating: 0, count: 4)
            let got = head.withUnsafeMutableBytes { pread(0, $0.baseAddress, 4, offset) }
            if got >= 0 && head[..<got].withUnsafeBytes({ Compression.detect($0) }) == .none {
                runMapped(index, path: InputSpec.standardInput.path, fd: 0, from: Int(offset))
                lseek(0, 0, SEEK_END)
                return
            }
        }
        runStream(index, path: InputSpec.standardInput.path, fd: 0, owned: false, head: nil)
    }

    /// A plain file from byte `start` on, through memory-mapped windows of `windowSize` bytes. A window ends after
    /// its last newline; the rest starts the next window. A window without a newline grows until it holds one.
    private func runMapped(_ index: Int, path: String, fd: Int32, from start: Int = 0) {
        let page = System.pageSize
        var start = start
        var window = options.windowSize
        // A finished window is unmapped on another thread while the next one is read; at most one waits.
        let unmapping = DispatchGroup()
        defer { unmapping.wait() }
        while !stopped {
            let fileSize = Int((try? System.stat(fd, path: path).st_size) ?? 0)
            guard fileSize > start else {
                // At the end, or shrunk below what the windows before read.
                return fileSize < start ? fail(index, Engine.shrank(path, to: fileSize)) : ()
            }
            let mapStart = start & ~(page - 1)
            let mapEnd = min(fileSize, start + window)
            let length = mapEnd - mapStart
            guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(mapStart)),
                  mapped != MAP_FAILED else {
                return fail(index, System.error(path, errno))
            }
            let base = UnsafePointer(mapped.assumingMemoryBound(to: UInt8.self))
            let slot = CSysGuard_register(mapped, length)
            let first = start - mapStart
            var cut = length
            // A window that reaches the end of the file in the middle of a line, in a file that grew since: the
            // line is still being written, so it is left for the next window, which holds its end.
            let endsMidLine = mapEnd == fileSize && base[length - 1] != Bytes.newline
            if endsMidLine, Int((try? System.stat(fd, path: path).st_size) ?? 0) > fileSize {
                CSysGuard_unregister(slot)
                munmap(mapped, length)
                usleep(1000)  // a writer that extends the line in small pieces is not raced at full speed
                continue
            }
            if mapEnd < fileSize {
                guard let last = Bytes.findLast(Bytes.newline, base, from: first, end: length) else {
                    CSysGuard_unregister(slot)
                    munmap(mapped, length)
                    if length - first > options.maxLineLength {
                        // A line longer than the limit: skip to its end without holding it in memory.
                        guard let next = skipLine(fd, path: path, from: mapEnd, size: fileSize) else { return }
                        execute([WorkItem(input: index, source: .overlongLine)])
                        start = next
                    } else {
                        window *= 2
                    }
                    continue
                }
                cut = last + 1
            }
            var items = [WorkItem]()
            WorkItem.split(base, first, cut, chunkSize: options.chunkSize, input: index, owner: nil, into: &items)
            // A file that shrank while the window was read: pages past its new end read as zeros (faulting ones
            // through the SIGBUS guard, the rest of the last page without a fault). Only the pieces that end
            // before both the new end and the first faulting page are kept.
            var shrunkTo: Int?
            execute(items) {
                let now = Int((try? System.stat(fd, path: path).st_size) ?? 0)
                let fault = CSysGuard_first_fault(slot)
                let intact = min(now - mapStart, fault < 0 ? Int.max : Int(fault))
                guard intact < cut || CSysGuard_faults(slot) > 0 else { return Int.max }
                shrunkTo = now
                return intact
            }
            CSysGuard_unregister(slot)
            unmapping.wait()
            let address = UInt(bitPattern: mapped)
            DispatchQueue.global().async(group: unmapping) {
                munmap(UnsafeMutableRawPointer(bitPattern: address), length)
            }
            if let now = shrunkTo { return fail(index, Engine.shrank(path, to: now)) }
            // That line was the file's last (as grep reads one at the end of the file): bytes written after it
            // would continue it, not start a line, so reading ends here.
            if endsMidLine { return }
            start = mapStart + cut
            window = options.windowSize
        }
    }

    /// The error for a file that is now `size` bytes, shorter than what was being read.
    private static func shrank(_ path: String, to size: Int) -> SluiceError {
        SluiceError(.fileShrank, path: path, "file shrank to \(size) bytes while being read (truncated or rotated)",
                    offset: size)
    }

    /// The offset just past the next newline at or after `from`, reading in bounded pieces; `size` at the end.
    private func skipLine(_ fd: Int32, path: String, from: Int, size: Int) -> Int? {
        let buffer = ByteBuffer(capacity: 1 << 20)
        var offset = from
        while offset < size {
            let got = pread(fd, buffer.base, buffer.capacity, off_t(offset))
            if got <= 0 { return size }
            let hit = Bytes.find(Bytes.newline, buffer.base, from: 0, end: got)
            if hit < got { return offset + hit + 1 }
            offset += got
        }
        return size
    }

    /// Any input read as a stream: standard input, pipes, gzip, and bzip2 when its blocks could not be located
    /// in the mapped file. bzip2 goes block-parallel (`runBZip2Piped`) unless that is off or one worker does all;
    /// everything else through `drain`.
    private func runStream(_ index: Int, path: String, fd: Int32, owned: Bool, head: [UInt8]?) {
        var prefix = head ?? []
        if head == nil {
            prefix = [UInt8](repeating: 0, count: 4)
            let got = (try? prefix.withUnsafeMutableBytes { try System.readFully(fd, $0.baseAddress!, 4, path: path) }) ?? 0
            prefix.removeSubrange(got...)
        }
        let compression = prefix.withUnsafeBytes { Compression.detect($0) }
        let input = CompressedInput(path: path, fd: fd, prefix: prefix)
        if compression == .bzip2 && options.parallelBzip2 && processors.count > 1,
           let decoder = processors[0].bzip2Decoder {
            return runBZip2Piped(index, path: path, stream: BZip2FastStream(input, decoder: decoder))
        }
        let stitcher = LineStitcher(input: index, chunkSize: options.chunkSize, maxLineLength: options.maxLineLength)
        drain(Decoders.stream(compression, input, gzip: options.gzipDecoder), index, stitcher,
              decoderBusy: compression != .none)
    }

    /// Decodes `stream` to its end on a decoder thread while the workers parse the blocks before, continuing
    /// `stitcher`'s lines, and records the stream's error for input `index`. A decoder (`decoderBusy`) fills
    /// blocks of 4 chunks and leaves its core to itself. A plain stream's reader mostly waits in read(2), so the
    /// parse takes every core, and a block is handed over once it holds 32 KiB: the pool of blocks (96 KiB each
    /// with the slack) then fits a core's 512 KiB L2, so the kernel copies into cached lines and a worker parses
    /// bytes still in the cache. From a pipe, `grep -c` on makebig-2000 ran about a quarter faster than with
    /// 64 KiB blocks grown to 256 KiB, and 4 MiB blocks were slower still.
    private func drain(_ stream: DecodedStream, _ index: Int, _ stitcher: LineStitcher, decoderBusy: Bool = true) {
        let blockSize = decoderBusy ? max(options.chunkSize, 1 << 20) * 4 : 32 << 10
        let prefetcher = Prefetcher(stream, blockSize: blockSize, depth: options.threads + 2)
        defer { prefetcher.finish() }
        while !stopped {
            guard let first = prefetcher.next(wait: true) else { break }
            var blocks = [first]
            while blocks.count <= options.threads, let more = prefetcher.next(wait: false) { blocks.append(more) }
            var items = [WorkItem]()
            for block in blocks { stitcher.add(block, into: &items) }
            if prefetcher.isEnded && prefetcher.error == nil { stitcher.finish(into: &items) }
            // A decoder thread keeps one core busy: parse on the others, so it is never preempted.
            execute(items, maxWorkers: decoderBusy ? options.threads - 1 : options.threads)
            items.removeAll()
            for block in blocks { prefetcher.recycle(block) }
        }
        // A stopped run reports nothing past its stop (see `fail`), and the decoder may still be running.
        if stopped { return }
        if let error = prefetcher.error {
            fail(index, error.droppingUnfinishedLine(stitcher.discardUnfinished()))
        } else {
            var items = [WorkItem]()
            stitcher.finish(into: &items)
            execute(items)
        }
    }

    /// A bzip2 file decoded block-parallel: blocks are located in the mapped file, decoded a batch at a time on
    /// all workers, then parsed. Anything unexpected falls back to sequential decoding.
    private func runBZip2Parallel(_ index: Int, path: String, fd: Int32, size: Int) {
        guard size > 0, let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            return fallbackStream(index, path: path, fd: fd)
        }
        let slot = CSysGuard_register(mapped, size)
        defer {
            CSysGuard_unregister(slot)
            munmap(mapped, size)
        }
        let data = UnsafeRawBufferPointer(start: mapped, count: size)
        // Locating reads every page of the file: the pages it has passed are dropped as it goes (they stay in
        // the page cache, and each batch of blocks maps its own again), so resident memory stays small.
        let page = System.pageSize
        let blocks = BZip2Blocks.locate(data) { passed in
            let whole = passed & ~(page - 1)
            if whole > 0 { madvise(mapped, whole, MADV_DONTNEED) }
        }
        guard let blocks, CSysGuard_faults(slot) == 0 else {
            return fallbackStream(index, path: path, fd: fd)
        }
        let stitcher = LineStitcher(input: index, chunkSize: options.chunkSize, maxLineLength: options.maxLineLength)
        var buffers = (0..<bzip2BatchSize).map { _ in ByteBuffer(capacity: 1 << 20) }
        var position = 0
        while position < blocks.count && !stopped {
            let batch = Array(blocks[position..<min(blocks.count, position + bzip2BatchSize)])
            let (done, errors) = decodeBlocks(batch, in: data, path: path, into: buffers)
            var items = [WorkItem]()
            var failure: SluiceError?
            for (offset, buffer) in buffers.prefix(done).enumerated() {
                // A failed block's bytes count when its decoder kept them (a CRC mismatch), as in a stream.
                if buffer.count > 0 { stitcher.add(buffer, into: &items) }
                if let error = errors[offset] { failure = error; break }
            }
            position += done
            if failure == nil && position >= blocks.count { stitcher.finish(into: &items) }
            execute(items)
            if let failure { return fail(index, failure.droppingUnfinishedLine(stitcher.discardUnfinished())) }
            if CSysGuard_faults(slot) > 0 {
                let error = SluiceError(.fileShrank, path: path, "file shrank while being read")
                return fail(index, error.droppingUnfinishedLine(stitcher.discardUnfinished()))
            }
            // The items are done and the stitcher copied the partial line, so the buffers can be reused.
            buffers = buffers.map { $0.capacity > (16 << 20) ? ByteBuffer(capacity: 1 << 20) : $0 }
            let consumed = (batch[done - 1].bitEnd / 8) & ~(System.pageSize - 1)
            if consumed > 0 { madvise(mapped, consumed, MADV_DONTNEED) }
        }
    }

    /// bzip2 read as a stream (standard input, a pipe, or a file whose blocks could not all be located up front),
    /// still decoded block-parallel: the stream hands over the blocks that have arrived whole, a batch at a time,
    /// and the workers decode them as for a mapped file. From a block that fails to decode, or from anything else
    /// unexpected, the stream goes on sequentially, which decodes what it can and reports the problem.
    private func runBZip2Piped(_ index: Int, path: String, stream: BZip2FastStream) {
        let stitcher = LineStitcher(input: index, chunkSize: options.chunkSize, maxLineLength: options.maxLineLength)
        var buffers = (0..<bzip2BatchSize).map { _ in ByteBuffer(capacity: 1 << 20) }
        while !stopped {
            let batch = stream.wholeBlocks(upTo: bzip2BatchSize)
            if batch.isEmpty { break }
            let (done, errors) = decodeBlocks(batch, in: stream.buffered, path: path, into: buffers)
            let decoded = errors.prefix(done).firstIndex { $0 != nil } ?? done
            var items = [WorkItem]()
            for buffer in buffers.prefix(decoded) { stitcher.add(buffer, into: &items) }
            execute(items)
            buffers = buffers.map { $0.capacity > (16 << 20) ? ByteBuffer(capacity: 1 << 20) : $0 }
            stream.rewind(to: decoded, of: batch)
            if decoded < done { break }
        }
        if !stopped { drain(stream, index, stitcher) }
    }

    /// Blocks per batch of block-parallel bzip2 decoding: workers wait for the slowest block of a batch, so a
    /// batch holds several blocks per worker.
    private var bzip2BatchSize: Int { max(2, options.threads * 8) }

    /// Decodes the blocks of `batch`, located in `data`, into `buffers[0..<count]` on all workers, each with its
    /// own decoder (libbz2 where it has none). Workers claim blocks in order, so the blocks decoded are a prefix
    /// of the batch; returns its length and, per block, the error that block failed with. A block can decode to
    /// 46 MB (runs of one byte), so workers stop claiming blocks once the batch's decoded bytes reach a budget of
    /// 2 MB per block of the batch (32 MB at least), which usual logs (under 1 MB per block) never reach: the
    /// decoded bytes held stay under the budget plus one block per worker, for any input.
    private func decodeBlocks(_ batch: [BZip2Block], in data: UnsafeRawBufferPointer, path: String,
                              into buffers: [ByteBuffer]) -> (done: Int, errors: [SluiceError?]) {
        let decodedBudget = max(32 << 20, batch.count * (2 << 20))
        let errors = UnsafeMutableBufferPointer<SluiceError?>.allocate(capacity: batch.count)
        errors.initialize(repeating: nil)
        defer { errors.deallocate() }
        let next = Atomic<Int>(0)
        let decoded = Atomic<Int>(0)
        let processors = self.processors
        DispatchQueue.concurrentPerform(iterations: min(options.threads, processors.count, batch.count)) { worker in
            let decoder = processors[worker].bzip2Decoder
            while decoded.load(ordering: .relaxed) < decodedBudget {
                let claimed = next.add(1, ordering: .relaxed).oldValue
                if claimed >= batch.count { break }
                buffers[claimed].removeAll()
                do {
                    if let decoder {
                        try decoder.decode(batch[claimed], in: data, into: buffers[claimed], path: path)
                    } else {
                        try BZip2Blocks.decode(batch[claimed], in: data, into: buffers[claimed], path: path)
                    }
                } catch let error as SluiceError {
                    errors[claimed] = error
                } catch {}
                decoded.add(buffers[claimed].count, ordering: .relaxed)
            }
        }
        let done = min(next.load(ordering: .relaxed), batch.count)
        return (done, Array(errors))
    }

    private func fallbackStream(_ index: Int, path: String, fd: Int32) {
        guard lseek(fd, 0, SEEK_SET) == 0 else { return fail(index, System.error(path, errno)) }
        runStream(index, path: path, fd: fd, owned: true, head: nil)
    }

    // MARK: Parallel execution and ordered merge

    /// Runs the items on all workers, each claiming the next unclaimed item, then merges their reports in order.
    /// `maxWorkers` leaves cores to a decoder thread that runs at the same time. `intactEnd`, called once the
    /// workers are done, gives the offset past which a `.bytes` item is not merged, nor any item after it.
    private func execute(_ items: [WorkItem], maxWorkers: Int = Int.max, intactEnd: () -> Int = { Int.max }) {
        guard !items.isEmpty else { return }
        let next = Atomic<Int>(0)
        let budget = Atomic<Int>(wantsOutput ? options.batchOutputBudget : Int.max)
        let workers = min(processors.count, items.count, max(1, maxWorkers))
        let processors = self.processors
        let blockSize = max(options.chunkSize, 1 << 20) * 4
        let gzip = options.gzipDecoder
        let maxLineLength = options.maxLineLength
        let shutdown = self.shutdown
        if wantsOutput { giveOutputBuffers(items) }
        if workers == 1 {
            for item in items where shutdown?.isTriggered != true {
                Engine.perform(item, processors[0], blockSize, gzip, maxLineLength, budget)
            }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while true {
                    let claimed = next.add(1, ordering: .relaxed).oldValue
                    if claimed >= items.count || shutdown?.isTriggered == true { break }
                    Engine.perform(items[claimed], processors[worker], blockSize, gzip, maxLineLength, budget)
                }
            }
        }
        let intact = intactEnd()
        for item in items {
            if case .bytes(_, _, let end) = item.source, end > intact { break }
            if item.deferred {
                // Its output would have gone over the batch's budget: read it again on its own, as a large file.
                if !stopped { runLargeFile(item.input, inputs[item.input]) }
                continue
            }
            merge(item)
        }
        if wantsOutput { keepOutputBuffers(items) }
    }

    /// Gives each item an empty output buffer with room for its whole piece (which grep's output never exceeds:
    /// a buffer that grows copies what it holds), a spare one from the last batch when it is large enough.
    private func giveOutputBuffers(_ items: [WorkItem]) {
        spareOutputs.sort { $0.capacity < $1.capacity }
        for item in items {
            var capacity = 1 << 16
            if case .bytes(_, let start, let end) = item.source { capacity = max(capacity, min(end - start + 1, 64 << 20)) }
            if let spare = spareOutputs.last, spare.capacity >= capacity {
                spareOutputs.removeLast()
                spare.removeAll()
                item.report.output = spare
            } else {
                item.report.output = ByteBuffer(capacity: capacity)
            }
        }
    }

    /// Keeps the batch's output buffers, once merged, for the next batch; not those that grew past 8 MiB.
    private func keepOutputBuffers(_ items: [WorkItem]) {
        spareOutputs = items.compactMap { item in
            defer { item.report.output = nil }
            return item.report.output.flatMap { $0.capacity <= 8 << 20 ? $0 : nil }
        }
    }

    private static func perform(_ item: WorkItem, _ processor: LineProcessor, _ blockSize: Int,
                                _ gzip: GzipDecoderKind, _ maxLineLength: Int, _ budget: borrowing Atomic<Int>) {
        switch item.source {
        case .bytes(let base, let start, let end):
            processor.process(base, start, end, into: &item.report)
        case .wholeFile(let path):
            WholeFile.process(path, item, processor, blockSize: blockSize, gzip: gzip, maxLineLength: maxLineLength,
                              outputBudget: budget)
        case .overlongLine:
            break
        }
    }

    private func merge(_ item: WorkItem) {
        guard !stopped else { return }
        let report = item.report
        var tally = tallies[item.input]
        let path = tally.path
        if report.malformed > 0 {
            malformed += report.malformed
            tally.malformed += report.malformed
            if firstMalformed == nil {
                firstMalformed = (path, tally.lines + report.firstMalformed + 1)
                if query.strict { strictStop = true }
            }
        }
        if let failure = report.failure, tally.gaveUp == nil {
            tally.gaveUp = SluiceError(.matchLimit, path: path, "regex gave up: \(failure)",
                                       line: tally.lines + report.failureLine + 1)
        }
        tally.linesGivenUp += report.failures
        tally.lines += report.lines
        tally.selected += report.selected
        tallies[item.input] = tally
        // A whole file's error lies after all of its lines, so after a malformed line that stopped the run here.
        if let error = item.error { fail(item.input, error) }
        if let buffer = report.output, buffer.count > 0 {
            // A strict run ends at its first malformed line: of that chunk, only what came before it prints.
            let count = strictStop ? report.outputBeforeMalformed : buffer.count
            if count > 0 { output(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count])) }
        }
    }

    /// Records `error` as input `index`'s, unless it has one or the run has stopped: a stopped run read no further
    /// than where it stopped (a strict run's malformed line, a shutdown), and whether a decoder or the file had
    /// already met a problem past that point depends on the schedule, so none is reported.
    private func fail(_ index: Int, _ error: Error) {
        guard !stopped else { return }
        if tallies[index].error == nil {
            tallies[index].error = error as? SluiceError ?? SluiceError(.io, path: tallies[index].path, "\(error)")
        }
    }

    // MARK: Answer

    private func mergedAnswer() -> (Answer, Bool) {
        let merged = processors[0].state
        for processor in processors.dropFirst() {
            merged.merge(processor.state)
            processor.reset()  // its table is no longer needed: freed before the answer is built
        }
        if case .custom = plan.aggregate { query.custom?.result = merged.sink }
        defer { processors[0].reset() }  // the others were reset as they were merged
        return (answer(merged), merged.overflowed)
    }

    private func answer(_ merged: AggregateState) -> Answer {
        switch query.operation {
        case .grep, .select:
            return .streamed
        case .sum, .count(by: nil):
            return .total(merged.total)
        case .count(by: .some):
            return .counts(merged.table!.top(Int.max).map { Answer.Entry(value: $0.key, count: $0.count) })
        case .distinct(_, let withCounts):
            guard withCounts else { return .values(merged.table!.sortedKeys()) }
            return .counts(merged.table!.sortedByKey().map { Answer.Entry(value: $0.key, count: $0.count) })
        case .top(_, let k):
            return .counts(merged.table!.top(k).map { Answer.Entry(value: $0.key, count: $0.count) })
        case .extreme(_, let with, _):
            guard let best = merged.best, best.hasValue else { return .noRecords }
            guard case .extreme(_, let withField, _, _) = plan.aggregate else { return .noRecords }
            let format = plan.format
            return .extreme(value: best.printedValue,
                            with: with == nil ? nil : best.printedWith(numeric: withField.map(format.isNumeric) ?? false))
        }
    }
}
