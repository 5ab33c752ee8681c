import Sluice

/// The broadcast example (Part 11): one pass over the log pushes every record into two consumers. find_404
/// prints each 404 as it arrives, as in the original; bytes_transferred keeps a running total and, rather
/// than printing it after every record, prints it once when closed.
enum BroadcastDemo: TutorialProgram {
    static let name = "broadcast"

    static func run(_ input: String) throws {
        let findStatus404 = Consumer<AccessRecord> { r in           // @consumer def find_404():
            if r.status == 404 {                                     //     r = (yield); if r['status'] == 404:
                print(r.status, r.datetime, r.request)               //         print r['status'],r['datetime'],r['request']
            }
        }
        var overflowed = false
        let bytesTransferred = Consumer<AccessRecord>(state: 0) { total, r in // @consumer def bytes_transferred():
            let (sum, over) = total.addingReportingOverflow(r.bytes)     //     total += r['bytes']
            total = sum
            overflowed = overflowed || over
        } onClose: { total in
            if !overflowed { print("Total bytes", total) }
        }
        let log = apacheLog(linesFromDir("access-log*", input))      // log = apache_log(lines)
        broadcast(log, to: [findStatus404, bytesTransferred], closing: true) // broadcast(log,[find_404(),bytes_transferred()])
        try log.check()
        if overflowed { throw sumOverflow }
    }
}
