import XCTest
@testable import Sluice

/// The byte-string hash table behind count --by, distinct and top: counting, merging in any grouping, and the
/// top-k selection against a full sort.
final class AggregateTests: XCTestCase {
    func keys(_ count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(state: seed)
        return (0..<count).map { _ in
            let length = Int(random.next() % 40)
            return (0..<length).map { _ in UInt8(truncatingIfNeeded: 97 + random.next() % 4) }
        }
    }

    func table(_ keys: [[UInt8]]) -> ByteTable {
        let table = ByteTable(capacity: 4)
        for key in keys { key.withUnsafeBufferPointer { table.add($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) } }
        return table
    }

    func testCountsMatchADictionaryAndMergeInAnyGrouping() {
        let all = keys(20_000, seed: 5)
        var expected = [[UInt8]: Int64]()
        for key in all { expected[key, default: 0] += 1 }
        let whole = table(all).sortedByKey()
        XCTAssertEqual(whole.map(\.key), expected.keys.sorted { $0.lexicographicallyPrecedes($1) })
        XCTAssertEqual(whole.map(\.count), whole.map { expected[$0.key]! })
        // (a + b) + c == a + (b + c), in either order.
        let a = table(Array(all[0..<7000])), b = table(Array(all[7000..<9000])), c = table(Array(all[9000...]))
        let left = table([]); left.merge(a); left.merge(b); left.merge(c)
        let bc = table([]); bc.merge(c); bc.merge(b)
        let right = table([]); right.merge(bc); right.merge(a)
        XCTAssertEqual(left.sortedByKey().map(\.count), whole.map(\.count))
        XCTAssertEqual(right.sortedByKey().map(\.key), whole.map(\.key))
    }

    /// The sort compares 16-byte prefixes as integers first: keys that differ only past 16 bytes, keys that are
    /// prefixes of others (also with trailing NULs), and bytes above 0x7F must still come out bytewise.
    func testSortedKeysAreBytewiseWithNULsHighBytesAndSharedPrefixes() {
        var random = SplitMix64(state: 11)
        let alphabet: [UInt8] = [0, 1, 0x61, 0x7F, 0x80, 0xFF]
        func bytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
        }
        let shared = [UInt8](repeating: 0x61, count: 16)
        let all = (0..<20_000).map { _ in bytes(Int(random.next() % 40)) }
            + (0..<2_000).map { _ in shared + bytes(Int(random.next() % 6)) } + [[], [0], [0, 0], [0x61, 0x62], [0x61, 0x62, 0], [UInt8](repeating: 0x61, count: 16),
             [UInt8](repeating: 0x61, count: 16) + [0], [UInt8](repeating: 0x61, count: 17),
             [UInt8](repeating: 0x61, count: 16) + [0x80], [UInt8](repeating: 0x61, count: 15) + [0xFF]]
        let expected = Set(all).sorted { $0.lexicographicallyPrecedes($1) }
        let table = self.table(all)
        XCTAssertEqual(table.sortedKeys(), expected)
        XCTAssertEqual(table.sortedByKey().map(\.key), expected)
    }

    func testTopKEqualsAFullSortWithTies() {
        let table = self.table(keys(5000, seed: 9))
        let full = table.sortedByKey().sorted { $0.count != $1.count ? $0.count > $1.count : $0.key.lexicographicallyPrecedes($1.key) }
        for k in [1, 2, 3, 10, 100, 5000, full.count, full.count + 5, 10_000] {
            let top = table.top(k)
            XCTAssertEqual(top.map(\.key), full.prefix(k).map(\.key), "k=\(k)")
            XCTAssertEqual(top.map(\.count), full.prefix(k).map(\.count), "k=\(k)")
        }
        XCTAssertEqual(table.top(0).count, 0)
    }

    /// Keys of every length from 0 to 40 (inline and arena-held), in one buffer as a chunk would hold them:
    /// counting one record late with `addSoon` gives the same table as `add`.
    func testAddSoonEqualsAdd() {
        let all = keys(30_000, seed: 11)
        let bytes = all.flatMap { $0 }
        let eager = table(all)
        let late = ByteTable(capacity: 4)
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            for key in all {
                late.addSoon(buffer.baseAddress! + offset, key.count)
                offset += key.count
            }
            late.flush()
        }
        XCTAssertEqual(late.count, eager.count)
        XCTAssertEqual(late.sortedByKey().map(\.key), eager.sortedByKey().map(\.key))
        XCTAssertEqual(late.sortedByKey().map(\.count), eager.sortedByKey().map(\.count))
        XCTAssertEqual(late.top(5).map(\.key), eager.top(5).map(\.key))
    }

    /// Two tables of the same keys, added in the same order, keep them in different slot orders: each hashes
    /// with its own seed, so keys crafted to collide under one seed do not under another, and merging one
    /// table into another (slot by slot) does not arrive in the order of its home slots, which piled the keys
    /// into one cluster and made the merge quadratic (35-45 s instead of 1 s for 2.5 million hosts on 2 threads).
    func testEachTableHashesWithItsOwnSeed() {
        for length in [8, 24] {
            let all = (0..<50_000).map { index in (0..<length).map { UInt8(truncatingIfNeeded: index >> ($0 % 3 * 8)) ^ UInt8($0) } }
            let first = table(all), second = table(all)
            func order(_ table: ByteTable) -> [[UInt8]] {
                var keys = [[UInt8]]()
                table.forEach { key, length, _ in keys.append(Array(UnsafeBufferPointer(start: key, count: length))) }
                return keys
            }
            XCTAssertEqual(first.count, 50_000)
            XCTAssertNotEqual(order(first), order(second), "length \(length)")
            first.merge(second)
            XCTAssertEqual(first.sortedByKey().map(\.key), second.sortedByKey().map(\.key))
            XCTAssertEqual(Set(first.sortedByKey().map(\.count)), [2])
        }
    }
}
