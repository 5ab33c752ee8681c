import Sluice

/// hosts.py (Part 4): the distinct client hosts, sorted bytewise. Runs on the parallel engine.
enum Hosts: TutorialProgram {
    static let name = "hosts"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)   // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                        // log = apache_log(lines)
        let hosts = try log.distinct(.host)               // hosts = set(r['host'] for r in log)
        for h in hosts {                                  // for h in hosts:
            print(h)                                      //     print h
        }
    }
}
