import Sluice

/// linesdir.py (Part 4): `lines_from_dir`, the find/open/cat pipeline packaged as one function.
enum LinesDir: TutorialProgram {
    static let name = "linesdir"

    static func run(_ input: String) throws {
        let loglines = linesFromDir("access-log*", input)   // loglines = lines_from_dir("access-log*","www")
        for line in loglines {                               // for line in loglines:
            print(line)                                      //     print line,
        }
        try loglines.check()
    }
}
