#if canImport(Glibc)
import Glibc
#endif

/// Bytes seen through a view: a line, or one field of it. Every method reads the bytes in place; only
/// `string`, `array` and `owned` copy them.
///
/// The views this module hands out (`Line`, `Field`) point into a reader's buffer, so they follow the
/// pipeline lifetime rule (see `Lines`): a view is valid until the iterator that produced it advances.
public protocol ByteView: CustomStringConvertible {
    /// The viewed bytes.
    var bytes: UnsafeRawBufferPointer { get }
}

extension ByteView {
    /// Number of bytes.
    @inlinable public var count: Int { bytes.count }

    /// True when there are no bytes.
    @inlinable public var isEmpty: Bool { bytes.isEmpty }

    /// The bytes decoded as UTF-8 (invalid sequences become U+FFFD). Allocates a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// `string`, so that `print(line)` prints the text.
    public var description: String { string }

    /// A copy of the bytes.
    public var array: [UInt8] { Array(bytes) }

    /// A copy of the bytes that outlives the view.
    public var owned: ByteString { ByteString(bytes: Array(bytes)) }

    /// The bytes as a decimal integer: an optional `+` or `-` and 1 or more ASCII digits, nothing else; nil when
    /// they are not one or overflow `Int`.
    public var integer: Int? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        return Bytes.parseInteger(base.assumingMemoryBound(to: UInt8.self), 0, bytes.count).map { Int($0) }
    }

    /// True when `literal`'s UTF-8 bytes occur in the view (Python's `literal in line`). The empty literal
    /// occurs everywhere.
    public func contains(_ literal: String) -> Bool {
        var literal = literal
        return literal.withUTF8 { needle in
            guard !needle.isEmpty else { return true }
            guard let raw = bytes.baseAddress, needle.count <= bytes.count else { return false }
            // memchr for the first byte, then memcmp (glibc's memmem is not visible to Swift).
            let base = raw.assumingMemoryBound(to: UInt8.self)
            let first = needle[0], last = bytes.count - needle.count
            var index = 0
            while index <= last {
                index = Bytes.find(first, base, from: index, end: last + 1)
                if index > last { return false }
                if memcmp(base + index, needle.baseAddress!, needle.count) == 0 { return true }
                index += 1
            }
            return false
        }
    }

    /// True when the view starts with `prefix`'s UTF-8 bytes.
    public func hasPrefix(_ prefix: String) -> Bool {
        var prefix = prefix
        return prefix.withUTF8 { needle in
            needle.count <= bytes.count && (needle.isEmpty || memcmp(bytes.baseAddress!, needle.baseAddress!, needle.count) == 0)
        }
    }

    /// True when the view holds exactly `text`'s UTF-8 bytes.
    public func equals(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { other in
            other.count == bytes.count && (other.isEmpty || memcmp(bytes.baseAddress!, other.baseAddress!, other.count) == 0)
        }
    }

    /// Bytewise equality with a string, as in `field == "-"`.
    public static func == (view: Self, text: String) -> Bool { view.equals(text) }

    /// Bytewise inequality with a string.
    public static func != (view: Self, text: String) -> Bool { !view.equals(text) }
}

/// One line of input, without its `\n` terminator (a `\r` before it stays), viewed in place.
///
/// **Lifetime:** `bytes` points into the buffer of the reader that produced the line and is valid only until
/// that iterator advances (its next `next()`) or is destroyed. Use the line inside the loop body, or copy
/// what you need with `string`, `array` or `owned`. Do not collect lines into an array.
public struct Line: ByteView {
    /// The line's bytes, without the `\n`.
    public let bytes: UnsafeRawBufferPointer
    /// 1-based number of the line within its input during sequential iteration; 0 for lines that did not come
    /// from a numbered input (a wrapped sequence, a formatted record, or a parallel reduction, which visits
    /// lines out of order).
    public let number: Int

    /// A line viewing `bytes`.
    @inlinable public init(bytes: UnsafeRawBufferPointer, number: Int = 0) {
        self.bytes = bytes
        self.number = number
    }

    /// The last whitespace-separated field, when the line has at least two fields: Python's
    /// `line.rsplit(None, 1)[1]`, which fails on a line with fewer. Whitespace is tab, LF, VT, FF, CR and space.
    public var lastField: Field? {
        guard let raw = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        guard let span = Line.lastField(base, 0, bytes.count) else { return nil }
        let (start, end) = span
        return Field(bytes: UnsafeRawBufferPointer(start: base + start, count: end - start))
    }

    /// The span of the last of at least two whitespace-separated fields of `base[start..<end]`.
    @inline(__always)
    static func lastField(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int)? {
        var fieldEnd = end
        while fieldEnd > start && Bytes.isSpace(base[fieldEnd - 1]) { fieldEnd -= 1 }
        var fieldStart = fieldEnd
        while fieldStart > start && !Bytes.isSpace(base[fieldStart - 1]) { fieldStart -= 1 }
        guard fieldStart < fieldEnd else { return nil }
        var before = fieldStart
        while before > start && Bytes.isSpace(base[before - 1]) { before -= 1 }
        return before > start ? (fieldStart, fieldEnd) : nil
    }
}

/// One field of a line or record, viewed in place. Same lifetime as the `Line` it comes from.
public struct Field: ByteView, Equatable {
    /// The field's bytes.
    public let bytes: UnsafeRawBufferPointer

    /// A field viewing `bytes`.
    @inlinable public init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytewise equality.
    public static func == (lhs: Field, rhs: Field) -> Bool {
        lhs.bytes.count == rhs.bytes.count
            && (lhs.bytes.isEmpty || memcmp(lhs.bytes.baseAddress!, rhs.bytes.baseAddress!, lhs.bytes.count) == 0)
    }
}

/// An owned byte string: what a view becomes once it must outlive its buffer (aggregate answers, distinct
/// values). Compares and sorts bytewise; prints as UTF-8.
public struct ByteString: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The bytes.
    public var bytes: [UInt8]

    /// A byte string holding `bytes`.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The UTF-8 bytes of `value`.
    public init(stringLiteral value: String) { bytes = Array(value.utf8) }

    /// The bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// `string`.
    public var description: String { string }

    /// The bytes as a decimal integer (see `ByteView.integer`), or nil.
    public var integer: Int? {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.isEmpty ? nil : Bytes.parseInteger(buffer.baseAddress!, 0, buffer.count).map { Int($0) }
        }
    }

    /// Bytewise order, a shorter prefix first.
    public static func < (lhs: ByteString, rhs: ByteString) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
