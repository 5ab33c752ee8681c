import CBZip2

/// One bzip2 block located inside a compressed buffer.
struct BZip2Block: Equatable {
    /// Bit offset (from the start of the buffer, MSB-first numbering) of the block's 48-bit magic.
    let bitStart: Int
    /// Bit offset just past the block's last bit (where the next block magic or the end-of-stream magic begins).
    let bitEnd: Int
    /// The level digit (1...9) of the stream holding the block.
    let level: Int
    /// The CRC stored in the block header.
    let crc: UInt32
}

/// Block-parallel bzip2 support: `locate` finds the blocks of a whole .bz2 file by their bit-aligned magics, and
/// `decode` turns one block into a standalone single-block stream and runs libbz2 on it. Every function is free of
/// shared mutable state, so blocks can be decoded concurrently.
enum BZip2Blocks {
    /// The 48-bit magic that opens every block (BCD of pi).
    static let blockMagic: UInt64 = 0x3141_5926_5359
    /// The 48-bit magic that opens the end-of-stream trailer (BCD of sqrt(pi)).
    static let endMagic: UInt64 = 0x1772_4538_5090

    /// Fewest bits a valid block can take: magic, CRC, randomised flag, origPtr, the 16-bit map plus at least one
    /// 16-bit sub-map, nGroups, nSelectors. A lower bound: real blocks are always longer.
    private static let minBlockBits = 48 + 32 + 1 + 24 + 16 + 16 + 3 + 15

    /// Most bits a block of `level` can plausibly take: at most `level * 100000` symbols (plus end-of-block) of at
    /// most 20 bits each, plus generous room for the selectors and code-length tables.
    @inline(__always)
    static func maxBlockBits(level: Int) -> Int { level * 100_000 * 20 + 600_000 }

    /// Bitset over 16-bit values: bit `v` is set when `v` can be the two bytes at a byte-aligned position `q`
    /// (bytes `q`, `q+1`) fully covered by one of the two magics starting at bit `8q - o`, `o` in 0...32.
    /// Any magic lying wholly inside the buffer covers such a pair with `q` a multiple of 4, so the scan only needs
    /// to probe every fourth byte.
    private static let markerFilter: [UInt64] = {
        var table = [UInt64](repeating: 0, count: 1024)
        for magic in [blockMagic, endMagic] {
            for offset in 0...32 {
                let value = Int((magic >> UInt64(32 - offset)) & 0xFFFF)
                table[value >> 6] |= 1 << UInt64(value & 63)
            }
        }
        return table
    }()

    // MARK: - Locating

    /// Finds every block of every stream in `data` (a whole .bz2 file), in order, and checks each stream's
    /// end-of-stream combined CRC against the stored block CRCs. Returns nil when the layout is not fully
    /// understood, so the caller decodes sequentially instead. An empty stream (header + EOS, no block) is fine.
    /// `passed`, when given, is called now and then with a byte offset that locating will not read below again
    /// (so that a caller can drop the pages of a mapped file behind it).
    static func locate(_ data: UnsafeRawBufferPointer, passed: ((Int) -> Void)? = nil) -> [BZip2Block]? {
        guard let base = data.baseAddress, data.count >= 14 else { return nil }
        let count = data.count
        return markerFilter.withUnsafeBufferPointer { filterBuffer -> [BZip2Block]? in
            let table = filterBuffer.baseAddress!
            var blocks: [BZip2Block] = []
            var position = 0  // byte offset of the next stream header
            repeat {
                // Stream header: "BZh" + level digit, always byte-aligned.
                guard position + 4 <= count,
                      base.load(fromByteOffset: position, as: UInt8.self) == 0x42,      // B
                      base.load(fromByteOffset: position + 1, as: UInt8.self) == 0x5A,  // Z
                      base.load(fromByteOffset: position + 2, as: UInt8.self) == 0x68   // h
                else { return nil }
                let digit = base.load(fromByteOffset: position + 3, as: UInt8.self)
                guard digit >= 0x31, digit <= 0x39 else { return nil }
                let level = Int(digit - 0x30)
                let longest = maxBlockBits(level: level)
                let origPtrLimit = 10 + 100_000 * level

                var bit = (position + 4) * 8
                guard var marker = readBits(base, count, at: bit, width: 48) else { return nil }
                var combined: UInt32 = 0
                while marker == blockMagic {
                    let start = bit
                    // Block header: CRC (32), randomised flag (1), origPtr (24), used-map (16).
                    guard let crcBits = readBits(base, count, at: start + 48, width: 32),
                          let origPtr = readBits(base, count, at: start + 81, width: 24),
                          let usedMap = readBits(base, count, at: start + 105, width: 16),
                          origPtr < UInt64(origPtrLimit), usedMap != 0,
                          let next = nextMarker(base, count, table, from: start + 48)
                    else { return nil }
                    let length = next - start
                    guard length >= minBlockBits, length <= longest else { return nil }
                    let crc = UInt32(truncatingIfNeeded: crcBits)
                    blocks.append(BZip2Block(bitStart: start, bitEnd: next, level: level, crc: crc))
                    combined = combine(combined, crc)
                    if let passed, blocks.count % 64 == 0 { passed(start >> 3) }
                    bit = next
                    marker = readBits(base, count, at: bit, width: 48)!  // nextMarker verified it fits
                }
                // End of stream: magic, combined CRC, zero padding to a byte boundary.
                guard marker == endMagic,
                      let stored = readBits(base, count, at: bit + 48, width: 32),
                      UInt32(truncatingIfNeeded: stored) == combined
                else { return nil }
                let endBit = bit + 80
                let padding = (8 - endBit & 7) & 7
                if padding > 0 {
                    guard readBits(base, count, at: endBit, width: padding) == 0 else { return nil }
                }
                position = (endBit + padding) >> 3
            } while position < count
            return blocks
        }
    }

    /// A stream's combined CRC after one more block with CRC `block`: rotated left by one, then XORed.
    @inline(__always)
    static func combine(_ combined: UInt32, _ block: UInt32) -> UInt32 { (combined << 1 | combined >> 31) ^ block }

    /// Reads `width` (1...57) bits MSB-first starting at bit offset `bit`, or nil when they run past the end.
    @inline(__always)
    static func readBits(_ base: UnsafeRawPointer, _ count: Int, at bit: Int, width: Int) -> UInt64? {
        guard bit >= 0, bit + width <= count &* 8 else { return nil }
        let first = bit >> 3
        let last = (bit + width - 1) >> 3
        var word: UInt64 = 0
        var index = first
        while index <= last {
            word = word << 8 | UInt64(base.load(fromByteOffset: index, as: UInt8.self))
            index += 1
        }
        // `word` holds bytes first...last; drop the bits after the field, then those before it.
        let used = (last - first + 1) * 8
        let trailing = used - (bit & 7) - width
        word >>= UInt64(trailing)
        return width == 64 ? word : word & ((1 << UInt64(width)) - 1)
    }

    /// Bit offset of the first block or end-of-stream magic starting at or after `from` in `data`, or nil when
    /// none fits in it.
    static func nextMarker(in data: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = data.baseAddress else { return nil }
        return markerFilter.withUnsafeBufferPointer { nextMarker(base, data.count, $0.baseAddress!, from: from) }
    }

    /// Bit offset of the first block or end-of-stream magic starting at or after `from`, or nil when none fits in
    /// the buffer. Probes the 16-bit value at every fourth byte against `table`; only on a (rare) hit does it check
    /// the 33 candidate bit positions whose magic would cover that pair of bytes.
    private static func nextMarker(
        _ base: UnsafeRawPointer, _ count: Int, _ table: UnsafePointer<UInt64>, from: Int
    ) -> Int? {
        var q = (from >> 3) & ~3
        while q + 1 < count {
            let key = Int(base.load(fromByteOffset: q, as: UInt8.self)) << 8
                | Int(base.load(fromByteOffset: q + 1, as: UInt8.self))
            if table[key >> 6] & (1 << UInt64(key & 63)) != 0 {
                var candidate = max(from, 8 * q - 32)
                let highest = 8 * q
                while candidate <= highest {
                    if let value = readBits(base, count, at: candidate, width: 48),
                       value == blockMagic || value == endMagic {
                        return candidate
                    }
                    candidate += 1
                }
            }
            q += 4
        }
        return nil
    }

    // MARK: - Decoding

    /// Decodes one block, appending its decoded bytes to `output`. Throws SluiceError(.corruptBzip2, path: path,
    /// "bzip2 block CRC mismatch" or another clear message, offset: block.bitStart / 8) when libbz2 rejects it.
    /// On error `output` is left as it was.
    static func decode(_ block: BZip2Block, in data: UnsafeRawBufferPointer, into output: ByteBuffer, path: String) throws {
        func corrupt(_ message: String) -> SluiceError {
            SluiceError(.corruptBzip2, path: path, message, offset: block.bitStart / 8)
        }
        guard let source = data.baseAddress, (1...9).contains(block.level), block.bitStart >= 0,
              block.bitEnd - block.bitStart >= minBlockBits, block.bitEnd <= data.count * 8
        else { throw corrupt("invalid bzip2 block location") }

        // Rebuild a one-block stream: header, the block's bits realigned to bit 32, end-of-stream magic, and the
        // combined CRC, which for a single block is the block CRC.
        let blockBits = block.bitEnd - block.bitStart
        let blockBytes = (blockBits + 7) >> 3
        let size = (32 + blockBits + 80 + 7) >> 3
        let stream = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        defer { stream.deallocate() }
        stream[0] = 0x42; stream[1] = 0x5A; stream[2] = 0x68; stream[3] = UInt8(0x30 + block.level)
        let first = block.bitStart >> 3
        let shift = block.bitStart & 7
        if shift == 0 {
            UnsafeMutableRawPointer(stream + 4).copyMemory(from: source + first, byteCount: blockBytes)
        } else {
            copyShifted(from: source, count: data.count, firstByte: first, shift: shift, to: stream + 4, bytes: blockBytes)
        }
        let tailBits = blockBits & 7
        if tailBits != 0 { stream[3 + blockBytes] &= UInt8(truncatingIfNeeded: 0xFF << (8 - tailBits)) }
        (stream + 4 + blockBytes).initialize(repeating: 0, count: size - 4 - blockBytes)
        writeBits(stream, at: 32 + blockBits, value: endMagic, width: 48)
        writeBits(stream, at: 32 + blockBits + 48, value: UInt64(block.crc), width: 32)

        let strm = UnsafeMutablePointer<bz_stream>.allocate(capacity: 1)
        strm.initialize(to: bz_stream())
        defer { strm.deinitialize(count: 1); strm.deallocate() }
        let initResult = BZ2_bzDecompressInit(strm, 0, 0)
        guard initResult == BZ_OK else {
            throw SluiceError(.io, path: path, "cannot initialise bzip2 decoder (error \(initResult))",
                              offset: block.bitStart / 8)
        }
        defer { BZ2_bzDecompressEnd(strm) }

        let startCount = output.count
        var succeeded = false
        defer { if !succeeded { output.count = startCount } }

        strm.pointee.next_in = UnsafeMutableRawPointer(stream).assumingMemoryBound(to: CChar.self)
        strm.pointee.avail_in = UInt32(size)
        output.reserve(block.level * 100_000 + 65536)
        while true {
            if output.capacity - output.count < 65536 { output.reserve(output.capacity) }
            let room = min(output.capacity - output.count, Int(UInt32.max))
            let inputBefore = strm.pointee.avail_in
            strm.pointee.next_out = UnsafeMutableRawPointer(output.base + output.count)
                .assumingMemoryBound(to: CChar.self)
            strm.pointee.avail_out = UInt32(room)
            let result = BZ2_bzDecompress(strm)
            let produced = room - Int(strm.pointee.avail_out)
            output.count += produced
            switch result {
            case BZ_STREAM_END:
                succeeded = true
                return
            case BZ_OK:
                if produced < room && strm.pointee.avail_in == 0 {
                    throw corrupt("bzip2 block ends unexpectedly")
                }
                if produced == 0 && strm.pointee.avail_in == inputBefore {
                    throw corrupt("bzip2 decoder made no progress")
                }
            case BZ_DATA_ERROR:
                throw corrupt("bzip2 block CRC mismatch or corrupt block data")
            case BZ_DATA_ERROR_MAGIC:
                throw corrupt("bad bzip2 block header")
            case BZ_MEM_ERROR:
                throw SluiceError(.io, path: path, "out of memory decoding bzip2 block", offset: block.bitStart / 8)
            default:
                throw corrupt("bzip2 decoder error \(result)")
            }
        }
    }

    /// Copies `bytes` bytes whose bits start `shift` (1...7) bits into `source[firstByte]`, realigned to byte
    /// boundaries. Bits read past the end of the buffer count as zero.
    @inline(__always)
    private static func copyShifted(
        from source: UnsafeRawPointer, count: Int, firstByte: Int, shift: Int,
        to destination: UnsafeMutablePointer<UInt8>, bytes: Int
    ) {
        let left = UInt64(shift)
        var j = 0
        // Eight output bytes at a time from nine input bytes.
        while j + 8 < bytes, firstByte + j + 9 <= count {
            let high = UInt64(bigEndian: source.loadUnaligned(fromByteOffset: firstByte + j, as: UInt64.self))
            let next = UInt64(source.load(fromByteOffset: firstByte + j + 8, as: UInt8.self))
            let word = high << left | next >> (8 - left)
            UnsafeMutableRawPointer(destination + j).storeBytes(of: word.bigEndian, as: UInt64.self)
            j += 8
        }
        while j < bytes {
            let high = source.load(fromByteOffset: firstByte + j, as: UInt8.self)
            let low: UInt8 = firstByte + j + 1 < count ? source.load(fromByteOffset: firstByte + j + 1, as: UInt8.self) : 0
            destination[j] = high << UInt8(shift) | low >> UInt8(8 - shift)
            j += 1
        }
    }

    /// ORs the low `width` bits of `value`, MSB first, into `buffer` starting at bit offset `bit`. The target bits
    /// must be zero.
    private static func writeBits(_ buffer: UnsafeMutablePointer<UInt8>, at bit: Int, value: UInt64, width: Int) {
        for index in 0..<width where (value >> UInt64(width - 1 - index)) & 1 != 0 {
            let position = bit + index
            buffer[position >> 3] |= UInt8(0x80) >> UInt8(position & 7)
        }
    }
}
