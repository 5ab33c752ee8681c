import Sluice

/// largefiles.py (Part 4): every request that transferred more than a megabyte, in input order.
enum LargeFiles: TutorialProgram {
    static let name = "largefiles"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)    // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                         // log = apache_log(lines)
        let large = log.where(.bytes > 1_000_000)          // large = (r for r in log if r['bytes'] > 1000000)
        for r in large {                                   // for r in large:
            print(r.request, r.bytes)                      //     print r['request'], r['bytes']
        }
        try large.check()
    }
}
