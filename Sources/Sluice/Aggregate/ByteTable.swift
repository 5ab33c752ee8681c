#if canImport(Glibc)
import Glibc
#endif
import CByteScan

/// An open-addressing hash table from byte strings to 64-bit counts. Tables merge by adding counts, which is
/// associative and commutative, so per-worker tables can be combined in any order.
///
/// A slot is 32 bytes, two to a cache line. Keys of up to 16 bytes (an IPv4 host, a status, most short paths)
/// live inside their slot, so finding one touches a single cache line; longer keys are copied once into a
/// growing arena the first time they are seen. Looking up or counting a known key allocates nothing.
///
/// Each table hashes with a random seed of its own. Keys chosen to collide under a fixed hash would make every
/// insert probe one long cluster (quadratic time), and a merge that walked another table's slots in order
/// would hand this one its keys in the order of their home slots here too, piling them into one growing cluster.
final class ByteTable {
    /// Keys up to this length are stored in the slot itself.
    static let inlineCapacity = 16

    private struct Slot {
        /// The key's length in the low 32 bits and 32 bits of its hash in the high 32 bits; 0 marks an empty
        /// slot (the hash bits are never all zero).
        var meta: UInt64
        /// An inline key's bytes 0..<8 and 8..<16, zero-padded; for a longer key, `low` is its arena offset.
        var low: UInt64
        var high: UInt64
        var value: Int64
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    /// This table's hash seed, from the system's random source.
    private let seed = UInt64.random(in: .min ... .max)
    /// Distinct keys counted so far (a key still pending from `addSoon` is not among them).
    private(set) var count = 0
    private let arena = ByteBuffer(capacity: 1 << 16)
    /// The key handed to `addSoon` and not counted yet, with its digest.
    @exclusivity(unchecked) private var pendingKey: UnsafePointer<UInt8>?
    @exclusivity(unchecked) private var pendingLength = 0
    @exclusivity(unchecked) private var pendingDigest = Digest(hash: 0, low: 0, high: 0)

    /// What a lookup needs of a key, computed once: its hash and, for an inline key, its two words.
    private struct Digest {
        var hash: UInt64
        var low: UInt64
        var high: UInt64
    }

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = .allocate(capacity: size)
        System.adviseHugePages(slots, size * MemoryLayout<Slot>.stride)
        slots.initialize(repeating: Slot(meta: 0, low: 0, high: 0, value: 0), count: size)
        mask = size - 1
    }

    deinit { slots.deallocate() }

    /// Adds `delta` to the count of `key[0..<length]`, inserting the key with count `delta` if it is new.
    /// Reads only the key's own bytes.
    @inline(__always)
    func add(_ key: UnsafePointer<UInt8>, _ length: Int, _ delta: Int64 = 1) {
        add(key, length, delta, digest(key, length))
    }

    /// Counts `key[0..<length]` once, one call late: it starts loading the key's slot into cache and counts
    /// the key of the previous call instead, whose slot has had a record's worth of parsing to arrive. A
    /// table far larger than the cache then costs little more than one that fits. The key's bytes must stay
    /// in place until `flush()`; reading the table (`forEach`, `sortedByKey`, `top`, `merge`) flushes first.
    @inline(__always)
    func addSoon(_ key: UnsafePointer<UInt8>, _ length: Int) {
        let digest = digest(key, length)
        CByteScan_prefetch(slots + home(digest.hash))
        if let pendingKey { add(pendingKey, pendingLength, 1, pendingDigest) }
        pendingKey = key
        pendingLength = length
        pendingDigest = digest
    }

    /// Counts the key still pending from `addSoon`, if any.
    func flush() {
        guard let key = pendingKey else { return }
        pendingKey = nil
        add(key, pendingLength, 1, pendingDigest)
    }

    /// `add` with the key's digest already computed.
    @inline(__always)
    private func add(_ key: UnsafePointer<UInt8>, _ length: Int, _ delta: Int64, _ digest: Digest) {
        let meta = (digest.hash & 0xFFFF_FFFF_0000_0000) | UInt64(truncatingIfNeeded: length)
        var index = home(digest.hash)
        if length <= ByteTable.inlineCapacity {
            let low = digest.low, high = digest.high
            while true {
                let slot = slots[index]
                if slot.meta == meta && slot.low == low && slot.high == high {
                    slots[index].value &+= delta
                    return
                }
                if slot.meta == 0 { break }
                index = (index &+ 1) & mask
            }
            slots[index] = Slot(meta: meta, low: low, high: high, value: delta)
        } else {
            while true {
                let slot = slots[index]
                if slot.meta == meta && ByteTable.equal(arena.base + Int(slot.low), key, length) {
                    slots[index].value &+= delta
                    return
                }
                if slot.meta == 0 { break }
                index = (index &+ 1) & mask
            }
            let offset = arena.count
            arena.append(key, length)
            slots[index] = Slot(meta: meta, low: UInt64(offset), high: 0, value: delta)
        }
        count += 1
        if count * 4 > (mask + 1) * 3 { grow() }
    }

    private func grow() {
        let oldSlots = slots
        let oldSize = mask + 1
        let size = oldSize * 2
        slots = .allocate(capacity: size)
        System.adviseHugePages(slots, size * MemoryLayout<Slot>.stride)
        slots.initialize(repeating: Slot(meta: 0, low: 0, high: 0, value: 0), count: size)
        mask = size - 1
        for index in 0..<oldSize where oldSlots[index].meta != 0 {
            let slot = oldSlots[index]
            var target = home(slot.meta)
            while slots[target].meta != 0 { target = (target + 1) & mask }
            slots[target] = slot
        }
        oldSlots.deallocate()
    }

    /// The home slot of a key whose hash (or slot meta, which keeps the same top 32 bits) is `hash`. It comes
    /// from the bits a slot keeps, so the table grows without reading or hashing any key again.
    @inline(__always)
    private func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 32) & mask }

    /// The key bytes of the slot at `index`, which stay valid until the table is next changed.
    private func key(_ index: Int) -> (UnsafePointer<UInt8>, Int) {
        let meta = slots[index].meta
        let length = Int(truncatingIfNeeded: meta & 0xFFFF_FFFF)
        if length <= ByteTable.inlineCapacity {
            let raw = UnsafeRawPointer(slots + index) + MemoryLayout<Slot>.offset(of: \Slot.low)!
            return (raw.assumingMemoryBound(to: UInt8.self), length)
        }
        return (UnsafePointer(arena.base + Int(slots[index].low)), length)
    }

    /// Adds every key and count of `other` to this table. The other table's slot order says nothing about the
    /// home slots here, since the two hash with different seeds.
    func merge(_ other: ByteTable) {
        other.forEach { key, length, value in add(key, length, value) }
    }

    /// Calls `body` with each key and count, in no particular order (after counting a pending key).
    func forEach(_ body: (UnsafePointer<UInt8>, Int, Int64) -> Void) {
        flush()
        for index in 0...mask where slots[index].meta != 0 {
            let (key, length) = key(index)
            body(key, length, slots[index].value)
        }
    }

    /// Every key and count, keys sorted bytewise.
    func sortedByKey() -> [(key: [UInt8], count: Int64)] {
        sortedSlots(byCount: false).map { index in (copyKey(index), slots[index].value) }
    }

    /// Every key, sorted bytewise.
    func sortedKeys() -> [[UInt8]] { sortedSlots(byCount: false).map(copyKey) }

    /// The occupied slots sorted by key bytewise, after count (highest first) when `byCount`.
    private func sortedSlots(byCount: Bool) -> [Int] {
        flush()
        var order = [SortKey]()
        order.reserveCapacity(count)
        for index in 0...mask where slots[index].meta != 0 { order.append(sortKey(index, byCount: byCount)) }
        order.sort(by: precedes)
        return order.map(\.index)
    }

    /// What the output order compares of a slot: its count (0 when counts do not matter) and its key's first 16
    /// bytes as two big-endian integers, zero-padded.
    private typealias SortKey = (count: Int64, first: UInt64, second: UInt64, index: Int)

    private func sortKey(_ index: Int, byCount: Bool) -> SortKey {
        let (key, length) = key(index)
        let (first, second) = ByteTable.words(key, min(length, ByteTable.inlineCapacity))
        return (byCount ? slots[index].value : 0, first.byteSwapped, second.byteSwapped, index)
    }

    /// True when `a` comes first: the higher count, then the bytewise smaller key, compared whole only when
    /// the first 16 bytes tie.
    private func precedes(_ a: SortKey, _ b: SortKey) -> Bool {
        if a.count != b.count { return a.count > b.count }
        if a.first != b.first { return a.first < b.first }
        if a.second != b.second { return a.second < b.second }
        let (ka, la) = key(a.index), (kb, lb) = key(b.index)
        return Extreme.compare(ka, la, kb, lb) < 0
    }

    /// A copy of the key in the slot at `index`.
    private func copyKey(_ index: Int) -> [UInt8] {
        let (key, length) = key(index)
        return Array(UnsafeBufferPointer(start: key, count: length))
    }

    /// The `k` entries with the highest counts, ties broken by key ascending (bytewise). For a small `k` the
    /// best entries are kept in a sorted list while the table is scanned once, so most entries cost one compare
    /// of their count.
    func top(_ k: Int) -> [(key: [UInt8], count: Int64)] {
        flush()
        guard k > 0 else { return [] }
        var best = [Int]()
        if k >= count || k > 4096 {
            best = sortedSlots(byCount: true)
            if best.count > k { best.removeSubrange(k...) }
        } else {
            var kept = [SortKey]()
            kept.reserveCapacity(k + 1)
            for index in 0...mask where slots[index].meta != 0 {
                if kept.count == k && slots[index].value < kept[k - 1].count { continue }
                let candidate = sortKey(index, byCount: true)
                if kept.count == k && !precedes(candidate, kept[k - 1]) { continue }
                var low = 0, high = kept.count
                while low < high {
                    let middle = (low + high) / 2
                    if precedes(kept[middle], candidate) { low = middle + 1 } else { high = middle }
                }
                kept.insert(candidate, at: low)
                if kept.count > k { kept.removeLast() }
            }
            best = kept.map(\.index)
        }
        return best.map { index in (copyKey(index), slots[index].value) }
    }

    /// A key of at most 16 bytes as two little-endian words, zero-padded, reading only `key[0..<length]`:
    /// overlapping loads instead of a loop over the tail.
    @inline(__always)
    static func words(_ key: UnsafePointer<UInt8>, _ length: Int) -> (UInt64, UInt64) {
        let raw = UnsafeRawPointer(key)
        if length >= 8 {
            let low = raw.loadUnaligned(as: UInt64.self)
            guard length > 8 else { return (low, 0) }
            let last = raw.loadUnaligned(fromByteOffset: length &- 8, as: UInt64.self)
            return (low, last >> UInt64(truncatingIfNeeded: (16 &- length) &* 8))
        }
        if length >= 4 {
            let first = UInt64(raw.loadUnaligned(as: UInt32.self))
            let last = UInt64(raw.loadUnaligned(fromByteOffset: length &- 4, as: UInt32.self))
            return (first | last << UInt64(truncatingIfNeeded: (length &- 4) &* 8), 0)
        }
        guard length > 0 else { return (0, 0) }
        let middle = length >> 1, end = length &- 1
        let low = UInt64(key[0]) | UInt64(key[middle]) << UInt64(truncatingIfNeeded: middle &* 8)
            | UInt64(key[end]) << UInt64(truncatingIfNeeded: end &* 8)
        return (low, 0)
    }

    /// The hash of an inline key from its words under `seed`; its top bit is always set, so a stored meta is
    /// never 0.
    @inline(__always)
    static func mix(_ low: UInt64, _ high: UInt64, _ length: Int, seed: UInt64) -> UInt64 {
        var h = (low ^ seed) &* 0xFF51_AFD7_ED55_8CCD
        h ^= (high ^ UInt64(truncatingIfNeeded: length) ^ (seed >> 32 | seed << 32)) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 29
        h = h &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return h | 0x8000_0000_0000_0000
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

    /// The digest of any key under this table's seed: its words and their `mix` for an inline key, `longHash`
    /// otherwise.
    @inline(__always)
    private func digest(_ key: UnsafePointer<UInt8>, _ length: Int) -> Digest {
        guard length <= ByteTable.inlineCapacity else {
            return Digest(hash: ByteTable.longHash(key, length, seed: seed), low: 0, high: 0)
        }
        let (low, high) = ByteTable.words(key, length)
        return Digest(hash: ByteTable.mix(low, high, length, seed: seed), low: low, high: high)
    }

    /// A 64-bit hash of the bytes under `seed`, reading 8 bytes at a time; its top bit is always set.
    @inline(__always)
    static func longHash(_ key: UnsafePointer<UInt8>, _ length: Int, seed: UInt64) -> UInt64 {
        let raw = UnsafeRawPointer(key)
        var h: UInt64 = seed ^ UInt64(length)
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
        return h | 0x8000_0000_0000_0000
    }
}
