import Sluice

/// gentrace.py (Part 9): `trace` prints every record as it flows past, while the loop only looks for 404s.
enum GenTrace: TutorialProgram {
    static let name = "gentrace"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)   // lines = lines_from_dir("access-log*","www")
        let log = trace(apacheLog(lines)) { print($0) }   // log = trace(apache_log(lines))
        let r404 = log.where(.status == 404)              // r404 = (r for r in log if r['status'] == 404)
        for _ in r404 {}                                  // for r in r404: pass
        try r404.check()
    }
}
