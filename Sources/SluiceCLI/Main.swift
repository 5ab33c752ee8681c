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
        subcommands: [GrepCommand.self, SumCommand.self, CountCommand.self, DistinctCommand.self,
                      MaxCommand.self, MinCommand.self, TopCommand.self, SelectCommand.self, GenCommand.self,
                      FollowCommand.self, SimulateCommand.self, SendCommand.self, ReceiveCommand.self]
    )

    /// ArgumentParser's `main`, except that a usage error (unknown option, missing or invalid argument) exits
    /// with status 2, as every other error does here and as grep's and rg's do, rather than 64; and that the
    /// arguments are taken from the raw `argv`, so a path that is not UTF-8 keeps its bytes (`PathBytes`).
    static func main() {
        let arguments = (1..<Int(CommandLine.argc)).map { index in
            let argument = CommandLine.unsafeArgv[index]!
            return PathBytes.string(UnsafeRawBufferPointer(start: argument, count: strlen(argument)))
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            Output.standard.flush()
            Output.error.line(fullMessage(for: error))
            Output.error.flush()
            exit(withError: ExitCode(2))
        }
    }
}
