#!/usr/bin/env python3
"""bytesgen.py from David Beazley's "Generator Tricks for Systems Programmers" (PyCon 2008), Part 3, in
Python 3: the peer that `sluice-tutorial bytesgen` is measured against. Not product code.

usage: bytesgen.py [DIR or FILE]    (default ../shared/data/tutorial/www)

A DIR is searched for access-log* files, as the tutorial searches www; a FILE is read alone. Files are opened
by name (.gz with gzip, .bz2 with bz2), as the tutorial's gen_open does. Prints "Total N".
"""
import sys

from generators import gen_cat, gen_find, gen_grep, gen_open

pat = r'ply-.*\.gz'
logdir = sys.argv[1] if len(sys.argv) > 1 else '../shared/data/tutorial/www'
filenames = gen_find("access-log*", logdir)
logfiles = gen_open(filenames)
loglines = gen_cat(logfiles)
patlines = gen_grep(pat, loglines)
bytecolumn = (line.rsplit(None, 1)[1] for line in patlines)
bytes = (int(x) for x in bytecolumn if x != '-')
print("Total", sum(bytes))
