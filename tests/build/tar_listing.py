#!/usr/bin/env python3
# tar_listing.py - a container export (tar on stdin) as one line per entry, for comparing
# berth's and docker's builds of the same Dockerfile: path, type, mode, owner, size, link
# target; not times. The files each engine adds at run time are left out.
import sys
import tarfile

SKIP = {".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"} | set(sys.argv[1:])
SKIP_DIRS = ("dev/", "proc/", "sys/")
out = []
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as t:
    for m in t:
        name = m.name
        while name.startswith("./"):
            name = name[2:]
        name = name.lstrip("/").rstrip("/")
        if not name or name in SKIP or name in ("dev", "proc", "sys") or name.startswith(SKIP_DIRS):
            continue
        kind = "d" if m.isdir() else "l" if m.issym() else "h" if m.islnk() else "f" if m.isfile() else "o"
        size = m.size if m.isfile() else 0
        link = m.linkname if (m.issym() or m.islnk()) else ""
        out.append(f"{name} {kind} {m.mode & 0o7777:o} {m.uid}:{m.gid} {size} {link}")
print("\n".join(sorted(out)))
