import Sluice

/// The tutorial's column names (it calls the ident field "referrer").
let colnames = ["host", "referrer", "user", "datetime", "method", "request", "proto", "status", "bytes"]

/// redict.py (Part 4): each matched line turned into a dictionary of named fields.
enum ReDict: TutorialProgram {
    static let name = "redict"

    static func run(_ input: String) throws {
        let logfile = linesFromDir("access-log*", input)  // logfile = open("access-log")
        let tuples = try logfile.match(logpats)           // tuples = (g.groups() for g in groups if g)
        let log = tuples.rows(colnames)                   // log = (dict(zip(colnames,t)) for t in tuples)
        for x in log {                                    // for x in log:
            print(x)                                      //     print x
        }
        try tuples.check()
    }
}
