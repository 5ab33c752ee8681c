import XCTest
import CBZip2
@testable import Sluice

/// A bzip2 stream cut short is a `.truncatedBzip2` error, "unexpected end of bzip2 stream", at the byte offset
/// where the unit the cut reached begins (the stream header, the block whose magic starts in that byte, or the
/// end-of-stream marker), and every reading path (whole small file, mapped file going block-parallel, sequential
/// decoding, standard input) reports the same line, after counting the same whole lines.
final class TruncatedBzip2Tests: XCTestCase {
    /// About 820 KB of access-log lines with varied fields (from a fixed SplitMix64 sequence), so that `bzip2 -1`
    /// makes several blocks of it and the stored file is well over the 64 KiB above which a .bz2 file goes the
    /// mapped block-parallel way.
    static let text: [UInt8] = {
        var state: UInt64 = 5
        func next(_ bound: UInt64) -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (z ^ (z >> 31)) % bound
        }
        var out = [UInt8]()
        for index in 0..<9000 {
            let status = [200, 200, 404, 500][Int(next(4))]
            let line = "10.\(next(256)).\(next(256)).\(next(256)) - - [01/Jan/2024:00:\(index / 60 % 60):\(index % 60) +0000] "
                + "\"GET /p/\(next(100_000))/\(String(next(1 << 40), radix: 16)) HTTP/1.0\" \(status) \(next(100_000))\n"
            out += Array(line.utf8)
        }
        return out
    }()

    static let stored = Fixture.bzip2(text, level: 1)

    /// Bit offsets of every occurrence of the 48-bit `magic` in `bytes`, found by sliding a 48-bit window one bit
    /// at a time (not with the library's marker search).
    static func markers(_ magic: UInt64, in bytes: [UInt8]) -> [Int] {
        var found = [Int]()
        var window: UInt64 = 0
        let mask: UInt64 = (1 << 48) - 1
        for (index, byte) in bytes.enumerated() {
            for shift in stride(from: 7, through: 0, by: -1) {
                window = (window << 1 | UInt64(byte >> UInt8(shift) & 1)) & mask
                let bitsRead = index * 8 + (8 - shift)
                if bitsRead >= 48 && window == magic { found.append(bitsRead - 48) }
            }
        }
        return found
    }

    static let blockMagic: UInt64 = 0x3141_5926_5359
    static let endMagic: UInt64 = 0x1772_4538_5090

    /// What libbz2 itself decodes from `bytes` before running out: the whole blocks before the cut.
    static func libbz2Prefix(_ bytes: [UInt8]) -> [UInt8] {
        var stream = bz_stream()
        XCTAssertEqual(BZ2_bzDecompressInit(&stream, 0, 0), BZ_OK)
        defer { BZ2_bzDecompressEnd(&stream) }
        var input = bytes, output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = UnsafeMutableRawPointer(inBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { outBuffer -> (Int32, Int) in
                    stream.next_out = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                    stream.avail_out = UInt32(outBuffer.count)
                    let result = BZ2_bzDecompress(&stream)
                    return (result, outBuffer.count - Int(stream.avail_out))
                }
                output += chunk[..<produced]
                if result != BZ_OK || (produced == 0 && stream.avail_in == 0) { break }
            }
        }
        return output
    }

    /// The CLI's line for a cut whose whole lines before it are `decoded`: the message, the note on a partial
    /// line when the decoded bytes do not end with a newline, and the offset.
    static func expectedLine(_ path: String, decoded: [UInt8], at offset: Int) -> String {
        let unfinished = decoded.count - ((decoded.lastIndex(of: 10)).map { $0 + 1 } ?? 0)
        let note = unfinished > 0 ? "; the unfinished line before it (\(unfinished) bytes) was not read" : ""
        return "\(path): unexpected end of bzip2 stream\(note) (at byte \(offset))\n"
    }

    /// Runs `count` over `bytes` as a file and on standard input, on every reading path, and checks the count of
    /// whole lines, the error line and the status; and through the library, the error's code and offset.
    func check(_ bytes: [UInt8], offset: Int, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let decoded = Self.libbz2Prefix(bytes)
        let lines = decoded.filter { $0 == 10 }.count
        let path = Fixture.write(bytes, to: Fixture.directory() + "/cut.bz2")
        let paths: [(String, [String])] = [
            ("block-parallel", ["--threads", "2"]),
            ("one thread", ["--threads", "1"]),
            ("sequential", ["--threads", "2", "--sequential-bzip2"]),
        ]
        for (strategy, options) in paths {
            let result = sluice(["count", path] + options)
            XCTAssertEqual(result.stderr, Self.expectedLine(path, decoded: decoded, at: offset), "\(name), file, \(strategy)",
                           file: file, line: line)
            XCTAssertEqual(result.stdout, "Total \(lines)\n", "\(name), file, \(strategy)", file: file, line: line)
            XCTAssertEqual(result.status, 2, "\(name), file, \(strategy)", file: file, line: line)
        }
        for (strategy, options) in paths.prefix(2) {
            let result = sluice(["count"] + options, stdin: bytes)
            XCTAssertEqual(result.stderr, Self.expectedLine("<stdin>", decoded: decoded, at: offset),
                           "\(name), stdin, \(strategy)", file: file, line: line)
            XCTAssertEqual(result.stdout, "Total \(lines)\n", "\(name), stdin, \(strategy)", file: file, line: line)
        }
        for options in [ExecutionOptions(threads: 2), ExecutionOptions(threads: 1, parallelBzip2: false),
                        ExecutionOptions(threads: 2, smallFileLimit: 0)] {
            let error = try Fixture.run(Query(operation: .count(by: nil)), [path], options: options).report.inputs[0].error
            XCTAssertEqual(error?.code, .truncatedBzip2, name, file: file, line: line)
            XCTAssertEqual(error?.offset, offset, name, file: file, line: line)
            XCTAssertEqual(error?.path, path, name, file: file, line: line)
        }
    }

    /// Where the markers are, found in the bytes; the cuts below are placed from them.
    func layout() -> (blocks: [Int], end: Int) {
        let blocks = Self.markers(Self.blockMagic, in: Self.stored)
        let ends = Self.markers(Self.endMagic, in: Self.stored)
        XCTAssertGreaterThanOrEqual(blocks.count, 5, "the text should make several bzip2 -1 blocks")
        XCTAssertEqual(ends.count, 1)
        XCTAssertEqual(blocks.first, 32, "the first block follows the 4-byte header")
        // The end-of-stream marker is 48 + 32 bits, padded to a byte: the file ends with it.
        XCTAssertEqual((ends[0] + 80 + 7) / 8, Self.stored.count)
        return (blocks, ends[0])
    }

    /// Cut inside a stream header: right after `BZh1` (inside the first block's magic), and a second stream
    /// cut after `BZ` or `BZh1`: the error is at the byte where the cut unit starts (the magic, or the header).
    func testCutInsideAHeader() throws {
        _ = layout()
        try check(Array(Self.stored[..<6]), offset: 4, "6 bytes")
        try check(Self.stored + Array("BZ".utf8), offset: Self.stored.count, "second stream 'BZ'")
        try check(Self.stored + Array("BZh1".utf8), offset: Self.stored.count + 4, "second stream 'BZh1'")
    }

    /// Cut inside a block: the error is at the byte where that block's magic starts, and the whole blocks before
    /// it still count; once in a file small enough to be read whole, once in one large enough to go block-parallel.
    func testCutInsideABlock() throws {
        let (blocks, _) = layout()
        for cut in [Self.stored.count / 4, Self.stored.count * 3 / 5] {
            let start = blocks.last { $0 / 8 + 6 < cut }! / 8
            XCTAssertGreaterThan(cut - start, 100, "the cut is well inside the block")
            try check(Array(Self.stored[..<cut]), offset: start, "cut at \(cut)")
        }
        XCTAssertLessThan(Self.stored.count / 4, 64 << 10, "the first cut is read as a small file")
        XCTAssertGreaterThan(Self.stored.count * 3 / 5, 64 << 10, "the second goes the mapped block-parallel way")
    }

    /// Cut inside the end-of-stream marker: every block decodes (all lines count), and the error is at the byte
    /// where the marker starts.
    func testCutInsideTheEndOfStreamMarker() throws {
        let (_, end) = layout()
        XCTAssertEqual(Self.libbz2Prefix(Array(Self.stored[..<(end / 8 + 1)])), Self.text, "every block is whole")
        try check(Array(Self.stored[..<(end / 8 + 1)]), offset: end / 8, "one byte of the marker")
        try check(Array(Self.stored.dropLast(2)), offset: end / 8, "two bytes short")
    }
}
