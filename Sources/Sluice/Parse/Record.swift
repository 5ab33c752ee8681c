/// One parsed line, as byte spans into the buffer that holds it. A worker owns one `Record` and reuses it for
/// every line, so parsing allocates nothing; the spans are valid only until the next line is parsed.
final class Record {
    /// The buffer the spans index into.
    var base: UnsafePointer<UInt8>
    /// The line, without its `\n` terminator (a `\r` before it stays).
    var lineStart = 0
    var lineEnd = 0
    /// Field spans: field `i` is `base[starts[i]..<ends[i]]`.
    private(set) var starts: UnsafeMutablePointer<Int>
    private(set) var ends: UnsafeMutablePointer<Int>
    private(set) var capacity: Int
    /// Number of fields the current line has; fields past it read as empty.
    var fieldCount = 0
    /// The integer status and bytes of access-log records (bytes `-` is 0).
    var status: Int64 = 0
    var bytes: Int64 = 0
    /// Room for the decimal forms of two 64-bit integers, written by `text` in turn, so that the bytes `text`
    /// returned stay in place through the next call (as `ByteTable.addSoon` needs).
    private let number = UnsafeMutablePointer<UInt8>.allocate(capacity: 48)
    private var numberSlot = 0

    init(capacity: Int = 16) {
        self.capacity = capacity
        starts = .allocate(capacity: capacity)
        ends = .allocate(capacity: capacity)
        base = UnsafePointer(starts.withMemoryRebound(to: UInt8.self, capacity: 1) { $0 })
    }

    deinit {
        starts.deallocate()
        ends.deallocate()
        number.deallocate()
    }

    @inline(__always)
    func set(_ field: Int, _ start: Int, _ end: Int) {
        starts[field] = start
        ends[field] = end
    }

    /// Makes room for `count` fields.
    func ensureCapacity(_ count: Int) {
        guard count > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count { newCapacity *= 2 }
        let newStarts = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        let newEnds = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        newStarts.update(from: starts, count: capacity)
        newEnds.update(from: ends, count: capacity)
        starts.deallocate()
        ends.deallocate()
        starts = newStarts
        ends = newEnds
        capacity = newCapacity
    }

    /// The span of `field`: the whole line for `FieldRef.wholeLine`, empty past the last field.
    @inline(__always)
    func span(_ field: FieldRef) -> (start: Int, end: Int) {
        let index = field.index
        if index < 0 { return (lineStart, lineEnd) }
        if index >= fieldCount { return (lineEnd, lineEnd) }
        return (starts[index], ends[index])
    }

    /// The bytes of `field` as aggregates count it and `select` prints it: for the access-log numeric fields
    /// (status and bytes) the decimal form of the number read, so that bytes `-` is 0 and `0200` is 200, as the
    /// tutorial's int() makes them; for any other field its own bytes. Valid through the next call, and while the
    /// line's buffer is.
    @inline(__always)
    func text(_ field: FieldRef, accessLog: Bool) -> (base: UnsafePointer<UInt8>, count: Int) {
        let (start, end) = span(field)
        if accessLog && (field.index == AccessField.bytes || field.index == AccessField.status) && start < end {
            // Digits that start with 1-9, or a lone 0, are already the decimal form (the scanner checked them).
            let first = base[start]
            if !((first >= 0x31 && first <= 0x39) || (end - start == 1 && first == 0x30)) {
                return decimal(field.index == AccessField.bytes ? bytes : status)
            }
        }
        return (base + start, end - start)
    }

    /// `value` in decimal, in the half of `number` that the call before did not use.
    private func decimal(_ value: Int64) -> (base: UnsafePointer<UInt8>, count: Int) {
        numberSlot = 24 - numberSlot
        let end = numberSlot + 24
        var magnitude = value.magnitude
        var index = end
        repeat {
            index -= 1
            number[index] = 0x30 + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            index -= 1
            number[index] = 0x2d
        }
        return (UnsafePointer(number + index), end - index)
    }

    /// The field as an integer, or nil when it is not one.
    @inline(__always)
    func integer(_ field: FieldRef, accessLog: Bool) -> Int64? {
        if accessLog {
            if field.index == AccessField.bytes { return bytes }
            if field.index == AccessField.status { return status }
        }
        let (start, end) = span(field)
        return Bytes.parseInteger(base, start, end)
    }
}
