import CBZip2

/// Sequential bzip2 decoding with libbz2: concatenated streams read as one, every block CRC and stream CRC
/// checked by libbz2. The reference that `BZip2FastStream`, which the engine uses, is tested against.
final class BZip2Stream: DecodedStream {
    private let input: CompressedInput
    private let stream: UnsafeMutablePointer<bz_stream>
    private var inputCount = 0
    private var inProgress = false
    private var initialized = false
    private var streams = 0
    private var outputInStream = 0
    private var finished = false
    private(set) var error: SluiceError?

    init(_ input: CompressedInput) {
        self.input = input
        stream = .allocate(capacity: 1)
        stream.initialize(to: bz_stream())
    }

    deinit {
        if initialized { BZ2_bzDecompressEnd(stream) }
        stream.deallocate()
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
                    return stop(inProgress
                        ? SluiceError(.truncatedBzip2, path: input.path, "unexpected end of bzip2 stream", offset: offset)
                        : nil)
                }
                stream.pointee.next_in = UnsafeMutableRawPointer(input.buffer).assumingMemoryBound(to: CChar.self)
                stream.pointee.avail_in = UInt32(count)
            }
            if !inProgress {
                let nextIn = stream.pointee.next_in, availIn = stream.pointee.avail_in
                if initialized { BZ2_bzDecompressEnd(stream) }
                stream.initialize(to: bz_stream())
                BZ2_bzDecompressInit(stream, 0, 0)
                initialized = true
                stream.pointee.next_in = nextIn
                stream.pointee.avail_in = availIn
                inProgress = true
                outputInStream = 0
            }
            output.reserve(max(limit - output.count, 1 << 16))
            let room = min(output.capacity - output.count, Int(UInt32.max >> 1))
            stream.pointee.next_out = UnsafeMutableRawPointer(output.base + output.count).assumingMemoryBound(to: CChar.self)
            stream.pointee.avail_out = UInt32(room)
            let before = offset
            let result = BZ2_bzDecompress(stream)
            let produced = room - Int(stream.pointee.avail_out)
            output.count += produced
            outputInStream += produced
            switch result {
            case BZ_STREAM_END:
                inProgress = false
                streams += 1
            case BZ_OK:
                break
            case BZ_DATA_ERROR_MAGIC where streams > 0 && outputInStream == 0:
                return stop(SluiceError(.trailingGarbage, path: input.path,
                                        "trailing garbage after bzip2 stream \(streams)", offset: before))
            case BZ_DATA_ERROR:
                return stop(SluiceError(.corruptBzip2, path: input.path,
                                        "corrupt bzip2 stream (bzip2 block CRC mismatch or bad block data)", offset: before))
            default:
                return stop(SluiceError(.corruptBzip2, path: input.path, "corrupt bzip2 stream (libbz2 error \(result))", offset: before))
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
