// sluice-tutorial PROGRAM [DIR or FILE]
//
// The programs of David Beazley's "Generator Tricks for Systems Programmers" (PyCon 2008), each rewritten with
// the Sluice pipeline facade in one short file named after the Python original. A DIR is searched for
// `access-log*` files, as the tutorial searches `www`; a FILE is read alone. Without one, the tutorial's own
// tree `../shared/data/tutorial/www` is read, so from the repository root each Part 2-4 program prints what
// `../shared/data/tutorial/expected/PROGRAM.txt` holds.
import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// One tutorial program.
protocol TutorialProgram {
    /// The Python original's name, without `.py`.
    static var name: String { get }
    /// Runs the program over `input`, a directory or a file.
    static func run(_ input: String) throws
}

let programs: [TutorialProgram.Type] = [
    NonGenLog.self, GenLog.self, GenFind.self, GenOpen.self, GenCat.self, GenGrep.self, BytesGen.self,
    ReTuple.self, ReDict.self, FieldMap.self, LinesDir.self, ApacheLog.self, Query404.self, LargeFiles.self,
    Largest.self, Hosts.self, Downloads.self, Robots.self, RobotsFast.self, GenTrace.self, StoreLastDemo.self,
    RecvCount.self, BroadcastDemo.self,
]

let defaultInput = "../shared/data/tutorial/www"
let arguments = Array(CommandLine.arguments.dropFirst())
let usage = "usage: sluice-tutorial PROGRAM [DIR or FILE]\nprograms: \(programs.map { $0.name }.joined(separator: " "))\n"
if arguments == ["--help"] || arguments == ["-h"] {
    fputs(usage, stdout)
    exit(0)
}
guard let name = arguments.first, arguments.count <= 2,
      let program = programs.first(where: { $0.name == name }) else {
    fputs(usage, stderr)
    exit(2)
}
do {
    try program.run(arguments.count == 2 ? arguments[1] : defaultInput)
} catch {
    _ = reportProblems()
    fputs("\(error)\n", stderr)
    exit(2)
}
exit(reportProblems() ? 2 : 0)
