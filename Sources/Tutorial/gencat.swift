import Sluice

/// gencat.py (Part 3): the lines of every log file, concatenated into one sequence.
enum GenCat: TutorialProgram {
    static let name = "gencat"

    static func run(_ input: String) throws {
        let lognames = genFind("access-log*", input)   // lognames = gen_find("access-log*","www")
        let logfiles = genOpen(lognames)                // logfiles = gen_open(lognames)
        let loglines = genCat(logfiles)                 // loglines = gen_cat(logfiles)
        for line in loglines {                          // for line in loglines:
            print(line)                                 //     print line,
        }
        try loglines.check()
    }
}
