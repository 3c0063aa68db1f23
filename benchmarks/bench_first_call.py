"""The first call of ``zg.compile`` (trace + compile + one forward) against one eager step.

Run: PYTHONPATH=src python benchmarks/bench_first_call.py [--sizes 32x100,64x1000] [--no-memory]

Workload: micrograd's moons demo, MLP(2, [h, h, 1]) ReLU, hinge loss + 1e-4 L2 of every
parameter, on ``n`` points, for h in {32, 64, 128} and n in {100, 1000}. Eager: one forward
+ backward on fresh Values. First call: a new ``zg.compile(loss)`` called once (executor
"auto" and "numpy"); its first ``.backward()`` is reported apart. Times are the best of
2 interleaved rounds (each with a new ``zg.compile``), without tracemalloc; peak memory
(tracemalloc, bytes above the start) comes from separate runs. The goal (issue "Scalar
code trained as fast as JAX", point 4): first call <= 2x eager in time and in peak memory.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import zerograd as zg
from zerograd.engine import Value

SIZES = [(32, 100), (64, 100), (128, 100), (32, 1000), (64, 1000), (128, 1000)]


def moons(n: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.1, random_state=1337)
    return X, (y * 2 - 1).astype(float)


def workload(h: int, n: int) -> tuple[Callable, zg.nn.MLP, np.ndarray, np.ndarray]:
    random.seed(1337)
    model = zg.nn.MLP(2, [h, h, 1])
    X, y = moons(n)

    def loss(X: Any, y: Any) -> Value:
        scores = [model(row) for row in X]
        data = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    return loss, model, X, y


def peak(run: Callable[[], Any]) -> int:
    """Peak bytes allocated (above the start) while ``run()`` runs; its result is dropped."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    out = run()
    top = tracemalloc.get_traced_memory()[1] - base
    del out
    tracemalloc.stop()
    gc.collect()
    return top


def measure(h: int, n: int, memory: bool) -> dict:
    loss, model, X, y = workload(h, n)
    Xl, yl = X.tolist(), y.tolist()

    def eager() -> Value:
        model.zero_grad()
        out = loss([[Value(a) for a in r] for r in Xl], [Value(b) for b in yl])
        out.backward()
        return out

    res: dict = {"size": f"h={h} n={n}"}
    best: dict = {}
    for _ in range(2):  # rounds interleave the three, so a busy moment slows all alike
        gc.collect()
        t0 = time.perf_counter()
        out = eager()
        best["eager"] = min(best.get("eager", 1e9), time.perf_counter() - t0)
        del out
        for name in ("auto", "numpy"):
            gc.collect()
            f = zg.compile(loss, executor=name)
            t0 = time.perf_counter()
            out = f(X, y)
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t0)
            model.zero_grad()
            t0 = time.perf_counter()
            out.backward()
            best[name + "_bwd"] = min(best.get(name + "_bwd", 1e9), time.perf_counter() - t0)
            res[name + "_ex"] = f.executor.name
            del f, out
    res.update(best)
    res["eager_mem"] = peak(eager) if memory else None
    for name in ("auto", "numpy"):
        def first(name: str = name) -> Any:
            return zg.compile(loss, executor=name)(X, y)

        res[name + "_mem"] = peak(first) if memory else None
    return res


def table(rows: list[dict]) -> str:
    head = ("| size | eager s | eager MB | executor | first call s | x eager | 1st backward s "
            "| peak MB | x eager |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        for name in ("auto", "numpy"):
            mem, emem = r[name + "_mem"], r["eager_mem"]
            mb = f"{mem / 1e6:.0f}" if mem is not None else "-"
            mx = f"{mem / emem:.2f}" if mem is not None else "-"
            lines.append(
                f"| {r['size']} | {r['eager']:.3f} | "
                f"{emem / 1e6 if emem is not None else 0:.0f} | {name} ({r[name + '_ex']}) | "
                f"{r[name]:.3f} | {r[name] / r['eager']:.2f} | {r[name + '_bwd']:.4f} | "
                f"{mb} | {mx} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(f"{h}x{n}" for h, n in SIZES),
                    help="comma-separated HxN (hidden width x points)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    a = ap.parse_args()
    zg.compile(lambda x: x * 2.0 + 1.0, executor="numpy")(1.0)  # one-time imports, not timed
    rows = []
    for s in a.sizes.split(","):
        h, n = map(int, s.split("x"))
        rows.append(measure(h, n, not a.no_memory))
        print(table(rows[-1:]).splitlines()[-2:][0], flush=True)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
