"""Load on the playground's server: N tabs training at once, each a WebSocket client.

The server runs in its own process (``zerograd playground --no-browser``) so its memory is
its own; this process opens ``--sessions`` connections, sends each a setup and ``play``, and
counts for ``--seconds`` the frames each receives and the steps they report. Prints, per
session count, frames per second per session (min / median / max), steps per second per
session, and the resident memory of the server with its worker processes (VmRSS, before
and at the end).

    python benchmarks/bench_playground.py --sessions 1 30 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from websockets.asyncio.client import connect

MOONS = {"dataset": "moons", "points": 200, "hidden": [8, 8], "test_fraction": 0.0}


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes (VmRSS summed), MB."""
    pids = [pid] + [int(p) for p in os.listdir("/proc") if p.isdigit()
                    and _safe_ppid(int(p)) == pid]
    return sum(int(_status(p).get("VmRSS", "0 kB").split()[0]) for p in pids) / 1024


def _safe_ppid(pid: int) -> int:
    try:
        return int(_status(pid)["PPid"])
    except (OSError, KeyError, ValueError):
        return -1


async def tab(url: str, setup: dict, seconds: float, ready: asyncio.Barrier,
              out: list) -> None:
    """One tab: set up, wait for the others, play for ``seconds``, record what came."""
    async with connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "config", "config": setup}))
        while json.loads(await ws.recv())["type"] != "config":
            pass
        await ready.wait()
        await ws.send(json.dumps({"type": "play"}))
        frames, first, last, gaps, t_prev = 0, None, None, [], None
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                break
            if m["type"] != "frame" or not m["running"]:
                continue
            now = time.monotonic()
            if first is None:
                first = (now, m["step"])  # counting starts at the first running frame
            else:
                frames += 1
                gaps.append(now - t_prev)
            t_prev, last = now, (now, m["step"])
        await ws.send(json.dumps({"type": "pause"}))
        span = last[0] - first[0] if first and last and last[0] > first[0] else float("nan")
        out.append({"fps": frames / span, "sps": (last[1] - first[1]) / span,
                    "worst_gap": max(gaps, default=float("nan"))})


async def load(url: str, sessions: int, seconds: float) -> list:
    ready = asyncio.Barrier(sessions)
    out: list = []
    await asyncio.gather(*(tab(url, MOONS, seconds, ready, out) for _ in range(sessions)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 30])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "zerograd", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        url = proc.stdout.readline().split(": ", 1)[1].strip()
        ws_url = url.replace("http://", "ws://") + "ws"
        print(f"server {url} (pid {proc.pid}); setup {MOONS}, {args.seconds:g} s per run; "
              f"{os.cpu_count()} CPUs")
        print("| sessions | frames/s per session min / median / max | longest gap between "
              "frames (s) | steps/s per session median (sum) | server RSS MB before / after |")
        print("|---|---|---|---|---|")
        for n in args.sessions:
            before = rss_mb(proc.pid)
            res = asyncio.run(load(ws_url, n, args.seconds))
            after = rss_mb(proc.pid)
            fps = sorted(r["fps"] for r in res)
            sps = [r["sps"] for r in res]
            gap = max(r["worst_gap"] for r in res)
            print(f"| {n} | {fps[0]:.1f} / {statistics.median(fps):.1f} / {fps[-1]:.1f} | "
                  f"{gap:.2f} | {statistics.median(sps):.0f} ({sum(sps):.0f}) | "
                  f"{before:.0f} / {after:.0f} |", flush=True)
            time.sleep(1.0)  # the closed tabs' workers end
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
