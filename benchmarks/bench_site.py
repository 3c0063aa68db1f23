"""The static site's playground in headless Chromium, against native CPython in the same run.

Builds the site (tools/build_site.py; `npm ci` first) or takes one built with --site, serves
it on 127.0.0.1 and, in each run, opens the playground in a fresh browser profile:

- load: from navigation to the first frame (Python ready in the page, step 0 drawn);
- first training frame: play is pressed as soon as the page has loaded its HTML (controls
  respond before Python is ready: the press waits in the worker's queue), then the time
  from navigation to the first frame past step 0;
- change: a link with another setup (200 moons points, hidden 8, 8) opened in the same
  tab, then play, from the press to the first frame past step 0;
- steps/s and frames/s while playing, for the lecture's network (MLP(3, [4, 4, 1]) on its 4
  examples) and for MLP(2, [8, 8, 1]) on 200 moons points, all for training, measured once
  the compiled step runs (from step 100 on; the first steps run on the scalar loop).

The same sessions run natively in this process's Python without NumPy (python -S: the
standard library only, as in the page) for the ratio. TensorFlow Playground is not run
here: its figures are those measured on 2026-12-07 on this machine kind and quoted in the
issue (2-[8, 8]-1, batch 10: 33 epochs/s of 250 examples, 8,250 example-gradients/s).

    python benchmarks/bench_site.py [--runs 3] [--seconds 5] [--site DIR]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LECTURE = {"dataset": "lecture", "hidden": "4,4"}
MOONS = {"dataset": "moons", "points": 200, "test_fraction": 0, "hidden": "8,8"}
TFP_EXAMPLE_GRADIENTS = 8250  # TF Playground at 2-[8, 8]-1, from the issue (not this run)

NATIVE = r"""
import json, sys, time
from zerograd.playground.inpage import Tab

def play(setup, seconds):
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": setup}))
    tab.prepare()  # the training step compiled, as the page does while it is idle
    tab.take()
    tab.handle('{"type": "play"}')
    t0, frames, step = time.perf_counter(), 0, 1
    while time.perf_counter() - t0 < seconds:
        tab.advance(0.02)
        for m in json.loads(tab.take()):
            if m["type"] == "frame":
                frames, step = frames + 1, m["step"]
    t = time.perf_counter() - t0
    return (step - 1) / t, frames / t

t0 = time.perf_counter()
tab = Tab()
tab.handle('{"type": "play"}')
while not any(m["type"] == "frame" and m["step"] > 0 for m in json.loads(tab.take())):
    tab.advance(0.02)
first = time.perf_counter() - t0
seconds = float(sys.argv[1])
out = {"first": first}
for name, setup in json.loads(sys.argv[2]).items():
    out[name] = play(setup, seconds)
assert "numpy" not in sys.modules
print(json.dumps(out))
"""


def serve(folder: str) -> str:
    """Serve ``folder`` on 127.0.0.1 in a thread; its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=folder))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/"


def _step(page) -> int:
    return int(page.text_content("#step").strip() or 0)


def _until(page, js: str, timeout_s: float = 120) -> None:
    page.wait_for_function(js, timeout=timeout_s * 1000, polling=10)


def page_run(browser, base: str, seconds: float) -> dict[str, float]:
    """One run in a fresh profile (a new context: no cache, no storage)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname
              == "127.0.0.1" else r.abort())
    page = ctx.new_page()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    page.goto(base + "playground/", wait_until="domcontentloaded")
    out["html"] = time.perf_counter() - t0
    page.click("#play")  # before Python is ready: the worker queues it
    _until(page, "window.__frames >= 1")
    out["load"] = time.perf_counter() - t0
    _until(page, "Number(document.querySelector('#step').textContent) > 0")
    out["first"] = time.perf_counter() - t0
    for name, setup in (("lecture", LECTURE), ("moons", MOONS)):
        page.goto(base + "playground/?" + urlencode(setup))
        _until(page, "window.__frames >= 1")
        t1 = time.perf_counter()
        page.click("#play")
        _until(page, "Number(document.querySelector('#step').textContent) > 0")
        if name == "moons":
            out["change"] = time.perf_counter() - t1
        # the first steps ran on the scalar loop; measure once the compiled step has run
        _until(page, "Number(document.querySelector('#step').textContent) >= 100")
        time.sleep(0.5)
        f0, s0, t2 = page.evaluate("window.__frames"), _step(page), time.perf_counter()
        time.sleep(seconds)
        f1, s1, t3 = page.evaluate("window.__frames"), _step(page), time.perf_counter()
        out[name] = (s1 - s0) / (t3 - t2)
        out[name + "_fps"] = (f1 - f0) / (t3 - t2)
        page.click("#play")
    ctx.close()
    return out


def native_run(seconds: float) -> dict[str, float]:
    setups = {"lecture": dict(LECTURE, hidden=[4, 4]),
              "moons": dict(MOONS, hidden=[8, 8])}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-S", "-c", NATIVE, str(seconds), json.dumps(setups)],
                          capture_output=True, text=True, env=env, check=True)
    got = json.loads(done.stdout)
    return {"first": got["first"], "lecture": got["lecture"][0],
            "lecture_fps": got["lecture"][1], "moons": got["moons"][0],
            "moons_fps": got["moons"][1]}


def size_of(folder: str) -> tuple[int, int]:
    """Bytes of the whole site, and of Pyodide's part."""
    total = pyodide = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            n = os.path.getsize(os.path.join(dirpath, f))
            total += n
            pyodide += n if os.sep + "pyodide" in dirpath else 0
    return total, pyodide


def spread(xs: list[float], fmt: str) -> str:
    return (f"{format(statistics.median(xs), fmt)} ({format(min(xs), fmt)}.."
            f"{format(max(xs), fmt)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--site", help="a site built by tools/build_site.py (default: build one)")
    args = ap.parse_args()
    folder = args.site
    if folder is None:
        folder = tempfile.mkdtemp(prefix="zerograd-site-")
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", folder],
                       check=True, stdout=subprocess.DEVNULL)
    base = serve(folder)
    from playwright.sync_api import sync_playwright

    pages: list[dict[str, float]] = []
    natives: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        native_run(1.0)  # warm: the OS's file cache for Python's own files
        for _ in range(args.runs):  # interleaved: page, native, page, native, ...
            pages.append(page_run(browser, base, args.seconds))
            natives.append(native_run(args.seconds))
        browser.close()
    total, pyodide = size_of(folder)
    col = lambda rows, k, f: spread([r[k] for r in rows], f)  # noqa: E731
    print(f"site: {total:,} bytes ({pyodide:,} of them Pyodide's core); {args.runs} runs, "
          f"median (min..max), each page run in a fresh browser profile")
    print(f"{'':46} {'in the page':>24} {'native, no NumPy':>24} {'page/native':>11}")
    for key, what, f in [
            ("load", "cold load to the first frame (s)", ".2f"),
            ("first", "to the first training frame (s)", ".2f"),
            ("change", "a new setup to its first training frame (s)", ".2f"),
            ("lecture", "lecture MLP(3,[4,4,1]), 4 examples: steps/s", ",.0f"),
            ("lecture_fps", "  frames/s while training", ".1f"),
            ("moons", "MLP(2,[8,8,1]), 200 moons points: steps/s", ",.0f"),
            ("moons_fps", "  frames/s while training", ".1f")]:
        here = col(pages, key, f)
        there = col(natives, key, f) if key in natives[0] else "-"
        ratio = "-"
        if key in natives[0]:
            mid = [statistics.median(r[key] for r in rows) for rows in (pages, natives)]
            ratio = f"{mid[0] / mid[1]:.2f}"
        print(f"{what:46} {here:>24} {there:>24} {ratio:>11}")
    eg = statistics.median(r["moons"] for r in pages) * 200
    print(f"example-gradients/s at 2-[8,8]-1 in the page: {eg:,.0f}, "
          f"{eg / TFP_EXAMPLE_GRADIENTS:.1f}x TensorFlow Playground's {TFP_EXAMPLE_GRADIENTS:,} "
          f"(the issue's figure, not measured in this run)")


if __name__ == "__main__":
    main()
