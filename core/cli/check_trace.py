"""check_trace.py — the cli.profile test's check: the file parses as a Chrome trace and prints its op names."""
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
names = [e["name"] for e in doc["traceEvents"] if e["ph"] == "X"]
assert all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 for e in doc["traceEvents"] if e["ph"] == "X")
print("trace ops", len(names), "mul" in names)
