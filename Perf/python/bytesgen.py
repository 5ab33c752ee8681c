#!/usr/bin/env python3
"""bytesgen.py from David Beazley's "Generator Tricks for Systems Programmers" (PyCon 2008), Part 3, in
Python 3: the peer that `sluice-tutorial bytesgen` is measured against. Not product code.

usage: bytesgen.py [DIR or FILE]    (default ../shared/data/tutorial/www)

A DIR is searched for access-log* files, as the tutorial searches www; a FILE is read alone. Files are opened
by name (.gz with gzip, .bz2 with bz2), as the tutorial's gen_open does. Prints "Total N".
"""
import bz2
import fnmatch
import gzip
import os
import re
import sys


def gen_find(filepat, top):
    if os.path.isfile(top):
        yield top
        return
    for path, dirlist, filelist in os.walk(top):
        dirlist.sort()
        for name in sorted(fnmatch.filter(filelist, filepat)):
            yield os.path.join(path, name)


def gen_open(filenames):
    for name in filenames:
        if name.endswith(".gz"):
            yield gzip.open(name, "rt", encoding="latin-1")
        elif name.endswith(".bz2"):
            yield bz2.open(name, "rt", encoding="latin-1")
        else:
            yield open(name, encoding="latin-1")


def gen_cat(sources):
    for s in sources:
        for item in s:
            yield item


def gen_grep(pat, lines):
    patc = re.compile(pat)
    for line in lines:
        if patc.search(line):
            yield line


pat = r'ply-.*\.gz'
logdir = sys.argv[1] if len(sys.argv) > 1 else '../shared/data/tutorial/www'
filenames = gen_find("access-log*", logdir)
logfiles = gen_open(filenames)
loglines = gen_cat(logfiles)
patlines = gen_grep(pat, loglines)
bytecolumn = (line.rsplit(None, 1)[1] for line in patlines)
bytes = (int(x) for x in bytecolumn if x != '-')
print("Total", sum(bytes))
