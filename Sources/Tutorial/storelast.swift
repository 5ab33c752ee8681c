import Sluice

/// storelast.py (Part 9): `storelast` keeps the line behind each record readable. The Python original follows
/// a live log forever; this one reads the files once.
enum StoreLastDemo: TutorialProgram {
    static let name = "storelast"

    static func run(_ input: String) throws {
        let loglines = linesFromDir("access-log*", input)
        let lines = storeLast(loglines)                   // lines = storelast(follow(open("access-log")))
        let log = apacheLog(lines)                        // log = apache_log(lines)
        for r in log {                                    // for r in log:
            print(r)                                      //     print r
            print(lines.last!)                            //     print lines.last
        }
        try loglines.check()
    }
}
