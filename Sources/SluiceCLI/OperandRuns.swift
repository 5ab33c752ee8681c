import ArgumentParser

/// Long runs of operands, handed to ArgumentParser as one placeholder each and put back once it has parsed.
///
/// ArgumentParser records where each value of an array argument came from in a set that it copies on every
/// value, so parsing N paths took time in N²: `sluice sum bytes logs/*` over 20,000 files spent 16 s there before
/// reading a byte. A shell glob is the usual way to name many files, so such runs are folded first.
///
/// A run is a stretch of consecutive arguments that do not start with `-` (after `--`, of any arguments). Its
/// first two stay as they are: the first may be the value of the option before it, and the second the one
/// scalar operand a command takes before its paths (a field, a pattern, a destination). The rest can only be
/// paths, and they go into one placeholder that holds a NUL byte, which no argument can, so it never names a
/// real path.
struct OperandRuns {
    /// Runs with fewer arguments past the first two are left as they are.
    static let minimumFolded = 32
    /// The subcommands whose operands end in a list of paths: those that conform to `TakesOperands`.
    static let commands = Set(SluiceCommand.configuration.subcommands.compactMap { command in
        (command as? any TakesOperands.Type).map { $0._commandName }
    })

    /// The folded runs, in order; placeholder `i` stands for `runs[i]`.
    private(set) var runs: [[String]] = []

    /// `arguments` (after the program name) with each long run of operands past its first two replaced by a
    /// placeholder; unchanged unless the first argument is one of `commands`.
    mutating func fold(_ arguments: [String]) -> [String] {
        guard let command = arguments.first, OperandRuns.commands.contains(command) else { return arguments }
        var folded = [command]
        var run = [String]()
        var literal = false
        func flush() {
            if run.count >= 2 + OperandRuns.minimumFolded {
                folded += run.prefix(2)
                folded.append(OperandRuns.placeholder(runs.count))
                runs.append(Array(run.dropFirst(2)))
            } else {
                folded += run
            }
            run.removeAll()
        }
        for argument in arguments.dropFirst() {
            if !literal && argument == "--" {
                flush()
                folded.append(argument)
                literal = true
            } else if literal || !argument.hasPrefix("-") {
                run.append(argument)
            } else {
                flush()
                folded.append(argument)
            }
        }
        flush()
        return folded
    }

    /// `operands` with each placeholder replaced by the run it stands for.
    func expand(_ operands: [String]) -> [String] {
        guard !runs.isEmpty else { return operands }
        var expanded = [String]()
        expanded.reserveCapacity(operands.count + runs.reduce(0) { $0 + $1.count })
        for operand in operands {
            if let index = OperandRuns.index(of: operand) { expanded += runs[index] } else { expanded.append(operand) }
        }
        return expanded
    }

    private static let marker = "\u{0}operands:"

    private static func placeholder(_ index: Int) -> String { marker + String(index) }

    private static func index(of operand: String) -> Int? {
        guard operand.hasPrefix(marker) else { return nil }
        return Int(operand.dropFirst(marker.count))
    }
}

/// A parsed command whose operands end in a list of paths, which `OperandRuns.expand` restores.
protocol TakesOperands: ParsableCommand {
    var operands: [String] { get set }
}

/// The commands that read their paths through `InputOptions`.
protocol TakesInputOptions: TakesOperands {
    var input: InputOptions { get set }
}

extension TakesInputOptions {
    var operands: [String] {
        get { input.paths }
        set { input.paths = newValue }
    }
}

extension GrepCommand: TakesInputOptions {}
extension SumCommand: TakesInputOptions {}
extension CountCommand: TakesInputOptions {}
extension DistinctCommand: TakesInputOptions {}
extension MaxCommand: TakesInputOptions {}
extension MinCommand: TakesInputOptions {}
extension TopCommand: TakesInputOptions {}
extension SelectCommand: TakesInputOptions {}

extension SendCommand: TakesOperands {
    var operands: [String] {
        get { paths }
        set { paths = newValue }
    }
}

extension FollowCommand: TakesOperands {
    var operands: [String] {
        get { paths }
        set { paths = newValue }
    }
}
