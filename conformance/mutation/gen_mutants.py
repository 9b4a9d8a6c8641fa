#!/usr/bin/env python3
"""gen_mutants.py — plants small faults into a plugin source, all in one file selected at run time by PRISM_MUTANT.

Usage: gen_mutants.py SOURCE.c OUT.c OUT.json [--functions f1,f2,...] [--async-functions g1,...] [--prefix NAME]

Note [Mutant schemata]
----------------------
Every mutation site becomes a run-time choice, so the mutated plugin is
compiled once: a right-hand side `x = e;` becomes
`x = (prism_mut(3) ? (e') : prism_mut(4) ? (e'') : (e));`, a loop or `if`
condition the same way, and a statement that can be left out (a copy, a
wait, a store) becomes `if (!prism_mut(7)) stmt;`. prism_mut(id) compares
id with the PRISM_MUTANT environment variable read once; with it unset the
plugin is the original. The mutation operators are the bug classes real
kernels have: arithmetic operator swaps, relational swaps and off-by-one
loop bounds, a dropped stride or offset term, a wrong constant, truncation
instead of round-to-nearest-even, a skipped wait (synchronisation) or
store. OUT.json lists every mutant: id, function, line, original and
mutated text, and whether the plugin's asynchronous mode must be on for
the site to run.
"""
import json
import re
import sys

ARITH_SWAPS = [(" + ", " - "), (" - ", " + "), (" * ", " + "), (" / ", " * ")]
REL_SWAPS = [(" < ", " <= "), (" <= ", " < "), (" > ", " >= "), (" >= ", " > "), (" == ", " != "),
             (" != ", " == ")]
FUNC_SWAPS = [("prism_sdk_f32_to_bf16(", "prism_mut_f32_to_bf16_trunc("),
              ("prism_sdk_f32_to_f16(", "prism_mut_f32_to_f16_trunc(")]
DROP_TERMS = [
    (re.compile(r"\s*\*\s*d->strides\[k\]"), "drop the stride factor"),
    (re.compile(r"d->byte_offset\s*\+\s*"), "drop the byte offset"),
    (re.compile(r"\(i % d->sizes\[k\]\)"), "drop the index wrap", "i"),
    (re.compile(r"\s*\+\s*dst_byte_offset"), "drop the copy offset"),
    (re.compile(r"\s*\+\s*src_byte_offset"), "drop the copy offset"),
]
DELETABLE = re.compile(r"^\s*((emu_drain|emu_wait_idle|memcpy|emu_protect|free|pthread_cond_broadcast)\(|"
                       r"\*\(|acc\[|err = emu_drain|\*tp_at|\*\(float\*\))")

HELPERS = r"""
/* ---- mutant schemata support (gen_mutants.py, Note [Mutant schemata]) ---- */
#include <stdlib.h>
static int prism_mut_active = -2;
static int prism_mut(int id) {
  if (prism_mut_active == -2) {
    const char* e = getenv("PRISM_MUTANT");
    prism_mut_active = e != NULL ? atoi(e) : -1;
  }
  return prism_mut_active == id;
}
static uint16_t prism_mut_f32_to_bf16_trunc(float f) { /* truncation, not round-to-nearest-even */
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}
static uint16_t prism_mut_f32_to_f16_trunc(float f) { /* a crude conversion that truncates */
  uint16_t h = prism_sdk_f32_to_f16(f);
  return prism_sdk_f16_to_f32(h) != f && (h & 0x7C00u) != 0x7C00u && (h & 1u) ? (uint16_t)(h - 1u) : h;
}
"""


def function_spans(lines, names):
    """(name, first body line, last line) of every function in `names`."""
    spans = []
    i = 0
    while i < len(lines):
        m = re.match(r"^static [^=;]*?\b(\w+)\(", lines[i])
        if m and m.group(1) in names:
            # a prototype (possibly over several lines) ends with ';' before any '{'
            k = i
            while "{" not in lines[k] and not lines[k].rstrip().endswith(";"):
                k += 1
            if "{" not in lines[k]:
                i = k + 1
                continue
            i = k
            j = i + 1
            while not lines[j].startswith("}"):
                j += 1
            spans.append((m.group(1), i + 1, j))
            i = j
        i += 1
    return spans


def rhs_mutations(rhs):
    """(text, description) alternatives of an expression."""
    out = []
    for a, b in ARITH_SWAPS + REL_SWAPS:
        idx = rhs.find(a)
        if idx >= 0:
            out.append((rhs[:idx] + b + rhs[idx + len(a):], f"'{a.strip()}' -> '{b.strip()}'"))
    for a, b in FUNC_SWAPS:
        if a in rhs:
            out.append((rhs.replace(a, b, 1), "truncate instead of round-to-nearest-even"))
    for item in DROP_TERMS:
        pat, what = item[0], item[1]
        repl = item[2] if len(item) > 2 else ""
        if pat.search(rhs):
            out.append((pat.sub(repl, rhs, count=1), what))
    if rhs.startswith(("emu_drain(", "emu_wait_idle(")):
        out.append(("NULL", "skipped wait for queued work (no synchronisation)"))
    m = re.search(r"(?<![\w.])(0|1|2)(?![\w.x])", rhs)
    if m and not out:
        v = {"0": "1", "1": "0", "2": "1"}[m.group(1)]
        out.append((rhs[:m.start()] + v + rhs[m.end():], f"constant {m.group(1)} -> {v}"))
    return out[:3]


def main():
    src, out_c, out_json = sys.argv[1:4]
    opts = dict(a.split("=", 1) for a in sys.argv[4:] if "=" in a)
    functions = set(opts.get("--functions", "").split(","))
    async_functions = set(opts.get("--async-functions", "").split(","))
    prefix = opts.get("--prefix", "mutant")
    lines = open(src).read().split("\n")
    mutants = []
    next_id = [1]

    def new(fn, ln, orig, mutated, what):
        mid = next_id[0]
        next_id[0] += 1
        mutants.append({"id": mid, "name": f"{prefix}-{mid}", "function": fn, "line": ln + 1,
                        "what": what, "original": orig.strip(), "mutated": mutated.strip(),
                        "async": fn in async_functions})
        return mid

    for fn, first, last in function_spans(lines, functions):
        for ln in range(first, last):
            line = lines[ln]
            stripped = line.strip()
            if stripped.startswith(("/*", "* ", "*/", "//", "#")) or stripped == "*" or not stripped:
                continue
            # for (init; cond; step)
            m = re.match(r"^(\s*for \([^;]*; )([^;]+)(; .*)$", line)
            if m:
                cond = m.group(2)
                alts = []
                for a, b in REL_SWAPS[:4]:
                    if a in cond:
                        alts.append((cond.replace(a, b, 1), f"loop bound '{a.strip()}' -> '{b.strip()}'"))
                        break
                if " < " in cond:
                    alts.append((cond + " - 1", "loop bound one short"))
                if alts:
                    expr = "".join(f"prism_mut({new(fn, ln, cond, t, w)}) ? ({t}) : " for t, w in alts)
                    lines[ln] = f"{m.group(1)}({expr}({cond})){m.group(3)}"
                continue
            # if (cond) ... / while (cond) ...   (single-line condition; a trailing comment is dropped)
            line = re.sub(r"\s*/\*[^*]*\*/\s*$", "", line)
            m = re.match(r"^(\s*(?:\} else )?(?:if|while) \()(.*)(\)(?: \{| return [^;]*;| [^;]*;)?)$", line)
            if m and m.group(2).count("(") == m.group(2).count(")"):
                cond = m.group(2)
                alts = [(f"!({cond})", "negated condition")]
                for a, b in REL_SWAPS:
                    if a in cond:
                        alts.append((cond.replace(a, b, 1), f"'{a.strip()}' -> '{b.strip()}'"))
                        break
                expr = "".join(f"prism_mut({new(fn, ln, cond, t, w)}) ? ({t}) : " for t, w in alts)
                lines[ln] = f"{m.group(1)}{expr}({cond}){m.group(3)}"
                continue
            # statements that can be left out
            if DELETABLE.match(line) and stripped.endswith(";") and not lines[ln + 1].strip().startswith("else"):
                prev = lines[ln - 1].rstrip()
                mid = new(fn, ln, stripped, "(statement removed)", "skipped statement")
                indent = line[: len(line) - len(line.lstrip())]
                lines[ln] = f"{indent}if (!prism_mut({mid})) {stripped}"
                if prev.endswith(")") and re.match(r"^\s*(if|for|while) ", prev):
                    lines[ln] = f"{indent}{{ if (!prism_mut({mid})) {stripped} }}"
                # a deleted store may also have an RHS worth mutating: fall through
                line = lines[ln]
            # x = rhs;   x += rhs;   T x = rhs;   return rhs;
            m = re.match(r"^(.*?[^=!<>+\-*/]\s*(?:=|\+=|\*=|-=)\s|\s*return )(.+);(\s*(?:/\*.*\*/)?\s*\}?)$", line)
            if m and "(" in m.group(0) or (m and any(op in m.group(2) for op, _ in ARITH_SWAPS + REL_SWAPS)):
                lhs, rhs, tail = m.group(1), m.group(2), m.group(3)
                if rhs.count("(") != rhs.count(")") or "{" in rhs or lhs.strip().startswith(("for", "if")):
                    continue
                if re.search(r",\s*\w+\s*=", rhs):  # several declarators on one line
                    continue
                if lhs.strip() == "return" and rhs.strip() in ("NULL", "err", "0", "p", "r"):
                    continue
                alts = rhs_mutations(rhs)
                if not alts:
                    continue
                expr = "".join(f"prism_mut({new(fn, ln, rhs, t, w)}) ? ({t}) : " for t, w in alts)
                lines[ln] = f"{lhs}({expr}({rhs})){tail.rstrip()}" if not tail.strip().endswith("}") else \
                    f"{lhs}({expr}({rhs}));{tail}"
                if not lines[ln].rstrip().endswith((";", "}")):
                    lines[ln] += ";"
    text = "\n".join(lines)
    # helpers after the SDK include
    anchor = text.find("\n", text.find("prism_plugin_sdk.h\""))
    text = text[:anchor + 1] + HELPERS + text[anchor + 1:]
    open(out_c, "w").write(f"/* {out_c.split('/')[-1]} — generated by gen_mutants.py from {src.split('/')[-1]}; "
                           f"do not edit. */\n" + text)
    json.dump({"source": src, "mutants": mutants}, open(out_json, "w"), indent=1)
    print(f"gen_mutants: {len(mutants)} mutants in {len(functions)} functions of {src}")


if __name__ == "__main__":
    main()
