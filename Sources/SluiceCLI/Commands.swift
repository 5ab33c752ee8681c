import ArgumentParser
import Sluice

/// `sluice grep PCRE [PATH...]`: matching lines in input order, as `rg --no-filename --no-line-number` prints them.
struct GrepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grep", abstract: "Print lines matching a PCRE2 pattern (exit 1 when none match, 2 on error).")

    @Argument(help: "The PCRE2 pattern (byte mode; ^ and $ match at line boundaries).")
    var pattern: String

    @Flag(name: .shortAndLong, help: "Print the number of matching lines (path:count per file for several inputs).")
    var count = false

    @OptionGroup var input: InputOptions

    func validate() throws {
        // grep prints lines; it parses them into records only to test --where conditions.
        if input.conditions.isEmpty && (input.strict || input.format != "auto") {
            throw ValidationError("--strict and --format apply to records, which grep parses only for --where")
        }
    }

    func run() throws {
        let lines = JSONLines()
        let sink: (UnsafeRawBufferPointer) -> Void = input.json ? { lines.write($0) } : { Output.standard.write($0) }
        let report = try QueryRunner.run(input, .grep(pattern, countOnly: count), output: sink) { report in
            if input.json { lines.finish() }
            guard count else { return }
            if input.json {
                let rows = report.inputs.map { "{\"path\":\(JSON.string($0.path)),\"count\":\($0.selected)}" }
                Output.standard.json("{\"count\":\(report.selected),\"inputs\":[\(rows.joined(separator: ","))]}")
            } else if input.namesInputs || report.inputs.count > 1 {
                // As rg does: one path:count line per input with at least one match, whenever several paths or a
                // directory were given (even if only one file was read).
                for tally in report.inputs where tally.selected > 0 { Output.standard.line("\(tally.path):\(tally.selected)") }
            } else if report.inputs.contains(where: { $0.error == nil || $0.lines > 0 }) {
                // As grep: no count for an input that could not be read at all.
                Output.standard.line("\(report.selected)")
            }
        }
        if report.selected == 0 { throw ExitCode(1) }
    }
}

/// `sluice sum FIELD`: the sum of an integer field, printed as `Total N`.
struct SumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sum", abstract: "Sum an integer field (prints Total N).")
    @Argument(help: "The field to sum, e.g. bytes.") var field: String
    @OptionGroup var input: InputOptions

    func run() throws {
        _ = try QueryRunner.run(input, .sum(field)) { report in
            guard case .total(let total) = report.answer else { return }
            if input.json {
                Output.standard.json("{\"field\":\(JSON.string(field)),\"sum\":\(total)}")
            } else {
                Output.standard.line("Total \(total)")
            }
        }
    }
}

/// `sluice count [--by FIELD]`: the number of records, or `COUNT VALUE` per value sorted by count.
struct CountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "count", abstract: "Count records, optionally per value of a field.")
    @Option(help: "Count per distinct value of this field.") var by: String?
    @OptionGroup var input: InputOptions

    func run() throws {
        _ = try QueryRunner.run(input, .count(by: by)) { report in
            switch report.answer {
            case .total(let total):
                Output.standard.line(input.json ? "{\"count\":\(total)}" : "Total \(total)")
            case .counts(let entries):
                Printer.counts(entries, json: input.json, numeric: input.recordFormat.holdsIntegers(by ?? ""))
            default: break
            }
        }
    }
}

/// `sluice distinct FIELD [--count]`: distinct values sorted bytewise.
struct DistinctCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "distinct", abstract: "Distinct values of a field, sorted bytewise.")
    @Argument(help: "The field.") var field: String
    @Flag(name: .long, help: "Prefix each value with its count (COUNT VALUE).") var count = false
    @OptionGroup var input: InputOptions

    func run() throws {
        _ = try QueryRunner.run(input, .distinct(field, withCounts: count)) { report in
            switch report.answer {
            case .values(let values):
                if input.json {
                    let numeric = input.recordFormat.holdsIntegers(field)
                    Printer.jsonArray(values.count) { JSON.value(values[$0], numeric: numeric) }
                } else {
                    for value in values {
                        Output.standard.write(value)
                        Output.standard.write("\n")
                    }
                }
            case .counts(let entries):
                Printer.counts(entries, json: input.json, numeric: input.recordFormat.holdsIntegers(field))
            default: break
            }
        }
    }
}

/// Shared body of `max` and `min`.
enum ExtremeCommand {
    static func run(_ field: String, _ with: String?, _ isMax: Bool, _ input: InputOptions) throws {
        _ = try QueryRunner.run(input, .extreme(field, with: with, isMax: isMax)) { report in
            guard case .extreme(let value, let companion) = report.answer else {
                if input.json { Output.standard.json("null") }
                return
            }
            if input.json {
                let format = input.recordFormat
                var text = "{\"value\":\(JSON.value(value, numeric: format.holdsIntegers(field)))"
                if let companion, let with {
                    text += ",\"with\":\(JSON.value(companion, numeric: format.holdsIntegers(with)))"
                }
                Output.standard.json(text + "}")
            } else {
                Output.standard.write(value)
                if let companion {
                    Output.standard.write(" ")
                    Output.standard.write(companion)
                }
                Output.standard.write("\n")
            }
        }
    }
}

/// `sluice max FIELD [--with FIELD]`: prints `VALUE WITH`; ties go to the greatest WITH.
struct MaxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "max", abstract: "The greatest value of a field (integers compare as numbers).")
    @Argument(help: "The field.") var field: String
    @Option(help: "Also print this field of the winning record.") var with: String?
    @OptionGroup var input: InputOptions
    func run() throws { try ExtremeCommand.run(field, with, true, input) }
}

/// `sluice min FIELD [--with FIELD]`: prints `VALUE WITH`; ties go to the least WITH.
struct MinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "min", abstract: "The least value of a field (integers compare as numbers).")
    @Argument(help: "The field.") var field: String
    @Option(help: "Also print this field of the winning record.") var with: String?
    @OptionGroup var input: InputOptions
    func run() throws { try ExtremeCommand.run(field, with, false, input) }
}

/// `sluice top FIELD [-k N]`: `COUNT VALUE` lines, count descending then value ascending.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "The most frequent values of a field.")
    @Argument(help: "The field.") var field: String
    @Option(name: .customShort("k", allowingJoined: true), parsing: .unconditional, help: "How many values (also written -kN).") var k: Int = 10
    @OptionGroup var input: InputOptions

    func run() throws {
        _ = try QueryRunner.run(input, .top(field, k: k)) { report in
            if case .counts(let entries) = report.answer {
                Printer.counts(entries, json: input.json, numeric: input.recordFormat.holdsIntegers(field))
            }
        }
    }
}

/// `sluice select FIELD... [PATH...]`: the fields of every record, space-joined, in input order. Leading
/// operands that name a field of the format are fields; the first one that does not starts the paths (write
/// `./bytes` to read a file named like a field).
struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select", abstract: "Print fields of each record, in input order.",
        usage: "sluice select FIELD... [PATH...] [options]",
        discussion: """
            FIELD...: the fields to print, space-joined, one line per record: the leading operands that name a \
            field of the format (host ident user datetime method request proto status bytes, referer agent for \
            combined; $1...$N for --format fields; a regex: format's group names; line for the whole line). The \
            first operand that is not a field starts the paths, and so does `--` (write ./bytes or -- bytes for a \
            file named like a field).
            """)
    @OptionGroup var input: InputOptions

    func validate() throws {
        if input.paths.isEmpty { throw ValidationError("select needs at least one field") }
    }

    func run() throws {
        let format: RecordFormat
        let fields: [String]
        do {
            format = try RecordFormat(parsing: input.format)
            try format.validate()
            // Operands after `--` (which ArgumentParser drops) are paths, whatever they are named.
            let arguments = CommandLine.arguments
            let literal = arguments.firstIndex(of: "--").map { arguments.count - $0 - 1 } ?? 0
            fields = Array(input.paths.dropLast(literal).prefix { format.hasField($0) })
            if fields.isEmpty && literal == input.paths.count {
                throw SluiceError(.unknownField, path: "select", "needs at least one field before --")
            }
            // No field first: name the operand as the other commands name an unknown field.
            if fields.isEmpty { try format.checkField(input.paths[0]) }
        } catch let error as SluiceError {
            QueryRunner.fatal(error)  // as the other commands report a bad --format or field: `path: message`, status 2
        }
        var options = input
        options.paths = Array(input.paths.dropFirst(fields.count))
        _ = try QueryRunner.run(options, .select(fields, json: input.json)) { _ in }
    }
}

enum Printer {
    /// `COUNT VALUE` lines, or a JSON array of {value, count}, the values numbers when `numeric`.
    static func counts(_ entries: [Answer.Entry], json: Bool, numeric: Bool) {
        if json {
            Printer.jsonArray(entries.count) {
                "{\"value\":\(JSON.value(entries[$0].value, numeric: numeric)),\"count\":\(entries[$0].count)}"
            }
            return
        }
        for entry in entries {
            Output.standard.write("\(entry.count) ")
            Output.standard.write(entry.value)
            Output.standard.write("\n")
        }
    }

    /// A JSON array of `count` elements and a newline, written element by element (`element(i)` is the JSON
    /// text of element i), so that a large answer is never held as one string.
    static func jsonArray(_ count: Int, _ element: (Int) -> String) {
        Output.standard.jsonPiece("[")
        for index in 0..<count {
            if index > 0 { Output.standard.jsonPiece(",") }
            Output.standard.jsonPiece(element(index))
        }
        Output.standard.json("]")
    }

}
