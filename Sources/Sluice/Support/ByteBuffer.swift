#if canImport(Glibc)
import Glibc
#endif

/// A growable, heap-allocated byte buffer with reference semantics and no copy-on-write checks, used for
/// ordered output and for decoded blocks. Not thread-safe: each buffer has one writer at a time.
public final class ByteBuffer {
    /// Start of the storage; valid until the next append that grows the buffer.
    @exclusivity(unchecked) public private(set) var base: UnsafeMutablePointer<UInt8>
    /// Number of valid bytes, the first `count` at `base`; one who sets it keeps it within `capacity` and counts
    /// only bytes written there.
    @exclusivity(unchecked) public var count: Int = 0
    /// Bytes allocated.
    @exclusivity(unchecked) public private(set) var capacity: Int

    /// An empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
        System.adviseHugePages(base, self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `extra` more bytes beyond `count`.
    @inline(__always)
    public func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        System.adviseHugePages(fresh, newCapacity)
        fresh.update(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    /// Appends `length` bytes from `bytes`.
    @inline(__always)
    public func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        reserve(length)
        (base + count).update(from: bytes, count: length)
        count += length
    }

    /// Appends one byte.
    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// Appends the UTF-8 bytes of `text`.
    public func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0.baseAddress!, $0.count) }
    }

    /// Appends the decimal digits of `value`.
    public func append(decimal value: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for Int64.min
        withUnsafeMutableBytes(of: &digits) { scratch in
            var magnitude = value.magnitude
            var position = scratch.count
            repeat {
                position -= 1
                scratch[position] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { position -= 1; scratch[position] = 45 }
            append(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + position, scratch.count - position)
        }
    }

    /// Forgets the contents, keeping the storage.
    public func removeAll() { count = 0 }

    /// The valid bytes as a raw buffer; valid until the next mutation.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the contents.
    public var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
