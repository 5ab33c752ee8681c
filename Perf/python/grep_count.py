#!/usr/bin/env python3
"""The number of lines matching a regular expression, in the generator-pipeline style of David Beazley's
"Generator Tricks for Systems Programmers": gen_open -> gen_cat -> gen_grep -> count. Prints the count, as
`sluice grep -c` does for one input.

Usage: grep_count.py PATTERN FILE...
"""
import bz2
import gzip
import re
import sys


def gen_open(paths):
    for path in paths:
        if path.endswith(".gz"):
            yield gzip.open(path, "rt", encoding="latin-1")
        elif path.endswith(".bz2"):
            yield bz2.open(path, "rt", encoding="latin-1")
        else:
            yield open(path, encoding="latin-1")


def gen_cat(sources):
    for source in sources:
        for item in source:
            yield item


def gen_grep(pat, lines):
    patc = re.compile(pat)
    for line in lines:
        if patc.search(line):
            yield line


if __name__ == "__main__":
    lines = gen_cat(gen_open(sys.argv[2:]))
    print(sum(1 for _ in gen_grep(sys.argv[1], lines)))
