#!/usr/bin/env python3
"""Compares two recordings of the test suite's responses
(PRICKLE_RECORD_RESPONSES=<dir> cargo test --test api): what clients saw
before and after a change. Values that differ on every run (UUIDs, times,
keys, tokens, signatures) are normalised; everything else must match.

usage: compare_responses.py BEFORE_DIR AFTER_DIR
"""
import difflib, json, os, re, sys

PATTERNS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"phx_[A-Za-z0-9]+"), "<key>"),
    (re.compile(r"token=[A-Za-z0-9_\-]+"), "token=<token>"),
    (re.compile(r"phs_[A-Za-z0-9]+"), "<secret>"),
    (re.compile(r"phc_[A-Za-z0-9]+"), "<token>"),
    # Random ids and secrets (personal API key ids, widget tokens, ...).
    (re.compile(r"\b[A-Za-z0-9_\-]{32,}\b"), "<random>"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), "<jwt>"),
]
# Fields whose values are random on every run.
RANDOM = {"distinct_id", "api_token", "live_events_token", "secret_api_token",
          "secret_api_token_backup", "value", "mask_value", "client_id", "slug"}


def norm(v):
    if isinstance(v, str):
        for p, r in PATTERNS:
            v = p.sub(r, v)
        return v
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: ("<random>" if k in RANDOM and isinstance(x, str) else norm(x))
                for k, x in v.items()}
    return v


def load(d):
    out = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".jsonl"):
            continue
        rows = []
        with open(os.path.join(d, f)) as fh:
            for line in fh:
                try:
                    rows.append(norm(json.loads(line)))
                except ValueError:
                    # Tasks of a multi-threaded test may interleave their lines.
                    rows.append({"method": "?", "path": "?", "status": 0, "body": "<unreadable>"})
        out[f[:-6]] = rows
    return out


def main():
    before, after = load(sys.argv[1]), load(sys.argv[2])
    diffs = 0
    for test in sorted(set(before) | set(after)):
        a, b = before.get(test), after.get(test)
        if a is None or b is None:
            print(f"{test}: only {'after' if a is None else 'before'}")
            diffs += 1
            continue
        key = lambda r: json.dumps(r, sort_keys=True)
        if a != b and sorted(map(key, a)) == sorted(map(key, b)):
            # Racing requests (concurrency tests) answer in any order.
            print(f"{test}: the same responses in another order")
            continue
        # Aligned, so a request added or removed shifts nothing after it.
        ka, kb = [key(r) for r in a], [key(r) for r in b]
        ops = difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                continue
            diffs += max(i2 - i1, j2 - j1)
            for i in range(i1, i2):
                x = a[i]
                print(f"{test} #{i} {tag} before: {x['method']} {x['path']}")
                print(f"  before: {x['status']} {json.dumps(x['body'])[:400]}")
            for j in range(j1, j2):
                y = b[j]
                print(f"{test} #{j} {tag} after: {y['method']} {y['path']}")
                print(f"  after:  {y['status']} {json.dumps(y['body'])[:400]}")
    total = sum(len(v) for v in before.values())
    print(f"{len(before)} tests, {total} responses before; {diffs} differences")


if __name__ == "__main__":
    main()
