/// awk-style splitting: fields are maximal runs of non-space bytes; leading and trailing spaces are ignored.
enum FieldSplitter {
    /// Sets `record`'s fields to the first `limit` runs of `base[start..<end]`, in order, growing its capacity
    /// as needed; the runs after them are not looked for.
    static func split(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into record: Record, limit: Int = Int.max) {
        var count = 0
        var i = start
        while count < limit {
            while i < end && Bytes.isSpace(base[i]) { i += 1 }
            if i >= end { break }
            let j = AccessLogScanner.run(base, i, end)
            if count == record.capacity { record.ensureCapacity(count + 1) }
            record.set(count, i, j)
            count += 1
            i = j
        }
        record.fieldCount = count
    }
}
