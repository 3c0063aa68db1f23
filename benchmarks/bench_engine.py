"""zerograd's eager engine against micrograd 0.1.0 (PyPI), measured in one run.

Run: python benchmarks/bench_engine.py     (from a checkout: PYTHONPATH=src python ...)

(a) build + backward of a graph of 100,000 binary ops (+ and * mixed at random, 99 layers
    1000 wide, then a pairwise sum to one root), nanoseconds per op node;
(b) one full training step of micrograd's moons demo: MLP(2, [16, 16, 1]), 100 points of
    make_moons(noise=0.1), SVM hinge loss + 1e-4 L2; forward, zero_grad, backward, update.
    Each library uses its own seeded MLP (identical weights); zerograd's neuron is one
    ``dot`` node where micrograd's builds 2 * nin nodes, which is most of the difference;
(c) bytes held per graph node while the graph of (a) is alive (tracemalloc).
Times are medians of a few repeats. Both libraries run the same code on the same data and
the benchmark checks that they compute the same losses.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc

import micrograd.engine
import micrograd.nn

import zerograd as zg
import zerograd.engine

WIDTH, LAYERS = 1000, 99  # 99 * 1000 binary ops + 999 for the final pairwise sum


# -- (a) and (c): a big graph of binary ops --------------------------------------------------
def build_graph(Value, seed: int = 0):
    """Leaves, then LAYERS layers of WIDTH binary ops, then a pairwise sum: (root, n_ops)."""
    rng = random.Random(seed)
    row = [Value(rng.uniform(0.5, 1.0)) for _ in range(WIDTH)]
    n_ops = 0
    for _ in range(LAYERS):
        new = []
        for i in range(WIDTH):
            a, b = row[i], row[(i + 1) % WIDTH]
            new.append(a * b if rng.random() < 0.5 else a + b)
        row = new
        n_ops += WIDTH
    while len(row) > 1:
        pairs = [row[i] + row[i + 1] for i in range(0, len(row) - 1, 2)]
        n_ops += len(pairs)
        row = pairs + row[len(pairs) * 2 :]
    return row[0], n_ops


def time_graph(Value, repeats: int) -> tuple[float, int]:
    """Median seconds for build + backward of the big graph, and its op count."""
    times, n_ops = [], 0
    for r in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        root, n_ops = build_graph(Value, seed=r)
        root.backward()
        times.append(time.perf_counter() - t0)
        del root
    return statistics.median(times), n_ops


def bytes_per_node(Value) -> float:
    """Bytes allocated and still held after building the big graph, per node (leaves too)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    root, n_ops = build_graph(Value)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del root
    return held / (n_ops + WIDTH)


# -- (b): micrograd's moons demo, one training step --------------------------------------------
def moons():
    import numpy as np
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    return X.tolist(), (y * 2 - 1).astype(float).tolist()


def make_step(Value, model, X, y, idiomatic: bool):
    """One training step as a closure; returns the loss of the step it ran."""
    params = model.parameters()
    lr = 0.5

    def step() -> float:
        scores = [model([Value(a), Value(b)]) for a, b in X]
        if idiomatic:  # zerograd's own API: one node for each sum
            data_loss = zg.losses.hinge(scores, y)
            reg = 1e-4 * zg.vsum([p * p for p in params])
        else:  # micrograd's demo code as written for micrograd
            margins = [(1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)]
            data_loss = sum(margins) * (1.0 / len(margins))
            reg = 1e-4 * sum(p * p for p in params)
        loss = data_loss + reg
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        return loss.data

    return step


def time_steps(step, n: int) -> tuple[float, list[float]]:
    times, losses = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    return statistics.median(times), losses


def seeded_model(nn):
    random.seed(1337)
    return nn.MLP(2, [16, 16, 1])


# -- the table ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of each (smoke test)")
    args = parser.parse_args(argv)
    reps_graph = 1 if args.quick else 3
    reps_mg, reps_zg = (1, 2) if args.quick else (3, 7)
    t_start = time.perf_counter()

    mg_a, n_ops = time_graph(micrograd.engine.Value, reps_graph)
    zg_a, n_ops_z = time_graph(zerograd.engine.Value, reps_graph)
    assert n_ops == n_ops_z

    X, y = moons()
    mg_step = make_step(micrograd.engine.Value, seeded_model(micrograd.nn), X, y, False)
    zg_same = make_step(zerograd.engine.Value, seeded_model(zg.nn), X, y, False)
    zg_idio = make_step(zerograd.engine.Value, seeded_model(zg.nn), X, y, True)
    mg_b, mg_losses = time_steps(mg_step, reps_mg)
    zs_b, zs_losses = time_steps(zg_same, reps_mg)
    zi_b, zi_losses = time_steps(zg_idio, reps_zg)
    # same model, same data, same steps: the same losses (to rounding)
    for ours in (zs_losses, zi_losses[:reps_mg]):
        for a, b in zip(ours, mg_losses, strict=True):
            assert abs(a - b) <= 1e-9 * abs(b), (ours, mg_losses)

    mg_c = bytes_per_node(micrograd.engine.Value)
    zg_c = bytes_per_node(zerograd.engine.Value)

    rows = [
        (
            f"(a) {n_ops:,} binary ops, build+backward (ns/node)",
            mg_a / n_ops * 1e9,
            zg_a / n_ops * 1e9,
            mg_a / zg_a,
            "-",
            None,
        ),
        (
            "(b) moons step, the demo's loop code (s/step)",
            mg_b,
            zs_b,
            mg_b / zs_b,
            ">= 5x faster",
            mg_b / zs_b >= 5,
        ),
        (
            "(b) moons step, zg.losses.hinge + zg.vsum (s/step)",
            mg_b,
            zi_b,
            mg_b / zi_b,
            ">= 5x faster",
            mg_b / zi_b >= 5,
        ),
        (
            "(c) memory per graph node (bytes)",
            mg_c,
            zg_c,
            zg_c / mg_c,
            "<= 0.5x",
            zg_c / mg_c <= 0.5,
        ),
    ]
    print("zerograd eager engine vs micrograd 0.1.0")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()} "
        f"({platform.python_implementation()})"
    )
    print()
    head = ("workload", "micrograd", "zerograd", "ratio", "goal", "met?")
    w = max(len(r[0]) for r in rows)
    print(
        f"| {head[0]:<{w}} | {head[1]:>10} | {head[2]:>10} | {head[3]:>6} | {head[4]:<12} "
        f"| {head[5]:<4} |"
    )
    print(f"|{'-' * (w + 2)}|{'-' * 12}|{'-' * 12}|{'-' * 8}|{'-' * 14}|{'-' * 6}|")
    for name, m, z, ratio, goal, met in rows:
        met_s = "-" if met is None else ("yes" if met else "NO")
        print(
            f"| {name:<{w}} | {fmt(m):>10} | {fmt(z):>10} | {ratio:>5.2f}x | {goal:<12} "
            f"| {met_s:<4} |"
        )
    print()
    print(
        "ratio: micrograd/zerograd for time (higher is faster), zerograd/micrograd for memory "
        "(lower is smaller)."
    )
    print(
        f"medians of {reps_graph} graph runs, {reps_mg} micrograd steps and {reps_zg} zerograd "
        f"steps; total {time.perf_counter() - t_start:.0f} s"
    )
    return 0


def fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
