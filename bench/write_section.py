#!/usr/bin/env python3
"""write_section.py NAME SECTION_FILE [DOC] - puts a bench script's section into
docs/benchmarks.md: the text of SECTION_FILE (which starts with <!-- NAME:begin --> and ends
with <!-- NAME:end -->) replaces the old one between those markers, or is appended."""
import os
import re
import sys

name, section = sys.argv[1], sys.argv[2]
doc_path = sys.argv[3] if len(sys.argv) > 3 else "docs/benchmarks.md"
if not os.path.exists(doc_path):
    with open(doc_path, "w") as f:
        f.write("# Benchmarks\n\nWritten by the scripts in bench/; every table compares berth "
                "with its peers in one run.\n\n")
doc = open(doc_path).read()
sec = open(section).read().strip()
pat = re.compile(r"<!-- %s:begin -->.*?<!-- %s:end -->" % (re.escape(name), re.escape(name)), re.S)
doc = pat.sub(lambda m: sec, doc) if pat.search(doc) else doc.rstrip() + "\n\n" + sec + "\n"
open(doc_path, "w").write(doc)
