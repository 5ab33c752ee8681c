import ArgumentParser

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
}
