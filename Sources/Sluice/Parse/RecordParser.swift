/// Turns one line into a `Record` as its format says: the access-log scanner for common, combined and auto,
/// awk-style splitting for fields, or a regex's named groups. One parser per worker or task: it owns the record
/// and the format's matcher. The engine's workers and the live filters both parse through it.
final class RecordParser {
    /// What `parse` made of a line.
    enum Outcome {
        case record
        case malformed
        /// PCRE2 gave up on the format's regex (match or depth limit).
        case failed(String)
    }

    /// The parsed line; its spans are valid until the next `parse`.
    let record = Record()
    let accessLog: Bool
    let wantCombined: Bool
    let requireCombined: Bool
    private let isFields: Bool
    private let fieldLimit: Int
    private let formatMatcher: Matcher?
    private let groups: Int
    private let sharedNames: [(first: Int, others: [Int])]

    /// The fields format splits a line into at most `fieldLimit` fields, the ones its consumers read (0 leaves
    /// it unsplit, for consumers that read it whole); fields past them read as empty. With `needsTrailer` false,
    /// the auto format does not look for referer and agent (they read as empty).
    init(_ format: CompiledFormat, fieldLimit: Int = Int.max, needsTrailer: Bool = true) {
        accessLog = format.isAccessLog
        switch format.format {
        case .combined: wantCombined = true; requireCombined = true
        case .auto: wantCombined = needsTrailer; requireCombined = false
        default: wantCombined = false; requireCombined = false
        }
        if case .fields = format.format { isFields = true } else { isFields = false }
        self.fieldLimit = fieldLimit
        formatMatcher = format.pattern.map(Matcher.init)
        groups = format.pattern?.captureCount ?? 0
        sharedNames = format.sharedNames
        record.ensureCapacity(Swift.max(groups, 11))
    }

    /// Parses `base[lineStart..<lineEnd]`. The access-log scanner may read ahead up to `limit` (at least
    /// `lineEnd`, and never past the readable bytes), which lets it work 64 bytes at a time.
    @inline(__always)
    func parse(_ base: UnsafePointer<UInt8>, _ lineStart: Int, _ lineEnd: Int, limit: Int) -> Outcome {
        record.base = base
        record.lineStart = lineStart
        record.lineEnd = lineEnd
        if accessLog {
            var cursor = SpaceCursor(base, limit: limit)
            return AccessLogScanner.scan(base, lineStart, limit, into: record, cursor: &cursor,
                                         wantCombined: wantCombined, requireCombined: requireCombined)
                ? .record : .malformed
        }
        if isFields {
            FieldSplitter.split(base, lineStart, lineEnd, into: record, limit: fieldLimit)
            return .record
        }
        return parseRegex(base, lineStart, lineEnd)
    }

    /// `parse` for `regex:` formats, kept out of line so that the access-log path stays small in the workers' loop.
    @inline(never)
    private func parseRegex(_ base: UnsafePointer<UInt8>, _ lineStart: Int, _ lineEnd: Int) -> Outcome {
        guard let formatMatcher else { return .malformed }
        switch formatMatcher.search(base + lineStart, length: lineEnd - lineStart) {
        case .match:
            let vector = formatMatcher.ovector
            let isSet = { (group: Int) in
                vector[2 * (group + 1)] != Int(bitPattern: UInt(bitPattern: -1)) && vector[2 * (group + 1)] <= vector[2 * (group + 1) + 1]
            }
            for group in 0..<groups {
                if isSet(group) {
                    record.set(group, lineStart + vector[2 * (group + 1)], lineStart + vector[2 * (group + 1) + 1])
                } else {
                    record.set(group, lineEnd, lineEnd)  // an unset group reads as empty
                }
            }
            // A name several groups share reads from the first of them that is set, as PCRE2's own lookup does.
            for shared in sharedNames where !isSet(shared.first) {
                if let other = shared.others.first(where: isSet) {
                    record.set(shared.first, lineStart + vector[2 * (other + 1)], lineStart + vector[2 * (other + 1) + 1])
                }
            }
            record.fieldCount = groups
            return .record
        case .noMatch:
            return .malformed
        case .failed(let message):
            return .failed(message)
        }
    }
}
