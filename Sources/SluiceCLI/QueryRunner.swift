import ArgumentParser
import Sluice

/// Runs one query for a subcommand: expands the inputs, runs the engine, prints the answer, reports errors
/// and malformed lines on standard error as `path: message`, and picks the exit status.
enum QueryRunner {
    /// Exit status 2 when any input failed, otherwise 0 (grep decides its own 1 for "no match").
    static func run(_ options: InputOptions, _ operation: Operation,
                    output: @escaping (UnsafeRawBufferPointer) -> Void = { Output.standard.write($0) },
                    print answer: (RunReport) -> Void) throws -> RunReport {
        let format: RecordFormat
        do { format = try RecordFormat(parsing: options.format) } catch let error as SluiceError { fatal(error) }
        let query = Query(format: format, prefilter: options.grep, conditions: options.conditions,
                          operation: operation, strict: options.strict)
        let engine: Engine
        do { engine = try Engine(query: query, options: try options.execution()) } catch let error as SluiceError { fatal(error) }
        let (inputs, findErrors) = InputFinder.expand(options.paths, nameGlob: options.name)
        let report: RunReport
        do {
            report = try engine.run(inputs, output: output)
        } catch let error as SluiceError {
            // No answer (a strict stop, an overflow), but the other inputs' problems are still reported.
            Output.standard.flush()
            if let interrupted = engine.interruptedRun {
                problems(findErrors, interrupted, malformed: error.code != .malformedLine)
            }
            fatal(error)
        }
        answer(report)
        Output.standard.flush()
        problems(findErrors, report, malformed: true)
        if !findErrors.isEmpty || !report.errors.isEmpty { throw ExitCode(2) }
        return report
    }

    /// Prints the errors of the walk and of the inputs, then the malformed lines' summary if `malformed`.
    private static func problems(_ findErrors: [SluiceError], _ report: RunReport, malformed: Bool) {
        for error in findErrors + report.errors { Output.error.line(error.description) }
        if malformed, report.malformed > 0, let first = report.firstMalformed {
            let noun = report.malformed == 1 ? "line" : "lines"
            Output.error.line("\(report.malformed) malformed \(noun) skipped (first at \(first.path):\(first.line))")
        }
        Output.error.flush()
    }

    /// Prints `path: message` and exits with status 2.
    static func fatal(_ error: SluiceError) -> Never {
        Output.standard.flush()
        Output.error.line(error.description)
        Output.error.flush()
        SluiceCommand.exit(withError: ExitCode(2))
    }
}
