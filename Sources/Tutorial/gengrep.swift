import Sluice

/// gengrep.py (Part 3): the lines of every log file that mention a PLY download.
enum GenGrep: TutorialProgram {
    static let name = "gengrep"

    static func run(_ input: String) throws {
        let lognames = genFind("access-log*", input)           // lognames = gen_find("access-log*","www")
        let logfiles = genOpen(lognames)                        // logfiles = gen_open(lognames)
        let loglines = genCat(logfiles)                         // loglines = gen_cat(logfiles)
        let plylines = try genGrep(#"ply-.*\.gz"#, loglines)    // plylines = gen_grep(r'ply-.*\.gz',loglines)
        for line in plylines {                                  // for line in plylines:
            print(line)                                         //     print line,
        }
        try plylines.check()
    }
}
