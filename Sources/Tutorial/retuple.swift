import Sluice

/// The tutorial's access-log pattern, shared by retuple, redict and fieldmap.
let logpats = #"(\S+) (\S+) (\S+) \[(.*?)\] "# + #""(\S+) (\S+) (\S+)" (\S+) (\S+)"#

/// retuple.py (Part 4): each line matched against the log pattern, printed as a tuple of its groups.
enum ReTuple: TutorialProgram {
    static let name = "retuple"

    static func run(_ input: String) throws {
        let logfile = linesFromDir("access-log*", input)  // logfile = open("access-log")
        let tuples = try logfile.match(logpats)           // groups = (logpat.match(line) for line in logfile)
                                                          // tuples = (g.groups() for g in groups if g)
        for t in tuples {                                 // for t in tuples:
            print(t)                                      //     print t
        }
        try tuples.check()
    }
}
