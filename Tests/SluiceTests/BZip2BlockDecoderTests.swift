@testable import Sluice
import XCTest
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Sluice's own block decoder against libbz2 (the reference, through `BZip2Blocks.decode`), on the blocks that
/// `BZip2Blocks.locate` finds.
final class BZip2BlockDecoderTests: XCTestCase {
    /// Every located block of `compressed` decoded by `decode`, one output per block.
    private func eachBlock(_ compressed: [UInt8],
                           _ decode: (BZip2Block, UnsafeRawBufferPointer, ByteBuffer) throws -> Void) throws -> [[UInt8]] {
        try compressed.withUnsafeBytes { data in
            try XCTUnwrap(BZip2Blocks.locate(data)).map { block in
                let output = ByteBuffer(capacity: 16)
                try decode(block, data, output)
                return output.array
            }
        }
    }

    private func fast(_ compressed: [UInt8], _ decoder: BZip2BlockDecoder) throws -> [UInt8] {
        Array(try eachBlock(compressed) { try decoder.decode($0, in: $1, into: $2, path: "f.bz2") }.joined())
    }

    private func reference(_ compressed: [UInt8]) throws -> [UInt8] {
        Array(try eachBlock(compressed) { try BZip2Blocks.decode($0, in: $1, into: $2, path: "r.bz2") }.joined())
    }

    func testEveryLevelMatchesLibbz2() throws {
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        let original = bzip2TestLog(size: 1_100_000, seed: 21)
        for level in 1...9 {
            let compressed = bzip2(original, level: level)
            XCTAssertTrue(try reference(compressed) == original, "libbz2, level \(level)")
            XCTAssertTrue(try fast(compressed, decoder) == original, "level \(level)")
        }
    }

    func testRunsRandomBytesAndEveryByteValue() throws {
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        var state: UInt64 = 99
        var random = [UInt8](repeating: 0, count: 250_000)
        for index in random.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            random[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
        // Runs of every length around the initial RLE's thresholds (4 equal bytes, then a count up to 255).
        var runs = [UInt8]()
        for length in 1...300 { runs += [UInt8](repeating: UInt8(truncatingIfNeeded: length), count: length) }
        let inputs: [(String, [UInt8])] = [
            ("random", random),
            ("one long run", [UInt8](repeating: 0x41, count: 3_000_000) + Array("end\n".utf8)),
            ("runs 1...300", runs),
            ("every byte value", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
            ("one byte", [0x0A]),
            ("periodic", Array(repeating: Array("ab\n".utf8), count: 200_000).flatMap { $0 }),
            ("mixed", runs + random.prefix(80_000) + [UInt8](repeating: 0, count: 500_000) + runs),
        ]
        for (name, input) in inputs {
            for level in [1, 9] {
                XCTAssertTrue(try fast(bzip2(input, level: level), decoder) == input, "\(name) level \(level)")
            }
        }
    }

    /// A damaged block is reported with the file and its offset and leaves the output as it was; the decoder
    /// then goes on to decode the next block correctly.
    func testDamagedBlockThrowsAndTheNextStillDecodes() throws {
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        let compressed = bzip2(bzip2TestLog(size: 450_000, seed: 22), level: 1)
        let blocks = try XCTUnwrap(compressed.withUnsafeBytes { BZip2Blocks.locate($0) })
        let clean = try eachBlock(compressed) { try BZip2Blocks.decode($0, in: $1, into: $2, path: "c.bz2") }
        var checked = 0
        for (index, block) in blocks.enumerated() {
            for fraction in [0.1, 0.5, 0.97] {
                var damaged = compressed
                damaged[(block.bitStart + Int(Double(block.bitEnd - block.bitStart) * fraction)) / 8] ^= 0x24
                try damaged.withUnsafeBytes { data in
                    // Damage may move the block's end or break the stream CRC: then locate declines, as it should.
                    guard BZip2Blocks.locate(data) == blocks else { return }
                    checked += 1
                    let output = ByteBuffer()
                    output.append("kept")
                    var message = ""
                    XCTAssertThrowsError(try decoder.decode(block, in: data, into: output, path: "d.bz2")) { error in
                        let error = error as? SluiceError
                        XCTAssertEqual(error?.code, .corruptBzip2, "block \(index) at \(fraction)")
                        XCTAssertEqual(error?.path, "d.bz2")
                        XCTAssertEqual(error?.offset, block.bitStart / 8)
                        message = error?.message ?? ""
                    }
                    // A block whose CRC does not match keeps its bytes after what was there (as a stream does);
                    // any other damage leaves the output as it was.
                    if message.contains("CRC mismatch") {
                        XCTAssertTrue(output.count > 4 && output.array.starts(with: Array("kept".utf8)))
                    } else {
                        XCTAssertEqual(output.array, Array("kept".utf8))
                    }
                    let next = (index + 1) % blocks.count
                    let neighbour = ByteBuffer()
                    try decoder.decode(blocks[next], in: data, into: neighbour, path: "d.bz2")
                    XCTAssertTrue(neighbour.array == clean[next])
                }
            }
        }
        XCTAssertGreaterThan(checked, blocks.count)
        // A located end that is not where the block ends: its bytes are kept, as the sequential stream keeps them
        // before it meets no magic where the block ended.
        try compressed.withUnsafeBytes { data in
            let block = blocks[0]
            let output = ByteBuffer()
            let moved = BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd - 1, level: 1, crc: block.crc)
            XCTAssertThrowsError(try decoder.decode(moved, in: data, into: output, path: "w.bz2")) { error in
                XCTAssertEqual(error as? SluiceError, SluiceError(.corruptBzip2, path: "w.bz2", "bad bzip2 block magic", offset: block.bitEnd / 8))
            }
            XCTAssertTrue(output.array == clean[0])
        }
        // A stored CRC that differs, a start off the magic, a wrong level.
        try compressed.withUnsafeBytes { data in
            let block = blocks[0]
            for wrong in [BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd, level: 1, crc: block.crc ^ 4),
                          BZip2Block(bitStart: block.bitStart + 1, bitEnd: block.bitEnd, level: 1, crc: block.crc),
                          BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd, level: 0, crc: block.crc)] {
                let output = ByteBuffer()
                XCTAssertThrowsError(try decoder.decode(wrong, in: data, into: output, path: "w.bz2")) { error in
                    XCTAssertEqual((error as? SluiceError)?.code, .corruptBzip2)
                }
                XCTAssertEqual(output.count, 0)
            }
            let output = ByteBuffer()
            try decoder.decode(block, in: data, into: output, path: "w.bz2")
            XCTAssertTrue(output.array == clean[0])
        }
    }

    /// A block whose text ends with four equal bytes and no repeat count after them (01 02 05 05 05 05), which no
    /// encoder writes and libbz2 rejects: so does this decoder, while the same block with its count 0 decodes.
    /// Both streams were built by hand (BWT of the text, MTF, RUNA/RUNB, two Huffman tables), with the block and
    /// stream CRCs of the six bytes.
    func testBlockEndingInARunWithoutItsCountIsRejectedAsByLibbz2() throws {
        func bytes(_ hex: String) -> [UInt8] {
            var out = [UInt8]()
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                out.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return out
        }
        let withoutCount = bytes("425a68393141592653596a6dc2d80000004000320020002108108d4ee2ee48a70a120d4db85b00")
        let withCount = bytes("425a68393141592653596a6dc2d8000000c00072002000211008834b5dc5dc914e14241a9b70b600")
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        XCTAssertEqual(try fast(withCount, decoder), [1, 2, 5, 5, 5, 5])
        XCTAssertEqual(try reference(withCount), [1, 2, 5, 5, 5, 5])
        XCTAssertThrowsError(try reference(withoutCount))
        XCTAssertThrowsError(try fast(withoutCount, decoder)) { error in
            XCTAssertEqual((error as? SluiceError)?.code, .corruptBzip2)
            XCTAssertEqual((error as? SluiceError)?.message,
                           "corrupt bzip2 block (run of four equal bytes without its count at the end of a block)")
        }
        let stream = drain(BZip2FastStream(CompressedInput(path: "n.bz2", fd: nil, prefix: withoutCount), decoder: decoder))
        XCTAssertEqual(stream.error?.code, .corruptBzip2)
    }

    /// From a pipe, a block is decoded as soon as it and the magic after it have arrived, not once the most a
    /// block can take (2.3 MB) is buffered or the writer closes: the fill below returns while the pipe is open.
    func testABlockFromAPipeIsDecodedOnceItHasArrived() throws {
        let text = bzip2TestLog(size: 200_000, seed: 41)
        let compressed = bzip2(text, level: 9)
        XCTAssertLessThan(compressed.count, 60_000, "fits the pipe's buffer")
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]) }
        XCTAssertEqual(compressed.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }, compressed.count)
        let stream = BZip2FastStream(CompressedInput(path: "p.bz2", fd: ends[0], prefix: []),
                                     decoder: try XCTUnwrap(BZip2BlockDecoder()))
        let output = ByteBuffer()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = stream.fill(output, limit: text.count)
            done.signal()
        }
        let waited = done.wait(timeout: .now() + 20)
        close(ends[1])
        if waited == .timedOut { _ = done.wait(timeout: .now() + 20) }
        XCTAssertEqual(waited, .success, "the block waited for more input")
        XCTAssertTrue(output.array == text)
        XCTAssertNil(stream.error)
    }

    /// Blocks decoded against a truncated copy of their file: every block the cut reaches fails with an error,
    /// the others decode; none crashes or hangs.
    func testTruncatedDataNeverCrashes() throws {
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        let compressed = bzip2(bzip2TestLog(size: 320_000, seed: 23), level: 1)
        let blocks = try XCTUnwrap(compressed.withUnsafeBytes { BZip2Blocks.locate($0) })
        var cuts = Set(Swift.stride(from: 0, to: compressed.count, by: max(1, compressed.count / 150)))
        for block in blocks { cuts.formUnion(max(0, block.bitEnd / 8 - 3)...min(compressed.count, block.bitEnd / 8 + 1)) }
        for cut in cuts.sorted() {
            Array(compressed[..<cut]).withUnsafeBytes { data in
                for (index, block) in blocks.enumerated() {
                    let output = ByteBuffer()
                    do {
                        try decoder.decode(block, in: data, into: output, path: "t.bz2")
                        XCTAssertLessThanOrEqual(block.bitEnd, cut * 8, "block \(index) decoded past the cut \(cut)")
                    } catch {
                        XCTAssertEqual((error as? SluiceError)?.code, .corruptBzip2)
                        XCTAssertGreaterThan(block.bitEnd, cut * 8, "block \(index) failed before the cut \(cut)")
                        XCTAssertEqual(output.count, 0)
                    }
                }
            }
        }
    }

    /// Everything `stream` decodes, with small fills, and the error it ends with.
    private func drain(_ stream: DecodedStream) -> (bytes: [UInt8], error: SluiceError?) {
        let output = ByteBuffer()
        while stream.fill(output, limit: output.count + 100_000) {}
        return (output.array, stream.error)
    }

    /// The sequential stream over Sluice's decoder against libbz2's stream decoder: the same bytes for whole
    /// inputs (concatenated streams, empty streams, every level, read in pieces of many sizes); for inputs cut
    /// short or followed by garbage, the same kind of error, with the bytes before it a prefix of libbz2's
    /// (libbz2 also hands out part of the block that is cut).
    func testSequentialStreamMatchesLibbz2() throws {
        let decoder = try XCTUnwrap(BZip2BlockDecoder())
        let first = bzip2TestLog(size: 450_000, seed: 31), second = bzip2TestLog(size: 120_000, seed: 32)
        let whole = bzip2(first, level: 1) + bzip2([], level: 4) + bzip2(second, level: 9) + bzip2([7], level: 2)
        let original = first + second + [7]
        for piece in [1, 7, 4096, 1 << 20] {
            let fast = drain(BZip2FastStream(CompressedInput(path: "s.bz2", fd: nil, prefix: whole, blockSize: piece),
                                             decoder: decoder))
            XCTAssertNil(fast.error, "piece \(piece)")
            XCTAssertTrue(fast.bytes == original, "piece \(piece)")
        }
        var cases: [[UInt8]] = Swift.stride(from: 4, to: whole.count, by: max(1, whole.count / 120)).map { Array(whole[..<$0]) }
        cases += [whole + Array("garbage".utf8), whole + [0x42, 0x5A], whole + [0, 0, 0, 0], whole + Array("BZh0".utf8)]
        // The first block marked randomised (bit 112): this decoder hands it to libbz2, which rejects its CRC.
        var randomised = whole
        randomised[14] |= 0x80
        cases.append(randomised)
        for damaged in cases {
            let fast = drain(BZip2FastStream(CompressedInput(path: "d.bz2", fd: nil, prefix: damaged, blockSize: 5000),
                                             decoder: decoder))
            let reference = drain(BZip2Stream(CompressedInput(path: "d.bz2", fd: nil, prefix: damaged)))
            let label = "\(damaged.count) of \(whole.count) bytes"
            XCTAssertEqual(fast.error?.code, reference.error?.code, label)
            XCTAssertEqual(fast.error?.path, "d.bz2", label)
            XCTAssertLessThanOrEqual(fast.bytes.count, reference.bytes.count, label)
            XCTAssertTrue(Array(reference.bytes.prefix(fast.bytes.count)) == fast.bytes, label)
        }
    }
}
