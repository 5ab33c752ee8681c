import Sluice

/// nongenlog.py (Part 2): the total of the bytes column with an ordinary loop and a running total.
enum NonGenLog: TutorialProgram {
    static let name = "nongenlog"

    static func run(_ input: String) throws {
        let wwwlog = linesFromDir("access-log*", input)        // wwwlog = open("access-log")
        var total = 0
        for line in wwwlog {
            guard let bytestr = line.lastField else { continue } //     bytestr = line.rsplit(None,1)[1]
            if bytestr != "-" {
                total = try adding(total, bytestr.integer ?? 0)  //         total += int(bytestr)
            }
        }
        try wwwlog.check()
        print("Total", total)
    }
}
