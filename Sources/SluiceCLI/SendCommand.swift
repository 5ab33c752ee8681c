import ArgumentParser
import Sluice
import Synchronization

/// `sluice send HOST:PORT PATH...`: ships parsed records to `sluice receive` (the tutorial's `sendto` /
/// `netsend`, with a safe wire format and acknowledgements instead of pickles).
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send parsed records to a `sluice receive` over TCP.",
        discussion: """
            Reads the files (gzip and bzip2 decoded, directories walked, '-' or nothing for standard input), keeps \
            the lines that pass --grep and --where and parse in --format, and sends them as records. The \
            receiver acknowledges what it has written; the command exits 0 once every record is acknowledged. A \
            record larger than the receiver's frame limit is not sent, and one of more than 1024 fields is sent \
            with its first 1024: both are reported with their line, and make the exit status 2. \
            When the connection is lost (a receiver that acknowledges nothing for --ack-timeout seconds while \
            records wait counts as lost) it prints how many records were acknowledged and exits 2, unless --retry: then it reconnects \
            (backing off up to 2 s) and sends again everything not acknowledged, so every record arrives at least \
            once and in order. Without --follow, SIGINT or SIGTERM stops it at once, whatever it waits for: it \
            prints how many records were acknowledged and exits 2. With --follow the files are followed like `sluice follow` \
            (from their start; --from-end to skip what they hold) until SIGINT or SIGTERM, after which what was \
            read is still delivered (a second signal exits at once, status 130).
            """)

    @Argument(help: "The receiver: HOST:PORT, or :PORT / PORT for 127.0.0.1.")
    var destination: String

    @Argument(help: "Files or directories to send; '-' or nothing reads standard input.")
    var paths: [String] = []

    @Option(parsing: .unconditional, help: "Record format: common, combined, auto, fields or regex:PCRE.")
    var format: String = "auto"

    @Option(name: .customLong("where"), parsing: .unconditionalSingleValue, help: "A condition FIELD OP VALUE (OP: = != < <= > >= ~ !~); repeatable, ANDed.")
    var conditions: [String] = []

    @Option(parsing: .unconditional, help: "Only lines matching this PCRE2 pattern are sent.")
    var grep: String?

    @Option(parsing: .unconditional, help: "In directories, read only the files whose name matches this glob.")
    var name: String?

    @Flag(help: "Follow the files as they grow (tail -F) until interrupted.")
    var follow = false

    @Flag(help: "With --follow, start at the current end of each file.")
    var fromEnd = false

    @Flag(help: "Reconnect and resend unacknowledged records when the connection is lost.")
    var retry = false

    @Option(parsing: .unconditional, help: "With --retry, give up after this many reconnection attempts in a row.")
    var retryLimit: Int?

    @Option(parsing: .unconditional, help: "Seconds the receiver may acknowledge nothing while records wait before the connection counts as lost (0 waits as long as it takes, for a receiver whose output may be paused, as in `sluice receive | less`).")
    var ackTimeout: Double = 60

    @Flag(help: "Report connections and the final count on standard error.")
    var verbose = false

    func validate() throws {
        if follow && (paths.isEmpty || paths.contains("-")) { throw ValidationError("--follow needs files") }
        if fromEnd && !follow { throw ValidationError("--from-end needs --follow") }
        if !(ackTimeout.isFinite && ackTimeout >= 0) {
            throw ValidationError("--ack-timeout must be a number of seconds ≥ 0, got \(ackTimeout)")
        }
        if ackTimeout > 0 && ackTimeout < 0.001 {
            throw ValidationError("--ack-timeout must be 0 (no limit) or at least 0.001 seconds, got \(ackTimeout)")
        }
        if let retryLimit {
            if !retry { throw ValidationError("--retry-limit needs --retry") }
            if retryLimit < 0 { throw ValidationError("--retry-limit must be at least 0, got \(retryLimit)") }
        }
    }

    func run() throws {
        let address: SocketAddress
        let filter: LineFilter
        do {
            address = try SocketAddress(parsing: destination)
            if address.port == 0 {
                throw SluiceError(.invalidArgument, path: destination, "cannot send to port 0 (a receiver listens on a real port)")
            }
            filter = try LineFilter(format: try RecordFormat(parsing: format), grep: grep, conditions: conditions)
        } catch let error as SluiceError {
            QueryRunner.fatal(error)
        }
        let token = ShutdownToken()
        SignalTrap.install(token)
        var options = SenderOptions(retry: retry)
        options.maxRetries = retryLimit
        // 0, or more nanoseconds than UInt64 holds (about 585 years), waits as long as it takes.
        options.ackTimeout = ackTimeout == 0 || ackTimeout * 1e9 >= 0x1p64 ? UInt64.max : UInt64(ackTimeout * 1e9)
        options.shutdown = follow ? nil : token
        let verbose = self.verbose, retry = self.retry
        let left = LeftOutTally()
        options.onEvent = { event in
            switch event {
            case .connected(let peer): if verbose { LiveMessages.line("\(peer): connected") }
            case .connectionLost(let error, let acknowledged, let sent):
                // Without --retry the final error says the same.
                if retry { LiveMessages.line("\(error.description) (\(acknowledged) of \(sent) records acknowledged)") }
            case .reconnecting(let attempt, let delay):
                LiveMessages.line("\(address): reconnecting in \(delay / 1_000_000) ms (attempt \(attempt))")
            case .recordNotSent, .fieldsNotSent:
                left.note(event)
            }
        }
        let sender = RecordSender(to: address, schema: filter.schema, options: options)
        let tally = RejectTally()
        var status: Int32
        if follow {
            var followOptions = FollowOptions(fromStart: !fromEnd, shutdown: token)
            followOptions.onNotice = { LiveMessages.print($0) }
            let source = Follow(paths, options: followOptions).batches.records(filter, tally: tally)
            status = LiveRuntime.block { await SendCommand.ship(sender, source, verbose) }
        } else {
            let (inputs, errors) = InputFinder.expand(paths, nameGlob: name)
            for error in errors { LiveMessages.line(error.description) }
            // A broken input is reported and the others are still sent, as the query commands do.
            let inputFailed = Atomic<Bool>(false)
            let source = SkippingInputErrors(
                base: StoredLines(inputs, onNotice: { LiveMessages.print($0) }).batches.records(filter, tally: tally)
            ) { error in
                LiveMessages.line(error.description)
                inputFailed.store(true, ordering: .relaxed)
            }
            status = LiveRuntime.block { await SendCommand.ship(sender, source, verbose) }
            if status == 0 && (!errors.isEmpty || inputFailed.load(ordering: .relaxed)) { status = 2 }
        }
        let reported = Swift.max(LiveMessages.report(tally.counts), left.report())
        if status != 0 || reported != 0 { throw ExitCode(status != 0 ? status : reported) }
    }

    /// Sends everything and turns the outcome into an exit status, printing failures as `path: message`.
    static func ship<Source: AsyncSequence & Sendable>(_ sender: RecordSender, _ source: Source, _ verbose: Bool) async -> Int32
    where Source.Element == [FollowedRecord] {
        do {
            let report = try await sender.send(batches: source)
            if verbose {
                LiveMessages.line("\(sender.address): \(report.records) records sent, \(report.acknowledged) acknowledged, \(report.connections) connection(s)")
            }
            return 0
        } catch let error as SluiceError {
            LiveMessages.line(error.description)
            return 2
        } catch {
            LiveMessages.line("\(sender.address): \(error)")
            return 2
        }
    }
}

/// The records a send left out (too large for the receiver's frame limit) or cut (more than 1024 fields), counted
/// for the report at exit as malformed lines are: how many, and the first.
final class LeftOutTally: Sendable {
    private struct Counts {
        var notSent = 0
        var firstNotSent = ""
        var cut = 0
        var firstCut = ""
    }
    private let counts = Mutex(Counts())

    /// Counts a `.recordNotSent` or `.fieldsNotSent` event.
    func note(_ event: SenderEvent) {
        counts.withLock { counts in
            switch event {
            case .recordNotSent(_, let location, let bytes, let limit):
                counts.notSent += 1
                if counts.notSent == 1 {
                    counts.firstNotSent = "\(LeftOutTally.place(location)): record of \(bytes) bytes exceeds the receiver's frame limit of \(limit) bytes; not sent"
                }
            case .fieldsNotSent(_, let location, _):
                counts.cut += 1
                if counts.cut == 1 { counts.firstCut = LeftOutTally.place(location) }
            default: break
            }
        }
    }

    /// `path:line` (the CLI's sources always say where a record came from).
    private static func place(_ location: RejectTally.Location?) -> String { location?.description ?? "<unknown line>" }

    /// Prints the first record left out (with the total when there were more) and the records cut; returns 2
    /// when there was any, else 0.
    func report() -> Int32 {
        let counts = self.counts.withLock { $0 }
        if counts.notSent > 0 {
            LiveMessages.line(counts.firstNotSent + (counts.notSent > 1 ? " (\(counts.notSent) records in all)" : ""))
        }
        if counts.cut > 0 {
            LiveMessages.line("\(counts.cut) \(counts.cut == 1 ? "record" : "records") had more than 1024 fields; fields past $1024 were not sent (first at \(counts.firstCut))")
        }
        return counts.notSent + counts.cut > 0 ? 2 : 0
    }
}

/// The batches of `base`, a `StoredLines` pipeline, with the error of a broken input handed to `onError` rather
/// than thrown: its iterator goes on with the next input after throwing, so the other inputs are still read. Any
/// other error (cancellation) ends the sequence as usual.
struct SkippingInputErrors<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable {
    typealias Element = Base.Element
    let base: Base
    let onError: @Sendable (SluiceError) -> Void

    init(base: Base, onError: @escaping @Sendable (SluiceError) -> Void) {
        self.base = base
        self.onError = onError
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let onError: @Sendable (SluiceError) -> Void

        /// The next batch of the inputs that could be read; nil after the last input.
        mutating func next() async throws -> Element? {
            while true {
                do {
                    return try await base.next()
                } catch let error as SluiceError {
                    onError(error)
                }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), onError: onError) }
}
