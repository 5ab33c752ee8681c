import CISAL
import CZlib

/// Shared member bookkeeping for the gzip decoders: a file is a sequence of members, decoded as their
/// concatenation. Zero bytes after a member are padding and end the file cleanly, as gzip takes them; any other
/// bytes after a member that do not start one are trailing garbage.
struct MemberTracker {
    var inProgress = false
    var index = 0
    /// Where zero padding after the last member began, or nil outside padding.
    var paddingStart: Int?

    /// True when `next[0..<available]` cannot start a gzip member (its magic is `1f 8b`).
    static func isGarbage(_ next: UnsafePointer<UInt8>, _ available: Int) -> Bool {
        (available >= 1 && next[0] != 0x1f) || (available >= 2 && next[1] != 0x8b)
    }

    /// At a boundary after a member, with `next[0..<available]` (at compressed `offset`) the bytes that follow:
    /// skips zero padding and returns how many bytes it skipped, or throws trailing garbage. A member may start
    /// once no byte was skipped and `paddingStart` is nil.
    mutating func skipPadding(_ next: UnsafePointer<UInt8>, _ available: Int, offset: Int, path: String) throws(SluiceError) -> Int {
        if paddingStart == nil {
            guard available > 0, next[0] == 0 else {
                if MemberTracker.isGarbage(next, available) { throw garbage(path, offset: offset) }
                return 0
            }
            paddingStart = offset
        }
        var skipped = 0
        while skipped < available && next[skipped] == 0 { skipped += 1 }
        if skipped < available { throw garbage(path, offset: paddingStart ?? offset) }
        return skipped
    }

    func garbage(_ path: String, offset: Int) -> SluiceError {
        SluiceError(.trailingGarbage, path: path, "trailing garbage after gzip member \(index)", offset: offset)
    }

    /// A damaged member (one that starts with the gzip magic is a member, not garbage, whatever follows). A
    /// first member whose header (`inHeader`) is already wrong says why the input was read as gzip at all.
    func failure(_ path: String, _ message: String, offset: Int, inHeader: Bool) -> SluiceError {
        let hint = index == 0 && inHeader ? " (the input was taken for gzip by its first bytes, 1f 8b)" : ""
        return SluiceError(.corruptGzip, path: path, "corrupt gzip stream: \(message)\(hint)", offset: offset)
    }
}

/// gzip decoding with Intel ISA-L's `isal_inflate`, the fast path. Handles multi-member files and zero padding
/// after the last member, reads each member's header with `GzipHeader` (ISA-L is given the deflate data and
/// checks the trailer's CRC32 and length), and reports truncation and trailing garbage with the compressed offset.
final class IsalGzipStream: DecodedStream {
    private let input: CompressedInput
    private let state: UnsafeMutablePointer<inflate_state>
    private var inputCount = 0
    private var members = MemberTracker()
    private var header = GzipHeader()
    private var headerStart = 0
    private var finished = false
    private(set) var error: SluiceError?

    init(_ input: CompressedInput) {
        self.input = input
        state = .allocate(capacity: 1)
        CISAL_inflate_init_gzip_body(state)
        state.pointee.avail_in = 0
    }

    deinit { state.deallocate() }

    private var offset: Int { input.consumedBefore + inputCount - Int(state.pointee.avail_in) }

    /// Moves the input position `count` bytes on.
    private func skip(_ count: Int) {
        state.pointee.next_in += count
        state.pointee.avail_in -= UInt32(count)
    }

    func fill(_ output: ByteBuffer, limit: Int) -> Bool {
        guard !finished else { return false }
        while output.count < limit {
            if state.pointee.avail_in == 0 {
                let count: Int
                do { count = try input.next(afterConsuming: inputCount) } catch let failure as SluiceError {
                    return stop(failure)
                } catch { return stop(nil) }
                inputCount = count
                if count == 0 {
                    return stop(members.inProgress
                        ? SluiceError(.truncatedGzip, path: input.path, "unexpected end of gzip stream", offset: offset)
                        : nil)
                }
                state.pointee.next_in = input.buffer
                state.pointee.avail_in = UInt32(count)
            }
            if !members.inProgress {
                if members.index > 0 {
                    do {
                        let skipped = try members.skipPadding(state.pointee.next_in, Int(state.pointee.avail_in),
                                                              offset: offset, path: input.path)
                        skip(skipped)
                        if members.paddingStart != nil { continue }
                    } catch {
                        return stop(error)
                    }
                }
                members.inProgress = true
                header = GzipHeader()
                headerStart = offset
            }
            if !header.isComplete {
                let (used, outcome) = header.consume(state.pointee.next_in, Int(state.pointee.avail_in))
                skip(used)
                switch outcome {
                case .needMore:
                    continue
                case .notGzip where members.index > 0:
                    return stop(members.garbage(input.path, offset: headerStart))
                case .notGzip:
                    return stop(members.failure(input.path, "not a gzip member", offset: headerStart, inHeader: true))
                case .invalid(let message):
                    return stop(members.failure(input.path, message, offset: headerStart, inHeader: true))
                case .complete:
                    // The deflate data follows: a fresh decoder that checks the trailer, on the unread input.
                    let nextIn = state.pointee.next_in, availIn = state.pointee.avail_in
                    CISAL_inflate_init_gzip_body(state)
                    state.pointee.next_in = nextIn
                    state.pointee.avail_in = availIn
                    if availIn == 0 { continue }
                }
            }
            output.reserve(max(limit - output.count, 1 << 16))
            let room = min(output.capacity - output.count, Int(UInt32.max >> 1))
            state.pointee.next_out = output.base + output.count
            state.pointee.avail_out = UInt32(room)
            let before = offset
            let result = isal_inflate(state)
            let produced = room - Int(state.pointee.avail_out)
            output.count += produced
            if result < 0 {
                return stop(members.failure(input.path, IsalGzipStream.describe(result), offset: before, inHeader: false))
            }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                members.inProgress = false
                members.index += 1
            }
        }
        return true
    }

    private func stop(_ failure: SluiceError?) -> Bool {
        error = failure
        finished = true
        return false
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case ISAL_INVALID_BLOCK: return "invalid deflate block"
        case ISAL_INVALID_SYMBOL: return "invalid deflate symbol"
        case ISAL_INVALID_LOOKBACK: return "invalid back-reference distance"
        case ISAL_INVALID_WRAPPER: return "invalid gzip header"
        case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method"
        case ISAL_INCORRECT_CHECKSUM: return "the trailer's CRC32 or length does not match the data"
        default: return "ISA-L error \(code)"
        }
    }
}

/// gzip decoding with zlib, the reference decoder: the same behaviour as `IsalGzipStream`, used in
/// differential tests and selectable with `GzipDecoderKind.zlib`.
final class ZlibGzipStream: DecodedStream {
    private let input: CompressedInput
    private let stream: UnsafeMutablePointer<z_stream>
    /// zlib sets `done` here once it has read the current member's header.
    private let header: UnsafeMutablePointer<gz_header>
    private var inputCount = 0
    private var members = MemberTracker()
    private var finished = false
    private(set) var error: SluiceError?

    init(_ input: CompressedInput) {
        self.input = input
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        _ = CZlib_inflateInitGzip(stream)
        inflateGetHeader(stream, header)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        header.deallocate()
    }

    private var offset: Int { input.consumedBefore + inputCount - Int(stream.pointee.avail_in) }

    func fill(_ output: ByteBuffer, limit: Int) -> Bool {
        guard !finished else { return false }
        while output.count < limit {
            if stream.pointee.avail_in == 0 {
                let count: Int
                do { count = try input.next(afterConsuming: inputCount) } catch let failure as SluiceError {
                    return stop(failure)
                } catch { return stop(nil) }
                inputCount = count
                if count == 0 {
                    return stop(members.inProgress
                        ? SluiceError(.truncatedGzip, path: input.path, "unexpected end of gzip stream", offset: offset)
                        : nil)
                }
                stream.pointee.next_in = input.buffer
                stream.pointee.avail_in = UInt32(count)
            }
            if !members.inProgress {
                if members.index > 0 {
                    do {
                        let skipped = try members.skipPadding(stream.pointee.next_in, Int(stream.pointee.avail_in),
                                                              offset: offset, path: input.path)
                        stream.pointee.next_in += skipped
                        stream.pointee.avail_in -= UInt32(skipped)
                        if members.paddingStart != nil { continue }
                    } catch {
                        return stop(error)
                    }
                    inflateReset(stream)
                    header.pointee = gz_header()
                    inflateGetHeader(stream, header)
                }
                members.inProgress = true
            }
            output.reserve(max(limit - output.count, 1 << 16))
            let room = min(output.capacity - output.count, Int(UInt32.max >> 1))
            stream.pointee.next_out = output.base + output.count
            stream.pointee.avail_out = UInt32(room)
            let before = offset
            let result = inflate(stream, Z_NO_FLUSH)
            let produced = room - Int(stream.pointee.avail_out)
            output.count += produced
            switch result {
            case Z_STREAM_END:
                members.inProgress = false
                members.index += 1
            case Z_OK, Z_BUF_ERROR:
                break
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(result)"
                return stop(members.failure(input.path, message, offset: before, inHeader: header.pointee.done == 0))
            }
        }
        return true
    }

    private func stop(_ failure: SluiceError?) -> Bool {
        error = failure
        finished = true
        return false
    }
}
