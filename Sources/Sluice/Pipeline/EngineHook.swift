/// Runs a compiled pipeline on the engine and turns the report's first error into a throw.
enum ParallelRun {
    static func run(_ query: Query, _ files: LogFiles, _ options: ExecutionOptions,
                    _ status: PipelineStatus) throws -> RunReport {
        status.reset()
        status.ranInParallel = true
        let inputs: [InputSpec]
        do { inputs = try files.inputs() } catch {
            status.fail(error as? SluiceError ?? SluiceError(.io, path: "", "\(error)"))
            throw error
        }
        let report = try Engine(query: query, options: options).run(inputs)
        status.malformed = report.malformed
        status.linesRead = report.inputs.reduce(0) { $0 + $1.lines }
        // A pattern giving up ends the run, as it ends a sequential one; an input's error may be skipped.
        for tally in report.inputs {
            if let gaveUp = tally.gaveUp {
                status.fail(gaveUp)
                throw gaveUp
            }
            if let error = tally.error, !status.inputFailed(error, path: tally.path, skipping: files.settings.skipsFailedInputs) {
                throw error
            }
        }
        return report
    }
}

/// Builds `FIELD OP VALUE` condition texts that the engine's `Condition` parser reads back exactly.
enum ConditionText {
    /// The text, or nil when it would not parse back to exactly this field, operator and value (a value with
    /// leading or trailing spaces, a non-integer value for a numeric field, an invalid regex).
    static func make(_ field: String, _ op: Condition.Op, _ value: String, format: RecordFormat = .fields) -> String? {
        // The space after the operator keeps a value starting with `=` or `~` out of the operator.
        let text = field + op.rawValue + " " + value
        guard let compiled = try? CompiledFormat(format),
              let parsed = try? Condition(text, format: compiled),
              parsed.op == op, parsed.value == Array(value.utf8) else { return nil }
        return text
    }
}
