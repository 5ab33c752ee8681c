/// How an input's bytes are stored, told by its first bytes and never by its name.
public enum Compression: Sendable, Equatable {
    case none
    /// Starts with `1f 8b`.
    case gzip
    /// Starts with `BZh` and a block-size digit `1`...`9`.
    case bzip2
    /// Starts with the magic bytes of a compressed or archive format that Sluice does not decode, named here:
    /// `xz` (`fd 37 7a 58`), `zstd` (`28 b5 2f fd`), `lz4` (`04 22 4d 18`), `compress` (`1f 9d`, `.Z`) or
    /// `zip` (`50 4b 03 04`). No log line starts with these bytes, so reading such an input is an error rather
    /// than a count of malformed lines.
    case unsupported(String)

    /// Detects the compression from the first bytes of an input: two bytes tell gzip (`1f 8b`) and compress
    /// (`1f 9d`), the others need four; anything else, or too few bytes, reads as plain.
    public static func detect(_ head: UnsafeRawBufferPointer) -> Compression {
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { return .gzip }
        if head.count >= 4 && head[0] == 0x42 && head[1] == 0x5a && head[2] == 0x68 && (0x31...0x39).contains(head[3]) {
            return .bzip2
        }
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x9d { return .unsupported("compress") }
        guard head.count >= 4 else { return .none }
        let magic = (UInt32(head[0]) << 24) | (UInt32(head[1]) << 16) | (UInt32(head[2]) << 8) | UInt32(head[3])
        switch magic {
        case 0xfd37_7a58: return .unsupported("xz")
        case 0x28b5_2ffd: return .unsupported("zstd")
        case 0x0422_4d18: return .unsupported("lz4")
        case 0x504b_0304: return .unsupported("zip")
        default: return .none
        }
    }
}

/// A decoder's view of its compressed input: a descriptor read in blocks, or bytes already in memory (the
/// head of a stream whose magic has been read, or a whole small file).
final class CompressedInput {
    let path: String
    private let fd: Int32?
    private var pending: [UInt8]
    private var pendingOffset = 0
    let buffer: UnsafeMutablePointer<UInt8>
    let capacity: Int
    /// Bytes of the file consumed before the current buffer contents.
    private(set) var consumedBefore = 0

    /// Reads `fd` (not owned) after first yielding `prefix`, the bytes already taken from it.
    init(path: String, fd: Int32?, prefix: [UInt8], blockSize: Int = 1 << 18) {
        self.path = path
        self.fd = fd
        pending = prefix
        capacity = blockSize
        buffer = .allocate(capacity: blockSize)
    }

    deinit { buffer.deallocate() }

    /// Fills the buffer with the next bytes; returns how many (0 at end of input). `consumedBefore` then holds
    /// the file offset of the buffer's first byte.
    func next(afterConsuming previous: Int) throws -> Int {
        consumedBefore += previous
        return try read(into: buffer, count: capacity)
    }

    /// Copies up to `count` of the next bytes straight to `destination` (what is left of the prefix first, then
    /// the descriptor's bytes), for a reader that needs no view of the input's own buffer; returns how many, 0
    /// at end of input. Not to be mixed with `next(afterConsuming:)`, whose `consumedBefore` it leaves alone.
    func read(into destination: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if pendingOffset < pending.count {
            let taken = min(count, pending.count - pendingOffset)
            pending.withUnsafeBufferPointer { source in
                destination.update(from: source.baseAddress! + pendingOffset, count: taken)
            }
            pendingOffset += taken
            return taken
        }
        guard let fd else { return 0 }
        return try System.read(fd, destination, count, path: path)
    }
}

/// A stream of decoded bytes. `fill` appends decoded bytes to a buffer; when the input is corrupt or truncated
/// it stops, keeps what was decoded before the fault, and leaves the error in `error`.
protocol DecodedStream: AnyObject {
    /// Appends decoded bytes to `output` until it holds at least `limit` bytes or the stream ends. Returns
    /// false once the stream has ended (cleanly or with `error` set) and nothing more will come.
    func fill(_ output: ByteBuffer, limit: Int) -> Bool
    /// The fault that ended the stream early, if any.
    var error: SluiceError? { get }
}

/// Plain bytes from a descriptor, through the same interface as the decoders. The bytes are read straight into
/// the output buffer, not copied through the input's.
final class PlainStream: DecodedStream {
    private let input: CompressedInput
    private(set) var error: SluiceError?

    init(_ input: CompressedInput) { self.input = input }

    func fill(_ output: ByteBuffer, limit: Int) -> Bool {
        while output.count < limit {
            do {
                // Whatever room the buffer has, 4 KiB at least: `limit` is what must be reached, not a cap (a live
                // reader asks for 1 byte and takes what has arrived). The buffer is not grown past what the caller
                // made it, so a pool of small blocks stays in the cache (see `Engine.drain`).
                let room = max(limit - output.count, output.capacity - output.count, 1 << 12)
                output.reserve(room)
                let count = try input.read(into: output.base + output.count, count: room)
                if count == 0 { return false }
                output.count += count
            } catch let failure as SluiceError {
                error = failure
                return false
            } catch { return false }
        }
        return true
    }
}

enum Decoders {
    /// A stream decoding `input` as `compression` says; bzip2 with `bzip2Decoder` (a worker's, reused from file
    /// to file) or with a decoder of its own, and with libbz2 when no decoder's arrays could be allocated.
    static func stream(_ compression: Compression, _ input: CompressedInput, gzip: GzipDecoderKind,
                       bzip2Decoder: BZip2BlockDecoder? = nil) -> DecodedStream {
        switch compression {
        case .none: return PlainStream(input)
        case .unsupported(let name): return UnsupportedStream(input.path, format: name)
        case .gzip: return gzip == .isal ? IsalGzipStream(input) : ZlibGzipStream(input)
        case .bzip2:
            guard let decoder = bzip2Decoder ?? BZip2BlockDecoder() else { return BZip2Stream(input) }
            return BZip2FastStream(input, decoder: decoder)
        }
    }
}

/// The stream of an input in a format Sluice does not decode: it yields nothing and ends at once with an
/// `unsupportedCompression` error at byte 0.
final class UnsupportedStream: DecodedStream {
    let error: SluiceError?

    init(_ path: String, format: String) {
        error = SluiceError(.unsupportedCompression, path: path,
                            "\(format)-compressed data, which sluice does not decode (it reads plain text, gzip and "
                            + "bzip2); decompress it first", offset: 0)
    }

    func fill(_ output: ByteBuffer, limit: Int) -> Bool { false }
}
