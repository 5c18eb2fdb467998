#!/usr/bin/python3
"""policies-table.py -- regenerate docs/POLICIES.md and docs/img/mrc_<trace>.svg.

Runs `macho sim` on every trace of the reference table in
../shared/traces/README.md (libCacheSim's miss ratios, 20 traces x 3 sizes),
at the table's sizes, for every policy this build has plus Belady, and writes
our miss ratio next to the published one; scores every policy, `auto`
included, against the goal of issue 13 (the best online policy of the
reference and of macho + 0.5 point, at every point); draws one miss-ratio
curve per trace. The prose (method, explanations, which policy to pick)
lives in this script so that a regeneration keeps it next to fresh numbers;
the figures in it that come from elsewhere (the research sweep, the live
curve's accuracy) name the command that reproduces them.

usage: scripts/policies-table.py [--macho PATH] [--shared DIR] [--out docs/POLICIES.md] [--no-plots]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_POLICIES = ["lru", "fifo", "lfu", "arc", "sieve", "s3fifo", "wtinylfu", "belady"]
ONLINE_REF = ["lru", "fifo", "lfu", "arc", "sieve", "s3fifo", "wtinylfu"]
OURS = ["lru", "fifo", "random", "lfu", "mfu", "sieve", "s3fifo", "wtinylfu", "arc", "auto", "belady"]
EXACT = {"lru": 0.001, "fifo": 0.001, "belady": 0.001, "arc": 0.001}  # deterministic: 0.1 point
CLOSE = {"lfu": 0.001, "sieve": 0.001, "s3fifo": 0.001}               # 0.1 point, exceptions explained
GOAL_SLACK = 0.005                                                     # the best + 0.5 point
MRC_SIZES = "0.2%,0.5%,1%,2%,3%,5%,7.5%,10%,15%,20%,30%,40%,60%"


def parse_reference(readme):
    rows = []
    for line in open(readme, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 12 or not cells[1].isdigit():
            continue
        trace, requests, distinct, size = cells[0], int(cells[1]), int(cells[2]), int(cells[3])
        ref = dict(zip(REF_POLICIES, (float(x) for x in cells[4:])))
        rows.append({"trace": trace, "requests": requests, "distinct": distinct, "size": size, "ref": ref})
    return rows


def trace_file(shared, trace):
    for suffix, fmt in ((".trace.gz", "lirs"), (".oracleGeneral.bin", "oracleGeneral"), (".txt.zst", "txt")):
        path = os.path.join(shared, trace + suffix)
        if os.path.exists(path):
            return path, fmt
    sys.exit(f"policies-table: no file for trace {trace} in {shared}")


def run_sim(macho, path, fmt, sizes, plot=None):
    cmd = [macho, "sim", path, "--format", fmt, "--policy", "all", "--size", sizes, "--json"]
    if plot:
        cmd += ["--plot", plot]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip() and '"policy"' in line]


def fmt_cell(ours, ref):
    if ours is None:
        return "–"
    if ref is None:
        return f"{ours:.4f}"
    d = (ours - ref) * 100
    sign = "+" if d > 0.005 else ("−" if d < -0.005 else "±")
    return f"{ours:.4f} / {ref:.4f} ({sign}{abs(d):.2f})"


def is_lirs(trace):
    return trace.startswith("lirs_")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--macho", default=os.path.join(ROOT, "build", "release", "macho"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "traces"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "POLICIES.md"))
    ap.add_argument("--img", default=os.path.join(ROOT, "docs", "img"))
    ap.add_argument("--no-plots", action="store_true", help="keep the existing curves (faster)")
    a = ap.parse_args()
    refs = parse_reference(os.path.join(a.shared, "README.md"))
    if not refs:
        sys.exit("policies-table: no reference rows in " + a.shared + "/README.md")
    os.makedirs(a.img, exist_ok=True)

    traces = []
    for r in refs:
        if r["trace"] not in traces:
            traces.append(r["trace"])
    results = {}  # (trace, size) -> {policy: miss_ratio}
    available = []
    for t in traces:
        sizes = [r["size"] for r in refs if r["trace"] == t]
        path, fmt = trace_file(a.shared, t)
        for row in run_sim(a.macho, path, fmt, ",".join(map(str, sizes))):
            results.setdefault((t, row["size"]), {})[row["policy"]] = row["miss_ratio"]
            if row["policy"] not in available:
                available.append(row["policy"])
            want = next(r for r in refs if r["trace"] == t)
            assert row["requests"] == want["requests"] and row["distinct"] == want["distinct"], (t, row)
        if not a.no_plots:
            run_sim(a.macho, path, fmt, MRC_SIZES, plot=os.path.join(a.img, f"mrc_{t}.svg"))
        print(f"policies-table: {t} done", file=sys.stderr)
    ours = [p for p in OURS if p in available]
    online = [p for p in ours if p != "belady"]
    fixed = [p for p in online if p != "auto"]
    keys = [(r["trace"], r["size"]) for r in refs]
    ref_of = {(r["trace"], r["size"]): r for r in refs}

    # ---- the goal: best online of the reference and of macho's fixed policies + 0.5 point
    def target(k):
        r = ref_of[k]
        return min(min(r["ref"][p] for p in ONLINE_REF), min(results[k][p] for p in fixed))

    def misses_goal(k, p):
        got = results[k][p]
        return got > target(k) + GOAL_SLACK + 1e-9 or got > results[k]["lru"] + GOAL_SLACK + 1e-9

    failures = []
    for r in refs:
        got = results[(r["trace"], r["size"])]
        for p, tol in list(EXACT.items()) + list(CLOSE.items()):
            if p in got and abs(got[p] - r["ref"][p]) > tol + 1e-9:
                failures.append((r["trace"], r["size"], p, got[p], r["ref"][p]))

    def score(p, ks):
        ex = [results[k][p] - target(k) for k in ks]
        return {
            "within": sum(1 for k in ks if not misses_goal(k, p)),
            "mean": sum(ex) / len(ex) * 100,
            "worst": max(ex) * 100,
            "over_lru": sum(1 for k in ks if results[k][p] > results[k]["lru"] + GOAL_SLACK + 1e-9),
            "mr": sum(results[k][p] for k in ks) / len(ks),
            "gap": sum(results[k][p] - results[k]["belady"] for k in ks) / len(ks) * 100,
            "best": sum(1 for k in ks if results[k][p] <= min(results[k][q] for q in fixed) + 1e-9),
        }

    # ---- the document ---------------------------------------------------------------------
    L = []
    w = L.append
    w("# Eviction policies on real traces\n")
    w("<!-- Generated by scripts/policies-table.py; edit the script, not this file. -->\n")
    w("Every figure below comes from `macho sim`, which replays a trace through the real libmacho "
      "cache (one shard, TTL off, 8-byte keys, a get and on a miss a put), next to the miss ratio "
      "libCacheSim publishes for the same trace and size (`../shared/traces/README.md`: "
      "`cachesim TRACE oracleGeneral POLICY SIZES --ignore-obj-size 1`). "
      f"{len(traces)} traces, {len(keys)} (trace, size) points; sizes are entries, about 1%, 5% and 20% "
      "of each trace's distinct keys. Belady is the offline optimum (the floor).\n")
    w("Regenerate (needs a built CLI and ../shared/traces; the curves take a few minutes):\n")
    w("```sh\nscripts/build.sh release && /usr/bin/python3 scripts/policies-table.py --macho build/release/macho\n```\n")
    w(f"Policies in this build: {', '.join(ours)}.\n")
    w(HOW)

    # summary
    w("## Summary\n")
    exact_fail = [f for f in failures if f[2] in EXACT]
    w("- **Deterministic policies** (LRU, FIFO, ARC, Belady; must match to 0.1 point): "
      + (f"they match libCacheSim at all {len(keys)} points."
         if not exact_fail else
         "MISMATCHES: " + "; ".join(f"{t}@{s} {p} {g:.4f} vs {r:.4f}" for t, s, p, g, r in exact_fail)))
    close_fail = [f for f in failures if f[2] in CLOSE]
    w("- **LFU, SIEVE, S3-FIFO** (0.1 point): "
      + ("all points within 0.1 point." if not close_fail else
         f"{len(keys) * len(CLOSE) - len(close_fail)} of {len(keys) * len(CLOSE)} within 0.1 point; the "
         f"{len(close_fail)} others are S3-FIFO on caches under 20 entries, explained below: "
         + "; ".join(f"{t}@{s} {p} {g:.4f} vs {r:.4f} ({(g - r) * 100:+.2f})" for t, s, p, g, r in close_fail)))
    sa = score("auto", keys) if "auto" in online else None
    w(f"- **The goal** of issue 13 (within {GOAL_SLACK * 100:.1f} point of the best online policy of "
      "libCacheSim's figures *and* of macho's own policies at every point, and never more than 0.5 point "
      "worse than LRU): no fixed policy comes near it; "
      + (f"`auto` meets it at **{sa['within']} of {len(keys)}** points (mean {sa['mean']:+.2f} points from "
         f"the best, worst {sa['worst']:+.2f}); the best fixed policy, "
         f"`{max(fixed, key=lambda p: score(p, keys)['within'])}`, at "
         f"{max(score(p, keys)['within'] for p in fixed)}. "
         "Where `auto` misses and why: [below](#auto-where-it-misses-the-goal-and-why)." if sa else "") + "\n")

    # scoreboard
    w("## Scoreboard\n")
    w("Over all points, and separately over the 12 LIRS traces (synthetic and 20-year-old program "
      "traces: 39 points) and the 8 others (block I/O, web, memory addresses, a database, an "
      "ORM: 21 points). *Goal met* = within 0.5 point of the best (above) and of LRU; *best* = the "
      "lowest miss ratio among macho's fixed policies (ties counted for each); *worse than LRU* = "
      "more than 0.5 point above it.\n")
    groups = [("all points", keys), ("LIRS traces", [k for k in keys if is_lirs(k[0])]),
              ("other traces", [k for k in keys if not is_lirs(k[0])])]
    w("| policy | mean miss ratio | gap to Belady | goal met (all / LIRS / others) | mean from best | worst from best | worse than LRU | best of fixed |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in ours:
        if p == "belady":
            w(f"| belady | {score('belady', keys)['mr']:.4f} | 0.00 | – | – | – | – | – |")
            continue
        s = [score(p, g[1]) for g in groups]
        w(f"| {p} | {s[0]['mr']:.4f} | {s[0]['gap']:.2f} | {s[0]['within']} / {s[1]['within']} / {s[2]['within']} "
          f"| {s[0]['mean']:+.2f} | {s[0]['worst']:+.2f} | {s[0]['over_lru']} | "
          f"{s[0]['best'] if p != 'auto' else '–'} |")
    w("")
    w(PICKING)
    w(AUTO_METHOD)

    # where auto misses
    if sa:
        w("### auto: where it misses the goal, and why\n")
        w("Every point where `auto` is more than 0.5 point above the best (or above LRU), worst first:\n")
        w("| point | auto | best (policy) | auto − best | LRU | why |")
        w("|---|---:|---:|---:|---:|---|")
        rows = [k for k in keys if misses_goal(k, "auto")]
        rows.sort(key=lambda k: target(k) - results[k]["auto"])
        for k in rows:
            r = ref_of[k]
            cands = {f"{p} (ref)": r["ref"][p] for p in ONLINE_REF}
            cands.update({p: results[k][p] for p in fixed})
            bp = min(cands, key=cands.get)
            w(f"| {k[0]}@{k[1]} | {results[k]['auto']:.4f} | {cands[bp]:.4f} ({bp}) | "
              f"{(results[k]['auto'] - cands[bp]) * 100:+.2f} | {results[k]['lru']:.4f} | {WHY.get(k, WHY.get(k[0], WHY_DEFAULT))} |")
        w("")

    # tables
    w("## Miss ratios: ours / libCacheSim (difference in points)\n")
    w("Each cell is `ours / published (ours − published, in percentage points)`; lower is better. "
      "`random`, `mfu` and `auto` have no published figure.\n")
    for t in traces:
        rows = [r for r in refs if r["trace"] == t]
        w(f"### {t}\n")
        w(f"{rows[0]['requests']:,} requests, {rows[0]['distinct']:,} distinct keys. "
          f"Curve: [docs/img/mrc_{t}.svg](img/mrc_{t}.svg)\n")
        w("| size | " + " | ".join(ours) + " |")
        w("|---:|" + "---:|" * len(ours))
        for r in rows:
            got = results[(t, r["size"])]
            cells = [fmt_cell(got.get(p), r["ref"].get(p)) for p in ours]
            w(f"| {r['size']} | " + " | ".join(cells) + " |")
        w("")
        w(f"![miss-ratio curve of {t}](img/mrc_{t}.svg)\n")

    w("## Differences from libCacheSim\n")
    for p in [q for q in REF_POLICIES if q in ours]:
        diffs = []
        for r in refs:
            got = results[(r["trace"], r["size"])][p]
            if abs(got - r["ref"][p]) > 0.001 + 1e-9:
                diffs.append(f"{r['trace']}@{r['size']} {got:.4f} vs {r['ref'][p]:.4f} ({(got - r['ref'][p]) * 100:+.2f})")
        same = len(refs) - len(diffs)
        w(f"- **{p}**: {same} of {len(refs)} points within 0.1 point"
          + (("; differs at " + ", ".join(diffs) + ".") if diffs else "."))
    w("")
    w(EXPLANATIONS)
    w(MRC)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")
    print(f"policies-table: wrote {a.out}; mismatches: {len(failures)}", file=sys.stderr)


HOW = """## How `macho sim` measures

- **The real cache.** Each (policy, size) is a `macho_open`ed cache with `capacity_entries` =
  size, one shard, TTL off, metrics off, bytes mode; each request is a `macho_get` of its 8-byte
  key, and on a miss a `macho_put` of a 1-byte value. The miss ratio is misses / requests. No
  policy code is duplicated in the simulator.
- **Belady** (`tools/macho/belady.c`) is simulator-only: on a miss with a full cache it evicts the
  entry whose next request is farthest (an indexed max-heap, O(log n) per request).
- **Streaming.** The trace is read once for all caches together, in batches, and never held
  whole; `--jobs N` spreads the caches over N threads, each cache always on the same thread (so
  buffered hits reach its policy in order and the figures do not depend on N).
- **Same sequence, same figures.** The five formats of the CloudPhysics trace give identical
  results (checked by `tests/test_sim.c`); the CloudPhysics rows below come from the
  oracleGeneral file, the LIRS rows from the gzip `lirs` files, the others from `txt.zst`.
"""

PICKING = """## Which policy to pick when

Read from all 60 points, not from the LIRS traces alone. The LIRS traces (39 points) are what
W-TinyLFU was tuned on and where it is far ahead (frequency-skewed programs with scans: lirs_multi*,
lirs_ps, lirs_gli, lirs_cs); on the 21 points of block, web, memory, database and ORM traces it
meets the goal at only a few points, is worse than LRU at several, and S3-FIFO and ARC are the
policies to beat, which is what issue 13 found on traces we do not have.

- **`auto`: the default when you do not know the workload and can spare the memory.** It meets the
  goal at the most points by far, on both families, and never trails the best by more than a
  few points (the misses are listed above, with their cause). It costs memory and time per
  request (see "auto: method" below): on a cache of up to 4096 entries per shard four
  full-size simulated caches; above, a fixed ~2048-entry sample per candidate.
- **`s3fifo`: the best fixed policy for real workloads** (block I/O, web, databases, ORM): within
  0.5 point of the best at most of the non-LIRS points, and the lowest mean there; a hit only
  bumps a 2-bit counter. Avoid it on loops just larger than the cache (lirs_zigzag, lirs_backf:
  15-17 points worse than LRU) and on small caches of scan-heavy programs.
- **`arc`: the safe choice.** Close to S3-FIFO on real traces and the only adaptive policy here
  that is never more than 0.5 point worse than LRU on those; it adapts between recency and
  frequency without tuning, at the price of an LRU list move on every hit and a ghost of c hashes.
- **`wtinylfu`: frequency-skewed workloads with scans** (the LIRS programs, lirs_2_pools): the
  lowest mean miss ratio of the fixed policies over all 60 points because it wins those by large
  margins, but not a default: it trails LRU by up to 10 points on traces where recency is what matters (corda, lirs_backf,
  lirs_zigzag, cloudPhysicsIO at 20%).
- **`lru`: loops and short reuse distances** (lirs_zigzag, lirs_backf, corda: it meets Belady
  there; lirs_sprite at 20%), and the baseline every other policy is judged against.
- **`sieve`: the simplest upgrade over LRU/FIFO** (one FIFO and a visited bit), good on skewed
  workloads, no scan resistance.
- **`lfu`**: stable popularity only (it never forgets: 27 points worse than the best on average
  outside LIRS); **`fifo`, `random`**: baselines; **`mfu`**: almost never.
- **`belady` exists only in `macho sim`**: the floor no online policy can beat.
"""

AUTO_METHOD = """## auto: method, cost, reaction time, and how it was chosen

**Method** (`src/policy/auto.c`, after Waldspurger et al., "Cache Modeling and Optimization using
Miniature Simulations", USENIX ATC'17, and SHARDS, FAST'15). Beside the live cache, `auto`
simulates each candidate (W-TinyLFU, S3-FIFO, LRU, ARC) on a small cache of key hashes that runs
the real policy code (`src/minisim.c`), counts each candidate's misses, and makes the live cache
behave like the one that has been missing least:

- *Mirror mode* (shards of up to 4096 entries): every candidate is simulated at full size on every
  request, so each simulation holds exactly what that policy would hold. The live cache has no
  policy of its own: it mirrors the leader's simulation. An entry is kept while the leader
  holds its key and becomes *stale* when the leader evicts it; evictions take the oldest stale
  entry. After a change of leader the live cache differs from the new leader only by entries
  the old leader kept (stale now, evicted first) and entries the new one kept and the live cache
  never had (fetched on their next miss): following costs at most one miss per entry.
- *Sampled mode* (larger shards): the candidates run on ~2048-entry minisims fed a spatially
  hashed sample of the keys (rate 2048/C, at least 0.1%); the live cache runs the leading policy
  itself, and a change of leader is a real switch: the old policy is drained through its
  victim() order and the new one rebuilt from the live entries, oldest first (by last access,
  by insertion for S3-FIFO), with up to 3 hits of each entry replayed. O(entries) once per
  switch, at most one switch per capacity of requests: O(1) amortised.
- *When to follow*: misses are counted over epochs of 2 capacities of (sampled) requests, every
  count multiplied by 0.9 after each epoch (recent epochs weigh most); a candidate takes the lead
  when it beats the current one by a paired sign test (McNemar: among requests where exactly one
  of the two missed, its advantage exceeds 2 standard deviations), by at least 0.5% of the
  requests, and the last change is a capacity of requests old.

**Cost.** Memory: mirror mode keeps four simulated caches of the shard's capacity (each entry a
24-byte slot, an 8-byte hash, index and free list, 4 bytes of live-slot link, and the policy's own
structures: W-TinyLFU's sketch, S3-FIFO's and ARC's ghosts) plus 13 bytes per live slot: about
300 bytes per entry of capacity over LRU's, so a shard of 4096 entries pays ~1.2 MB. Sampled
mode keeps four ~2048-entry simulations per shard (~1.3 MB) plus the live policy and 9 bytes
per slot: +64 B per entry at 20,000 entries, +20 B at 100,000 (docs/BENCHMARKS.md).
CPU: every request is replayed in four simulations in mirror mode, a fraction 2048/C of them in
sampled mode; hits go through the read buffer (every hit is a policy event) and recompute the
key's hash. docs/BENCHMARKS.md has the measured throughput against the best fixed policy.

**Reaction time.** After a shift, the new winner must outweigh the decayed record of the old one.
With the advantage of the new winner as large as the old one's, that takes log(1/2)/log(0.9) = 6.6
epochs, about 13 capacities of requests; a much larger advantage wins sooner. Measured
(`tests/test_policy_auto.c`, `tests/test_sim_auto.c`): from a hot set with scans to a zigzag loop, the
switch to LRU/ARC came after 2.0 capacities of requests in mirror mode (500 entries), 3.1 in
sampled mode (20,000 entries) and 3.3 with 4 shards; lirs_cs followed by lirs_zigzag (300 entries)
switched from W-TinyLFU to LRU 15.4 capacities after the boundary. The tests hold it to 20.

**How the tunables were chosen, and the guard against tuning to these traces.** The research
harness `bench/policy_lab` replays all 60 points through minisims of `auto` (bit-identical to
`macho sim`) in seconds. Designs were compared on all 60 points, never on a subset: plain
switching the live policy without state transfer (26 points over the goal), switching with
replayed history (11-13, depending on the rule), a weighted vote of all candidates on each
eviction (14-16: it dilutes W-TinyLFU's wins), mirror mode with sampled mode above 4096 entries
(11).
The final rule was picked from a grid of 18 settings (decay 0.75/0.9/0.95, z 2/3, epoch 1/2/4
capacities) with **leave-one-trace-out** validation: for each of the 20 traces, the setting that
does best on the other 19 is scored on the held-out one
(`bench/policy_lab/sweep.py`). The objective is flat: the 8 best settings miss the goal at 11-13
points. Held out, the rule misses the goal at 12 points with a summed excess above the best of
28.3 points, against 11 points and 26.5 in-sample; the same setting wins for 19 of the 20
held-out traces: the choice does not hinge on any one trace. Decay stays below 1 so that the reaction time stays bounded on long-running caches, even
though never forgetting scored slightly better on these short traces.
"""

WHY_DEFAULT = "a phase where another candidate leads, followed late or at a cost"
WHY = {
    ("cloudPhysicsIO", 2448): "phases: W-TinyLFU and S3-FIFO alternate as best every ~10k requests; even mirroring, "
                              "a change of leader lags a change of phase by about an epoch (2 capacities)",
    "cloudPhysicsIO": "phases: W-TinyLFU and S3-FIFO alternate as best every ~10k requests (window miss ratios "
                      "0.30 vs 0.52, then 0.84 vs 0.57); sampled mode must switch the live policy and follows late",
    "lirs_scan": "no macho policy gets there: libCacheSim's W-TinyLFU (no aging) pins part of the loop; "
                 "macho's ages its sketch every 10 capacities, shorter than the 2,000-key loop",
    "lirs_multi2": "libCacheSim's W-TinyLFU is the best here; macho's own is 1 point behind it",
    "lirs_backf": "LRU is 10 points ahead from request ~500; auto starts on W-TinyLFU and needs ~2 epochs "
                  "of evidence, 1,000-1,800 requests of a 9,000-request trace",
    "lirs_zigzag": "LRU and ARC tie and trade places early; following costs up to a cache of misses on a loop",
    "lirs_multi1": "ARC leads in the first 2,000 requests, W-TinyLFU after; the early follow costs",
    "lirs_ps": "an early lead of LRU/ARC followed, then W-TinyLFU's lead followed back",
    "cache2k_orm-night": "sampled mode (4,323 entries): S3-FIFO's lead is small and a real switch costs",
    "adapt_size_request": "sampled mode: ARC leads by under a point; following late",
}

EXPLANATIONS = """## Why the remaining differences from libCacheSim

**LRU, FIFO, Belady, ARC** are deterministic given the request sequence, so any difference would be
a bug. Belady here is the classic MIN with demand admission (every missed object is cached; the
victim is the cached object whose next request is farthest), the variant libCacheSim implements.
**ARC** (`src/policy/arc.c`) follows libCacheSim's ARC.c where the paper leaves choices open: p is
a real number, a ghost hit is consumed (p adapted, ghost dropped) when the miss is seen, before
the evictions; the eviction after a ghost hit is a plain REPLACE, otherwise the paper's case IV;
REPLACE takes T1's LRU when T2 is empty. `tests/test_sim_arc.c` checks all 60 points, and miss for
miss against a naive ARC (`tests/arc_ref.h`) on the bundled traces.

**LFU** (`src/policy/lfu.c`) uses libCacheSim's rule: evict the least recently used entry of the
lowest frequency, frequencies forgotten on eviction, no aging; so it matches.

**SIEVE** (`src/policy/sieve.c`) follows the NSDI'24 paper and libCacheSim's implementation (one
FIFO, a visited bit, a hand that walks towards the head and wraps): it matches.

**S3-FIFO** (`src/policy/s3fifo.c`) follows the paper with libCacheSim's default parameters (small
queue 10%, ghost of 90% of capacity, promotion after 2 hits, main a 2-bit CLOCK) and its original
`S3FIFOv0.c` admission (new entries always enter the small queue). The one deliberate difference
is on tiny caches: with fewer than 20 entries, libCacheSim's small queue of floor(10%) = 1 entry
makes it refuse every object (hence its 1.0000 on lirs_cpp@12, lirs_cs@14, lirs_backf@7); macho
caches what it is given, so its figures there are lower.

**W-TinyLFU** (`src/policy/wtinylfu.c`) is modelled on Caffeine, not on libCacheSim's simpler
version, so differences are expected both ways: (1) libCacheSim's window is 1% of capacity and
empty below 100 entries, which makes it cache nothing at the smallest size of most LIRS traces
(1.0000); macho's window holds at least one entry. (2) macho adapts the window by hill climbing
(Caffeine's climber) while libCacheSim keeps 1%; on traces shorter than a few sample periods the
climber has too few samples to settle. (3) Admission ties, the 1/128 random admission of a
frequent loser and sketch aging every 10 x capacity increments follow Caffeine.
"""

MRC = """## The live miss-ratio curve

`config.mrc = 1` keeps, for the live cache, the miss ratio it would have at 0.25, 0.5, 1, 2, 4
and 8 times its size (`macho_mrc_get`, `macho_stats.mrc`, `/api/stats`, `/metrics`, the
dashboard's chart, `macho stats`, Python `cache.mrc()`). It is the same machinery as `auto`'s:
six minisims of the cache's own policy fed a spatially hashed sample of the gets (SHARDS), the
whole cache simulating about 3072 entries at 1x (split over the shards; caches of up to 3072
entries are simulated exactly). The estimate divides each simulation's sampled misses by the
number of sampled gets *expected* at the sample rate, not the number seen (SHARDS's adjustment):
a popular key that happens to be sampled adds hits, not misses, and this cancels most of its
effect. On the shared traces it cut LRU's mean error from 0.41 to 0.09 points and its worst
from 8.0 to 2.7 (1024-entry sample).

**Accuracy** (`tests/test_sim_mrc.c`: each shared trace replayed through a real cache with the
curve on, at each of the 60 points, against `macho sim` at each multiple's size, for LRU, S3-FIFO
and ARC): all 1,080 estimates within 2 points, mean error 0.02 points, worst 1.8. The sample size
is a trade of memory for accuracy (`bench/policy_lab --mrc --mrc-base N`, worst error over the 360
(point, multiple) pairs): 512 entries: 11 pairs over 2 points for LRU; 1024: 2 (2.7 worst); 2048:
1 (2.1, ARC 4.3 on cloudPhysicsIO@9794 at 4x); 3072: none (1.4 worst); 4096: 1 (2.6) — beyond
~2000 the error is the noise of which few thousand keys land in the sample, not a bias. W-TinyLFU's
curve is less stable (its random admission and climber make nearby sizes differ by up to 4 points
on loops); it is not in the accuracy test.

**Cost**: at most ~16 x 3072 simulated entries per cache (about 3 MB for LRU or S3-FIFO), and with the
curve on, gets take the shard lock (the simulations are updated under it) and a sampled get costs
six simulated requests. Only gets feed it: deletes and expiry do not reach the simulations.
"""

if __name__ == "__main__":
    main()
