import CBZip2
import CZlib

// Streaming compressors for `sluice gen --gzip / --bzip2` and for tests that need compressed inputs. Each keeps
// one fixed output buffer and hands it to the sink whenever it fills, so memory stays bounded whatever the
// input size.

/// Size of the compressors' output buffer: the sink receives pieces of at most this many bytes.
fileprivate let compressedOutputBufferSize = 256 << 10

/// Longest piece handed to the C libraries at once (their byte counts are 32-bit).
private let maximumInputPiece = 1 << 30

/// Compresses a byte stream into a single-member gzip file (RFC 1952) with zlib's deflate.
///
/// Bytes passed to `write` are compressed as they arrive; compressed output goes to `sink` in pieces of at most
/// 256 KiB whenever the output buffer fills, and in full by the end of `finish()`. Errors are thrown as
/// `SluiceError(.io, path: "gzip", message)`; whatever `sink` throws is rethrown unchanged.
public final class GzipWriter {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    /// True from a successful init until `finish()` has released the library's state.
    private var open = true

    /// Starts a gzip stream at compression `level` (0 stores, 1 fastest ... 9 smallest; -1 is zlib's default, 6).
    /// Throws `SluiceError(.io, path: "gzip", ...)` for a level zlib rejects or when zlib cannot allocate.
    public init(level: Int, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = CZlib_deflateInitGzip(stream, Int32(clamping: level))
        if status != Z_OK {
            stream.deallocate()
            throw SluiceError(.io, path: "gzip", status == Z_STREAM_ERROR
                ? "invalid compression level \(level) (expected 0...9)" : "cannot start deflate (zlib status \(status))")
        }
        self.stream = stream
        self.sink = sink
        output = .allocate(capacity: compressedOutputBufferSize)
        resetOutput()
    }

    deinit {
        if open { deflateEnd(stream) }
        stream.deallocate()
        output.deallocate()
    }

    private func resetOutput() {
        stream.pointee.next_out = output
        stream.pointee.avail_out = UInt32(compressedOutputBufferSize)
    }

    private func drain() throws {
        let produced = compressedOutputBufferSize - Int(stream.pointee.avail_out)
        if produced > 0 {
            resetOutput()
            try sink(UnsafeRawBufferPointer(start: output, count: produced))
        }
    }

    /// Compresses `bytes`. Throws `SluiceError(.io, path: "gzip", ...)` after `finish()` or when deflate fails.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { throw SluiceError(.io, path: "gzip", "write after finish") }
        guard var next = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let piece = min(remaining, maximumInputPiece)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: next)
            stream.pointee.avail_in = UInt32(piece)
            while stream.pointee.avail_in > 0 {
                let status = deflate(stream, Z_NO_FLUSH)
                if status != Z_OK && status != Z_BUF_ERROR {
                    throw SluiceError(.io, path: "gzip", "deflate failed (zlib status \(status))")
                }
                if stream.pointee.avail_out == 0 { try drain() }
            }
            next += piece
            remaining -= piece
        }
    }

    /// Flushes everything still buffered, writes the gzip trailer and releases zlib's state. Calling it again
    /// does nothing. Throws `SluiceError(.io, path: "gzip", ...)` when deflate fails.
    public func finish() throws {
        guard open else { return }
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while true {
            let status = deflate(stream, Z_FINISH)
            if status == Z_STREAM_END { break }
            if status != Z_OK && status != Z_BUF_ERROR {
                throw SluiceError(.io, path: "gzip", "deflate failed while finishing (zlib status \(status))")
            }
            if stream.pointee.avail_out == 0 { try drain() } else if status == Z_BUF_ERROR {
                throw SluiceError(.io, path: "gzip", "deflate made no progress while finishing")
            }
        }
        try drain()
        deflateEnd(stream)
        open = false
    }
}

/// Compresses a byte stream into a bzip2 file with libbz2.
///
/// Bytes passed to `write` are compressed as they arrive; compressed output goes to `sink` in pieces of at most
/// 256 KiB whenever the output buffer fills, and in full by the end of `finish()`. Errors are thrown as
/// `SluiceError(.io, path: "bzip2", message)`; whatever `sink` throws is rethrown unchanged.
public final class BZip2Writer {
    private let stream: UnsafeMutablePointer<bz_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    /// True from a successful init until `finish()` has released the library's state.
    private var open = true

    /// Starts a bzip2 stream whose blocks are `level` × 100 000 bytes (1...9; 9 compresses best).
    /// Throws `SluiceError(.io, path: "bzip2", ...)` for a level outside 1...9 or when libbz2 cannot allocate.
    public init(level: Int, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        guard (1...9).contains(level) else {
            throw SluiceError(.io, path: "bzip2", "invalid compression level \(level) (expected 1...9)")
        }
        let stream = UnsafeMutablePointer<bz_stream>.allocate(capacity: 1)
        stream.initialize(to: bz_stream())
        let status = BZ2_bzCompressInit(stream, Int32(level), 0, 0)
        if status != BZ_OK {
            stream.deallocate()
            throw SluiceError(.io, path: "bzip2", "cannot start compression (libbz2 status \(status))")
        }
        self.stream = stream
        self.sink = sink
        output = .allocate(capacity: compressedOutputBufferSize)
        resetOutput()
    }

    deinit {
        if open { BZ2_bzCompressEnd(stream) }
        stream.deallocate()
        output.deallocate()
    }

    private func resetOutput() {
        stream.pointee.next_out = UnsafeMutableRawPointer(output).assumingMemoryBound(to: CChar.self)
        stream.pointee.avail_out = UInt32(compressedOutputBufferSize)
    }

    private func drain() throws {
        let produced = compressedOutputBufferSize - Int(stream.pointee.avail_out)
        if produced > 0 {
            resetOutput()
            try sink(UnsafeRawBufferPointer(start: output, count: produced))
        }
    }

    /// Compresses `bytes`. Throws `SluiceError(.io, path: "bzip2", ...)` after `finish()` or when libbz2 fails.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { throw SluiceError(.io, path: "bzip2", "write after finish") }
        guard let start = bytes.baseAddress else { return }
        var next = UnsafeMutableRawPointer(mutating: start).assumingMemoryBound(to: CChar.self)
        var remaining = bytes.count
        while remaining > 0 {
            let piece = min(remaining, maximumInputPiece)
            stream.pointee.next_in = next
            stream.pointee.avail_in = UInt32(piece)
            while stream.pointee.avail_in > 0 {
                let status = BZ2_bzCompress(stream, BZ_RUN)
                if status != BZ_RUN_OK {
                    throw SluiceError(.io, path: "bzip2", "compression failed (libbz2 status \(status))")
                }
                if stream.pointee.avail_out == 0 { try drain() }
            }
            next += piece
            remaining -= piece
        }
    }

    /// Flushes everything still buffered, writes the stream trailer and releases libbz2's state. Calling it
    /// again does nothing. Throws `SluiceError(.io, path: "bzip2", ...)` when libbz2 fails.
    public func finish() throws {
        guard open else { return }
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while true {
            let status = BZ2_bzCompress(stream, BZ_FINISH)
            if status == BZ_STREAM_END { break }
            if status != BZ_FINISH_OK {
                throw SluiceError(.io, path: "bzip2", "compression failed while finishing (libbz2 status \(status))")
            }
            try drain()
        }
        try drain()
        BZ2_bzCompressEnd(stream)
        open = false
    }
}
