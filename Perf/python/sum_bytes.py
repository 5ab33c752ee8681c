#!/usr/bin/env python3
"""Total bytes served, in the generator-pipeline style of David Beazley's "Generator Tricks for Systems
Programmers": gen_open -> gen_cat -> apache_log -> sum. Prints `Total N`, as `sluice sum bytes` does.

Usage: sum_bytes.py FILE...
"""
import re
import sys

from generators import gen_cat, gen_open

logpats = r'(\S+) (\S+) (\S+) \[(.*?)\] "(\S+) (\S+) (\S+)" (\S+) (\S+)'
logpat = re.compile(logpats)


def field_map(dictseq, name, func):
    for d in dictseq:
        d[name] = func(d[name])
        yield d


def apache_log(lines):
    groups = (logpat.match(line) for line in lines)
    tuples = (g.groups() for g in groups if g)
    colnames = ("host", "referrer", "user", "datetime", "method", "request", "proto", "status", "bytes")
    log = (dict(zip(colnames, t)) for t in tuples)
    log = field_map(log, "status", int)
    log = field_map(log, "bytes", lambda s: int(s) if s != "-" else 0)
    return log


if __name__ == "__main__":
    lines = gen_cat(gen_open(sys.argv[1:]))
    log = apache_log(lines)
    print("Total", sum(r["bytes"] for r in log))
