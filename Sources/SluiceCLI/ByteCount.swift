import Sluice

/// Byte counts given on the command line.
enum ByteCount {
    /// Parses `123`, `64K`, `10M`, `2G`, `1T` (binary multiples, case-insensitive, optional trailing `B` or
    /// `iB`, surrounding spaces ignored). Throws `.invalidArgument` naming `option` for anything else, and for
    /// a count past `Int.max`.
    static func parse(_ text: String, option: String) throws -> Int {
        var digits = Substring(text.trimmingSpaces().lowercased())
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        if digits.hasSuffix("ib"), let unit = digits.dropLast(2).last, units[unit] != nil {
            digits = digits.dropLast(2)
        } else if digits.hasSuffix("b"), let unit = digits.dropLast().last, units[unit] != nil || unit.isNumber {
            digits = digits.dropLast()
        }
        var multiplier = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else {
            throw SluiceError(.invalidArgument, path: option,
                              "expected a byte count such as 1048576, 64K, 10M or 2G, got '\(text)'")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        if overflow { throw SluiceError(.invalidArgument, path: option, "'\(text)' is too large") }
        return product
    }

    /// `count` in the largest binary unit that divides it: `1 MiB`, `64 KiB`, else `N bytes`.
    static func describe(_ count: Int) -> String {
        for (unit, name) in [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        where count >= unit && count % unit == 0 {
            return "\(count / unit) \(name)"
        }
        return count == 1 ? "1 byte" : "\(count) bytes"
    }

    /// `parse`, also requiring the count to lie in `range`; the message says which range.
    static func parse(_ text: String, option: String, in range: ClosedRange<Int>, named: String) throws -> Int {
        let count: Int
        do { count = try parse(text, option: option) } catch var error as SluiceError {
            error.message += " (\(named))"
            throw error
        }
        guard range.contains(count) else {
            throw SluiceError(.invalidArgument, path: option, "expected \(named), got '\(text)'")
        }
        return count
    }
}

private extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " { text = text.dropFirst() }
        while let last = text.last, last == " " { text = text.dropLast() }
        return String(text)
    }
}
