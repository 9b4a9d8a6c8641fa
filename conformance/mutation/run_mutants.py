#!/usr/bin/env python3
"""run_mutants.py — runs prism-conformance once per planted mutant (Note [Mutant schemata]) and scores the kills.

Usage: run_mutants.py --runner PRISM_CONFORMANCE --set PLUGIN.so:MUTANTS.json [--set ...]
                      [--equivalents FILE] [--min-score 0.95] [--min-mutants 60] [--jobs N]
                      [--report FILE.json] [--only ID,...]

A mutant is killed when prism-conformance exits non-zero on the plugin with
PRISM_MUTANT=<id> (a failing case, a crash or hang caught by the suite's
guard, or a run killed after its time limit); it survives when the suite
passes. The suite runs `abi,rng,ops` on the quick tier and stops at the
first failure (--stop-on-failure), so a killed mutant costs little. Mutants
whose site only runs on the emulated device's asynchronous queue run with
PRISM_EMU_ASYNC=1; other emu mutants that survive run again with it. Mutants listed in the equivalents file (one per line:
`<function> | <what> | <original text> | <reason>`) are left out of the
score: they cannot change any result (each line says why). The run fails
when fewer than --min-mutants non-equivalent mutants exist or the score is
below --min-score; survivors are listed either way.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time


def load_equivalents(path):
    eq = {}
    if not path:
        return eq
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]  # the original text may hold "||"
        if len(parts) >= 4:
            eq[(parts[0], parts[1], parts[2])] = parts[3]
    return eq


def run_suite(runner, plugin, m, timeout, asynchronous):
    env = dict(os.environ)
    env["PRISM_MUTANT"] = str(m["id"])
    env["PRISM_FALLBACK"] = "allow"
    if asynchronous:
        env["PRISM_EMU_ASYNC"] = "1"
        env["PRISM_EMU_ASYNC_DELAY_US"] = "20"
    cmd = [runner, "--plugin", plugin, "--mode", "abi,rng,ops", "--quick", "--stop-on-failure", "--quiet",
           "--timeout", "3"]
    try:
        return subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "timeout"


def run_one(runner, plugin, m, timeout):
    # a site of the emulated device's queue runs only in its asynchronous
    # mode; any other emu mutant that survives the synchronous device gets
    # a second run on the asynchronous one (its copy paths differ)
    t0 = time.time()
    rc = run_suite(runner, plugin, m, timeout, m.get("async", False))
    if rc == 0 and not m.get("async") and m["name"].startswith("emu-"):
        rc = run_suite(runner, plugin, m, timeout, True)
    return m, rc, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--set", action="append", required=True)
    ap.add_argument("--equivalents")
    ap.add_argument("--min-score", type=float, default=0.95)
    ap.add_argument("--min-mutants", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--report")
    ap.add_argument("--only")
    a = ap.parse_args()
    eq = load_equivalents(a.equivalents)
    only = set(a.only.split(",")) if a.only else None
    todo, equivalents = [], []
    for s in a.set:
        plugin, spec = s.rsplit(":", 1)
        for m in json.load(open(spec))["mutants"]:
            if only and m["name"] not in only:
                continue
            key = (m["function"], m["what"], m["original"])
            if key in eq:
                equivalents.append((m, eq[key]))
            else:
                todo.append((plugin, m))
    t0 = time.time()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(run_one, a.runner, plugin, m, a.timeout) for plugin, m in todo]
        for f in concurrent.futures.as_completed(futs):
            results.append(f.result())
    results.sort(key=lambda r: r[0]["name"])
    killed = [r for r in results if r[1] != 0]
    survivors = [r for r in results if r[1] == 0]
    n = len(results)
    score = len(killed) / n if n else 0.0
    print(f"mutation testing: {len(killed)} of {n} non-equivalent mutants killed, score {score:.1%} "
          f"(target >= {a.min_score:.0%} of >= {a.min_mutants}); {len(equivalents)} equivalent; "
          f"{time.time() - t0:.0f} s")
    for m, why in equivalents:
        print(f"  equivalent {m['name']} {m['function']}:{m['line']} {m['what']}: {m['original']} -- {why}")
    for m, rc, dt in survivors:
        print(f"  SURVIVED {m['name']} {m['function']}:{m['line']} {m['what']}: {m['original']} -> {m['mutated']}")
    if a.report:
        json.dump({"killed": len(killed), "total": n, "score": score, "equivalent": len(equivalents),
                   "mutants": [{"name": m["name"], "function": m["function"], "line": m["line"],
                                "what": m["what"], "original": m["original"], "mutated": m["mutated"],
                                "exit": rc, "seconds": round(dt, 2)} for m, rc, dt in results],
                   "equivalents": [{"name": m["name"], "reason": why} for m, why in equivalents]},
                  open(a.report, "w"), indent=1)
    ok = n >= a.min_mutants and score >= a.min_score
    print("result:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
