import XCTest
@testable import Sluice

/// JSON strings from raw bytes: escapes, well-formed UTF-8 kept, and each maximal subpart of an ill-formed
/// sequence replaced by U+FFFD exactly as Swift's own UTF-8 decoding replaces it.
final class JSONEscapeTests: XCTestCase {
    /// The JSON string the escaper must write, built from Swift's decoding of the bytes.
    func reference(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [34]
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar.value {
            case 34, 92: out += [92, UInt8(scalar.value)]
            case 0..<32: out += Array(String(format: "\\u%04x", scalar.value).utf8)
            default: out += Array(String(scalar).utf8)
            }
        }
        return out + [34]
    }

    func testCraftedSequences() {
        let cases: [[UInt8]] = [
            [], Array("plain".utf8), [34, 92, 0, 9, 10, 31, 127],
            [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80],          // é € 😀
            [0xFF], [0xFE, 0xFF], [0x80], [0xBF, 0x41],                          // never a lead byte
            [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF],  // overlong
            [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80],          // surrogate, past U+10FFFF
            [0xE2, 0x82], [0xE2, 0x82, 0x41], [0xF0, 0x9F, 0x98], [0xF0, 0x9F, 0x41, 0x98],  // cut short
            [0x61, 0xE2, 0x82], [0xC3], [0xC3, 0xC3, 0xA9],
        ]
        for bytes in cases {
            XCTAssertEqual(JSONEscape.string(bytes), reference(bytes), "\(bytes)")
        }
    }

    func testRandomBytesAgreeWithSwiftDecoding() {
        var random = SplitMix64(state: 11)
        let pieces: [[UInt8]] = [[0x41], [0x22], [0x5C], [0x0A], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80]]
        for _ in 0..<5000 {
            var bytes = [UInt8]()
            for _ in 0..<Int(random.next() % 12) {
                switch random.next() % 3 {
                case 0: bytes.append(UInt8(truncatingIfNeeded: random.next()))
                case 1: bytes.append(0x80 | UInt8(truncatingIfNeeded: random.next() & 0x7F))
                default: bytes += pieces[Int(random.next() % UInt64(pieces.count))]
                }
            }
            XCTAssertEqual(JSONEscape.string(bytes), reference(bytes), "\(bytes)")
        }
    }
}
