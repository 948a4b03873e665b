"""`make bench`: run every bench/bench_*.py module's `run()` and print its lines.

Figures are ratios against baselines measured in the same run, and request counts; absolute times on
a noisy machine mean little. A module may be named on the command line to run it alone.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
for extra in (ROOT / "layers" / "sms_consent", ROOT / "local", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def main(argv: list[str]) -> int:
    from sms_consent_local import moto_patches

    moto_patches.apply()  # as the local stack and the tests run moto
    names = argv or sorted(path.stem for path in HERE.glob("bench_*.py"))
    failed = 0
    for name in names:
        module_name = name if name.startswith("bench_") else f"bench_{name}"
        print(f"== {module_name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{module_name}")
            for line in module.run():
                print(f"   {line}", flush=True)
        except Exception:
            failed += 1
            traceback.print_exc()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
