/// Whether one PCRE2 search over a run of whole lines finds exactly the lines that searching each line alone
/// finds, so that grep may search a chunk at once.
///
/// With `MULTILINE` on, `^`, `$`, `\b` and `\B` see a newline at a line's ends inside a chunk and the subject's
/// ends when the line is searched alone, and they treat the two alike; a match that runs into the next line is
/// checked again against its own line. A few constructs tell the two apart, and a pattern holding any of them is
/// searched a line at a time:
/// - the subject anchors `\A`, `\z`, `\Z` and `\G`, which inside a chunk hold only at its ends;
/// - `\K`, which can move a match's reported start into a later line than the one it began in;
/// - what matches atomically: atomic groups `(?>`, possessive quantifiers (`*+`, `++`, `?+`, `}+`) and `\R` and
///   `\X` (always atomic in PCRE2): inside a chunk they can take a line's `\n` and never give it back, so a
///   line that matches alone (`\d\R$` on a CRLF line, `a\s*+$`) is missed;
/// - lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`, `(?*`, `(?<*`), which can look across a newline;
/// - anything written `(*...)`: backtracking verbs such as `(*COMMIT)` end the search of the whole chunk, not
///   of one line, and the leading settings such as `(*CR)` change what a line is;
/// - options unset inline, `(?-m)`, `(?i-m:` or `(?^)`, since without `m` a `$` anchors at the subject's end.
///
/// The check reads the pattern's text, not its compiled form, and errs only one way: a backslash, bracket or
/// comment that merely looks like one of these (`[(?=]`, `\\A`) also sends the pattern line by line, which
/// gives the same lines, more slowly.
enum LineLocality {
    /// True when `pattern` holds none of the constructs above.
    static func isLineLocal(_ pattern: [UInt8]) -> Bool {
        let backslash = UInt8(ascii: "\\"), open = UInt8(ascii: "("), question = UInt8(ascii: "?")
        let star = UInt8(ascii: "*"), less = UInt8(ascii: "<")
        let subjectEscapes = Set("AzZGKRX".utf8)
        let assertionMarks = Set("=!*>".utf8)
        let quantifiers = Set("*+?}".utf8)
        var previous: UInt8?  // the byte before, unless it was escaped
        var index = 0
        while index < pattern.count {
            let byte = pattern[index]
            if byte == backslash {
                if index + 1 < pattern.count && subjectEscapes.contains(pattern[index + 1]) { return false }
                index += 2
                previous = nil
                continue
            }
            if byte == UInt8(ascii: "+"), let previous, quantifiers.contains(previous) { return false }
            previous = byte
            if byte == open && index + 1 < pattern.count {
                let next = pattern[index + 1]
                if next == star { return false }
                if next == question {
                    var mark = index + 2
                    if mark < pattern.count && pattern[mark] == less { mark += 1 }
                    if mark < pattern.count && assertionMarks.contains(pattern[mark]) { return false }
                    // Option letters, then `-` or `^` unsets some.
                    var letter = index + 2
                    while letter < pattern.count && isLetter(pattern[letter]) { letter += 1 }
                    if letter < pattern.count && (pattern[letter] == UInt8(ascii: "-") || pattern[letter] == UInt8(ascii: "^")) {
                        return false
                    }
                }
            }
            index += 1
        }
        return true
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }
}
