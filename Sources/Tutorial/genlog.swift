import Sluice

/// genlog.py (Part 2): the same total as a generator pipeline. `sum` runs on the parallel engine.
enum GenLog: TutorialProgram {
    static let name = "genlog"

    static func run(_ input: String) throws {
        let wwwlog = linesFromDir("access-log*", input)   // wwwlog = open("access-log")
        let bytes = wwwlog.bytesColumn()                   // bytecolumn = (line.rsplit(None,1)[1] for line in wwwlog)
                                                           // bytes = (int(x) for x in bytecolumn if x != '-')
        print("Total", try bytes.sum())                    // print "Total", sum(bytes)
    }
}
