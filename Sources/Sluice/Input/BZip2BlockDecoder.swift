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

    /// A decoder, or nil when its fixed state cannot be allocated.
    init?() {
        guard let decoder = CBZip2Fast_create() else { return nil }
        self.decoder = decoder
    }

    deinit { CBZip2Fast_destroy(decoder) }

    /// Decodes `block`, located in `data` by `BZip2Blocks.locate`, appending its bytes to `output`: the same
    /// contract as `BZip2Blocks.decode`. Throws a `.corruptBzip2` error naming `path`, saying what is wrong and
    /// giving the block's byte offset when the block is damaged, does not end where the located block ends, or
    /// fails its CRC; `output` is then left as it was.
    func decode(_ block: BZip2Block, in data: UnsafeRawBufferPointer, into output: ByteBuffer, path: String) throws {
        guard let source = data.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw BZip2BlockDecoder.corrupt(path, block, "empty bzip2 input")
        }
        var bitEnd: UInt64 = 0, storedCRC: UInt32 = 0
        var result = CBZip2Fast_decodeBlock(decoder, source, data.count, UInt64(block.bitStart), Int32(block.level),
                                            &bitEnd, &storedCRC)
        if result == CBZip2Fast_unsupported.rawValue {
            // A randomised block: libbz2 still reads those.
            return try BZip2Blocks.decode(block, in: data, into: output, path: path)
        }
        guard result == CBZip2Fast_ok.rawValue else { throw BZip2BlockDecoder.corrupt(path, block, result) }
        // The located end is where the next magic starts, so a block that ends elsewhere is not what was located.
        // (The next block replaces this one, unread.)
        guard bitEnd == UInt64(block.bitEnd) else {
            throw BZip2BlockDecoder.corrupt(path, block, "bzip2 block does not end where the next block begins")
        }
        guard storedCRC == block.crc else {
            throw BZip2BlockDecoder.corrupt(path, block, "bzip2 block CRC differs from the one located")
        }
        var size: UInt64 = 0
        result = CBZip2Fast_outputSize(decoder, &size)
        if result == CBZip2Fast_ok.rawValue {
            output.reserve(Int(size))
            var written = 0
            result = CBZip2Fast_output(decoder, output.base + output.count, output.capacity - output.count, &written)
            if result == CBZip2Fast_ok.rawValue { output.count += written }
        }
        guard result == CBZip2Fast_ok.rawValue else { throw BZip2BlockDecoder.corrupt(path, block, result) }
    }

    private static func corrupt(_ path: String, _ block: BZip2Block, _ result: Int32) -> SluiceError {
        corrupt(path, block, String(cString: CBZip2Fast_errorMessage(result)))
    }

    private static func corrupt(_ path: String, _ block: BZip2Block, _ message: String) -> SluiceError {
        SluiceError(.corruptBzip2, path: path, message, offset: block.bitStart / 8)
    }
}
