#!/usr/bin/env python3
"""interleave.py - time several commands side by side, round-robin, and report medians.

    interleave.py --runs 50 --warmup 5 --baseline crun 'berth=CMD ...' 'crun=CMD ...'
    interleave.py ... --prepare 'berth=rm -rf /tmp/root' 'berth=berth --root /tmp/root pull X'

Each round runs every command once, in a fresh order, so drift in the machine's load hits
all of them alike. A command is a shell-free argv (split like a shell would); '{i}' in it is
replaced by the round number (unique container ids). A failing command aborts the run.
--prepare LABEL=CMD runs CMD (through sh -c, untimed) before each timed run of LABEL: the
clean-up that makes every pull a cold one.
Prints a markdown table: median, p10, p90 in ms and the ratio to the baseline's median.
"""
import argparse
import random
import shlex
import statistics
import subprocess
import sys
import time


def run_once(argv):
    t0 = time.perf_counter_ns()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t1 = time.perf_counter_ns()
    if r.returncode != 0:
        sys.exit(f"interleave: {' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--prepare", action="append", default=[], help="label=shell command")
    ap.add_argument("commands", nargs="+", help="label=command")
    a = ap.parse_args()
    cmds = [(c.split("=", 1)[0], c.split("=", 1)[1]) for c in a.commands]
    prepare = dict(p.split("=", 1) for p in a.prepare)
    times = {label: [] for label, _ in cmds}
    for i in range(a.warmup + a.runs):
        order = cmds[:]
        random.shuffle(order)
        for label, cmd in order:
            if label in prepare:
                r = subprocess.run(["sh", "-c", prepare[label].replace("{i}", str(i))],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                if r.returncode != 0:
                    sys.exit(f"interleave: prepare for {label} failed ({r.returncode})")
            ms = run_once(shlex.split(cmd.replace("{i}", str(i))))
            if i >= a.warmup:
                times[label].append(ms)
    base = statistics.median(times[a.baseline]) if a.baseline else None
    print(f"| command | median ms | p10 ms | p90 ms | vs {a.baseline or '-'} |")
    print("|---|---:|---:|---:|---:|")
    for label, cmd in cmds:
        t = sorted(times[label])
        med = statistics.median(t)
        p10 = t[len(t) // 10]
        p90 = t[(len(t) * 9) // 10]
        ratio = f"{med / base:.2f}x" if base else "-"
        print(f"| {label} (`{cmd}`) | {med:.1f} | {p10:.1f} | {p90:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
