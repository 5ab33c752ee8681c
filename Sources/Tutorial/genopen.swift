import Sluice

/// genopen.py (Part 3): each log file opened, plain, gzip or bzip2 (told by magic bytes, not by name).
enum GenOpen: TutorialProgram {
    static let name = "genopen"

    static func run(_ input: String) throws {
        let lognames = genFind("access-log*", input)   // lognames = gen_find("access-log*","www")
        let logfiles = genOpen(lognames)                // logfiles = gen_open(lognames)
        for f in logfiles {                             // for f in logfiles:
            print(f)                                    //     print f
        }
        try logfiles.status.check()
    }
}
