"""`python -m prism info`: the version, the plugin load report and the devices."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    import prism

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("info",):
        print("usage: python -m prism info", file=sys.stderr)
        return 2
    print(f"prism {prism.__version__} (plugin ABI {'.'.join(map(str, prism._C.plugin_abi_version()))})")
    print(f"library: {prism._C.__file__}")
    print("\nplugins:")
    for r in prism.load_report():
        state = "loaded" if r["loaded"] else "not loaded"
        name = r["plugin"] or "-"
        reason = f" ({r['reason']})" if r["reason"] else ""
        print(f"  {name:<8} {state:<10} devices={r['device_count']} abi={r['abi'][0]}.{r['abi'][1]}  {r['path']}{reason}")
    print("\ndevices:")
    for d in prism._C.device_infos():
        mem = f"{d['total_memory'] / 2**30:.1f} GiB" if d["total_memory"] else "unknown memory"
        print(f"  {d['device']:<10} {d['name']} ({d['vendor']}, plugin {d['plugin']}, {mem})")
    print(f"\nfallback policy: {prism.get_fallback_policy()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
