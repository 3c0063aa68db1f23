"""zg.compile against micrograd 0.1.0, PyTorch eager and zerograd's eager engine.

Run: PYTHONPATH=src python benchmarks/bench_compile.py [--quick]

W1 the lecture's MLP(3, [4, 4, 1]) (tanh) on its 4 examples, one training step;
W2 micrograd's moons demo, MLP(2, [16, 16, 1]), SVM loss + 1e-4 L2, one full-batch step
   and the whole 100-step run; W3 a chain one million nodes deep, forward + backward;
W4 100,000 binary ops (67 layers 1000 wide), forward + backward.
Times are the best of several blocks (noise on a shared machine only ever adds time);
ratios are peer time / compiled time, so > 1 means the compiled step is faster.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import platform
import random
import sys
import time
import tracemalloc

import numpy as np

import zerograd as zg
from zerograd.engine import Value

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]
ROWS: list[tuple] = []


def race(peers: dict, rounds: int = 25, block: float = 0.005) -> dict:
    """Seconds per call of each peer's function: the best block of ``rounds``, interleaved.

    Peers take turns block by block, so a busy moment on a shared machine slows all of them
    alike; the best block (noise only ever adds time) is reported. ``None`` entries are
    skipped. A peer slower than a block runs once per round, for at most 3 rounds.
    """
    reps, out = {}, {}
    for name, fn in peers.items():
        if fn is None:
            continue
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        reps[name] = max(1, int(block / max(t, 1e-7)))
        out[name] = t
    for r in range(rounds):
        for name, n in reps.items():
            if n == 1 and r >= 3:
                continue
            fn = peers[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out[name] = min(out[name], (time.perf_counter() - t0) / n)
    return out


def row(work: str, peer: str, seconds: float | None, note: str = "") -> None:
    ROWS.append((work, peer, seconds, note))


def held_bytes(make) -> tuple[int, object]:
    """Bytes still allocated after ``make()`` built and ran a compiled function once."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    obj = make()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held, obj


# -- W1 -------------------------------------------------------------------------------------
def w1(torch) -> None:
    random.seed(1337)
    model = zg.nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    params = model.parameters()

    def loss_fn(xs, ys):
        return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))

    def eager_step():
        xs = [[Value(a) for a in x] for x in XS]
        loss = loss_fn(xs, YS)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data += -0.05 * p.grad

    compiled = zg.compile(loss_fn)

    def compiled_step():
        loss = compiled(XS, YS)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data += -0.05 * p.grad

    def compiled_step_nn():  # the loop, with model.zero_grad()/parameters() each step
        loss = compiled(XS, YS)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data += -0.05 * p.grad

    t = race({"c": compiled_step, "nn": compiled_step_nn, "e": eager_step,
              "t": torch_w1(torch) if torch else None, "m": micrograd_w1()})
    row("W1", "zerograd compiled", t["c"], f"executor {compiled.executor.name}")
    row("W1", "zerograd compiled, nn calls", t["nn"],
        "model.zero_grad() and model.parameters() inside the step")
    row("W1", "zerograd eager", t["e"])
    row("W1", "PyTorch eager", t.get("t"), "float64, batched")
    row("W1", "micrograd 0.1.0", t["m"], "ReLU MLP: micrograd 0.1.0 has no tanh")
    held, c = held_bytes(lambda: _traced(zg.compile(loss_fn), XS, YS))
    row("W1", "tape memory", None, f"{held / c.tape_nodes:.0f} bytes/node held "
        f"({c.tape_nodes} nodes, {held} bytes, executor {c.executor.name})")


def _traced(c, *args):
    c(*args)
    c.tape_nodes = c.n_nodes
    return c


def torch_w1(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4), torch.nn.Tanh(),
        torch.nn.Linear(4, 1), torch.nn.Tanh()).double()
    X, Y = torch.tensor(XS, dtype=torch.float64), torch.tensor(YS, dtype=torch.float64)
    params = list(net.parameters())

    def step():
        loss = ((net(X).squeeze(1) - Y) ** 2).sum()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.05 * p.grad

    return step


def micrograd_w1():
    from micrograd.engine import Value as MValue
    from micrograd.nn import MLP as MMLP

    random.seed(1337)
    model = MMLP(3, [4, 4, 1])
    params = model.parameters()

    def step():
        xs = [[MValue(a) for a in x] for x in XS]
        loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, YS)), MValue(0.0))
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data += -0.05 * p.grad

    return step


# -- W2 -------------------------------------------------------------------------------------
def moons():
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    return X, y * 2 - 1


def w2(torch, quick: bool) -> None:
    X, y = moons()
    model = zg.nn.MLP(2, [16, 16, 1])
    params = model.parameters()

    def total_loss(X, y):
        scores = [model(row) for row in X]
        data = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    t0 = time.perf_counter()
    step = zg.compile(total_loss)
    for k in range(100):
        loss = step(X, y)
        if k == 0:
            t_first, first = time.perf_counter() - t0, loss.data
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
    t_total = time.perf_counter() - t0
    scores = [model(list(r)).data for r in X]
    acc = np.mean([(s > 0) == (t > 0) for s, t in zip(scores, y)])
    last = loss.data

    def compiled_step():
        loss = step(X, y)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= 0.0 * p.grad  # same work as a real update, keeps the model fixed

    def eager_step():
        loss = total_loss([[Value(a) for a in r] for r in X.tolist()], y.tolist())
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= 0.0 * p.grad

    t = race({"c": compiled_step, "e": eager_step,
              "t": torch_w2(torch, X, y) if torch else None,
              "m": None if quick else micrograd_w2(X, y)})
    row("W2", "zerograd compiled", t["c"], f"executor {step.executor.name}")
    row("W2", "zerograd compiled, 100 steps", t_total,
        f"whole demo incl. tracing+compiling ({t_first:.3f} s); loss {first:.16g} -> "
        f"{last:.16g}, accuracy {acc:.0%}")
    row("W2", "zerograd eager", t["e"])
    row("W2", "PyTorch eager", t.get("t"), "float64, batched")
    if quick:
        row("W2", "micrograd 0.1.0", None, "skipped (--quick)")
    else:
        row("W2", "micrograd 0.1.0", t["m"], f"100 steps ≈ {100 * t['m']:.0f} s")
    held, c = held_bytes(lambda: _traced(zg.compile(total_loss), X, y))
    row("W2", "tape memory", None, f"{held / c.tape_nodes:.0f} bytes/node held "
        f"({c.tape_nodes} nodes, {held} bytes, executor {c.executor.name})")


def torch_w2(torch, X, y):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 1)).double()
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    params = list(net.parameters())

    def step():
        scores = net(Xt).squeeze(1)
        data = torch.relu(1 - yt * scores).mean()
        loss = data + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.0 * p.grad

    return step


def micrograd_w2(X, y):
    from micrograd.engine import Value as MValue
    from micrograd.nn import MLP as MMLP

    random.seed(1337)
    model = MMLP(2, [16, 16, 1])

    def step():
        inputs = [list(map(MValue, r)) for r in X.tolist()]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y.tolist(), scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.0 * p.grad

    return step


# -- W3 -------------------------------------------------------------------------------------
def w3(torch, n: int) -> None:
    w = Value(0.9)

    def chain(x):
        for _ in range(n // 2):
            x = (x + w).tanh()
        return x

    t0 = time.perf_counter()
    c = zg.compile(chain)
    c(0.5).backward()
    t_trace = time.perf_counter() - t0

    def compiled():
        c(0.5).backward()

    tstep = None
    if torch:
        wt = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)

        def tstep():
            x = torch.tensor(0.5, dtype=torch.float64)
            for _ in range(n // 2):
                x = torch.tanh(x + wt)
            x.backward()

    t = race({"c": compiled, "e": lambda: chain(Value(0.5)).backward(), "t": tstep}, rounds=2)
    row("W3", "zerograd compiled", t["c"], f"executor {c.executor.name}; first call incl. "
        f"tracing {t_trace:.2f} s")
    row("W3", "zerograd eager", t["e"])
    row("W3", "PyTorch eager", t.get("t"), "0-d tensors")
    row("W3", "micrograd 0.1.0", None, micrograd_w3(n))
    held, hc = held_bytes(lambda: _traced(zg.compile(chain), 0.5))
    row("W3", "tape memory", None, f"{held / hc.tape_nodes:.0f} bytes/node held "
        f"({hc.tape_nodes} nodes, {held} bytes, executor {hc.executor.name})")


def micrograd_w3(n: int) -> str:
    from micrograd.engine import Value as MValue

    w, x = MValue(0.9), MValue(0.5)
    for _ in range(n // 2):
        x = (x + w) * 1.0  # micrograd has no tanh; the depth is what matters
    try:
        x.backward()
    except RecursionError:
        return "recursion error"
    return "ran"


# -- W4 -------------------------------------------------------------------------------------
WIDTH, LAYERS = 1000, 67
PA = [(2 * i * 7 + 1) % WIDTH for i in range(WIDTH // 2)]
PB = [(2 * i * 13 + 5) % WIDTH for i in range(WIDTH // 2)]


def w4(torch, quick: bool) -> None:
    rng = random.Random(4)
    ws = [Value(rng.uniform(-1, 1)) for _ in range(WIDTH)]
    x0 = [rng.uniform(-1, 1) for _ in range(WIDTH)]

    def net(x):
        h = [wi * xi for wi, xi in zip(ws, x)]
        for _ in range(LAYERS - 1):
            new = []
            for i in range(WIDTH // 2):
                new.append(h[2 * i] * h[PA[i]])
                new.append((h[2 * i + 1] + h[PB[i]]) * 0.5)
            h = new
        return zg.vsum(h)

    t0 = time.perf_counter()
    c = zg.compile(net)
    c(x0).backward()
    t_trace = time.perf_counter() - t0

    def compiled():
        c(x0).backward()

    tstep = mstep = None
    if torch:
        wt = torch.tensor([w.data for w in ws], dtype=torch.float64, requires_grad=True)
        xt = torch.tensor(x0, dtype=torch.float64)
        pa, pb = torch.tensor(PA), torch.tensor(PB)

        def tstep():
            h = wt * xt
            for _ in range(LAYERS - 1):
                m = h[0::2] * h[pa]
                a = (h[1::2] + h[pb]) * 0.5
                h = torch.stack([m, a], dim=1).reshape(-1)
            h.sum().backward()

    if not quick:
        from micrograd.engine import Value as MValue

        mws = [MValue(w.data) for w in ws]

        def mstep():
            h = [wi * MValue(xi) for wi, xi in zip(mws, x0)]
            for _ in range(LAYERS - 1):
                new = []
                for i in range(WIDTH // 2):
                    new.append(h[2 * i] * h[PA[i]])
                    new.append((h[2 * i + 1] + h[PB[i]]) * 0.5)
                h = new
            while len(h) > 1:  # a pairwise sum: a 1000-long chain would overflow its recursion
                h = [h[i] + h[i + 1] for i in range(0, len(h) - 1, 2)] + h[len(h) - len(h) % 2:]
            h[0].backward()

    t = race({"c": compiled, "e": lambda: net([Value(a) for a in x0]).backward(),
              "t": tstep, "m": mstep}, rounds=5)
    row("W4", "zerograd compiled", t["c"], f"executor {c.executor.name}; first call "
        f"incl. tracing {t_trace:.2f} s; {c.n_ops} op nodes")
    row("W4", "zerograd eager", t["e"])
    row("W4", "PyTorch eager", t.get("t"), "float64 vectors, one op per layer and kind")
    row("W4", "micrograd 0.1.0", t.get("m"), "skipped (--quick)" if quick else
        "final sum pairwise (a 1000-long chain: recursion error)")
    held, hc = held_bytes(lambda: _traced(zg.compile(net), x0))
    row("W4", "tape memory", None, f"{held / hc.tape_nodes:.0f} bytes/node held "
        f"({hc.tape_nodes} nodes, {held} bytes, executor {hc.executor.name})")


def report() -> None:
    compiled = {w: s for w, p, s, _ in ROWS if p == "zerograd compiled"}
    print(f"\n{'':4} {'peer':30} {'time':>11} {'vs compiled':>12}  note")
    for work, peer, s, note in ROWS:
        t = "" if s is None else (f"{s * 1e3:9.3f} ms" if s < 1 else f"{s:9.2f} s ")
        ratio = "" if s is None or "compiled" in peer else f"{s / compiled[work]:10.1f}x"
        print(f"{work:4} {peer:30} {t:>11} {ratio:>12}  {note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip micrograd's slow runs")
    ap.add_argument("--only", default="1234", help="workloads to run, e.g. 12")
    ap.add_argument("--chain", type=int, default=1_000_000, help="W3's depth")
    opts = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    print(f"{datetime.date.today()}  {platform.processor() or platform.machine()}, "
          f"Python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else '-'}")
    if "1" in opts.only:
        w1(torch)
    if "2" in opts.only:
        w2(torch, opts.quick)
    if "3" in opts.only:
        w3(torch, opts.chain)
    if "4" in opts.only:
        w4(torch, opts.quick)
    report()


if __name__ == "__main__":
    main()
