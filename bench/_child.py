"""Run one side of a benchmark in its own process (so memory peaks do not mix) and read back
the ``RESULT {json}`` line it prints."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(script: str, args: list[str], env: dict[str, str], label: str) -> dict:
    out = subprocess.run([sys.executable, script, *args], env=env, capture_output=True, text=True, check=False)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        sys.exit(f"{label} failed:\n{out.stderr[-3000:]}")
    res = json.loads(line[-1][7:])
    if "losses" in res:
        res["losses"] = {int(k): v for k, v in res["losses"].items()}
    return res
