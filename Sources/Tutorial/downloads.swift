import Sluice

/// downloads.py (Part 4): how many times PLY 2.3 was downloaded. Runs on the parallel engine.
enum Downloads: TutorialProgram {
    static let name = "downloads"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)               // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                                    // log = apache_log(lines)
        let files = log.where(.request == "/ply/ply-2.3.tar.gz")      // files = (r for r in log
                                                                      //          if r['request'] == '/ply/ply-2.3.tar.gz')
        print("Total", try files.count())                             // print "Total", len(list(files))
    }
}
