import CZlib

/// Reads one gzip member header (RFC 1952, section 2.3) from input that may arrive in pieces of any size, so
/// that the deflate decoder is given only the compressed data: ISA-L's own header parser miscomputes the header
/// CRC16 (`FHCRC`) when the header is split between two calls, which rejected valid files read as a stream.
///
/// The header is the 10 fixed bytes (magic `1f 8b`, method 8, flags, time, extra flags, OS), then, as the flags
/// say, a length-prefixed extra field, a NUL-terminated name, a NUL-terminated comment and the CRC16 of all the
/// header bytes before it. Flags 0xE0 are reserved and must be clear, as zlib and gzip require.
struct GzipHeader {
    /// What `consume` found.
    enum Outcome: Equatable {
        /// The header goes on past the bytes given.
        case needMore
        /// The header ended within the bytes given.
        case complete
        /// The bytes do not start with the gzip magic `1f 8b`.
        case notGzip
        /// The bytes start a gzip header that is not valid; the message says why.
        case invalid(String)
    }

    private enum Part { case fixed, extraLength, extra, name, comment, checksum, done }

    private var part = Part.fixed
    private var flags: UInt8 = 0
    /// Bytes of the current fixed-size part read so far, and the first two of them (the extra field's length or
    /// the CRC16, little-endian).
    private var partCount = 0
    private var partBytes = (UInt8(0), UInt8(0))
    private var extraLeft = 0
    /// The CRC32 of the header bytes before the CRC16 field.
    private var crc: UInt = 0

    /// True once the whole header has been read.
    var isComplete: Bool { part == .done }

    /// Reads header bytes from `base[0..<count]`; returns how many belong to the header and what was found.
    mutating func consume(_ base: UnsafePointer<UInt8>, _ count: Int) -> (used: Int, outcome: Outcome) {
        var used = 0
        while used < count {
            let start = used
            let inChecksum = part == .checksum
            switch part {
            case .fixed:
                while used < count && partCount < 10 {
                    let byte = base[used]
                    switch partCount {
                    case 0 where byte != 0x1f, 1 where byte != 0x8b:
                        return (used, .notGzip)
                    case 2 where byte != 8:
                        return (used, .invalid("unsupported compression method \(byte)"))
                    case 3 where byte & 0xE0 != 0:
                        return (used, .invalid("reserved gzip header flags set"))
                    case 3:
                        flags = byte
                    default:
                        break
                    }
                    used += 1
                    partCount += 1
                }
                if partCount == 10 { advance(after: .fixed) }
            case .extraLength:
                if let length = takeTwo(base, count, &used) {
                    extraLeft = Int(length)
                    part = .extra
                }
            case .extra:
                let taken = min(extraLeft, count - used)
                used += taken
                extraLeft -= taken
                if extraLeft == 0 { advance(after: .extra) }
            case .name, .comment:
                while used < count && base[used] != 0 { used += 1 }
                if used < count {
                    used += 1
                    advance(after: part)
                }
            case .checksum:
                if let stored = takeTwo(base, count, &used) {
                    guard UInt(stored) == crc & 0xFFFF else { return (used, .invalid("gzip header CRC16 mismatch")) }
                    part = .done
                }
            case .done:
                return (used, .complete)
            }
            // Every header byte before the CRC16 field counts in its CRC.
            if !inChecksum { crc = CZlib.crc32(crc, base + start, UInt32(used - start)) }
            if part == .done { return (used, .complete) }
        }
        return (used, part == .done ? .complete : .needMore)
    }

    /// Reads the bytes of a two-byte part from `base[used..<count]`; its little-endian value once both are in.
    private mutating func takeTwo(_ base: UnsafePointer<UInt8>, _ count: Int, _ used: inout Int) -> UInt16? {
        while used < count && partCount < 2 {
            if partCount == 0 { partBytes.0 = base[used] } else { partBytes.1 = base[used] }
            used += 1
            partCount += 1
        }
        return partCount == 2 ? UInt16(partBytes.0) | UInt16(partBytes.1) << 8 : nil
    }

    /// The optional parts in header order, with the flag bit that asks for each.
    private static let optionalParts: [(Part, UInt8)] = [(.extraLength, 4), (.name, 8), (.comment, 16), (.checksum, 2)]

    /// Moves to the first part the flags ask for after `finished`.
    private mutating func advance(after finished: Part) {
        partCount = 0
        let from: Int
        switch finished {
        case .fixed: from = 0
        case .extra: from = 1
        case .name: from = 2
        case .comment: from = 3
        default: from = 4
        }
        part = GzipHeader.optionalParts[from...].first { flags & $0.1 != 0 }?.0 ?? .done
    }
}
