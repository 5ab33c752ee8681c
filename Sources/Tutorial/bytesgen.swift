import Sluice

/// bytesgen.py (Part 3): the bytes transferred by PLY downloads, over every log file. The pipeline keeps its
/// description, so the final `sum` runs on the parallel engine: the grep is its prefilter.
enum BytesGen: TutorialProgram {
    static let name = "bytesgen"

    static func run(_ input: String) throws {
        let pat = #"ply-.*\.gz"#                          // pat = r'ply-.*\.gz'
        let logdir = input                                // logdir = 'www'
        let filenames = genFind("access-log*", logdir)    // filenames = gen_find("access-log*",logdir)
        let logfiles = genOpen(filenames)                 // logfiles = gen_open(filenames)
        let loglines = genCat(logfiles)                   // loglines = gen_cat(logfiles)
        let patlines = try genGrep(pat, loglines)         // patlines = gen_grep(pat,loglines)
        let bytes = bytesColumn(patlines)                 // bytecolumn = (line.rsplit(None,1)[1] for line in patlines)
                                                          // bytes = (int(x) for x in bytecolumn if x != '-')
        print("Total", try bytes.sum())                   // print "Total", sum(bytes)
    }
}
