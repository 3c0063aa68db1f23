"""The eager engine of this checkout against an earlier commit, measured in alternation.

Run: python benchmarks/bench_versions.py REV [--rounds 6]

REV is checked out into a temporary git worktree. Each round runs one fresh process per
version (in alternating order, so drift on the machine hits both alike); each process
warms up once, then measures
(a) build + backward of bench_engine's 100,000-op graph (ns per op node, best of 3),
(b) one moons training step with the demo's loop code (ms, best of 5),
(l) one step of the lecture's hand-written loop, MLP(3, [4, 4, 1]) tanh (us, best of 200),
(c) bytes held per node of the graph of (a).
Best-of within a process keeps out most of a shared machine's noise; the table gives each
version's median of those over the rounds with their spread (min-max), the best over all
rounds, and the ratios this checkout / REV (above 1: slower or bigger).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROBE = r"""
import json, random, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import bench_engine as b
import zerograd as zg
from zerograd.engine import Value

assert zg.__file__.startswith(sys.argv[2]), zg.__file__
out = {}
b.time_graph(Value, 1)
out["a"] = min(b.time_graph(Value, 1)[0] for _ in range(3)) / 99999 * 1e9
X, y = b.moons()
step = b.make_step(Value, b.seeded_model(zg.nn), X, y, False)
step()
out["b"] = min(b.time_steps(step, 1)[0] for _ in range(5)) * 1e3
random.seed(0)
n = zg.nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
times = []
for k in range(240):
    t0 = time.perf_counter()
    ypred = [n(x) for x in xs]
    loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    for p in n.parameters():
        p.grad = 0.0
    loss.backward()
    for p in n.parameters():
        p.data += -0.05 * p.grad
    times.append(time.perf_counter() - t0)
out["l"] = min(times[40:]) * 1e6
out["c"] = b.bytes_per_node(Value)
print(json.dumps(out))
"""

ROWS = [("a", "(a) 100,000-op graph, build+backward (ns/node)"),
        ("b", "(b) moons step, the demo's loop code (ms)"),
        ("l", "(l) lecture loop step, MLP(3, [4, 4, 1]) (us)"),
        ("c", "(c) memory per graph node (bytes)")]


def probe(src: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=src)
    done = subprocess.run([sys.executable, "-c", PROBE, HERE, src], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6, help="processes per version")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "base")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, args.rev],
                       check=True, capture_output=True)
        try:
            srcs = {"base": os.path.join(tree, "src"), "new": os.path.join(ROOT, "src")}
            got: dict[str, list[dict]] = {"base": [], "new": []}
            for r in range(args.rounds):
                for name in (("base", "new") if r % 2 == 0 else ("new", "base")):
                    got[name].append(probe(srcs[name]))
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree],
                           check=True, capture_output=True)
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    print(f"this checkout ({head}, working tree) vs {args.rev}: {args.rounds} alternating "
          f"rounds, one process per version each; median [min-max]")
    print(f"| {'workload':<48} | {args.rev[:12]:>24} | {'this checkout':>24} | ratio | "
          f"best of all | ratio |")
    print(f"|{'-' * 50}|{'-' * 26}|{'-' * 26}|-------|{'-' * 21}|-------|")
    for key, label in ROWS:
        cells = []
        for name in ("base", "new"):
            xs = [g[key] for g in got[name]]
            cells.append((statistics.median(xs), min(xs), max(xs)))
        text = [f"{m:,.1f} [{lo:,.1f}-{hi:,.1f}]" for m, lo, hi in cells]
        best = f"{cells[0][1]:,.1f} / {cells[1][1]:,.1f}"
        print(f"| {label:<48} | {text[0]:>24} | {text[1]:>24} | "
              f"{cells[1][0] / cells[0][0]:.3f} | {best:>19} | {cells[1][1] / cells[0][1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
