import Sluice

/// genfind.py (Part 3): the log files under a directory.
enum GenFind: TutorialProgram {
    static let name = "genfind"

    static func run(_ input: String) throws {
        let lognames = genFind("access-log*", input)   // lognames = gen_find("access-log*","www")
        for name in lognames {                          // for name in lognames:
            print(name)                                 //     print name
        }
        try lognames.status.check()
    }
}
