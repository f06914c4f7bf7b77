"""How fast the page comes up: `python app.py` to its first HTTP 200, against `import gradio`.

    .venv/bin/python bench/startup.py [--repeat 5]

Both are measured in this run, alternately, as the wall time of a fresh interpreter; the
medians and their ratio are printed (goal: ratio <= 1.5). The app runs offline in an empty
temporary ModelForge home.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_import_gradio(env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - t0


def time_app(env: dict, timeout: float = 120.0) -> float:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode}")
            time.sleep(0.02)
        raise TimeoutError("app.py did not answer")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="forge-bench-startup-")
    env = {**os.environ, "MODELFORGE_HOME": home, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("MODELFORGE_AUTH", None)
    time_import_gradio(env)  # warm the file cache for both
    gradio_s, app_s = [], []
    for _ in range(args.repeat):
        gradio_s.append(time_import_gradio(env))
        app_s.append(time_app(env))
    g, a = statistics.median(gradio_s), statistics.median(app_s)
    print(f"import gradio          median {g:.2f} s  ({', '.join(f'{x:.2f}' for x in gradio_s)})")
    print(f"app.py to first 200    median {a:.2f} s  ({', '.join(f'{x:.2f}' for x in app_s)})")
    print(f"ratio                  {a / g:.2f}  (goal <= 1.5)")


if __name__ == "__main__":
    main()
