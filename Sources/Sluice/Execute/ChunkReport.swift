/// What one worker found in one chunk. Line numbers are 0-based and local to the chunk; the engine turns them
/// into file line numbers by adding up the line counts of the chunks before, in order.
struct ChunkReport {
    /// Lines in the chunk (a final line without `\n` counts).
    var lines = 0
    /// Records that passed every filter (for grep: matching lines).
    var selected: Int64 = 0
    var malformed = 0
    var firstMalformed = -1
    /// The first PCRE2 failure (match or depth limit), the local line it happened on, and how many lines failed.
    var failure: String?
    var failureLine = -1
    var failures = 0
    /// Ordered output for grep and select.
    var output: ByteBuffer?
    /// How many bytes `output` held when the first malformed line was met: all a `strict` run may print of
    /// this chunk, since it stops at that line.
    var outputBeforeMalformed = 0

    /// Keeps the first PCRE2 failure and its line, and counts the line.
    mutating func noteFailure(_ message: String, _ line: Int) {
        failures += 1
        if failure == nil {
            failure = message
            failureLine = line
        }
    }

    mutating func noteMalformed(_ line: Int) {
        if malformed == 0 {
            firstMalformed = line
            outputBeforeMalformed = output?.count ?? 0
        }
        malformed += 1
    }

    /// Counts one line longer than `ExecutionOptions.maxLineLength`, which was skipped unread, as malformed.
    mutating func noteOverlongLine() {
        noteMalformed(lines)
        lines += 1
    }
}
