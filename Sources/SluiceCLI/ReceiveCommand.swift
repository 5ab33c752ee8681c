import ArgumentParser
import Sluice

/// `sluice receive --listen HOST:PORT`: prints the records that `sluice send` processes ship to it, one line per
/// record (the tutorial's `receivefrom` / `genreceive`).
struct ReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Receive records from `sluice send` and print one line per record.",
        discussion: """
            Listens on --listen (127.0.0.1 unless a host is given; port 0 picks a free port) and prints \
            "listening on HOST:PORT" on standard error once ready. Any number of senders may connect at once; the \
            records of each arrive complete and in order, each batch written and flushed before it is \
            acknowledged. A sender that breaks the protocol (bad greeting, malformed or oversized frame, a \
            record line holding a newline) is \
            disconnected with a message on standard error while the others are served on. SIGINT or SIGTERM stops \
            it, exit status 0.
            """)

    @Option(help: "Address to listen on: HOST:PORT, :PORT or PORT (127.0.0.1).")
    var listen: String

    @Flag(help: "Print each record as a JSON object of its named fields instead of the original line.")
    var json = false

    @Option(parsing: .unconditional, help: "Largest frame accepted, in bytes (K and M suffixes; 4K to 4M).")
    var maxFrame: String = "4M"

    @Flag(help: "Report connections as they open and close on standard error.")
    var verbose = false

    func run() throws {
        let receiver: RecordReceiver
        let token = ShutdownToken()
        do {
            let frame = try ByteCount.parse(maxFrame, option: "--max-frame", in: ReceiverOptions.maxFrameRange, named: "4K to 4M")
            var options = ReceiverOptions(shutdown: token)
            options.maxFrame = frame
            receiver = try RecordReceiver(listeningOn: try SocketAddress(parsing: listen), options: options)
        } catch let error as SluiceError {
            QueryRunner.fatal(error)
        }
        SignalTrap.install(token)
        ReaderWatch.start { token.trigger() }
        LiveMessages.line("listening on \(receiver.address)")
        let json = self.json, verbose = self.verbose
        let status = LiveRuntime.block {
            do {
                for try await event in receiver {
                    switch event {
                    case .batch(let batch):
                        for record in batch.records {
                            if json {
                                Output.standard.write(record.json(batch.schema))
                            } else {
                                Output.standard.write(record.line)
                                Output.standard.write("\n")
                            }
                        }
                        // Written before the next event is asked for, which is what acknowledges the batch.
                        Output.standard.flush()
                    case .connected(let connection):
                        if verbose { LiveMessages.line("\(connection.peer): connected (connection \(connection.id))") }
                    case .disconnected(let connection, let records, let error):
                        if let error {
                            LiveMessages.line("\(error.description) (connection \(connection.id) closed after \(records) records)")
                        } else if verbose {
                            LiveMessages.line("\(connection.peer): done after \(records) records (connection \(connection.id))")
                        }
                    }
                }
                Output.standard.flush()
                return 0
            } catch let error as SluiceError {
                Output.standard.flush()
                LiveMessages.line(error.description)
                return 2
            } catch {
                Output.standard.flush()
                LiveMessages.line("\(receiver.address): \(error)")
                return 2
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}
