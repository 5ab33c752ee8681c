#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash table from byte strings to 64-bit counts. Keys are copied once, into one growing
/// arena, the first time they are seen; looking up or counting a known key allocates nothing. Tables merge by
/// adding counts, which is associative and commutative, so per-worker tables can be combined in any order.
final class ByteTable {
    private struct Slot {
        var hash: UInt64      // 0 marks an empty slot
        var offset: Int       // key start in the arena
        var length: Int
        var value: Int64
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    private(set) var count = 0
    private let arena = ByteBuffer(capacity: 1 << 16)

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, value: 0), count: size)
        mask = size - 1
    }

    deinit { slots.deallocate() }

    /// Adds `delta` to the count of `key[0..<length]`, inserting the key with count `delta` if it is new.
    @inline(__always)
    func add(_ key: UnsafePointer<UInt8>, _ length: Int, _ delta: Int64 = 1) {
        let hash = ByteTable.hash(key, length)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot.hash == 0 { break }
            if slot.hash == hash && slot.length == length && ByteTable.equal(arena.base + slot.offset, key, length) {
                slots[index].value &+= delta
                return
            }
            index = (index + 1) & mask
        }
        let offset = arena.count
        arena.append(key, length)
        slots[index] = Slot(hash: hash, offset: offset, length: length, value: delta)
        count += 1
        if count * 4 > (mask + 1) * 3 { grow() }
    }

    private func grow() {
        let oldSlots = slots
        let oldSize = mask + 1
        let size = oldSize * 2
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, value: 0), count: size)
        mask = size - 1
        for index in 0..<oldSize where oldSlots[index].hash != 0 {
            var target = Int(truncatingIfNeeded: oldSlots[index].hash) & mask
            while slots[target].hash != 0 { target = (target + 1) & mask }
            slots[target] = oldSlots[index]
        }
        oldSlots.deallocate()
    }

    /// Adds every key and count of `other` to this table.
    func merge(_ other: ByteTable) {
        other.forEach { key, length, value in add(key, length, value) }
    }

    /// Calls `body` with each key and count, in no particular order.
    func forEach(_ body: (UnsafePointer<UInt8>, Int, Int64) -> Void) {
        for index in 0...mask where slots[index].hash != 0 {
            let slot = slots[index]
            body(arena.base + slot.offset, slot.length, slot.value)
        }
    }

    /// Every key and count, keys sorted bytewise.
    func sortedByKey() -> [(key: [UInt8], count: Int64)] {
        var entries = [(key: [UInt8], count: Int64)]()
        entries.reserveCapacity(count)
        forEach { key, length, value in entries.append((Array(UnsafeBufferPointer(start: key, count: length)), value)) }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return entries
    }

    /// The `k` entries with the highest counts, ties broken by key ascending (bytewise). For a small `k` the
    /// best entries are kept in a sorted list while the table is scanned once, so most entries cost one compare.
    func top(_ k: Int) -> [(key: [UInt8], count: Int64)] {
        guard k > 0 else { return [] }
        /// True when slot `a` ranks before slot `b`.
        func before(_ a: Int, _ b: Int) -> Bool {
            let sa = slots[a], sb = slots[b]
            if sa.value != sb.value { return sa.value > sb.value }
            let order = Extreme.compare(arena.base + sa.offset, sa.length, arena.base + sb.offset, sb.length)
            return order < 0
        }
        var best = [Int]()
        if k >= count || k > 4096 {
            best.reserveCapacity(count)
            for index in 0...mask where slots[index].hash != 0 { best.append(index) }
            best.sort(by: before)
            if best.count > k { best.removeSubrange(k...) }
        } else {
            best.reserveCapacity(k + 1)
            for index in 0...mask where slots[index].hash != 0 {
                if best.count == k && !before(index, best[k - 1]) { continue }
                var low = 0, high = best.count
                while low < high {
                    let middle = (low + high) / 2
                    if before(best[middle], index) { low = middle + 1 } else { high = middle }
                }
                best.insert(index, at: low)
                if best.count > k { best.removeLast() }
            }
        }
        return best.map { index in
            let slot = slots[index]
            return (Array(UnsafeBufferPointer(start: arena.base + slot.offset, count: slot.length)), slot.value)
        }
    }

    /// True when the two byte strings of `length` bytes are equal; 8 bytes at a time, since keys are short
    /// and a call to memcmp would cost more than the comparison.
    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        var index = 0
        while index &+ 8 <= length {
            if rawA.loadUnaligned(fromByteOffset: index, as: UInt64.self) != rawB.loadUnaligned(fromByteOffset: index, as: UInt64.self) {
                return false
            }
            index &+= 8
        }
        while index < length {
            if a[index] != b[index] { return false }
            index &+= 1
        }
        return true
    }

    /// A 64-bit hash of the bytes, reading 8 bytes at a time; never 0.
    @inline(__always)
    static func hash(_ key: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
        let raw = UnsafeRawPointer(key)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(length)
        var index = 0
        while index + 8 <= length {
            h = (h ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            index += 8
        }
        if index < length {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < length {
                tail |= UInt64(key[index]) << shift
                shift += 8
                index += 1
            }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 29
        h = h &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return h == 0 ? 1 : h
    }
}
