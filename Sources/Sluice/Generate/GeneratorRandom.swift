#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Pseudo-random numbers

/// SplitMix64 (Steele, Lea, Flood): used to seed xoshiro and to mix indexes.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna): the generator's one random stream.
struct Xoshiro256StarStar {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A value in `0..<bound` (bound > 0), by multiply-high: deterministic, bias below 2^-32 for our bounds.
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A value in `low...high`.
    @inline(__always)
    mutating func within(_ low: Int, _ high: Int) -> Int { low + below(high - low + 1) }
}

/// `value` scaled into `0..<bound` from its top bits (for 16-bit fields of one draw).
@inline(__always)
func scale16(_ field: UInt64, _ bound: Int) -> Int { Int(truncatingIfNeeded: ((field & 0xFFFF) &* UInt64(bound)) >> 16) }

// MARK: - Zipf sampling

/// A Zipf distribution over ranks `0..<count` with weight 1 / (k^s) for rank k - 1, where s = 1 + sixteenths/16.
/// The cumulative weights are stored as 63-bit fixed-point integers and searched with a 4096-bucket guide table,
/// so a sample costs one table look-up and a short binary search.
final class ZipfTable {
    let count: Int
    private let cumulative: UnsafeMutablePointer<UInt64>
    private let guide: UnsafeMutablePointer<Int32>
    private static let guideBits = 12
    private static let one: UInt64 = 1 << 63

    init(count: Int, sixteenths: Int) {
        precondition(count >= 1 && count < Int(Int32.max))
        self.count = count
        cumulative = .allocate(capacity: count)
        guide = .allocate(capacity: (1 << ZipfTable.guideBits) + 1)
        // k^(e/16) by repeated multiplication of the 16th root; sqrt, * and / are correctly rounded in IEEE-754,
        // so these weights are the same on every machine.
        // Two identical passes (the total first, then the running sums) instead of a temporary array.
        @inline(__always) func weight(_ index: Int) -> Double {
            let k = Double(index + 1)
            var power = k
            if sixteenths > 0 {
                let root = k.squareRoot().squareRoot().squareRoot().squareRoot()
                for _ in 0..<sixteenths { power *= root }
            }
            return 1.0 / power
        }
        var total = 0.0
        for index in 0..<count { total += weight(index) }
        let scale = 9_223_372_036_854_775_808.0  // 2^63
        var partial = 0.0
        for index in 0..<count {
            partial += weight(index)
            let value = partial / total * scale
            cumulative[index] = value >= scale ? ZipfTable.one : UInt64(value)
        }
        cumulative[count - 1] = ZipfTable.one
        let buckets = 1 << ZipfTable.guideBits
        var position = 0
        for bucket in 0...buckets {
            let threshold = UInt64(bucket) << UInt64(63 - ZipfTable.guideBits)
            while position < count - 1 && cumulative[position] <= threshold { position += 1 }
            guide[bucket] = Int32(position)
        }
    }

    deinit {
        cumulative.deallocate()
        guide.deallocate()
    }

    /// The 0-based rank for the random value `random`: the first rank whose cumulative weight exceeds its top 63 bits.
    @inline(__always)
    func sample(_ random: UInt64) -> Int {
        let r = random >> 1
        let bucket = Int(truncatingIfNeeded: r >> UInt64(63 - ZipfTable.guideBits))
        var low = Int(guide[bucket])
        var high = Int(guide[bucket + 1])
        while low < high {
            let middle = (low + high) >> 1
            if cumulative[middle] > r { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

extension SplitMix64 {
    /// The first output of a fresh mixer (for one-off derived keys).
    func nextValue() -> UInt64 {
        var copy = self
        return copy.next()
    }
}
