import Sluice

/// robotsfast.py (Part 4): robots, made fast by keeping only the lines that mention robots.txt before parsing.
/// `containing` is a literal grep, so the whole pipeline still runs on the parallel engine.
enum RobotsFast: TutorialProgram {
    static let name = "robotsfast"

    static func run(_ input: String) throws {
        var lines = linesFromDir("access-log*", input)   // lines = lines_from_dir("access-log*","www")
        lines = lines.containing("robots.txt")            // lines = (line for line in lines if 'robots.txt' in line)
        let log = apacheLog(lines)                        // log = apache_log(lines)
        let addrs = try log.distinct(.host)               // addrs = set(r['host'] for r in log)
        for addr in addrs {                               // for addr in addrs:
            print(addr)                                   //     print addr
        }
    }
}
