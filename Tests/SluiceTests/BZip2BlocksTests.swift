@testable import Sluice
import CBZip2
import XCTest

#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Compresses `bytes` in memory with libbz2 at `level` (blockSize100k 1...9).
func bzip2(_ bytes: [UInt8], level: Int) -> [UInt8] {
    var source = bytes
    source.append(0)  // libbz2 rejects a NULL source pointer, which an empty array could yield
    var destinationLength = UInt32(bytes.count + bytes.count / 100 + 600)
    var destination = [UInt8](repeating: 0, count: Int(destinationLength))
    let result = source.withUnsafeMutableBytes { input in
        destination.withUnsafeMutableBytes { output in
            BZ2_bzBuffToBuffCompress(
                output.baseAddress!.assumingMemoryBound(to: CChar.self), &destinationLength,
                input.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(bytes.count),
                Int32(level), 0, 0)
        }
    }
    precondition(result == BZ_OK, "BZ2_bzBuffToBuffCompress failed: \(result)")
    destination.removeSubrange(Int(destinationLength)...)
    return destination
}

/// Deterministic log-like text of about `size` bytes.
func bzip2TestLog(size: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
    let levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
    let paths = ["/api/v1/items", "/api/v1/users", "/login", "/static/app.js", "/health", "/api/v2/orders"]
    let users = ["alice", "bob", "carol", "dave", "erin", "mallory", "-"]
    var text = [UInt8]()
    text.reserveCapacity(size + 256)
    var second = 0
    while text.count < size {
        second += next(3)
        let line = "2024-05-\(10 + second / 86400 % 20)T\(second / 3600 % 24):\(second / 60 % 60):\(second % 60)."
            + "\(next(1000))Z \(levels[next(levels.count)]) [worker-\(next(16))] request id=\(next(1_000_000_000)) "
            + "path=\(paths[next(paths.count)])/\(next(5000)) status=\([200, 200, 200, 201, 304, 404, 500][next(7)]) "
            + "latency_ms=\(next(2000)) user=\(users[next(users.count)])\n"
        text.append(contentsOf: line.utf8)
    }
    return text
}

final class BZip2BlocksTests: XCTestCase {
    /// Locates and decodes every block of `compressed`, in order, or returns nil when locate gives up.
    private func decodeAll(_ compressed: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8]? {
        try compressed.withUnsafeBytes { data -> [UInt8]? in
            guard let blocks = BZip2Blocks.locate(data) else { return nil }
            let output = ByteBuffer()
            for block in blocks {
                try BZip2Blocks.decode(block, in: data, into: output, path: "test.bz2")
            }
            return output.array
        }
    }

    private func locate(_ compressed: [UInt8]) -> [BZip2Block]? {
        compressed.withUnsafeBytes { BZip2Blocks.locate($0) }
    }

    func testEveryLevelRoundTrips() throws {
        let original = bzip2TestLog(size: 1_200_000, seed: 1)
        var unalignedStarts = 0
        for level in 1...9 {
            let compressed = bzip2(original, level: level)
            let blocks = try XCTUnwrap(locate(compressed), "level \(level)")
            let expectedBlocks = (original.count + level * 100_000 - 1) / (level * 100_000)
            XCTAssertGreaterThanOrEqual(blocks.count, expectedBlocks, "level \(level)")
            XCTAssertEqual(blocks.first?.bitStart, 32)
            for (index, block) in blocks.enumerated() {
                XCTAssertEqual(block.level, level)
                if index > 0 { XCTAssertEqual(blocks[index - 1].bitEnd, block.bitStart) }
                if block.bitStart % 8 != 0 { unalignedStarts += 1 }
            }
            XCTAssertEqual(try decodeAll(compressed), original, "level \(level)")
        }
        XCTAssertGreaterThan(unalignedStarts, 0, "expected some blocks at non-byte-aligned offsets")
    }

    func testEachBlockDecodesIndependentlyInAnyOrder() throws {
        let original = bzip2TestLog(size: 700_000, seed: 2)
        let compressed = bzip2(original, level: 1)
        try compressed.withUnsafeBytes { data in
            let blocks = try XCTUnwrap(BZip2Blocks.locate(data))
            XCTAssertGreaterThan(blocks.count, 3)
            var pieces = [[UInt8]](repeating: [], count: blocks.count)
            for index in blocks.indices.reversed() {
                let output = ByteBuffer(capacity: 16)
                try BZip2Blocks.decode(blocks[index], in: data, into: output, path: "x")
                pieces[index] = output.array
            }
            XCTAssertEqual(Array(pieces.joined()), original)
        }
    }

    func testRandomBytesAndLongRunsRoundTrip() throws {
        var state: UInt64 = 12345
        var random = [UInt8](repeating: 0, count: 300_000)
        for index in random.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            random[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
        // Runs expand enormously through bzip2's initial RLE: one block decodes to several MB.
        var runs = [UInt8](repeating: 0x78, count: 3_000_000)
        runs += Array("a line\n".utf8)
        runs += [UInt8](repeating: 0, count: 2_000_000)
        runs += random.prefix(50_000)
        for (input, level) in [(random, 1), (random, 9), (runs, 1), (runs, 9)] {
            XCTAssertEqual(try decodeAll(bzip2(input, level: level)), input, "level \(level)")
        }
    }

    func testConcatenatedStreams() throws {
        let first = bzip2TestLog(size: 400_000, seed: 3)
        let second = bzip2TestLog(size: 250_000, seed: 4)
        let compressed = bzip2(first, level: 1) + bzip2([], level: 5) + bzip2(second, level: 7)
        let blocks = try XCTUnwrap(locate(compressed))
        XCTAssertEqual(Set(blocks.map(\.level)), [1, 7])
        XCTAssertEqual(try decodeAll(compressed), first + second)
    }

    func testPbzip2LikeOneStreamPerPiece() throws {
        let original = bzip2TestLog(size: 1_000_000, seed: 5)
        var compressed = [UInt8]()
        var pieces = 0
        var offset = 0
        while offset < original.count {
            let end = min(offset + 100_000, original.count)
            compressed += bzip2(Array(original[offset..<end]), level: 9)
            pieces += 1
            offset = end
        }
        let blocks = try XCTUnwrap(locate(compressed))
        XCTAssertEqual(blocks.count, pieces)
        XCTAssertEqual(try decodeAll(compressed), original)
    }

    func testEmptyStream() throws {
        let empty = bzip2([], level: 9)
        XCTAssertEqual(locate(empty), [])
        XCTAssertEqual(try decodeAll(empty), [])
        XCTAssertEqual(locate(empty + empty), [])
    }

    func testRejectsLayoutsItDoesNotUnderstand() throws {
        let text = bzip2TestLog(size: 150_000, seed: 6)
        let compressed = bzip2(text, level: 1)
        XCTAssertNil(locate([]))
        XCTAssertNil(locate(Array("not bzip2 at all, just text".utf8)))
        XCTAssertNil(locate(compressed + Array("garbage".utf8)), "trailing garbage")
        XCTAssertNil(locate(compressed + [0, 0, 0, 0]), "trailing zeros")
        XCTAssertNil(locate(compressed + Array("BZh".utf8)), "truncated second header")
        var badLevel = compressed
        badLevel[3] = UInt8(ascii: "0")
        XCTAssertNil(locate(badLevel))
        var badHeader = compressed
        badHeader[0] = UInt8(ascii: "b")
        XCTAssertNil(locate(badHeader))
        var badStreamCRC = compressed
        badStreamCRC[badStreamCRC.count - 2] ^= 0x10
        XCTAssertNil(locate(badStreamCRC), "combined CRC mismatch")
    }

    /// A marker that turns up inside a block's data (as it may by chance) must make locate give up, never split a
    /// block silently.
    func testMagicInsideBlockDataIsRejected() throws {
        let compressed = bzip2(bzip2TestLog(size: 300_000, seed: 7), level: 1)
        let blocks = try XCTUnwrap(locate(compressed))
        let block = blocks[1]
        let middle = (block.bitStart + block.bitEnd) / 16
        for magic: [UInt8] in [[0x31, 0x41, 0x59, 0x26, 0x53, 0x59], [0x17, 0x72, 0x45, 0x38, 0x50, 0x90]] {
            var forged = compressed
            forged.replaceSubrange(middle..<middle + 6, with: magic)
            XCTAssertNil(locate(forged))
        }
    }

    func testCorruptBlockThrows() throws {
        let original = bzip2TestLog(size: 500_000, seed: 8)
        let compressed = bzip2(original, level: 1)
        let blocks = try XCTUnwrap(locate(compressed))
        var checked = 0
        for (index, block) in blocks.enumerated() {
            for fraction in [0.2, 0.5, 0.9] {
                var damaged = compressed
                let byte = (block.bitStart + Int(Double(block.bitEnd - block.bitStart) * fraction)) / 8
                damaged[byte] ^= 0x5A
                try damaged.withUnsafeBytes { data in
                    guard let found = BZip2Blocks.locate(data) else { return }
                    XCTAssertEqual(found, blocks)
                    checked += 1
                    let output = ByteBuffer()
                    output.append("kept")
                    XCTAssertThrowsError(try BZip2Blocks.decode(found[index], in: data, into: output, path: "d.bz2"),
                                         "block \(index) at \(fraction)") { error in
                        let error = error as? SluiceError
                        XCTAssertEqual(error?.code, .corruptBzip2)
                        XCTAssertEqual(error?.path, "d.bz2")
                        XCTAssertEqual(error?.offset, block.bitStart / 8)
                    }
                    XCTAssertEqual(output.array, Array("kept".utf8), "output restored on error")
                    // The other blocks are untouched and still decode.
                    let neighbour = found[(index + 1) % found.count]
                    XCTAssertNoThrow(try BZip2Blocks.decode(neighbour, in: data, into: ByteBuffer(), path: "d.bz2"))
                }
            }
        }
        XCTAssertGreaterThan(checked, blocks.count, "damage inside block data should leave the layout intact")
        // A block whose CRC does not match its data.
        try compressed.withUnsafeBytes { data in
            let block = blocks[0]
            let wrong = BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd, level: block.level, crc: block.crc ^ 1)
            XCTAssertThrowsError(try BZip2Blocks.decode(wrong, in: data, into: ByteBuffer(), path: "w.bz2"))
            // A block cut short or running into the next one.
            let short = BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd - 9, level: block.level, crc: block.crc)
            XCTAssertThrowsError(try BZip2Blocks.decode(short, in: data, into: ByteBuffer(), path: "w.bz2"))
            let long = BZip2Block(bitStart: block.bitStart, bitEnd: block.bitEnd + 3, level: block.level, crc: block.crc)
            XCTAssertThrowsError(try BZip2Blocks.decode(long, in: data, into: ByteBuffer(), path: "w.bz2"))
            let outside = BZip2Block(bitStart: block.bitStart, bitEnd: data.count * 8 + 8, level: block.level, crc: block.crc)
            XCTAssertThrowsError(try BZip2Blocks.decode(outside, in: data, into: ByteBuffer(), path: "w.bz2"))
        }
    }

    func testTruncationNeverCrashes() throws {
        let original = bzip2TestLog(size: 350_000, seed: 9)
        let single = bzip2(original, level: 1)
        let fullBlocks = try XCTUnwrap(locate(single))
        var cuts = Set(Swift.stride(from: 0, to: single.count, by: max(1, single.count / 300)))
        cuts.formUnion(0..<min(64, single.count))
        cuts.formUnion(max(0, single.count - 64)..<single.count)
        for block in fullBlocks {
            let byte = block.bitStart / 8
            cuts.formUnion(max(0, byte - 8)..<min(single.count, byte + 16))
        }
        for cut in cuts.sorted() {
            let prefix = Array(single[..<cut])
            XCTAssertNil(locate(prefix), "cut at \(cut)")
            try prefix.withUnsafeBytes { data in
                for block in fullBlocks {
                    let output = ByteBuffer()
                    do {
                        try BZip2Blocks.decode(block, in: data, into: output, path: "t.bz2")
                        XCTAssertLessThanOrEqual(block.bitEnd, cut * 8, "decoded a block past the cut")
                    } catch let error as SluiceError {
                        XCTAssertEqual(error.code, .corruptBzip2)
                        XCTAssertEqual(output.count, 0)
                    }
                }
            }
        }
        // Concatenated streams: a cut is acceptable only exactly at a stream boundary.
        let firstStream = bzip2(Array(original[..<100_000]), level: 1)
        let multi = firstStream + bzip2(Array(original[100_000...]), level: 2)
        for cut in Swift.stride(from: 0, to: multi.count, by: 997) + [firstStream.count, firstStream.count + 1] {
            let prefix = Array(multi[..<cut])
            if cut == firstStream.count {
                XCTAssertEqual(try decodeAll(prefix), Array(original[..<100_000]))
            } else {
                XCTAssertNil(locate(prefix), "cut at \(cut)")
            }
        }
    }

    /// Locate and decode throughput on ~64 MB of compressed logs. Opt-in (SLUICE_BZIP2_BENCH=1), run with -c release.
    func testThroughputBenchmark() throws {
        guard getenv("SLUICE_BZIP2_BENCH") != nil else {
            throw XCTSkip("set SLUICE_BZIP2_BENCH=1 to run")
        }
        let original = bzip2TestLog(size: 24_000_000, seed: 10)
        let stream = bzip2(original, level: 9)
        var compressed = [UInt8]()
        while compressed.count < 64 << 20 { compressed += stream }
        let copies = compressed.count / stream.count
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        try compressed.withUnsafeBytes { data in
            var best = Double.infinity
            var blocks: [BZip2Block] = []
            for _ in 0..<3 {
                let start = now()
                blocks = try XCTUnwrap(BZip2Blocks.locate(data))
                best = min(best, now() - start)
            }
            let megabytes = Double(data.count) / 1e6
            print(String(format: "bzip2 locate: %.1f MB compressed, %d blocks, %.3f s, %.0f MB/s",
                         megabytes, blocks.count, best, megabytes / best))

            func cpu() -> Double {
                var time = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
                return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
            }
            let perCopy = blocks.count / copies
            let sample = Array(blocks.prefix(perCopy))
            var start = now()
            var cpuStart = cpu()
            let output = ByteBuffer()
            for block in sample { try BZip2Blocks.decode(block, in: data, into: output, path: "bench") }
            var elapsed = now() - start
            var cpuElapsed = cpu() - cpuStart
            XCTAssertEqual(output.count, original.count)
            XCTAssertTrue(output.array == original)
            let outMB = Double(original.count) / 1e6
            print(String(format: "bzip2 decode, 1 thread: %.1f MB out, %.1f MB/s wall, %.1f MB/s per CPU-second",
                         outMB, outMB / elapsed, outMB / cpuElapsed))

            // Reference: libbz2 decoding the whole stream sequentially.
            var sequential = [UInt8](repeating: 0, count: original.count + 16)
            var sequentialLength = UInt32(sequential.count)
            var input = stream
            cpuStart = cpu()
            let result = sequential.withUnsafeMutableBytes { out in
                input.withUnsafeMutableBytes { inp in
                    BZ2_bzBuffToBuffDecompress(out.baseAddress!.assumingMemoryBound(to: CChar.self), &sequentialLength,
                                               inp.baseAddress!.assumingMemoryBound(to: CChar.self),
                                               UInt32(inp.count), 0, 0)
                }
            }
            cpuElapsed = cpu() - cpuStart
            XCTAssertEqual(result, BZ_OK)
            print(String(format: "libbz2 sequential reference: %.1f MB/s per CPU-second", outMB / cpuElapsed))

            let threads = 2
            let outputs = (0..<sample.count).map { _ in ByteBuffer() }
            let failures = UnsafeMutablePointer<Int>.allocate(capacity: sample.count)
            failures.initialize(repeating: 0, count: sample.count)
            defer { failures.deallocate() }
            start = now()
            DispatchQueue.concurrentPerform(iterations: sample.count) { index in
                do { try BZip2Blocks.decode(sample[index], in: data, into: outputs[index], path: "bench") } catch {
                    failures[index] = 1
                }
            }
            elapsed = now() - start
            XCTAssertEqual((0..<sample.count).reduce(0) { $0 + failures[$1] }, 0)
            XCTAssertEqual(outputs.reduce(0) { $0 + $1.count }, original.count)
            print(String(format: "bzip2 decode, %d threads: %.1f MB/s decoded", threads,
                         Double(original.count) / 1e6 / elapsed))
        }
    }
}
