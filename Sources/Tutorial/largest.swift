import Sluice

/// largest.py (Part 4): the largest transfer and its request. Runs on the parallel engine.
enum Largest: TutorialProgram {
    static let name = "largest"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)                       // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                                            // log = apache_log(lines)
        if let largest = try log.max(by: .bytes, with: .request) {           // print "%d %s" % max((r['bytes'],r['request'])
            print(largest.value, largest.with ?? "")                          //                      for r in log)
        }
    }
}
