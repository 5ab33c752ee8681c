// What every program shares besides the facade: its inputs skip a file that fails instead of ending there,
// and what went wrong is reported when the program ends, as the sluice CLI reports it.
import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// The statuses of the pipelines the program built, for `reportProblems`.
nonisolated(unsafe) private var statuses: [PipelineStatus] = []

private func watched<P>(_ pipeline: P, _ status: PipelineStatus) -> P {
    if !statuses.contains(where: { $0 === status }) { statuses.append(status) }
    return pipeline
}

/// The tutorial's `lines_from_dir`, except that a file that cannot be read or decoded is skipped (the lines
/// before its error count) and reported at the end, while the other files are still read.
func linesFromDir(_ glob: String, _ directory: String) -> Lines {
    let lines = Sluice.linesFromDir(glob, directory).skippingFailedInputs()
    return watched(lines, lines.status)
}

/// The tutorial's `gen_find`, with the files that fail skipped and reported as in `linesFromDir`.
func genFind(_ glob: String, _ top: String) -> LogFiles {
    let files = Sluice.genFind(glob, top).skippingFailedInputs()
    return watched(files, files.status)
}

/// The error for a running total that left the 64-bit range (Python's integers have no such range).
let sumOverflow = SluiceError(.numericOverflow, path: "bytes", "sum overflows a 64-bit integer")

/// `total + value`, or `sumOverflow` thrown when it leaves the 64-bit range.
func adding(_ total: Int, _ value: Int) throws -> Int {
    let (sum, overflowed) = total.addingReportingOverflow(value)
    if overflowed { throw sumOverflow }
    return sum
}

/// Python 2's `print`: the items joined by spaces, a field's bytes written as they are (not as U+FFFD when
/// they are not UTF-8), everything else as its description.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    var out = [UInt8]()
    for (index, item) in items.enumerated() {
        if index > 0 { out += separator.utf8 }
        if let view = item as? any ByteView {
            out += view.bytes
        } else if let string = item as? ByteString {
            out += string.bytes
        } else {
            out += String(describing: item).utf8
        }
    }
    out += terminator.utf8
    _ = out.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stdout) }
}

/// Writes what the latest run of each pipeline skipped on standard error, as `path: message` lines and
/// `N malformed lines skipped`, and checks that standard output was written. True when anything failed.
func reportProblems() -> Bool {
    var failed = false
    if fflush(stdout) != 0 || ferror(stdout) != 0 {
        fputs("standard output: write failed: \(String(cString: strerror(errno)))\n", stderr)
        failed = true
    }
    for status in statuses {
        for error in status.skippedInputs { fputs("\(error)\n", stderr) }
        failed = failed || !status.skippedInputs.isEmpty
        if status.malformed > 0 {
            fputs("\(status.malformed) malformed line\(status.malformed == 1 ? "" : "s") skipped\n", stderr)
        }
    }
    return failed
}
