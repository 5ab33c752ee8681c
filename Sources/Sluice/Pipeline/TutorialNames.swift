// The tutorial's generator functions under their own names, so that a pipeline reads like the Python:
//
//     let lognames = genFind("access-log*", "www")          # lognames = gen_find("access-log*","www")
//     let logfiles = genOpen(lognames)                     # logfiles = gen_open(lognames)
//     let loglines = genCat(logfiles)                      # loglines = gen_cat(logfiles)
//     let patlines = try genGrep(#"ply-.*\.gz"#, loglines) # patlines = gen_grep(pat, loglines)
//     let bytes = bytesColumn(patlines)                    # bytes = (int(x) for x in bytecolumn if x != '-')
//     print("Total", try bytes.sum())                      # print "Total", sum(bytes)
//
// Each is one line over the methods of `LogFiles`, `LogSources`, `Lines` and `Records`, which hold the
// documentation. The stages keep their description, so the final `sum` above runs on the parallel engine.

/// `gen_find(filepat, top)`: the files under `top` whose name matches `glob`. See `LogFiles.find(_:in:)`.
public func genFind(_ glob: String, _ top: String) -> LogFiles { LogFiles.find(glob, in: top) }

/// `gen_open(filenames)`: each file opened in turn, compression told by magic bytes. See `LogFiles.open()`.
public func genOpen(_ files: LogFiles) -> LogSources { files.open() }

/// `gen_cat(sources)`: the lines of each source in turn. See `LogSources.cat()`.
public func genCat(_ sources: LogSources) -> Lines { sources.cat() }

/// `gen_cat` over any sequence of line sequences, such as an array of `LogSource`s or a traced `LogSources`
/// (sequential only). A source that ended in an error (a `LogSource` that could not be read or decoded, a
/// `Lines` whose run failed) ends the lines there, and the terminal operations throw its error.
public func genCat<S: Sequence>(_ sources: S) -> Lines where S.Element: Sequence, S.Element.Element == Line {
    let shared = (sources as? CarriesPipelineStatus)?.pipelineStatus
    let status = shared ?? PipelineStatus()
    return Lines(wrapping: ConcatenatedLines(sources: sources, status: status), status: status, countingLines: shared == nil)
}

/// `gen_grep(pat, lines)`: the lines a PCRE2 pattern matches. Throws `.invalidPattern`. See `Lines.grep(_:caseless:)`.
public func genGrep(_ pattern: String, _ lines: Lines) throws -> Lines { try lines.grep(pattern) }

/// `gen_grep` over any sequence of lines (sequential only).
public func genGrep<S: Sequence>(_ pattern: String, _ lines: S) throws -> Lines where S.Element == Line {
    try Lines(wrapping: lines).grep(pattern)
}

/// `lines_from_dir(filepat, dirname)`: `gen_cat(gen_open(gen_find(filepat, dirname)))`.
public func linesFromDir(_ glob: String, _ directory: String) -> Lines { Lines.fromDirectory(glob, directory) }

/// The bytes column: `(int(x) for x in (line.rsplit(None,1)[1] for line in lines) if x != '-')`. See `BytesColumn`.
public func bytesColumn(_ lines: Lines) -> BytesColumn { lines.bytesColumn() }

/// `apache_log(lines)`: the lines as access-log records with integer status and bytes. See `Lines.apacheLog(_:)`.
public func apacheLog(_ lines: Lines) -> Records { lines.apacheLog() }

/// `apache_log` over any sequence of lines, such as a `StoreLast` (sequential only).
public func apacheLog<S: Sequence>(_ lines: S) -> Records where S.Element == Line { Lines(wrapping: lines).apacheLog() }

/// `field_map(dictseq, name, func)`: each row with `name`'s value transformed. See `Rows.fieldMap(_:_:)`.
public func fieldMap(_ rows: Rows, _ name: String, _ transform: @escaping (Value) -> Value) -> Rows {
    rows.fieldMap(name, transform)
}

/// `trace(source)` for lines: each line passed to `body` as it goes by. See `Lines.trace(_:)`.
public func trace(_ lines: Lines, _ body: @escaping (Line) -> Void) -> Lines { lines.trace(body) }

/// `trace(source)` for records: each record passed to `body` as it goes by. See `Records.trace(_:)`.
public func trace(_ records: Records, _ body: @escaping (AccessRecord) -> Void) -> Records { records.trace(body) }

/// `trace(source)` for any sequence. See `Sequence.trace(_:)`.
public func trace<S: Sequence>(_ source: S, _ body: @escaping (S.Element) -> Void) -> TracedSequence<S> { source.trace(body) }

/// `storelast(source)`: a sequence remembering the element it handed out last. See `StoreLast`.
public func storeLast<S: Sequence>(_ source: S) -> StoreLast<S> { StoreLast(source) }
