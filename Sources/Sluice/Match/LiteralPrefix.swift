import CByteScan
#if canImport(Glibc)
import Glibc
#endif

/// A literal that every match of a pattern starts with, used to skip text that cannot match before PCRE2 is
/// asked: `ply-.*\.gz` must start with `ply-`, so only lines holding `ply-` are handed to the regex.
///
/// Extraction is deliberately conservative. The literal is the run of plain characters (and backslash-escaped
/// punctuation) at the very start of the pattern, stopping at the first other construct; a character followed
/// by `?`, `*` or `{` is dropped, since it may not occur. Patterns containing `|`, starting with `(`, or whose
/// literal would be shorter than two bytes get no prefix, and then the regex searches on its own.
struct LiteralPrefix {
    let bytes: [UInt8]
    /// True when the literal is the whole pattern (and holds no newline): then a line holding it matches, and
    /// the regex need not be asked.
    let isWholePattern: Bool
    private let first: UInt8
    private let last: UInt8
    private let distance: Int

    /// The prefix of `pattern`'s text (its bytes as `PathBytes` gives them).
    init?(_ pattern: String) { self.init(PathBytes.bytes(pattern)) }

    /// The prefix of the pattern whose bytes are `source`.
    init?(_ source: [UInt8]) {
        if source.contains(UInt8(ascii: "|")) { return nil }
        let meta = Set(".^$*+?()[]{}|\\".utf8)
        var literal = [UInt8]()
        var index = 0
        var whole = true
        scan: while index < source.count {
            let byte = source[index]
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < source.count else { break }
                let escaped = source[index + 1]
                // Only escaped punctuation is a literal; \d, \x41, \Q and the like end the prefix.
                guard escaped < 128, !(escaped >= 48 && escaped <= 57), !((escaped | 0x20) >= 97 && (escaped | 0x20) <= 122) else {
                    whole = false
                    break
                }
                literal.append(escaped)
                index += 2
            } else if meta.contains(byte) {
                whole = false
                break
            } else {
                literal.append(byte)
                index += 1
            }
            if index < source.count {
                switch source[index] {
                case UInt8(ascii: "?"), UInt8(ascii: "*"), UInt8(ascii: "{"):
                    literal.removeLast()
                    whole = false
                    break scan
                case UInt8(ascii: "+"):
                    whole = false
                    break scan
                default:
                    continue
                }
            }
        }
        guard literal.count >= 2 else { return nil }
        bytes = literal
        isWholePattern = whole && !literal.contains(Bytes.newline)
        first = literal[0]
        last = literal[literal.count - 1]
        distance = literal.count - 1
    }

    /// The start of the first occurrence of the literal in `base[from..<limit]`, or nil. Adds to `newlines`
    /// the number of `\n` bytes in `base[from..<hit]` (or up to `limit` when there is no hit), counted in the
    /// same pass.
    @inline(__always)
    func next(_ base: UnsafePointer<UInt8>, from: Int, limit: Int, newlines: inout Int) -> Int? {
        var index = from
        let count = bytes.count
        return bytes.withUnsafeBufferPointer { literal -> Int? in
            while index + 64 + distance <= limit {
                var lines: UInt64 = 0, mask: UInt64 = 0
                index = CByteScan_pair_search(base, index, limit, first, last, distance, &mask, &lines, &newlines)
                if mask == 0 { break }
                while mask != 0 {
                    let offset = mask.trailingZeroBitCount
                    let candidate = index + offset
                    if memcmp(base + candidate, literal.baseAddress!, count) == 0 {
                        newlines += (lines & ((1 << UInt64(offset)) - 1)).nonzeroBitCount
                        return candidate
                    }
                    mask &= mask &- 1
                }
                newlines += lines.nonzeroBitCount
                index += 64
            }
            while index < limit {
                if index + count <= limit && base[index] == first && memcmp(base + index, literal.baseAddress!, count) == 0 {
                    return index
                }
                if base[index] == Bytes.newline { newlines += 1 }
                index += 1
            }
            return nil
        }
    }
}
