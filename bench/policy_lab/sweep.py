#!/usr/bin/python3
"""sweep.py -- the tuning sweep of the `auto` policy, with leave-one-trace-out
validation (docs/POLICIES.md, "auto: method").

Runs bench/policy_lab for every fixed policy (the baselines) and for each
setting of a grid of auto's rule tunables, on all 60 (trace, size) points of
../shared/traces, scores each setting against issue 13's goal (within 0.5
point of the best online policy of libCacheSim's figures and of macho's fixed
policies, and of LRU), and prints: the best settings in-sample, and the
leave-one-trace-out score (for each trace, the setting best on the other 19,
scored on the held-out one).

usage: bench/policy_lab/sweep.py [--lab build/release/bench/policy_lab/policy_lab] [--shared ../shared/traces]
"""
import argparse
import itertools
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF = ["lru", "fifo", "lfu", "arc", "sieve", "s3fifo", "wtinylfu", "belady"]
FIXED = ["lru", "fifo", "random", "lfu", "mfu", "sieve", "s3fifo", "wtinylfu", "arc"]
GRID = {"decay": [0.75, 0.9, 0.95], "z": [2, 3], "epoch_caps": [1, 2, 4]}


def lab(path, shared, args):
    out = subprocess.run(["nice", "-n", "10", path, "--shared", shared, *args], check=True,
                         capture_output=True, text=True).stdout
    return {(j["name"], j["size"]): j["miss_ratio"] for j in map(json.loads, out.splitlines()) if "event" not in j}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab", default=os.path.join(ROOT, "build", "release", "bench", "policy_lab", "policy_lab"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "traces"))
    a = ap.parse_args()
    refs = {}
    for line in open(os.path.join(a.shared, "README.md"), encoding="utf-8"):
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) == 12 and c[1].isdigit():
            refs[(c[0], int(c[3]))] = dict(zip(REF, map(float, c[4:])))
    base = {p: lab(a.lab, a.shared, ["--policy", p]) for p in FIXED}
    best = {k: min(min(v for p, v in r.items() if p != "belady"), min(base[p][k] for p in FIXED))
            for k, r in refs.items()}
    traces = sorted({k[0] for k in refs})

    def score(res, ts):
        over, excess = 0, 0.0
        for k in refs:
            if k[0] not in ts:
                continue
            e = res[k] - best[k]
            over += e > 0.005 or res[k] - base["lru"][k] > 0.005
            excess += max(e, 0)
        return over, excess

    runs = {}
    for values in itertools.product(*GRID.values()):
        setting = " ".join(f"{m}.{n}={v}" for m in "ms" for n, v in zip(GRID, values))
        runs[setting] = lab(a.lab, a.shared, setting.split())
    ranked = sorted(runs, key=lambda s: score(runs[s], traces))
    print("in-sample (points over the goal, sum of excess in points):")
    for s in ranked[:8]:
        o, e = score(runs[s], traces)
        print(f"  {o:2d} over, excess {e * 100:6.2f}  {s}")
    held_over, held_excess = 0, 0.0
    for t in traces:
        others = [x for x in traces if x != t]
        pick = min(runs, key=lambda s: score(runs[s], others))
        o, e = score(runs[pick], [t])
        held_over += o
        held_excess += e
    o, e = score(runs[ranked[0]], traces)
    print(f"leave-one-trace-out: {held_over} points over the goal on held-out traces, held-out excess "
          f"{held_excess * 100:.2f} points (in-sample best: {o}, {e * 100:.2f})")


if __name__ == "__main__":
    main()
