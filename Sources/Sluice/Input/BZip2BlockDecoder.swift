import CBZip2

/// Sluice's own bzip2 block decoder (CShims/CBZip2/fast_*.c). Decoding a block is dominated by the inverse
/// Burrows-Wheeler transform, one dependent load from a 3.6 MB table per byte, which libbz2 walks as one chain;
/// this decoder cuts the block's text into segments and walks twelve of them at once, so that their cache misses
/// overlap. libbz2 stays the reference in the tests and decodes the obsolete randomised blocks this one declines.
///
/// One per worker: a decoder is not thread-safe, and it keeps its tables (about 16 MB of address space, 7 MB
/// resident) from block to block.
final class BZip2BlockDecoder {
    private let decoder: OpaquePointer

    /// A decoder, or nil when its arrays (about 16 MB of address space) cannot be allocated; callers then
    /// decode with libbz2.
    init?() {
        guard let decoder = CBZip2Fast_create() else { return nil }
        self.decoder = decoder
    }

    deinit { CBZip2Fast_destroy(decoder) }

    /// Decodes `block`, located in `data` by `BZip2Blocks.locate`, appending its bytes to `output`, as
    /// `BZip2Blocks.decode` does. Throws a `.corruptBzip2` error naming `path`, saying what is wrong and giving
    /// the block's byte offset when the block is damaged or fails its CRC, or the offset where it ended when that
    /// is not where the located block ends (no block magic there). `output` is then left as it was, except that a
    /// block that decoded whole leaves its bytes appended, as the sequential stream hands them on: every reading
    /// path then counts the same lines and names the same error.
    func decode(_ block: BZip2Block, in data: UnsafeRawBufferPointer, into output: ByteBuffer, path: String) throws {
        let (result, bitEnd, storedCRC) = begin(data, bitStart: block.bitStart, level: block.level)
        if result == CBZip2Fast_unsupported.rawValue {
            // A randomised block: libbz2 still reads those.
            return try BZip2Blocks.decode(block, in: data, into: output, path: path)
        }
        guard result == CBZip2Fast_ok.rawValue else { throw BZip2BlockDecoder.corrupt(path, block, result) }
        guard storedCRC == block.crc else {
            throw BZip2BlockDecoder.corrupt(path, block, "bzip2 block CRC differs from the one located")
        }
        let before = output.count
        let drained = drain(into: output, limit: Int.max)
        guard drained == CBZip2Fast_ok.rawValue else {
            // A block whose CRC does not match keeps its bytes, as the sequential stream hands them on (and as
            // bzcat writes them before its error), so every reading path counts the same lines.
            if drained != CBZip2Fast_crcMismatch.rawValue { output.count = before }
            throw BZip2BlockDecoder.corrupt(path, block, drained)
        }
        // The located end is where the next magic starts: a block that ends elsewhere is followed by no magic,
        // which is what the sequential stream meets there.
        guard bitEnd == block.bitEnd else {
            throw SluiceError(.corruptBzip2, path: path, "bad bzip2 block magic", offset: bitEnd / 8)
        }
    }

    /// Decodes the block whose magic starts at bit `bitStart` of `data`, in a stream of `level`, leaving its bytes
    /// for `drain`. Returns the decoder's result code (`CBZip2Fast_ok`, `CBZip2Fast_unsupported` for a
    /// randomised block, or an error), the bit just past the block and the CRC stored in its header.
    func begin(_ data: UnsafeRawBufferPointer, bitStart: Int, level: Int) -> (result: Int32, bitEnd: Int, crc: UInt32) {
        guard let source = data.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return (CBZip2Fast_unexpectedEnd.rawValue, bitStart, 0)
        }
        var bitEnd: UInt64 = 0, storedCRC: UInt32 = 0
        let result = CBZip2Fast_decodeBlock(decoder, source, data.count, UInt64(bitStart), Int32(level),
                                            &bitEnd, &storedCRC)
        return (result, Int(bitEnd), storedCRC)
    }

    /// Appends the begun block's next bytes to `output`, growing it as needed, until the block is complete or
    /// `output` holds at least `limit` bytes. Returns `CBZip2Fast_outputFull` when bytes remain, `CBZip2Fast_ok`
    /// once the block is complete and its CRC matched, or an error code (such as `CBZip2Fast_crcMismatch`); the
    /// bytes appended stay in `output` in every case.
    func drain(into output: ByteBuffer, limit: Int) -> Int32 {
        var result: Int32
        repeat {
            output.reserve(64 << 10)
            var written = 0
            result = CBZip2Fast_output(decoder, output.base + output.count, output.capacity - output.count, &written)
            output.count += written
        } while result == CBZip2Fast_outputFull.rawValue && output.count < limit
        return result
    }

    /// The message for a block the decoder rejected with `result`: "corrupt bzip2 block (" + what is wrong + ")",
    /// such as "bzip2 block CRC mismatch" or "invalid Huffman code in bzip2 data".
    static func message(_ result: Int32) -> String {
        "corrupt bzip2 block (\(String(cString: CBZip2Fast_errorMessage(result))))"
    }

    private static func corrupt(_ path: String, _ block: BZip2Block, _ result: Int32) -> SluiceError {
        corrupt(path, block, message(result))
    }

    private static func corrupt(_ path: String, _ block: BZip2Block, _ message: String) -> SluiceError {
        SluiceError(.corruptBzip2, path: path, message, offset: block.bitStart / 8)
    }
}
