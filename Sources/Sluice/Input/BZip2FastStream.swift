import CBZip2
#if canImport(Glibc)
import Glibc
#endif

/// Sequential bzip2 decoding with Sluice's block decoder, for standard input and files too small to split:
/// concatenated streams read as one, every block's CRC and every stream's combined CRC checked. The compressed
/// bytes are buffered until the next block is whole, which is known when the magic that follows it has arrived
/// (or the input ends); a block takes at most 2.3 MB. The obsolete randomised blocks go to libbz2.
final class BZip2FastStream: DecodedStream {
    private enum Phase {
        /// Expecting `BZh1`...`BZh9` at a byte boundary.
        case header
        /// Expecting a block magic or the end-of-stream magic.
        case blocks
        /// A decoded block's bytes remain to be appended.
        case draining
    }

    private let input: CompressedInput
    private let decoder: BZip2BlockDecoder
    /// Compressed bytes read and not yet dropped; `pending[0]` lies at file offset `pendingOffset`.
    private let pending = ByteBuffer(capacity: 1 << 20)
    private var pendingOffset = 0
    /// The next bit to read in `pending`.
    private var bit = 0
    private var lastRead = 0
    private var inputEnded = false
    private var phase = Phase.header
    private var level = 9
    private var combinedCRC: UInt32 = 0
    private var streams = 0
    /// File offset of the block being drained, for errors.
    private var blockOffset = 0
    private var finished = false
    private(set) var error: SluiceError?

    /// Decodes `input` with `decoder` (a worker's, reused from file to file).
    init(_ input: CompressedInput, decoder: BZip2BlockDecoder) {
        self.input = input
        self.decoder = decoder
    }

    func fill(_ output: ByteBuffer, limit: Int) -> Bool {
        guard !finished else { return false }
        while output.count < limit {
            switch phase {
            case .draining:
                let result = decoder.drain(into: output, limit: limit)
                if result == CBZip2Fast_ok.rawValue {
                    phase = .blocks
                } else if result != CBZip2Fast_outputFull.rawValue {
                    return stop(corrupt(BZip2BlockDecoder.message(result), at: blockOffset))
                }
            case .header:
                if let failure = readHeader() { return stop(failure) }
                if finished { return false }
            case .blocks:
                if let failure = readMarker(decoder, into: output) { return stop(failure) }
            }
        }
        return true
    }

    /// The file offset of the next byte to read.
    private var offset: Int { pendingOffset + bit / 8 }

    // MARK: Whole blocks, for decoding in parallel

    /// The combined CRC before the blocks `wholeBlocks` last returned.
    private var batchCRC: UInt32 = 0

    /// The compressed bytes buffered, which the blocks from `wholeBlocks` index (by bit); valid until the next call
    /// to any other method.
    var buffered: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pending.base, count: pending.count) }

    /// Up to `count` blocks from the current position, each whole in `buffered` (the magic after it has arrived),
    /// located by their magics and not decoded, for the caller to decode in parallel; the stream moves past them.
    /// Stream headers and ends between batches are read and checked here, as `fill` reads them (a failure ends
    /// the stream with its error); a batch holds blocks of one stream. Returns no block at the end of the input
    /// or of the stream, and also where a block's end cannot be seen (a cut, a bad magic): `fill` then reads on
    /// from there sequentially and reports what it finds. After decoding, the caller must `rewind` to the first
    /// block it could not decode, or the stream takes the batch as read.
    func wholeBlocks(upTo count: Int) -> [BZip2Block] {
        var blocks = [BZip2Block]()
        guard !finished, phase != .draining else { return blocks }
        compact()
        batchCRC = combinedCRC
        while blocks.count < count {
            // A batch holds blocks of one stream: its end and the next header are read when it is empty.
            if phase == .header {
                guard blocks.isEmpty else { return blocks }
                if let failure = readHeader() { _ = stop(failure) }
                if finished { return blocks }
                batchCRC = 0
            }
            guard readable(16), let magic = bits(at: bit, width: 48) else { return blocks }
            if magic == BZip2Blocks.endMagic {
                guard blocks.isEmpty else { return blocks }
                if let failure = readEnd() {
                    _ = stop(failure)
                    return blocks
                }
                continue
            }
            guard magic == BZip2Blocks.blockMagic, let end = nextMarkerArriving(from: bit + 48), let crc = bits(at: bit + 48, width: 32)
            else { return blocks }
            blocks.append(BZip2Block(bitStart: bit, bitEnd: end, level: level, crc: UInt32(crc)))
            combinedCRC = BZip2Blocks.combine(combinedCRC, UInt32(crc))
            bit = end
        }
        return blocks
    }

    /// Moves the stream back to `blocks[index]` of the batch `wholeBlocks` last returned, the first block the
    /// caller did not decode; `fill` or `wholeBlocks` go on from there.
    func rewind(to index: Int, of blocks: [BZip2Block]) {
        guard index < blocks.count else { return }
        combinedCRC = blocks[..<index].reduce(batchCRC) { BZip2Blocks.combine($0, $1.crc) }
        bit = blocks[index].bitStart
        phase = .blocks
    }

    /// The first bit at or after `start`, inside or after the block at `bit`, where a block or end-of-stream
    /// magic starts, reading on a read at a time as needed (the search resumes where it stopped); nil when the
    /// input ends first, when the most a block can take is buffered without one, or when a read fails (the
    /// stream then ends with that error).
    private func nextMarkerArriving(from start: Int) -> Int? {
        let maxBytes = (BZip2Blocks.maxBlockBits(level: level) + 7) / 8 + 16
        var searchFrom = start
        while true {
            let available = pending.count - bit / 8
            if let marker = BZip2Blocks.nextMarker(in: buffered, from: searchFrom) { return marker }
            if inputEnded || available >= maxBytes { return nil }
            searchFrom = max(searchFrom, pending.count * 8 - 47)
            if !readable(available + 1) { return nil }
        }
    }

    /// The `width` bits of `pending` from bit `at`, or nil when they are not all buffered.
    private func bits(at: Int, width: Int) -> UInt64? {
        BZip2Blocks.readBits(pending.base, pending.count, at: at, width: width)
    }

    /// `ensure`, ending the stream with its error when a read fails.
    private func readable(_ bytes: Int) -> Bool {
        guard let failure = ensure(bytes: bytes) else { return true }
        _ = stop(failure)
        return false
    }

    /// Reads a stream header at the byte boundary `bit` is on; at the end of the input after a stream, ends
    /// cleanly (`finished`). Returns the error that ends the input otherwise.
    private func readHeader() -> SluiceError? {
        if let failure = ensure(bytes: 4) { return failure }
        let available = pending.count - bit / 8
        let head = pending.base + bit / 8
        if available == 0 && streams > 0 {
            finished = true
            return nil
        }
        let magic: [UInt8] = [0x42, 0x5A, 0x68]  // "BZh", then the level digit
        if available < 4 && (0..<available).allSatisfy({ head[$0] == magic[$0] }) {
            return SluiceError(.truncatedBzip2, path: input.path, "unexpected end of bzip2 stream", offset: offset)
        }
        guard Compression.detect(UnsafeRawBufferPointer(start: head, count: min(available, 4))) == .bzip2 else {
            return streams > 0
                ? SluiceError(.trailingGarbage, path: input.path, "trailing garbage after bzip2 stream \(streams)",
                              offset: offset)
                : corrupt("not a bzip2 stream", at: offset)
        }
        level = Int(head[3] - 0x30)
        combinedCRC = 0
        bit += 32
        phase = .blocks
        return nil
    }

    /// Reads the magic at `bit`: begins decoding a block, or checks the end of the stream. Returns an error
    /// when the bytes are neither, or are cut short.
    private func readMarker(_ decoder: BZip2BlockDecoder, into output: ByteBuffer) -> SluiceError? {
        compact()
        if let failure = ensure(bytes: 10 + (bit & 7 == 0 ? 0 : 1)) { return failure }
        guard let magic = BZip2Blocks.readBits(pending.base, pending.count, at: bit, width: 48) else { return truncated() }
        if magic == BZip2Blocks.blockMagic {
            // The block is whole once the magic after it has arrived (or the input ends, or the most a block can
            // take is buffered). The magic can also occur by chance inside a block: the block's decoding then
            // meets the data's end, and the search goes on past that false magic.
            var marker = nextMarkerArriving(from: bit + 48)
            while true {
                if finished { return error }  // a read failed
                let whole = buffered
                blockOffset = offset
                let (result, bitEnd, crc) = decoder.begin(whole, bitStart: bit, level: level)
                if result == CBZip2Fast_unexpectedEnd.rawValue, let falseMarker = marker {
                    marker = nextMarkerArriving(from: falseMarker + 1)
                    continue
                }
                if result == CBZip2Fast_unsupported.rawValue { return readRandomised(whole, into: output) }
                if result == CBZip2Fast_unexpectedEnd.rawValue { return truncated() }
                guard result == CBZip2Fast_ok.rawValue else {
                    return corrupt(BZip2BlockDecoder.message(result), at: blockOffset)
                }
                combinedCRC = BZip2Blocks.combine(combinedCRC, crc)
                bit = bitEnd
                phase = .draining
                return nil
            }
        }
        guard magic == BZip2Blocks.endMagic else {
            // Right after the first header: not bzip2 data at all, only bytes that start like it.
            let hint = offset == 4 && streams == 0 ? " (the input was taken for bzip2 by its first bytes, BZh)" : ""
            return corrupt("bad bzip2 block magic" + hint, at: offset)
        }
        return readEnd()
    }

    /// Reads the end-of-stream magic at `bit` and the combined CRC after it, which must match the blocks';
    /// then a stream header may follow. Returns an error when the CRC is cut short or does not match.
    private func readEnd() -> SluiceError? {
        guard let stored = bits(at: bit + 48, width: 32) else { return truncated() }
        guard UInt32(stored) == combinedCRC else { return corrupt("bzip2 stream CRC mismatch", at: offset) }
        bit = (bit + 80 + 7) & ~7
        streams += 1
        phase = .header
        return nil
    }

    /// A randomised block, which libbz2 decodes once the block's end is found at the next magic.
    private func readRandomised(_ data: UnsafeRawBufferPointer, into output: ByteBuffer) -> SluiceError? {
        guard let end = BZip2Blocks.nextMarker(in: data, from: bit + 48),
              let crc = BZip2Blocks.readBits(data.baseAddress!, data.count, at: bit + 48, width: 32) else {
            return truncated()
        }
        let block = BZip2Block(bitStart: bit, bitEnd: end, level: level, crc: UInt32(crc))
        do { try BZip2Blocks.decode(block, in: data, into: output, path: input.path) } catch let failure as SluiceError {
            return SluiceError(failure.code, path: input.path, failure.message, offset: blockOffset)
        } catch { return corrupt("bzip2 block could not be decoded", at: blockOffset) }
        combinedCRC = BZip2Blocks.combine(combinedCRC, block.crc)
        bit = end
        return nil
    }

    /// Reads input until `pending` holds `bytes` from the byte `bit` is in, or the input ends. Returns the
    /// read error, if any.
    private func ensure(bytes: Int) -> SluiceError? {
        while !inputEnded && pending.count - bit / 8 < bytes {
            do {
                let count = try input.next(afterConsuming: lastRead)
                lastRead = count
                if count == 0 { inputEnded = true } else { pending.append(input.buffer, count) }
            } catch let failure as SluiceError {
                return failure
            } catch {
                return SluiceError(.io, path: input.path, "read error", offset: offset)
            }
        }
        return nil
    }

    /// Drops the bytes before the one `bit` is in, once they are many.
    private func compact() {
        let drop = bit / 8
        guard drop >= 1 << 20 else { return }
        memmove(pending.base, pending.base + drop, pending.count - drop)
        pending.count -= drop
        pendingOffset += drop
        bit -= drop * 8
    }

    private func truncated() -> SluiceError {
        SluiceError(.truncatedBzip2, path: input.path, "unexpected end of bzip2 stream", offset: offset)
    }

    private func corrupt(_ message: String, at offset: Int) -> SluiceError {
        SluiceError(.corruptBzip2, path: input.path, message, offset: offset)
    }

    private func stop(_ failure: SluiceError?) -> Bool {
        error = failure
        finished = true
        return false
    }
}
