"""Regenerate the README's screenshot of the playground, docs/playground.png (1280x800).

Starts the playground server, opens the page in headless chromium, trains the default
setup (moons) for about 3 seconds, pauses, draws the lecture's neuron and walks backprop a
few nodes, then saves the page. Run from the repository root:

    python scripts/playground_screenshot.py [--out docs/playground.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from zerograd.playground.server import start

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ROOT = Path(__file__).resolve().parent.parent


def wait_for(page, js: str, timeout: float = 15.0) -> None:
    """Wait until the JavaScript expression ``js`` is true on the page."""
    page.wait_for_function(js, timeout=timeout * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "playground.png")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to train")
    ap.add_argument("--backprop", type=int, default=4, help="backprop steps to show")
    args = ap.parse_args()

    srv = start(host="127.0.0.1", port=0)
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(srv.url)
            wait_for(page, "window.__frames >= 1")

            page.click("#play")  # train moons for a few seconds
            time.sleep(args.seconds)
            page.click("#play")  # pause
            wait_for(page, "!document.getElementById('play').textContent.includes('Pause')")

            page.click("#graph-neuron")  # the lecture's neuron, a few nodes backwards
            page.wait_for_selector("#graph g.vnode")
            for i in range(args.backprop):
                page.click("#bp-step")
                wait_for(page, f"document.getElementById('bp-explain').textContent"
                               f".includes('node {i + 1} of')")
            time.sleep(0.3)  # the last animation frame

            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        srv.stop()
    if problems:
        raise SystemExit("JavaScript errors on the page:\n" + "\n".join(problems))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
