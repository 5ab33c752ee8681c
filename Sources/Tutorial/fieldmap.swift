import Sluice

/// Python's `int()` for a row value: text that reads as an integer becomes one; anything else is kept.
func int(_ value: Value) -> Value {
    value.text.flatMap { Int($0) }.map { .integer($0) } ?? value
}

/// fieldmap.py (Part 4): the dictionaries with status and bytes converted to integers by `field_map`.
enum FieldMap: TutorialProgram {
    static let name = "fieldmap"

    static func run(_ input: String) throws {
        let logfile = linesFromDir("access-log*", input)
        let tuples = try logfile.match(logpats)
        var log = tuples.rows(colnames)                        // log = (dict(zip(colnames,t)) for t in tuples)
        log = fieldMap(log, "status", int)                     // log = field_map(log,"status",int)
        log = fieldMap(log, "bytes") {                         // log = field_map(log,"bytes",
            $0.text == "-" ? .integer(0) : int($0)             //                 lambda s: int(s) if s != '-' else 0)
        }
        for x in log {                                         // for x in log:
            print(x)                                           //     print x
        }
        try tuples.check()
    }
}
