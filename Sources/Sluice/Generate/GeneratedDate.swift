#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Dates

/// Calendar arithmetic (Howard Hinnant's days-from-civil algorithms) and the Apache `%t` layout.
enum GeneratedDate {
    /// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01.
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Bytes `format` writes.
    static let length = 26
    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Writes `dd/Mon/yyyy:hh:mm:ss ±hhmm` (26 bytes) for `localSeconds` (seconds since 1970-01-01 00:00 in the
    /// zone itself) and the zone offset `zoneMinutes` east of UTC. Years outside 0...9999 are written modulo 10000.
    static func format(localSeconds: Int, zoneMinutes: Int, into out: UnsafeMutablePointer<UInt8>) {
        var days = localSeconds / 86_400
        var secondOfDay = localSeconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let date = civil(days: days)
        @inline(__always) func two(_ value: Int, _ at: Int) {
            out[at] = UInt8(truncatingIfNeeded: 48 + value / 10)
            out[at + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
        }
        two(date.day, 0)
        out[2] = UInt8(ascii: "/")
        let monthNames = months.utf8Start + (date.month - 1) * 3
        out[3] = monthNames[0]; out[4] = monthNames[1]; out[5] = monthNames[2]
        out[6] = UInt8(ascii: "/")
        let year = ((date.year % 10000) + 10000) % 10000
        two(year / 100, 7)
        two(year % 100, 9)
        out[11] = UInt8(ascii: ":")
        two(secondOfDay / 3600, 12)
        out[14] = UInt8(ascii: ":")
        two(secondOfDay / 60 % 60, 15)
        out[17] = UInt8(ascii: ":")
        two(secondOfDay % 60, 18)
        out[20] = UInt8(ascii: " ")
        out[21] = zoneMinutes < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
        let zone = abs(zoneMinutes)
        two(zone / 60 % 100, 22)
        two(zone % 60, 24)
    }
}

// MARK: - Byte tables

/// Bytes of zeroed padding after every table that `copyPadded` reads from.
let copyPadding = 16

/// Copies `count` bytes from `source` to `out` and advances `out`, in 16-byte chunks: the source must have
/// `copyPadding` readable bytes past its end and the destination as many writable ones (the generator's line
/// buffer always has that slack, and whatever lands past the end is overwritten by what follows).
@inline(__always)
func copyPadded(_ source: UnsafePointer<UInt8>, _ count: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
    var offset = 0
    let from = UnsafeRawPointer(source)
    let to = UnsafeMutableRawPointer(out)
    repeat {
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self), toByteOffset: offset,
                      as: SIMD16<UInt8>.self)
        offset += 16
    } while offset < count
    out += count
}
