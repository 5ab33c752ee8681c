// TEMPORARY-STUB
import ArgumentParser
struct GenCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "gen") }
