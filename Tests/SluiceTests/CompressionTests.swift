import XCTest
import CZlib
@testable import Sluice

/// Compressed inputs read exactly like plain ones: detection by magic, multi-member gzip, concatenated bzip2
/// streams, every bzip2 level, both gzip decoders, both bzip2 paths, and clear errors for damaged files.
final class CompressionTests: XCTestCase {
    static let text = Fixture.log(size: 600_000, seed: 3)

    /// Decodes `stored` through a `DecodedStream`, returning the bytes and the error.
    func decode(_ stored: [UInt8], _ compression: Compression, gzip: GzipDecoderKind = .isal,
                limit: Int = 1 << 16, pieces: Int = 1 << 18) -> ([UInt8], SluiceError?) {
        let input = CompressedInput(path: "mem", fd: nil, prefix: stored, blockSize: pieces)
        let stream = Decoders.stream(compression, input, gzip: gzip)
        let buffer = ByteBuffer()
        var out = [UInt8]()
        while true {
            buffer.removeAll()
            let more = stream.fill(buffer, limit: limit)
            out += buffer.array
            if !more { break }
        }
        return (out, stream.error)
    }

    func sum(_ path: String, _ options: ExecutionOptions = ExecutionOptions()) throws -> RunReport {
        try Fixture.run(Query(operation: .sum("bytes")), [path], options: options).report
    }

    func testDetectionIsByMagicNotName() throws {
        let dir = Fixture.directory()
        let plainTotal = try sum(Fixture.write(Self.text, to: dir + "/plain")).answer
        for (name, bytes) in [("access-log.1", Fixture.gzip(Self.text)), ("x.gz", Self.text),
                              ("y.gz", Fixture.bzip2(Self.text)), ("z.bz2", Fixture.gzip(Self.text))] {
            let report = try sum(Fixture.write(bytes, to: dir + "/" + name))
            XCTAssertEqual(report.answer, plainTotal, name)
            XCTAssertEqual(report.errors, [], name)
        }
        // Standard input too.
        guard case .total(let total) = plainTotal else { return XCTFail("no total") }
        for bytes in [Fixture.gzip(Self.text), Fixture.bzip2(Self.text), Self.text] {
            let result = sluice(["sum", "bytes"], stdin: bytes)
            XCTAssertEqual(result.stdout, "Total \(total)\n")
            XCTAssertEqual(result.status, 0, result.stderr)
        }
    }

    /// xz, zstd, lz4, compress and zip inputs are told by their magic and refused with an error naming the
    /// format at byte 0, not read as lines and counted malformed; the other inputs are still aggregated, and
    /// standard input and the facade refuse them the same way.
    func testUnsupportedFormatsAreErrorsNotMalformedLines() throws {
        let dir = Fixture.directory()
        let good = Fixture.write(Self.text, to: dir + "/good.log")
        guard case .total(let total) = try sum(good).answer else { return XCTFail("no total") }
        let magics: [(String, [UInt8])] = [("xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ("zstd", [0x28, 0xb5, 0x2f, 0xfd]),
                                           ("lz4", [0x04, 0x22, 0x4d, 0x18]), ("compress", [0x1f, 0x9d, 0x90]),
                                           ("zip", [0x50, 0x4b, 0x03, 0x04])]
        for (format, magic) in magics {
            // Large enough for the mapped path, and small for the whole-file one; a plain log after the magic.
            let path = Fixture.write(magic + Self.text, to: dir + "/access-log.\(format)")
            for small in [0, 1 << 20] {
                let options = ExecutionOptions(threads: 2, smallFileLimit: small)
                let report = try Fixture.run(Query(operation: .sum("bytes")), [path, good], options: options).report
                XCTAssertEqual(report.answer, .total(total), format)
                XCTAssertEqual(report.inputs[0].error?.code, .unsupportedCompression, format)
                XCTAssertEqual(report.inputs[0].error?.offset, 0, format)
                XCTAssertEqual(report.inputs[0].malformed, 0, format)
                XCTAssertEqual(report.inputs[1].error, nil, format)
            }
            let result = sluice(["sum", "bytes", path, good])
            XCTAssertEqual(result.stdout, "Total \(total)\n", format)
            XCTAssertEqual(result.status, 2, format)
            XCTAssertEqual(result.stderr, path + ": \(format)-compressed data, which sluice does not decode (it reads "
                           + "plain text, gzip and bzip2); decompress it first (at byte 0)\n")
            let piped = sluice(["count"], stdin: magic + Self.text)
            XCTAssertEqual(piped.status, 2, format)
            XCTAssertTrue(piped.stderr.hasPrefix("<stdin>: \(format)-compressed data"), piped.stderr)
            let files = LogFiles(paths: [path])
            var iterator = files.lines().makeIterator()
            XCTAssertNil(iterator.next(), format)
            XCTAssertEqual(files.status.error?.code, .unsupportedCompression, format)
        }
    }

    func testGzipDecodersAgreeByteForByteIncludingMultiMember() {
        let members = Fixture.gzip(Array(Self.text[0..<1000]), level: 1) + Fixture.gzip([], level: 9)
            + Fixture.gzip(Array(Self.text[1000...]), level: 9) + Fixture.gzip([])
        for stored in [Fixture.gzip(Self.text), members] {
            for limit in [1, 4096, 1 << 20] {
                let (isal, isalError) = decode(stored, .gzip, gzip: .isal, limit: limit)
                let (zlib, zlibError) = decode(stored, .gzip, gzip: .zlib, limit: limit)
                XCTAssertEqual(isal, Self.text)
                XCTAssertEqual(zlib, Self.text)
                XCTAssertNil(isalError)
                XCTAssertNil(zlibError)
            }
        }
    }

    /// A gzip member whose header has every optional field (extra, name, comment and the header CRC16 that
    /// covers them), around the deflate data and trailer that zlib wrote for `text`.
    static func gzipWithEveryHeaderField(_ text: [UInt8], flags: UInt8 = 0x1f) -> [UInt8] {
        var header: [UInt8] = [0x1f, 0x8b, 8, flags, 1, 2, 3, 4, 0, 3]
        if flags & 4 != 0 { header += [5, 0, 0x41, 0x42, 0, 0xff, 0x1f] }
        if flags & 8 != 0 { header += Array("access.log".utf8) + [0] }
        if flags & 16 != 0 { header += Array("a comment".utf8) + [0] }
        if flags & 2 != 0 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in header {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            crc = ~crc
            header += [UInt8(crc & 0xff), UInt8(crc >> 8 & 0xff)]
        }
        return header + Fixture.gzip(text).dropFirst(10)
    }

    /// Headers with a CRC16 split anywhere between two reads (ISA-L's own header parser got the CRC16 wrong then,
    /// so a valid file read from a pipe or as a large file lost every line: "CRC32 mismatch (at byte 4)"), zero
    /// padding after the last member (gzip ignores it), and what a header may get wrong.
    func testGzipHeadersDecodeWhateverTheSplitAndBadOnesAreNamed() {
        let half = Self.text.count / 2
        let stored = Self.gzipWithEveryHeaderField(Array(Self.text[..<half]))
            + Self.gzipWithEveryHeaderField(Array(Self.text[half...]), flags: 0x02) + [0, 0, 0]
        for pieces in [1, 2, 3, 4, 5, 7, 11, 13, 29, 1 << 18] {
            for decoder in [GzipDecoderKind.isal, .zlib] {
                let (text, error) = decode(stored, .gzip, gzip: decoder, pieces: pieces)
                XCTAssertTrue(text == Self.text, "\(decoder) in pieces of \(pieces)")
                XCTAssertNil(error, "\(decoder) in pieces of \(pieces)")
            }
        }
        var badCRC16 = Self.gzipWithEveryHeaderField(Self.text)
        badCRC16[36] ^= 1
        var reserved = Self.gzipWithEveryHeaderField(Self.text)
        reserved[3] |= 0x20
        var method = Fixture.gzip(Self.text)
        method[2] = 7
        let member = Fixture.gzip(Self.text)
        let why = " (the input was taken for gzip by its first bytes, 1f 8b)"
        for (stored, message) in [(badCRC16, "corrupt gzip stream: gzip header CRC16 mismatch" + why),
                                  (reserved, "corrupt gzip stream: reserved gzip header flags set" + why),
                                  (method, "corrupt gzip stream: unsupported compression method 7" + why),
                                  (Array(badCRC16[..<20]), "unexpected end of gzip stream"),
                                  (member + [0, 0, 1], "trailing garbage after gzip member 1")] {
            for pieces in [3, 1 << 18] {
                let (_, error) = decode(stored, .gzip, pieces: pieces)
                XCTAssertEqual(error?.message, message)
            }
        }
        // Garbage after padding is placed where the padding began.
        XCTAssertEqual(decode(member + [0, 0, 1], .gzip).1?.offset, member.count)
    }

    /// A plain log that merely starts with a compression magic is read as that format, as the rule says, and the
    /// error says why (it only said "bad bzip2 block magic", leaving the user to guess).
    func testAPlainFileThatStartsLikeACompressedOneIsToldWhy() {
        let dir = Fixture.directory()
        let bzh = Fixture.write(Array("BZh9 says the first line\n".utf8) + Self.text, to: dir + "/bzh.log")
        let gz = Fixture.write([0x1f, 0x8b] + Self.text, to: dir + "/gz.log")
        for (path, hint) in [(bzh, "(the input was taken for bzip2 by its first bytes, BZh)"),
                             (gz, "(the input was taken for gzip by its first bytes, 1f 8b)")] {
            for stdin in [false, true] {
                let result = stdin ? sluice(["count"], stdin: Fixture.read(path)) : sluice(["count", path])
                XCTAssertEqual(result.status, 2)
                XCTAssertTrue(result.stderr.contains(hint), result.stderr)
            }
        }
    }

    func testBzip2EveryLevelConcatenatedStreamsAndBothPaths() throws {
        let dir = Fixture.directory()
        let expected = try sum(Fixture.write(Self.text, to: dir + "/plain")).answer
        var files = [String]()
        for level in 1...9 { files.append(Fixture.write(Fixture.bzip2(Self.text, level: level), to: dir + "/level\(level)")) }
        let half = Self.text.count / 2
        files.append(Fixture.write(Fixture.bzip2(Array(Self.text[..<half]), level: 2) + Fixture.bzip2([], level: 5)
                                   + Fixture.bzip2(Array(Self.text[half...]), level: 1), to: dir + "/concatenated"))
        // pbzip2 writes one stream per block-sized piece.
        var pieces = [UInt8]()
        var start = 0
        while start < Self.text.count {
            let end = min(Self.text.count, start + 100_000)
            pieces += Fixture.bzip2(Array(Self.text[start..<end]), level: 1)
            start = end
        }
        files.append(Fixture.write(pieces, to: dir + "/pbzip2-like"))
        for file in files {
            XCTAssertEqual(decode(Fixture.read(file), .bzip2).0, Self.text, file)
            for parallel in [true, false] {
                var options = ExecutionOptions(threads: 2, chunkSize: 8192, smallFileLimit: 0)
                options.parallelBzip2 = parallel
                let report = try sum(file, options)
                XCTAssertEqual(report.answer, expected, file)
                XCTAssertEqual(report.errors, [], file)
                XCTAssertEqual(report.inputs[0].lines, Self.text.filter { $0 == 10 }.count)
            }
        }
    }

    /// bzip2 from standard input is decoded block-parallel as it arrives and, from anything unexpected on,
    /// sequentially: the answer, the errors and the exit status are those of the sequential decoder, for
    /// concatenated and empty streams, one stream per block, cuts anywhere, a damaged block and trailing bytes.
    func testBzip2FromStandardInputInParallelMatchesSequential() {
        let half = Self.text.count / 2
        let whole = Fixture.bzip2(Self.text, level: 1)
        var damaged = whole
        damaged[whole.count / 2] ^= 0x08
        var pieces = [UInt8]()
        for start in Swift.stride(from: 0, to: Self.text.count, by: 100_000) {
            pieces += Fixture.bzip2(Array(Self.text[start..<min(Self.text.count, start + 100_000)]), level: 1)
        }
        var inputs: [(String, [UInt8])] = [
            ("concatenated", Fixture.bzip2(Array(Self.text[..<half]), level: 2) + Fixture.bzip2([], level: 5)
                + Fixture.bzip2(Array(Self.text[half...]), level: 9)),
            ("one stream per block", pieces), ("damaged block", damaged),
            ("garbage after", whole + Array("garbage".utf8)), ("BZ after", whole + [0x42, 0x5A]),
        ]
        for cut in Swift.stride(from: 9, to: whole.count, by: whole.count / 9) { inputs.append(("cut at \(cut)", Array(whole[..<cut]))) }
        for (name, input) in inputs {
            let sequential = sluice(["sum", "bytes", "--sequential-bzip2", "--threads", "2"], stdin: input)
            for threads in ["2", "3"] {
                let parallel = sluice(["sum", "bytes", "--threads", threads, "--chunk-size", "4K"], stdin: input)
                XCTAssertEqual(parallel.stdout, sequential.stdout, name)
                XCTAssertEqual(parallel.stderr, sequential.stderr, name)
                XCTAssertEqual(parallel.status, sequential.status, name)
            }
        }
        XCTAssertEqual(sluice(["sum", "bytes"], stdin: whole).stdout, sluice(["sum", "bytes"], stdin: Self.text).stdout)
    }

    /// Truncating a compressed file anywhere must give an error naming the file, keep the lines decoded
    /// before the cut, and never crash or hang, whichever reading strategy runs.
    func testTruncationAtManyOffsets() throws {
        let dir = Fixture.directory()
        let lines = Self.text.filter { $0 == 10 }.count
        for (kind, stored) in [("gz", Fixture.gzip(Self.text)), ("bz2", Fixture.bzip2(Self.text, level: 1))] {
            var offset = kind == "gz" ? 2 : 4  // shorter prefixes lack the magic and read as plain text
            while offset < stored.count {
                let path = Fixture.write(Array(stored[..<offset]), to: "\(dir)/cut.\(kind)")
                for small in [0, 1 << 20] {
                    let report = try sum(path, ExecutionOptions(threads: 2, chunkSize: 4096, smallFileLimit: small))
                    let error = report.inputs[0].error
                    XCTAssertNotNil(error, "\(kind) cut at \(offset)")
                    XCTAssertEqual(error?.path, path)
                    XCTAssertLessThanOrEqual(report.inputs[0].lines, lines)
                    if offset > 2, let code = error?.code {
                        XCTAssertTrue([.truncatedGzip, .truncatedBzip2, .corruptBzip2, .corruptGzip].contains(code), "\(code)")
                    }
                }
                offset = offset < 64 ? offset + 7 : offset * 3 / 2
            }
        }
        let cut = Fixture.write(Array(Fixture.gzip(Self.text).dropLast(3)), to: dir + "/short.gz")
        let report = try sum(cut)
        XCTAssertEqual(report.inputs[0].error?.message, "unexpected end of gzip stream")
        XCTAssertEqual(report.inputs[0].lines, lines, "every line decoded before the cut still counts")
    }

    /// A compressed file cut in the middle of a line leaves a fragment of that line after the last newline
    /// decoded: it is not a record (`... 200 18` of `... 200 18870` would add 18), so every strategy (whole
    /// file, mapped stream, bzip2 block-parallel, standard input, the sequential facade) reads only the whole
    /// lines before the fault, and the error says the unfinished line was not read.
    func testTruncationMidLineReadsNoFragment() throws {
        let dir = Fixture.directory()
        let full = try Fixture.run(Query(operation: .select(["request", "bytes"])), [Fixture.write(Self.text, to: dir + "/full")]).output
        let fullRows = full.split(separator: 10, omittingEmptySubsequences: false)
        var noted = 0
        for (kind, stored) in [("gz", Fixture.gzip(Self.text)), ("bz2", Fixture.bzip2(Self.text, level: 1))] {
            for fraction in [3, 5, 7] {
                let path = Fixture.write(Array(stored[..<(stored.count * 2 / fraction)]), to: "\(dir)/cut\(fraction).\(kind)")
                var outputs = [[UInt8]]()
                for small in [0, 1 << 20] {
                    let options = ExecutionOptions(threads: 2, chunkSize: 4096, smallFileLimit: small)
                    let (output, report) = try Fixture.run(Query(operation: .select(["request", "bytes"])), [path], options: options)
                    let message = report.inputs[0].error?.message ?? ""
                    if message.contains("unfinished line") { noted += 1 }
                    outputs.append(output)
                }
                let piped = sluice(["select", "request", "bytes", "--threads", "2"], stdin: Fixture.read(path))
                XCTAssertEqual(piped.status, 2)
                outputs.append(Array(piped.stdout.utf8))
                var facade = [UInt8]()
                let lines = Lines.open(path)
                for record in lines.apacheLog() { facade += record.request.array + [32] + Array(String(record.bytes).utf8) + [10] }
                XCTAssertThrowsError(try lines.check())
                outputs.append(facade)
                for (strategy, output) in outputs.enumerated() {
                    let rows = output.split(separator: 10, omittingEmptySubsequences: false).dropLast()
                    XCTAssertGreaterThan(rows.count, 0)
                    let bad = Array(zip(rows, fullRows)).firstIndex { $0 != $1 }
                    XCTAssertNil(bad, "\(kind) 2/\(fraction), strategy \(strategy): row \(bad ?? 0) of \(rows.count) is not whole")
                }
            }
        }
        XCTAssertGreaterThan(noted, 0, "no cut fell inside a line")
    }

    /// A damaged bzip2 block that still decodes, but ends elsewhere than where the next block's magic was
    /// located, gave 0 lines on the mapped block-parallel path and 1121 (its CRC mismatch, bytes kept) on every
    /// other: now every path keeps its bytes and names the same error.
    func testADamagedBzip2BlockCountsAlikeOnEveryPath() throws {
        let dir = Fixture.directory()
        let log = Fixture.read(Fixture.tutorial + "/access-log")
        var stored = Fixture.bzip2(log + log, level: 1)
        for index in 8937..<8953 { stored[index] = 0xff }
        let path = Fixture.write(stored, to: dir + "/two.bz2")
        let piped = sluice(["grep", "-c", ""], stdin: stored)
        XCTAssertEqual(piped.status, 2)
        XCTAssertTrue(piped.stderr.hasPrefix("<stdin>: corrupt bzip2 block (bzip2 block CRC mismatch)"), piped.stderr)
        XCTAssertGreaterThan(Int(piped.stdout.dropLast()) ?? 0, 1000)
        for arguments in [["--threads", "1"], ["--threads", "2"], ["--threads", "3", "--chunk-size", "4K"], ["--sequential-bzip2"]] {
            let file = sluice(["grep", "-c", "", path] + arguments)
            XCTAssertEqual(file.stdout, piped.stdout, "\(arguments)")
            XCTAssertEqual(file.stderr.replacingOccurrences(of: path, with: "<stdin>"), piped.stderr, "\(arguments)")
        }
    }

    /// Damaged gzip data is reported with its byte offset, which (README: Errors) is where the failing decode
    /// call began. A 40-line member decodes in one ISA-L call that starts right after the 10-byte header (FLG 0:
    /// no name, extra or comment; RFC 1952), so a flipped CRC32 byte in the trailer, and a first deflate block
    /// made BTYPE 11 (reserved, RFC 1951), are both at byte 10: from a file, from standard input, and whichever
    /// file path reads it. The trailer case still counts every line decoded before it.
    func testGzipDamageIsReportedWithItsOffset() throws {
        let text = (1...40).map { "1.1.1.\($0) - - [d] \"GET /\($0) HTTP/1.0\" 200 \($0 * 10)\n" }.joined()
        let member = Fixture.gzip(Array(text.utf8))
        XCTAssertEqual(Array(member[0..<4]), [0x1f, 0x8b, 8, 0], "deflate, FLG 0: the header is 10 bytes")
        var badCRC = member
        badCRC[member.count - 6] ^= 0xff  // the trailer is CRC32 then ISIZE, 4 bytes each, little-endian
        var badBlock = member
        badBlock[10] |= 0b110  // the first block's header bits: BFINAL (bit 0), then BTYPE (bits 1-2)
        let cases = [(badCRC, "the trailer's CRC32 or length does not match the data", "Total 8200\n"),  // 10+20+...+400
                     (badBlock, "invalid deflate block", "Total 0\n")]
        let dir = Fixture.directory()
        for (index, (bytes, message, total)) in cases.enumerated() {
            let path = Fixture.write(bytes, to: "\(dir)/damaged\(index).gz")
            for options in [["--threads", "2"], ["--threads", "1"]] {
                let file = sluice(["sum", "bytes", path] + options)
                XCTAssertEqual(file.stderr, "\(path): corrupt gzip stream: \(message) (at byte 10)\n", "\(options)")
                XCTAssertEqual(file.stdout, total, "\(options)")
                XCTAssertEqual(file.status, 2)
                let piped = sluice(["sum", "bytes"] + options, stdin: bytes)
                XCTAssertEqual(piped.stderr, "<stdin>: corrupt gzip stream: \(message) (at byte 10)\n", "\(options)")
                XCTAssertEqual(piped.stdout, total, "\(options)")
            }
            for small in [0, 1 << 20] {  // the mapped-file stream and the whole small file
                let error = try sum(path, ExecutionOptions(threads: 2, smallFileLimit: small)).inputs[0].error
                XCTAssertEqual(error?.code, .corruptGzip)
                XCTAssertEqual(error?.offset, 10)
            }
            // zlib names the damage in its own words, from the start of its one decode call; the header was
            // whole, so the hint on why the input was taken for gzip stays out.
            let zlib = sluice(["sum", "bytes", "--gzip-decoder", "zlib", path])
            XCTAssertTrue(zlib.stderr.hasPrefix("\(path): corrupt gzip stream: "), zlib.stderr)
            XCTAssertFalse(zlib.stderr.contains("taken for gzip"), zlib.stderr)
            XCTAssertEqual(zlib.stdout, total)
        }
        // A header that is wrong already does get the hint, from either decoder.
        var badMethod = member
        badMethod[2] = 9
        let path = Fixture.write(badMethod, to: "\(dir)/method.gz")
        for decoder in ["isal", "zlib"] {
            let result = sluice(["sum", "bytes", "--gzip-decoder", decoder, path])
            XCTAssertTrue(result.stderr.hasSuffix(" (the input was taken for gzip by its first bytes, 1f 8b) (at byte 0)\n"),
                          "\(decoder): \(result.stderr)")
        }
    }

    func testCorruptionAndTrailingGarbageAreReported() throws {
        let dir = Fixture.directory()
        var gzip = Fixture.gzip(Self.text)
        gzip[gzip.count - 6] ^= 0xff  // CRC32 of the member
        let badCRC = Fixture.write(gzip, to: dir + "/crc.gz")
        var bzip = Fixture.bzip2(Self.text, level: 1)
        bzip[bzip.count / 2] ^= 0x10
        let badBlock = Fixture.write(bzip, to: dir + "/block.bz2")
        let garbage = Fixture.write(Fixture.gzip(Self.text) + Array("garbage!".utf8), to: dir + "/garbage.gz")
        let zeros = Fixture.write(Fixture.gzip(Self.text) + [0, 0, 0, 0], to: dir + "/zeros.gz")
        for small in [0, 1 << 20] {
            let options = ExecutionOptions(threads: 2, smallFileLimit: small)
            XCTAssertEqual(try sum(badCRC, options).inputs[0].error?.code, .corruptGzip)
            XCTAssertEqual(try sum(badBlock, options).inputs[0].error?.code, .corruptBzip2)
            let trailing = try sum(garbage, options)
            XCTAssertEqual(trailing.inputs[0].error?.code, .trailingGarbage)
            XCTAssertEqual(trailing.inputs[0].error?.offset, Fixture.gzip(Self.text).count)
            XCTAssertEqual(trailing.inputs[0].lines, Self.text.filter { $0 == 10 }.count)
            // Zero padding after the last member is not garbage, as gzip takes it.
            XCTAssertEqual(try sum(zeros, options).inputs[0].error, nil)
            XCTAssertEqual(try sum(zeros, options).answer, try sum(garbage, options).answer)
        }
        let result = sluice(["sum", "bytes", badBlock])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix(badBlock + ": corrupt bzip2"), result.stderr)
    }

    func testDecompressionBombStaysFlat() {
        let dir = Fixture.directory()
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var stored = [UInt8]()
        let writer = try! GzipWriter(level: 1) { stored.append(contentsOf: $0) }
        for _ in 0..<256 { zeros.withUnsafeBytes { try! writer.write($0) } }
        try! writer.finish()
        let path = Fixture.write(stored, to: dir + "/bomb.gz")
        for extra in [[String](), ["--threads", "1"]] {
            let result = sluice(["count", "--max-line-length", "8M", path] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stdout, "Total 0\n")
            XCTAssertTrue(result.stderr.contains("1 malformed line skipped"), result.stderr)
            XCTAssertLessThan(result.maxRSS, 128 * 1024, "peak RSS in KiB")
        }
    }

    /// A bzip2 block of one repeated byte decodes to 46 MB; the block-parallel path stops claiming blocks once a
    /// batch holds 32 MiB, so 512 MiB of zeros (and a tail that makes the file large enough to be split) decode
    /// with bounded memory, and every line after them still counts (the first noise line joins the zeros).
    func testBZip2BombStaysBounded() {
        let dir = Fixture.directory()
        var stored = [UInt8]()
        let writer = try! BZip2Writer(level: 9) { stored.append(contentsOf: $0) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<512 { zeros.withUnsafeBytes { try! writer.write($0) } }
        var state: UInt64 = 7
        var noise = [UInt8](repeating: 0, count: 160_000)
        for index in noise.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            noise[index] = index % 100 == 99 ? 10 : UInt8(truncatingIfNeeded: state >> 56) | 0x80
        }
        noise.withUnsafeBytes { try! writer.write($0) }
        try! writer.finish()
        XCTAssertGreaterThan(stored.count, 100 << 10, "large enough for the block-parallel path")
        let path = Fixture.write(stored, to: dir + "/bomb.bz2")
        // From the file (block-parallel over the mapping) and from standard input (block-parallel as it arrives).
        for (arguments, stdin) in [([path], nil), (["-"], stored)] as [([String], [UInt8]?)] {
            let result = sluice(["count", "--max-line-length", "8M"] + arguments, stdin: stdin)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stdout, "Total 0\n")
            XCTAssertTrue(result.stderr.contains("1600 malformed lines skipped"), result.stderr)
            XCTAssertLessThan(result.maxRSS, 256 * 1024, "peak RSS in KiB, \(arguments)")
        }
    }
}

extension CompressionTests {
    /// Damage inside a bzip2 block gives the same counts and the same error whichever path reads the file: the
    /// block-parallel decoder kept nothing of a block whose CRC did not match, while the sequential stream (and
    /// pipes) counted its lines.
    func testDamagedBzip2BlockCountsTheSameOnEveryPath() throws {
        let dir = Fixture.directory()
        let packed = Fixture.bzip2(Fixture.log(size: 2_500_000, seed: 31, hostile: true), level: 9)
        for position in [packed.count / 3, packed.count / 2, packed.count * 2 / 3] {
            var damaged = packed
            damaged[position] ^= 0x01
            let path = Fixture.write(damaged, to: dir + "/damaged-\(position).bz2")
            let file = sluice(["grep", "-c", "", path])
            let sequential = sluice(["grep", "-c", "", "--sequential-bzip2", path])
            let out = dir + "/out", err = dir + "/err"
            let status = system("cat '\(path)' | '\(Fixture.binary)' grep -c '' > '\(out)' 2> '\(err)'")
            XCTAssertEqual(file.stdout, sequential.stdout, "at \(position)")
            XCTAssertEqual(file.stdout, String(decoding: Fixture.read(out), as: UTF8.self), "at \(position)")
            XCTAssertEqual(file.stderr, sequential.stderr, "at \(position)")
            XCTAssertEqual(file.stderr.replacingOccurrences(of: path, with: "<stdin>"),
                           String(decoding: Fixture.read(err), as: UTF8.self), "at \(position)")
            XCTAssertEqual(file.status, 2)
            XCTAssertEqual(status >> 8, 2)
        }
    }
}
