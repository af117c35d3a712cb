"""``python -m bench``: the benchmark suite's entry point.

The side-by-side suite (omicsd vs bare miniwdl and cwltool, batch submission, control-plane throughput, cached
reruns, memory) is specified in bench/README.md; until it lands this entry point lists what exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """List the benchmarks in this folder."""
    scripts = sorted(p.name for p in HERE.glob("*.py") if not p.name.startswith("_"))
    print("omicsd benchmarks")
    print("  planned suite: see bench/README.md (not implemented yet)")
    for name in scripts:
        print(f"  available: bench/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
