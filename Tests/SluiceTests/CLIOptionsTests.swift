import XCTest
import ArgumentParser
@testable import Sluice
@testable import SluiceCLI
#if canImport(Glibc)
import Glibc
#endif

/// The CLI's execution flags reach the engine: `--threads` and `--chunk-size` do not change any answer, so only
/// the parsed `ExecutionOptions` can show that they are honoured rather than dropped.
final class CLIOptionsTests: XCTestCase {
    /// The `InputOptions` of `sluice ARGS`, parsed as the binary parses them (from the root command).
    func input(_ arguments: [String]) throws -> InputOptions {
        let command = try SluiceCommand.parseAsRoot(arguments)
        switch command {
        case let sum as SumCommand: return sum.input
        case let grep as GrepCommand: return grep.input
        case let count as CountCommand: return count.input
        default:
            XCTFail("parsed as \(type(of: command))")
            throw ExitCode.failure
        }
    }

    /// `--threads 3 --chunk-size 7` give exactly 3 threads and 7-byte chunks, on more than one subcommand.
    func testThreadsAndChunkSizeReachTheExecutionOptions() throws {
        let sum = try input(["sum", "bytes", "--threads", "3", "--chunk-size", "7"]).execution()
        XCTAssertEqual(sum.threads, 3)
        XCTAssertEqual(sum.chunkSize, 7)
        let grep = try input(["grep", "x", "--chunk-size", "2K", "--threads", "5", "some.log"]).execution()
        XCTAssertEqual(grep.threads, 5)
        XCTAssertEqual(grep.chunkSize, 2048)
        // --threads alone keeps the default chunk size (1 MiB) and still sets the threads.
        let count = try input(["count", "--threads", "2"]).execution()
        XCTAssertEqual(count.threads, 2)
        XCTAssertEqual(count.chunkSize, 1 << 20)
    }

    /// Without --threads the run uses one thread per active core (read here from sysconf directly), and
    /// --chunk-size alone keeps that default.
    func testDefaultThreadsAreTheActiveCores() throws {
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        XCTAssertEqual(try input(["sum", "bytes"]).execution().threads, cores)
        let chunked = try input(["sum", "bytes", "--chunk-size", "7"]).execution()
        XCTAssertEqual(chunked.threads, cores)
        XCTAssertEqual(chunked.chunkSize, 7)
    }
}
