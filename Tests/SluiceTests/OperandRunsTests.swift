import XCTest
import ArgumentParser
@testable import SluiceCLI

/// Long runs of paths reach ArgumentParser folded into placeholders (`OperandRuns`); the parsed command must be
/// exactly what ArgumentParser makes of the arguments unfolded, wherever the runs stand.
final class OperandRunsTests: XCTestCase {
    /// `count` paths named `prefix0.log` and so on.
    func paths(_ count: Int, _ prefix: String = "p") -> [String] { (0..<count).map { "\(prefix)\($0).log" } }

    /// Parses `arguments` both ways and checks that they agree, operands and every other value; returns the
    /// operands.
    @discardableResult
    func checkSameParse(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let plain = try SluiceCommand.parseAsRoot(arguments)
        let folded = try SluiceCommand.parse(arguments)
        XCTAssertEqual(String(reflecting: folded), String(reflecting: plain), file: file, line: line)
        let operands = (plain as? TakesOperands)?.operands
        XCTAssertNotNil(operands, file: file, line: line)
        XCTAssertEqual((folded as? TakesOperands)?.operands, operands, file: file, line: line)
        return operands ?? []
    }

    func testFoldedRunsParseAsTheUnfoldedArguments() throws {
        let many = paths(50), more = paths(40, "q")
        XCTAssertEqual(try checkSameParse(["sum", "bytes"] + many), many)
        XCTAssertEqual(try checkSameParse(["sum", "--where", "status=200", "bytes"] + many), many)
        XCTAssertEqual(try checkSameParse(["grep", "-c", "GET"] + many + ["--json"] + more), many + more)
        XCTAssertEqual(try checkSameParse(["count", "--name", "access-log*"] + many + ["--threads", "2"]), many)
        XCTAssertEqual(try checkSameParse(["top", "host", "-k", "3"] + many + many), many + many)
        // select's fields lead its operands; `--` makes the rest operands, `-` and dashed names included.
        XCTAssertEqual(try checkSameParse(["select", "host", "bytes"] + many), ["host", "bytes"] + many)
        let literal = many + ["-", "-odd.log", "--"] + more
        XCTAssertEqual(try checkSameParse(["select", "bytes", "--"] + literal), ["bytes"] + literal)
        XCTAssertEqual(try checkSameParse(["send", "127.0.0.1:9"] + many), many)
        XCTAssertEqual(try checkSameParse(["follow", "--quiet"] + many), many)
        XCTAssertEqual(try checkSameParse(["distinct", "host", "-"] + many), ["-"] + many)
    }

    /// A long run past its first two arguments becomes one placeholder; short runs and commands without
    /// paths are left alone.
    func testOnlyLongRunsAreFolded() {
        var runs = OperandRuns()
        let long = ["sum", "bytes"] + paths(60)
        let folded = runs.fold(long)
        XCTAssertEqual(folded.count, 4)
        XCTAssertEqual(Array(folded.prefix(3)), Array(long.prefix(3)))
        XCTAssertEqual(runs.expand(Array(folded.dropFirst(2))), Array(long.dropFirst(2)))
        var short = OperandRuns()
        let few = ["sum", "bytes"] + paths(OperandRuns.minimumFolded)
        XCTAssertEqual(short.fold(few), few)
        // Every command whose operands end in paths folds them; gen, simulate and receive take none.
        XCTAssertEqual(OperandRuns.commands, ["grep", "sum", "count", "distinct", "max", "min", "top", "select", "send", "follow"])
        var gen = OperandRuns()
        let notPaths = ["gen", "--repeat", "access-log", "2"] + paths(60)
        XCTAssertEqual(gen.fold(notPaths), notPaths)
    }

    /// 20,000 paths, as a shell glob gives them, reach the command in order; unfolded, ArgumentParser took 16 s.
    func testTwentyThousandPaths() throws {
        let many = paths(20_000)
        let command = try SluiceCommand.parse(["sum", "bytes", "--json"] + many)
        XCTAssertEqual((command as? SumCommand)?.input.paths, many)
        XCTAssertEqual((command as? SumCommand)?.field, "bytes")
    }
}
