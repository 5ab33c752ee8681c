import Sluice

/// query404.py (Part 4): the distinct requests that got a 404, sorted. Runs on the parallel engine.
enum Query404: TutorialProgram {
    static let name = "query404"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)                // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                                     // log = apache_log(lines)
        let stat404 = try log.where(.status == 404).distinct(.request) // stat404 = set(r['request'] for r in log
                                                                       //               if r['status'] == 404)
        for r in stat404 {                                             // for r in sorted(stat404):
            print(r)                                                   //     print r
        }
    }
}
