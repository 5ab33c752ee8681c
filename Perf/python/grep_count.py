#!/usr/bin/env python3
"""The number of lines matching a regular expression, in the generator-pipeline style of David Beazley's
"Generator Tricks for Systems Programmers": gen_open -> gen_cat -> gen_grep -> count. Prints the count, as
`sluice grep -c` does for one input.

Usage: grep_count.py PATTERN FILE...
"""
import sys

from generators import gen_cat, gen_grep, gen_open


if __name__ == "__main__":
    lines = gen_cat(gen_open(sys.argv[2:]))
    print(sum(1 for _ in gen_grep(sys.argv[1], lines)))
