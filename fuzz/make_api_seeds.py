#!/usr/bin/env python3
"""make_api_seeds.py -- write the seed corpus of fuzz_api (fuzz/corpus/api/).

One seed per policy x filter x key mode, plus shard counts, byte budgets,
TTLs, metrics levels and clock starts spread over them, so that the corpus
reaches every policy and filter in both model strengths (exact: 1 shard and a
deterministic policy; invariant: the rest). The operations are drawn from a
seeded generator with the op weights of fuzz_api.c's OPS table (parsed from
the source, so the byte -> operation mapping stays right when ops change).
The input format (fuzz_api.c, setup()): 8 configuration bytes, one budget
byte when the budget bit is set, then one opcode byte per operation followed
by its argument bytes.

    fuzz/make_api_seeds.py [OUTDIR]     (default fuzz/corpus/api)
"""
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "fuzz_api.c")).read()
TABLE = SRC[SRC.index("static const op_def OPS[] = {"):]
OPS = re.findall(r'\{"(\w+)", (\d+), op_\w+\}', TABLE[:TABLE.index("};")])
assert OPS, "no OPS table found in fuzz_api.c"

# build_op_table() of fuzz_api.c: 256 opcode bytes shared by weight.
total = sum(int(w) for _, w in OPS)
table = []
for i, (_, w) in enumerate(OPS):
    n = max(1, (int(w) * 256 + total // 2) // total)
    table += [i] * n
table = (table + [0] * 256)[:256]
opcode = {name: table.index(i) for i, (name, _) in enumerate(OPS)}
weights = [int(w) for _, w in OPS]
names = [n for n, _ in OPS]

# Argument bytes each operation reads after its opcode.
ARGS = {"put": 2, "put_ttl": 3, "get": 2, "contains": 2, "delete": 2, "clear": 0,
        "advance": 1, "expire": 0, "foreach_key": 1, "len": 0, "counters": 0,
        "stats": 1, "stats_reset": 0, "fail_alloc": 1, "bad_args": 1}
assert set(ARGS) == set(names), "update ARGS for the ops of fuzz_api.c"


def config(policy, filt, objects, shard_code, budget, ttl, metrics, cap, keys, clock, fp=0,
           lazy=False, reenter=False, weak=False, observe=False):
    b0 = policy | (0x40 if lazy else 0) | (0x80 if reenter else 0)
    b1 = filt | (fp << 2) | (0x40 if observe else 0)
    b2 = (objects | (shard_code << 1) | (8 if budget else 0) | (16 if ttl else 0) | (metrics << 5)
          | (0x80 if weak else 0))
    b5 = clock | ((ttl or 0) << 3)
    out = [b0, b1, b2, cap, keys, b5, 0x12, 0x34]
    if budget and not objects:
        out.append(budget)
    return out


def ops(rng, n, universe, heavy=None):
    out = []
    for _ in range(n):
        name = rng.choices(names, weights)[0]
        if heavy and rng.random() < 0.5:
            name = rng.choice(heavy)
        out.append(opcode[name])
        for _ in range(ARGS[name]):
            out.append(rng.randrange(256))
        if name in ("put", "put_ttl", "get", "contains", "delete"):
            out[-ARGS[name]] = rng.randrange(universe)  # the key byte
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "api")
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20240610)
    policies = ["lru", "fifo", "random", "lfu", "mfu", "sieve", "s3fifo", "wtinylfu"]
    filters = ["none", "bloom", "cuckoo", "xor"]
    n = 0
    for p, pname in enumerate(policies):
        for f, fname in enumerate(filters):
            for objects in (0, 1):
                shard_code = 0 if (p + f) % 2 == 0 else rng.randrange(4)
                cap = rng.choice([3, 7, 12, 140, 200])  # <128: 1 + b % 16 entries; >=128: 16 + 3 (b - 128)
                keys = rng.randrange(256)
                budget = 0 if objects or rng.random() < 0.6 else rng.randrange(1, 256)
                ttl = rng.choice([0, 0, 1, 5, 30])
                cfg = config(p, f, objects, shard_code, budget, ttl, rng.randrange(3), cap, keys,
                             rng.randrange(8), fp=rng.randrange(16), lazy=rng.random() < 0.2,
                             reenter=objects and rng.random() < 0.5, weak=objects and rng.random() < 0.5,
                             observe=rng.random() < 0.5)
                universe = min(2 + keys % 254, 2 * (cap + 1) + 8)
                body = ops(rng, rng.randrange(30, 160), max(universe, 2))
                name = f"{pname}-{fname}-{'obj' if objects else 'bytes'}"
                with open(os.path.join(outdir, name), "wb") as fh:
                    fh.write(bytes(cfg + body))
                n += 1
    # Runs that fill a cache and churn it (exact model), one per deterministic policy. Seeds stay
    # short (fast executions); the fuzzer lengthens inputs where that finds something new.
    for p in (0, 1, 3, 4, 5, 6):
        cfg = config(p, rng.randrange(4), 0, 0, 0, 0, 1, 140, 120, 0)  # 52 entries, 114 keys
        body = ops(rng, 300, 114, heavy=["put", "get", "delete"])
        with open(os.path.join(outdir, f"{policies[p]}-fill"), "wb") as fh:
            fh.write(bytes(cfg + body))
        n += 1
    print(f"{n} seeds in {outdir}")


if __name__ == "__main__":
    main()
