import ArgumentParser
import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// `sluice`: fast answers about logs. Every subcommand reads files, directories (walked recursively in sorted
/// order) or standard input, plain or gzip/bzip2 compressed (told by magic bytes).
@main
struct SluiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Parallel log search and aggregation over plain, gzip and bzip2 logs.",
        version: "sluice 0.1.0",
        subcommands: [GrepCommand.self, SumCommand.self, CountCommand.self, DistinctCommand.self,
                      MaxCommand.self, MinCommand.self, TopCommand.self, SelectCommand.self, GenCommand.self,
                      FollowCommand.self, SimulateCommand.self, SendCommand.self, ReceiveCommand.self]
    )

    /// ArgumentParser's `main`, except that a usage error (unknown option, missing or invalid argument, no
    /// subcommand) exits with status 2, as every other error does here and as grep's and rg's do, rather than 64
    /// or 0; that the arguments are taken from the raw `argv`, so a path that is not UTF-8 keeps its bytes
    /// (`PathBytes`); and that long runs of paths skip ArgumentParser's per-value bookkeeping (`OperandRuns`).
    static func main() {
        let arguments = (1..<Int(CommandLine.argc)).map { index in
            let argument = CommandLine.unsafeArgv[index]!
            return PathBytes.string(UnsafeRawBufferPointer(start: argument, count: strlen(argument)))
        }
        occupyClosedStandardDescriptors()
        // Ctrl-\ (SIGQUIT) quits as it does any command line tool; the Swift runtime's crash reporter took it
        // for a crash, printed a backtrace and left a live command running.
        signal(SIGQUIT, SIG_DFL)
        var command: ParsableCommand
        do {
            command = try parse(arguments)
        } catch {
            fail(error, usage: self)
        }
        do { try command.run() } catch { fail(error, usage: type(of: command)) }
    }

    /// The command `arguments` (after the program name) ask for, as `parseAsRoot` parses them, after the checks
    /// of `checkUsage`; long runs of paths are folded for the parse and put back after it (`OperandRuns`).
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        try checkUsage(arguments)
        var runs = OperandRuns()
        let command = try parseAsRoot(runs.fold(arguments))
        guard var carrier = command as? TakesOperands else { return command }
        carrier.operands = runs.expand(carrier.operands)
        return carrier
    }

    /// Refuses what ArgumentParser would take without complaint but a user did not mean: no subcommand (it
    /// printed the help and exited 0), help for an unknown subcommand (the same), arguments after `--version`
    /// (ignored), an option given an empty value with `=` (it took the next argument as the value), and a
    /// short-option cluster holding `h` such as a path `-ch.log` (it printed the help and exited 0 without
    /// reading anything).
    private static func checkUsage(_ arguments: [String]) throws {
        guard let first = arguments.first else { throw ValidationError("a subcommand is needed (sluice --help lists them)") }
        let names = configuration.subcommands.map { $0._commandName }
        if first == "help", arguments.count > 1, !names.contains(arguments[1]) {
            throw ValidationError("unknown subcommand '\(arguments[1])' (known: \(names.joined(separator: ", ")))")
        }
        if first == "--version", arguments.count > 1 {
            throw ValidationError("--version takes no arguments (got '\(arguments[1])')")
        }
        // Before `--`, and skipping the values of the options that take theirs whatever they start with.
        let options = arguments.prefix(while: { $0 != "--" })
        for (index, argument) in zip(options.indices, options) {
            if index > options.startIndex && valueOptions.contains(options[index - 1]) { continue }
            // ArgumentParser reads `--grep=` as a bare `--grep` and takes the next argument for its value, so
            // the path after it became the pattern; an empty value has to be a separate argument.
            if argument.hasPrefix("--") && argument.count > 3 && argument.firstIndex(of: "=") == argument.index(before: argument.endIndex) {
                throw ValidationError("'\(argument)' has an empty value after '='; write \(argument.dropLast()) '' for an empty value")
            }
            if argument.count > 2 && argument.hasPrefix("-") && !argument.hasPrefix("--") && argument.contains("h") {
                let hint = argument == "-help" ? "--help" : "./\(argument), or -- before it, for a path"
                throw ValidationError("unknown option '\(argument)' (did you mean \(hint)?)")
            }
        }
    }

    /// The options whose value is the next argument whatever it starts with (`--grep -0600`), as grep's and
    /// rg's are: they are declared with `parsing: .unconditional`.
    static let valueOptions: Set<String> = ["--grep", "--where", "--name", "--format"]

    /// Opens /dev/null on a standard descriptor that was closed (`>&-`), so that no file the run opens takes its
    /// number and receives the output or is read as standard input. It is opened the wrong way round, so using
    /// the descriptor still fails as on a closed one (EBADF) and is reported (`standard output: write failed`).
    private static func occupyClosedStandardDescriptors() {
        for fd: Int32 in [0, 1, 2] where fcntl(fd, F_GETFD) < 0 {
            let null = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY)
            if null >= 0 && null != fd {
                dup2(null, fd)
                close(null)
            }
        }
    }

    /// Prints a usage error with `command`'s usage and exits 2; any other error exits as ArgumentParser decides.
    private static func fail(_ error: Error, usage command: ParsableCommand.Type) -> Never {
        guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
        Output.standard.flush()
        Output.error.line(command.fullMessage(for: error))
        Output.error.flush()
        exit(withError: ExitCode(2))
    }
}
