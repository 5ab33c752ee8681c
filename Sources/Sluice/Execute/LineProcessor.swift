import CByteScan

/// One worker's line engine: parses, filters and aggregates the lines of the chunks it is given. It owns all
/// its scratch state (record, matchers, aggregate), so workers share nothing while they run.
final class LineProcessor {
    let plan: Plan
    private(set) var state: AggregateState
    /// Per-worker buffers for whole-file reads and decoding, reused from file to file.
    let readScratch = ByteBuffer(capacity: 1 << 16)
    var decodeScratch = ByteBuffer(capacity: 1 << 16)
    /// Per-worker bzip2 block decoder, created on first use and kept for the run (its tables are large); nil
    /// only when it cannot be allocated, and then libbz2 decodes the blocks.
    lazy var bzip2Decoder: BZip2BlockDecoder? = BZip2BlockDecoder()
    private let parser: RecordParser
    private let record: Record
    private let prefilter: Matcher?
    private let grep: Matcher?
    private let conditions: ConditionEvaluator
    private let accessLog: Bool
    private let wantCombined: Bool
    private let requireCombined: Bool
    private let selectFields: [FieldRef]
    /// End of the chunk being processed: the scanner may look ahead to it, never past it.
    private var chunkEnd = 0
    /// `"name":` for each selected field when select writes JSON lines.
    private let selectJSONKeys: [[UInt8]]?

    /// Lines longer than this, not counting the `\n`, are skipped and counted as malformed, whichever way
    /// they were read (`ExecutionOptions.maxLineLength`).
    private let maxLineLength: Int

    init(_ plan: Plan, maxLineLength: Int = Int.max) {
        self.plan = plan
        self.maxLineLength = maxLineLength
        state = AggregateState(plan.aggregate, custom: plan.query.custom)
        // `.fields` splits a line only as far as the query reads; the facade's custom aggregate either reads
        // every field or the whole line itself.
        let fieldLimit = plan.query.custom.map { $0.splitsFields ? Int.max : 0 } ?? plan.fieldsRead
        parser = RecordParser(plan.format, fieldLimit: fieldLimit, needsTrailer: plan.usesTrailer)
        record = parser.record
        prefilter = plan.prefilter.map(Matcher.init)
        conditions = ConditionEvaluator(plan.conditions, accessLog: plan.format.isAccessLog)
        accessLog = parser.accessLog
        wantCombined = parser.wantCombined
        requireCombined = parser.requireCombined
        switch plan.output {
        case .grepLines(let pattern), .grepCount(let pattern): grep = Matcher(pattern)
        default: grep = nil
        }
        if case .select(let fields, let json) = plan.output, case .select(let names, _) = plan.query.operation {
            selectFields = fields
            selectJSONKeys = json ? Plan.selectedNames(names, json: true).map { Array("\"\($0)\":".utf8) } : nil
        } else {
            selectFields = []
            selectJSONKeys = nil
        }
    }

    /// Starts a fresh aggregate, for the next run.
    func reset() { state = AggregateState(plan.aggregate, custom: plan.query.custom) }

    /// Processes the lines of `base[start..<end]`, which begins at a line start and ends after a `\n` or at the
    /// end of the input. Line numbers continue from `report.lines`, so one report can cover several consecutive pieces.
    func process(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into report: inout ChunkReport) {
        if end &- start > maxLineLength {
            processSkippingOverlong(base, start, end, &report)
        } else {
            processPiece(base, start, end, &report)
        }
    }

    /// `process` for a piece long enough to hold a line over the limit: the runs of lines between such lines
    /// are processed as usual, and each such line counts as one malformed line, unread. So the limit applies
    /// the same way whatever the chunk, window or block that brought the line.
    private func processSkippingOverlong(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                         _ report: inout ChunkReport) {
        var pieceStart = start
        var lineStart = start
        while lineStart < end {
            let lineEnd = Bytes.find(Bytes.newline, base, from: lineStart, end: end)
            if lineEnd - lineStart > maxLineLength {
                if lineStart > pieceStart { processPiece(base, pieceStart, lineStart, &report) }
                report.noteOverlongLine()
                pieceStart = min(lineEnd + 1, end)
            }
            lineStart = lineEnd + 1
        }
        if pieceStart < end { processPiece(base, pieceStart, end, &report) }
    }

    /// `process` for a piece whose lines are all within the limit.
    private func processPiece(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ report: inout ChunkReport) {
        record.base = base
        chunkEnd = end
        // One read of the property per chunk rather than one checked access per line.
        let state = self.state
        // The table counts each key one record late (`addSoon`); the last one is counted before the chunk goes.
        defer { state.table?.flush() }
        if let grep {
            // Read once per piece: binding it from the report on every line cost a retain and a release.
            let output = report.output
            let prefilter = self.prefilter, filtered = !conditions.isEmpty
            searchLines(grep, base, start, end, &report) { lineStart, lineEnd, line, report in
                // `--grep` and `--where` narrow grep's lines as they narrow any command's records.
                guard prefilter.map({ matches($0, base, lineStart, lineEnd, line, &report) }) ?? true,
                      !filtered || parse(base, lineStart, lineEnd, line, &report) && passes(line, &report)
                else { return }
                report.selected += 1
                if let output {
                    // The line with its own newline in one copy; the last line of the input may have none.
                    if lineEnd < end {
                        output.append(base + lineStart, lineEnd + 1 - lineStart)
                    } else {
                        output.append(base + lineStart, lineEnd - lineStart)
                        output.append(Bytes.newline)
                    }
                }
            }
        } else if let prefilter {
            searchLines(prefilter, base, start, end, &report) { lineStart, lineEnd, line, report in
                handle(base, lineStart, lineEnd, line, state, &report)
            }
        } else if accessLog {
            processAccessLog(base, start, end, state, &report)
        } else {
            var line = report.lines
            var lineStart = start
            while lineStart < end {
                let lineEnd = Bytes.find(Bytes.newline, base, from: lineStart, end: end)
                handle(base, lineStart, lineEnd, line, state, &report)
                line += 1
                lineStart = lineEnd + 1
            }
            report.lines = line
        }
    }

    /// The access-log fast path of `process`: the scanner finds each line's end itself, so every byte is looked
    /// at once. A function of its own, so that the per-line steps inline into one small loop.
    private func processAccessLog(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ state: AggregateState,
                                  _ report: inout ChunkReport) {
        var cursor = SpaceCursor(base, limit: end)
        var line = report.lines
        var lineStart = start
        let record = self.record
        let wantCombined = self.wantCombined, requireCombined = self.requireCombined
        let filtered = !conditions.isEmpty
        // `sum bytes` and `sum status` add the number the scanner already converted, in a local.
        var sumsBytes = false, sumsStatus = false
        if case .sum(let field) = state.kind {
            sumsBytes = field.index == AccessField.bytes
            sumsStatus = field.index == AccessField.status
        }
        var sum: Int64 = 0, wraps: Int64 = 0, summed: Int64 = 0
        // A plain count or these sums read no field but status and bytes, so the scanner may skip the others.
        var countsOnly = false
        if case .count = state.kind { countsOnly = true }
        let allFields = filtered || !(sumsBytes || sumsStatus || countsOnly)
        // With nothing but status and bytes to read, the usual lines go through the C run many at a time, and the
        // scanner takes each line the run stops at. When the run takes no line at all (the line it starts on is
        // not usual either, or fewer than 128 bytes are left), the scanner takes that line and the next 15 before
        // the run is tried again, so that a file of unusual lines pays little for the attempts.
        let runs = !allFields && !requireCombined && LineProcessor.accessRunAvailable
        var taken = CByteScanRun()
        var runFrom = line
        while lineStart < end {
            if runs && line >= runFrom {
                let next = CByteScan_access_run(base, lineStart, end, sumsStatus, &taken)
                if taken.lines == 0 {
                    runFrom = line &+ 16
                } else {
                    let lines = Int(taken.lines)
                    line &+= lines
                    if countsOnly {
                        state.total &+= Int64(lines)
                        report.selected &+= Int64(lines)
                    } else {
                        WrappingSum.add(sumsBytes ? taken.bytes : taken.status, to: &sum, wraps: &wraps)
                        summed &+= Int64(lines)
                    }
                    lineStart = next
                    if lineStart >= end { break }
                }
            }
            if AccessLogScanner.scan(base, lineStart, end, into: record, cursor: &cursor,
                                     wantCombined: wantCombined, requireCombined: requireCombined,
                                     allFields: allFields) {
                if !filtered || passes(line, &report) {
                    if sumsBytes || sumsStatus {
                        WrappingSum.add(sumsBytes ? record.bytes : record.status, to: &sum, wraps: &wraps)
                        summed &+= 1
                    } else {
                        accept(base, line, state, &report)
                    }
                }
            } else {
                report.noteMalformed(line)
            }
            line &+= 1
            lineStart = record.lineEnd &+ 1
        }
        report.lines = line
        if summed > 0 {
            WrappingSum.merge(sum, wraps, into: &state.total, wraps: &state.wraps)
            report.selected += summed
        }
    }

    /// Whether this CPU runs `CByteScan_access_run` (x86-64 with AVX2), asked once.
    private static let accessRunAvailable = CByteScan_access_run_available()

    /// Calls `body` for each line of the chunk that `matcher` matches alone. A line-local pattern (see
    /// `LineLocality`) searches the whole chunk at once rather than line by line, and a match that spans a newline
    /// is checked again against its first line alone; any other pattern searches each line alone.
    private func searchLines(_ matcher: Matcher, _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                             _ report: inout ChunkReport,
                             _ body: (Int, Int, Int, inout ChunkReport) -> Void) {
        let subject = base + start
        let length = end - start
        var position = 0             // relative to start; always a line start
        var line = report.lines      // line number of `position`
        if let literal = matcher.pattern.literalPrefix {
            // Only lines holding the literal every match starts with can match: find those, then ask PCRE2
            // about each such line alone, unless the literal is all the pattern says.
            let whole = literal.isWholePattern
            while position < length, let hit = literal.next(subject, from: position, limit: length, newlines: &line) {
                let lineStart = Bytes.findLast(Bytes.newline, subject, from: position, end: hit).map { $0 + 1 } ?? position
                let lineEnd = Bytes.find(Bytes.newline, subject, from: hit, end: length)
                if whole || matches(matcher, subject, lineStart, lineEnd, line, &report) {
                    body(start + lineStart, start + lineEnd, line, &report)
                }
                line += 1
                position = lineEnd + 1
            }
            // No further hit: the search counted the remaining newlines.
            if position < length && subject[length - 1] != Bytes.newline { line += 1 }
            report.lines = line
            return
        }
        guard matcher.pattern.isLineLocal else {
            searchEachLine(matcher, base, start, end, line, &report, body)
            return
        }
        while position < length {
            let outcome = matcher.search(subject, length: length, from: position)
            if case .failed = outcome {
                // PCRE2 gave up somewhere in the rest of the chunk without saying where: go line by line, so
                // every line still gets its answer and the failure is pinned to its own line.
                searchEachLine(matcher, base, start + position, end, line, &report, body)
                return
            }
            // An empty match after the chunk's last newline is in no line; at the end of a last line without a
            // newline (`$` on `b` at the end of the input) it is in that line.
            guard case .match(let matchStart, let matchEnd) = outcome,
                  matchStart < length || subject[length - 1] != Bytes.newline else { break }
            let lineStart = Bytes.findLast(Bytes.newline, subject, from: position, end: matchStart).map { $0 + 1 } ?? position
            line += Bytes.countNewlines(subject, from: position, end: lineStart)
            let lineEnd = Bytes.find(Bytes.newline, subject, from: matchStart, end: length)
            // A match that crossed into the next line: only the line on its own decides.
            if matchEnd <= lineEnd || matches(matcher, subject, lineStart, lineEnd, line, &report) {
                body(start + lineStart, start + lineEnd, line, &report)
            }
            if lineEnd >= length {
                position = length
                line += 1
                report.lines = line
                return
            }
            position = lineEnd + 1
            line += 1
        }
        if position < length { line += Bytes.countNewlines(subject, from: position, end: length) }
        if length > 0 && subject[length - 1] != Bytes.newline && position < length { line += 1 }
        report.lines = line
    }

    /// Whether `matcher` matches the line `base[lineStart..<lineEnd]` alone; a search PCRE2 gives up is noted as
    /// a failure on that line and counts as no match.
    private func matches(_ matcher: Matcher, _ base: UnsafePointer<UInt8>, _ lineStart: Int, _ lineEnd: Int,
                         _ line: Int, _ report: inout ChunkReport) -> Bool {
        switch matcher.search(base + lineStart, length: lineEnd - lineStart) {
        case .match: return true
        case .noMatch: return false
        case .failed(let message):
            report.noteFailure(message, line)
            return false
        }
    }

    /// The line-at-a-time fallback of `searchLines`, from `start` (a line start with number `firstLine`).
    private func searchEachLine(_ matcher: Matcher, _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                _ firstLine: Int, _ report: inout ChunkReport,
                                _ body: (Int, Int, Int, inout ChunkReport) -> Void) {
        var line = firstLine
        var lineStart = start
        while lineStart < end {
            let lineEnd = Bytes.find(Bytes.newline, base, from: lineStart, end: end)
            if matches(matcher, base, lineStart, lineEnd, line, &report) { body(lineStart, lineEnd, line, &report) }
            line += 1
            lineStart = lineEnd + 1
        }
        report.lines = line
    }

    /// Parses one line into `record`; counts it as malformed when it is not a record.
    @inline(__always)
    private func parse(_ base: UnsafePointer<UInt8>, _ lineStart: Int, _ lineEnd: Int, _ line: Int,
                       _ report: inout ChunkReport) -> Bool {
        switch parser.parse(base, lineStart, lineEnd, limit: chunkEnd) {
        case .record:
            return true
        case .malformed:
            report.noteMalformed(line)
            return false
        case .failed(let message):
            report.noteFailure(message, line)
            return false
        }
    }

    /// Applies the conditions to the parsed record, noting a regex failure.
    @inline(__always)
    private func passes(_ line: Int, _ report: inout ChunkReport) -> Bool {
        if conditions.isEmpty { return true }
        if conditions.accepts(record) { return true }
        if let failure = conditions.failure { report.noteFailure(failure, line) }
        return false
    }

    @inline(__always)
    private func handle(_ base: UnsafePointer<UInt8>, _ lineStart: Int, _ lineEnd: Int, _ line: Int,
                        _ state: AggregateState, _ report: inout ChunkReport) {
        guard parse(base, lineStart, lineEnd, line, &report), passes(line, &report) else { return }
        accept(base, line, state, &report)
    }

    /// Adds the parsed record, which passed the filters, to the aggregate or the output.
    @inline(__always)
    private func accept(_ base: UnsafePointer<UInt8>, _ line: Int, _ state: AggregateState,
                        _ report: inout ChunkReport) {
        let lineEnd = record.lineEnd
        switch state.kind {
        case .sum(let field):
            guard let value = record.integer(field, accessLog: accessLog) else {
                report.noteMalformed(line)
                return
            }
            state.add(value)
        case .count:
            state.total &+= 1
        case .table(let field):
            let key = record.text(field, accessLog: accessLog)
            state.table!.addSoon(key.base, key.count)
        case .extreme(let field, let with, _, _):
            let (start, end) = record.span(field)
            let (withStart, withEnd) = with.map { record.span($0) } ?? (lineEnd, lineEnd)
            let integer = record.integer(field, accessLog: accessLog)
            let withInteger = with.flatMap { record.integer($0, accessLog: accessLog) }
            state.best!.offer(integer: integer, base, start, end, with: withInteger, base, withStart, withEnd)
        case .custom:
            guard state.sink!.accept(record) else {
                report.noteMalformed(line)
                return
            }
            state.total &+= 1
        case .none:
            if let output = report.output, let keys = selectJSONKeys {
                writeJSON(output, keys)
            } else if let output = report.output {
                for (index, field) in selectFields.enumerated() {
                    if index > 0 { output.append(32) }
                    let text = record.text(field, accessLog: accessLog)
                    output.append(text.base, text.count)
                }
                output.append(Bytes.newline)
            }
        }
        report.selected += 1
    }

    /// One JSON object for the selected fields of the current record.
    private func writeJSON(_ output: ByteBuffer, _ keys: [[UInt8]]) {
        output.append(123)
        for (index, field) in selectFields.enumerated() {
            if index > 0 { output.append(44) }
            keys[index].withUnsafeBufferPointer { output.append($0.baseAddress!, $0.count) }
            if plan.format.isNumeric(field) {
                output.append(decimal: record.integer(field, accessLog: true) ?? 0)
                continue
            }
            let (start, end) = record.span(field)
            JSONEscape.appendString(record.base + start, end - start, to: output)
        }
        output.append(125)
        output.append(Bytes.newline)
    }
}
