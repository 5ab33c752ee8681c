#if canImport(Glibc)
import Glibc
#endif

/// One input named on the command line or found under a directory.
public enum InputSpec: Sendable, Equatable {
    /// A path named by the caller: a FIFO or device there is read as a stream (a FIFO's open waits for a writer).
    case file(String)
    /// A regular file a directory walk found: read only while it is still a regular file, so that a FIFO or
    /// device put in its place is an error instead of a wait.
    case foundFile(String)
    /// Standard input.
    case standardInput

    /// The name used in messages and in per-input output: the path, or `<stdin>` (as rg names it).
    public var path: String {
        switch self {
        case .file(let path), .foundFile(let path): return path
        case .standardInput: return "<stdin>"
        }
    }

    /// The path of a file input; nil for standard input.
    public var filePath: String? {
        switch self {
        case .file(let path), .foundFile(let path): return path
        case .standardInput: return nil
        }
    }

    /// Opens a file input (see the cases for what each may be).
    func open() throws -> Int32 {
        switch self {
        case .file(let path): return try System.open(path)
        case .foundFile(let path): return try System.openRegular(path).0
        case .standardInput: return 0
        }
    }
}

/// Expands command-line operands into inputs, like the tutorial's `gen_find`: directories are walked
/// recursively, entries in bytewise-sorted order, keeping the files whose name matches `nameGlob` (fnmatch
/// syntax as Python's `fnmatch` has it, where a backslash is an ordinary character, applied to the last path
/// component). Files named directly are always kept. `-` is standard input,
/// and no operands at all means standard input.
public enum InputFinder {
    /// A UTF-8 locale for `fnmatch`, so that `?`, `*` and `[...]` take a whole character of a UTF-8 name, as
    /// Python's `fnmatch` (the tutorial's `gen_find`) does (bytes that are not UTF-8 still match one by one);
    /// nil where the C library has none.
    nonisolated(unsafe) private static let utf8Locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)

    /// The inputs, plus one error per operand that does not exist, per directory that cannot be listed, and per
    /// walked entry that cannot be examined (a dangling symlink) when the glob would keep it. A walk skips
    /// symlinked directories and anything that is not a regular file (FIFOs, sockets, devices) without an error.
    public static func expand(_ operands: [String], nameGlob: String? = nil) -> (inputs: [InputSpec], errors: [SluiceError]) {
        var inputs = [InputSpec]()
        var errors = [SluiceError]()
        if operands.isEmpty { return ([.standardInput], []) }
        for operand in operands {
            if operand == "-" {
                inputs.append(.standardInput)
                continue
            }
            do {
                let info = try System.stat(path: operand)
                if System.isDirectory(info) {
                    walk(operand, nameGlob, &inputs, &errors)
                } else {
                    inputs.append(.file(operand))
                }
            } catch let error as SluiceError {
                errors.append(error)
            } catch {}
        }
        return (inputs, errors)
    }

    /// `glob` for `fnmatch` with `FNM_NOESCAPE`, matching as Python's `fnmatch` does: a `[` that no `]` closes
    /// is an ordinary character there (C's fnmatch then matches nothing), so it becomes the bracket `[[]`.
    /// Python's rule for the close: after `[` and an optional `!`, a first `]` belongs to the set. Inside a set
    /// every byte stands for itself, as in Python, except that C's fnmatch negates with a leading `^` and reads
    /// `[:`, `[.` and `[=` as classes: those bytes go in as collating symbols (`[.^.]`, `[.[.]`).
    static func pythonGlob(_ glob: [UInt8]) -> [UInt8] {
        let open = UInt8(ascii: "["), close = UInt8(ascii: "]"), bang = UInt8(ascii: "!")
        let caret = UInt8(ascii: "^"), dot = UInt8(ascii: ".")
        var result = [UInt8]()
        var index = 0
        while index < glob.count {
            let byte = glob[index]
            index += 1
            guard byte == open else {
                result.append(byte)
                continue
            }
            var end = index
            if end < glob.count && glob[end] == bang { end += 1 }
            if end < glob.count && glob[end] == close { end += 1 }
            while end < glob.count && glob[end] != close { end += 1 }
            if end < glob.count {
                // The set's bytes, each one literal as in Python, where C's fnmatch reads a leading `^` as `!`
                // and `[:`, `[.` and `[=` as classes: those two bytes go in as collating symbols.
                result.append(open)
                var member = index
                if glob[member] == bang {
                    result.append(bang)
                    member += 1
                }
                let first = member
                while member < end {
                    let byte = glob[member]
                    if byte == open || (byte == caret && member == first) {
                        result += [open, dot, byte, dot, close]
                    } else {
                        result.append(byte)
                    }
                    member += 1
                }
                result.append(close)
                index = end + 1
            } else {
                result += [open, open, close]
            }
        }
        return result
    }

    /// Appends the regular files under `top` whose name `glob` keeps, depth first with each directory's entries
    /// in bytewise order, and an error for each entry or directory that cannot be examined or listed.
    private static func walk(_ top: String, _ glob: String?, _ inputs: inout [InputSpec], _ errors: inout [SluiceError]) {
        // The glob's own bytes (also those that are not UTF-8), NUL-terminated once for every entry.
        let pattern = glob.map { pythonGlob(PathBytes.bytes($0)).map { CChar(bitPattern: $0) } + [0] }
        // The walk's fnmatch calls run under `utf8Locale`, on this thread only.
        let previousLocale = utf8Locale.map { uselocale($0) }
        defer { if let previousLocale { uselocale(previousLocale) } }
        // The directories being walked, innermost last, each with its sorted entries and the next one to visit:
        // a loop rather than recursion, so that no depth of nesting can exhaust the stack.
        var walking: [(prefix: String, names: [(name: [UInt8], type: UInt8)], next: Int)] = []
        func enter(_ directory: String) {
            guard let names = entries(of: directory, &errors) else { return }
            walking.append((directory.hasSuffix("/") ? directory : directory + "/", names, 0))
        }
        enter(top)
        while let current = walking.last {
            guard current.next < current.names.count else {
                walking.removeLast()
                continue
            }
            walking[walking.count - 1].next += 1
            let (name, type) = current.names[current.next]
            let path = current.prefix + PathBytes.string(name)
            // The glob sees the name's own bytes.
            let excluded = pattern.map { pattern in
                (name + [0]).withUnsafeBufferPointer { raw in
                    raw.withMemoryRebound(to: CChar.self) { fnmatch(pattern, $0.baseAddress!, FNM_NOESCAPE) != 0 }
                }
            } ?? false
            // The directory entry's type spares a stat for what is plainly a file or a directory (a symlink is
            // neither: it is followed below); the file is checked again when it is opened.
            if type == UInt8(DT_REG) {
                if !excluded { inputs.append(.foundFile(path)) }
                continue
            }
            if type == UInt8(DT_DIR) {
                enter(path)
                continue
            }
            var info = stat()
            guard PathBytes.withCString(path, { fstatat(AT_FDCWD, $0, &info, 0) }) == 0 else {
                // An entry that cannot be examined (mostly a dangling symlink) is reported only when the glob
                // would keep it as a file: a broken `x.tmp` is no concern of `--name 'access-log*'`.
                if excluded { continue }
                errors.append(System.error(path, errno))
                continue
            }
            if System.isDirectory(info) {
                var linkInfo = stat()
                // No symlink loops.
                if PathBytes.withCString(path, { lstat($0, &linkInfo) }) == 0 && (linkInfo.st_mode & S_IFMT) == S_IFLNK { continue }
                enter(path)
            } else if System.isRegular(info) {
                if excluded { continue }
                inputs.append(.foundFile(path))
            }
        }
    }

    /// The names in `directory` but `.` and `..`, sorted bytewise, each with its type as the directory gives it
    /// (`DT_REG`, `DT_DIR`, `DT_LNK`..., or `DT_UNKNOWN` on file systems that do not say); nil, with the error
    /// noted, when it cannot be listed.
    private static func entries(of directory: String, _ errors: inout [SluiceError]) -> [(name: [UInt8], type: UInt8)]? {
        guard let handle = PathBytes.withCString(directory, { opendir($0) }) else {
            errors.append(System.error(directory, errno))
            return nil
        }
        defer { closedir(handle) }
        var names = [(name: [UInt8], type: UInt8)]()
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [46] && name != [46, 46] { names.append((name, entry.pointee.d_type)) }
        }
        names.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return names
    }
}
