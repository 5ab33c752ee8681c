#!/usr/bin/env python3
"""The generator stages of David Beazley's "Generator Tricks for Systems Programmers" (PyCon 2008), written here
in the tutorial's style and shared by the peer scripts in this folder (bytesgen.py, grep_count.py,
sum_bytes.py). Files are opened by name as the tutorial does (.gz, .bz2, else plain), as Latin-1 text so that any
byte reads.
"""
import bz2
import fnmatch
import gzip
import os
import re


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
