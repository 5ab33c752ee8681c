import Sluice

/// apachelog.py (Part 4): `apache_log`, lines turned into records with integer status and bytes.
enum ApacheLog: TutorialProgram {
    static let name = "apachelog"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)   // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                        // log = apache_log(lines)
        for r in log {                                    // for r in log:
            print(r)                                      //     print r
        }
        try log.check()
    }
}
