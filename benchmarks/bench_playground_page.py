"""What the playground's page sees while it trains, in headless Chromium (Playwright).

Opens the page, sets moons with 200 points (all for training) and MLP(2, [8, 8, 1]), plays
for ``--seconds``, then reads off the page how many frames it applied and the step counter.
Repeats ``--runs`` times (a reset between runs) and prints frames per second applied by the
page and training steps per second, each run and min..max.

    python benchmarks/bench_playground_page.py --seconds 10 --runs 3
"""

from __future__ import annotations

import argparse
import time

from playwright.sync_api import sync_playwright

from zerograd.playground.server import start

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETUP = {"dataset": "moons", "points": 200, "test_fraction": 0.0, "hidden": [8, 8]}


def one_run(page, seconds: float) -> tuple[float, float]:
    page.click("#reset")
    page.wait_for_function("document.querySelector('#step').textContent.trim() === '0'")
    page.click("#play")
    page.wait_for_function("Number(document.querySelector('#step').textContent) > 0",
                           timeout=60_000)  # the first step compiles
    f0, s0, t0 = page.evaluate("window.__frames"), _step(page), time.perf_counter()
    time.sleep(seconds)
    f1, s1, t1 = page.evaluate("window.__frames"), _step(page), time.perf_counter()
    page.click("#play")
    return (f1 - f0) / (t1 - t0), (s1 - s0) / (t1 - t0)


def _step(page) -> int:
    return int(page.text_content("#step").strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    srv = start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(srv.url)
            page.wait_for_function("window.__frames >= 1")
            page.evaluate("setup => window.__zg_send({type: 'config', config: setup})", SETUP)
            time.sleep(1.0)
            results = [one_run(page, args.seconds) for _ in range(args.runs)]
            browser.close()
    finally:
        srv.stop()
    print(f"setup {SETUP}, {args.seconds:g} s of training per run, Chromium headless")
    print("| run | frames/s applied by the page | steps/s (the page's step counter) |")
    print("|---|---|---|")
    for k, (fps, sps) in enumerate(results, 1):
        print(f"| {k} | {fps:.1f} | {sps:.0f} |")
    fs, ss = [r[0] for r in results], [r[1] for r in results]
    print(f"| min..max | {min(fs):.1f}..{max(fs):.1f} | {min(ss):.0f}..{max(ss):.0f} |")


if __name__ == "__main__":
    main()
