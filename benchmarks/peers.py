"""The other libraries bench_compile.py races zerograd against: one function per family.

Every function builds its peer from numbers it is given (zerograd's seeded weights, the
same data), so all peers compute the same losses, and returns a :class:`Peer`; a library
that is not installed raises :class:`Unavailable` with the reason, and the table says so.
Everything is float64. Families: PyTorch eager and ``torch.compile`` (one thread), JAX
(``jax.jit`` of ``jax.value_and_grad`` plus the update), NumPy by hand (forward and
backward written with arrays), numba by hand (loops), micrograd 0.1.0 (PyPI), and for the
W3 chain plain Python floats by hand (a chain leaves NumPy nothing to vectorise).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Unavailable(Exception):
    """This peer cannot run here (library missing, or it does not apply); the message says
    why and goes into the table."""


def _probe_float(out: Any) -> list[float]:
    return [float(out)]


@dataclass
class Peer:
    """One contestant: ``step()`` does one unit of work (a training step, or forward +
    backward) and returns what ``probe`` turns into numbers for the correctness check;
    ``sync()``, if given, waits for work still running asynchronously (JAX)."""

    name: str
    step: Callable[[], Any] | None = None
    probe: Callable[[Any], list[float]] = _probe_float
    sync: Callable[[], Any] | None = None
    note: str = ""
    times: list[float] = field(default_factory=list)  # seconds per call, one entry per run
    calls: int = 0  # calls per timed block
    cold: float | None = None  # seconds of the first call (tracing, jit compiling)


def version(module: str) -> str | None:
    """The installed distribution's version, or None."""
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def _torch():
    try:
        import torch
    except ImportError as e:
        raise Unavailable(f"PyTorch not installed ({e})") from None
    torch.set_num_threads(1)
    return torch


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:
        raise Unavailable(f"JAX not installed ({e}); pip install jax jaxlib") from None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


_JITTED: dict[str, Callable] = {}


def _numba(fn: Callable) -> Callable:
    """``fn`` compiled by ``numba.njit`` (once per process)."""
    if fn.__name__ not in _JITTED:
        try:
            import numba
        except ImportError as e:
            raise Unavailable(f"numba not installed ({e}); pip install numba") from None
        _JITTED[fn.__name__] = numba.njit(cache=False)(fn)
    return _JITTED[fn.__name__]


def _micrograd():
    try:
        import micrograd.engine
        import micrograd.nn
    except ImportError as e:
        raise Unavailable(f"micrograd not installed ({e}); pip install micrograd==0.1.0") from None
    return micrograd.engine.Value, micrograd.nn.MLP


def _compile_torch(torch, step: Callable) -> Callable:
    """``torch.compile(step)`` with a fresh cache: dynamo keys its cache on code objects,
    and every peer here is built by the same function, so without a reset the 9th
    workload would silently fall back to eager after the recompile limit."""
    torch._dynamo.reset()
    return torch.compile(step, dynamic=False)


# -- MLP workloads (W1, W2, the grid) --------------------------------------------------------
@dataclass
class MLPTask:
    """One training step of an MLP: every family builds it from these numbers."""

    X: list[list[float]]
    y: list[float]
    layers: list[tuple[list[list[float]], list[float]]]  # (weights, one row per neuron; biases)
    act: str  # hidden layers: "tanh" or "relu"
    out_act: str  # output layer: "tanh" or "linear"
    loss: str  # "sse": sum (out - y)**2; "hinge": mean relu(1 - y*out) + reg * sum(p**2)
    lr: float
    reg: float = 0.0

    @property
    def acts(self) -> list[str]:
        return [self.act] * (len(self.layers) - 1) + [self.out_act]


def _array_loss(xp, task: MLPTask, ws: list, X, y, relu: Callable):
    """The loss of ``task`` written with the array module ``xp`` (torch or jax.numpy)."""
    a = X
    for (W, b), act in zip(zip(ws[0::2], ws[1::2]), task.acts):
        a = a @ W.T + b
        a = xp.tanh(a) if act == "tanh" else relu(a) if act == "relu" else a
    out = a[:, 0]
    if task.loss == "sse":
        return ((out - y) ** 2).sum()
    data = relu(1.0 - y * out).sum() * (1.0 / len(task.y))
    return data + task.reg * sum((w * w).sum() for w in ws)


def torch_mlp(task: MLPTask, compiled: bool = False) -> Peer:
    """PyTorch, float64, one thread. Eager: weight tensors, ``torch.autograd.grad`` and one
    fused ``_foreach_add_`` update (the fastest eager loop measured here; nn.Linear with
    ``p.grad`` or ``torch.optim.SGD`` cost more per step). ``compiled``: ``torch.compile`` of
    the step written with ``torch.func.grad_and_value`` (one graph: forward, backward and
    update; faster here than compiling the autograd.grad step, which dynamo splits)."""
    torch = _torch()
    f64 = torch.float64
    ws = [torch.tensor(t, dtype=f64, requires_grad=not compiled)
          for W, b in task.layers for t in (W, b)]
    X, y = torch.tensor(task.X, dtype=f64), torch.tensor(task.y, dtype=f64)

    def loss_of(ws):
        return _array_loss(torch, task, ws, X, y, torch.relu)

    if not compiled:
        def step():
            loss = loss_of(ws)
            grads = torch.autograd.grad(loss, ws)
            with torch.no_grad():
                torch._foreach_add_(ws, grads, alpha=-task.lr)
            return loss.detach()

        return Peer("PyTorch eager", step, note="float64, 1 thread, autograd.grad + foreach")
    grad_and_value = torch.func.grad_and_value(loss_of)

    def fstep():
        grads, loss = grad_and_value(ws)
        torch._foreach_add_(ws, grads, alpha=-task.lr)
        return loss

    return Peer("torch.compile", _compile_torch(torch, fstep),
                note="inductor, CPU, 1 thread; torch.func.grad_and_value + foreach")


def jax_mlp(task: MLPTask) -> Peer:
    """``jax.jit`` of ``jax.value_and_grad`` of the loss plus the SGD update, float64."""
    jax, jnp = _jax()
    ws = [jnp.asarray(np.array(t, dtype=np.float64)) for W, b in task.layers for t in (W, b)]
    X, y = jnp.asarray(np.array(task.X)), jnp.asarray(np.array(task.y))

    @jax.jit
    def update(ws, X, y):
        loss, grads = jax.value_and_grad(
            lambda ws: _array_loss(jnp, task, ws, X, y, jax.nn.relu))(ws)
        return loss, [w - task.lr * g for w, g in zip(ws, grads)]

    state = [ws]

    def step():
        loss, state[0] = update(state[0], X, y)
        return loss

    return Peer("JAX jit", step, sync=lambda: jax.block_until_ready(state[0]),
                note=f"jax {version('jax')}, x64, value_and_grad + SGD in one jit")


def numpy_mlp(task: MLPTask) -> Peer:
    """Forward and backward written by hand with NumPy arrays (a user's matrix code)."""
    ws = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)) for W, b in task.layers]
    X, y = np.array(task.X, dtype=np.float64), np.array(task.y, dtype=np.float64)
    acts, n, lr, reg = task.acts, len(task.y), task.lr, task.reg

    def step():
        outs = [X]
        for (W, b), act in zip(ws, acts):
            z = outs[-1] @ W.T + b
            outs.append(np.tanh(z) if act == "tanh" else np.maximum(z, 0.0) if act == "relu"
                        else z)
        out = outs[-1][:, 0]
        if task.loss == "sse":
            err = out - y
            loss, dout = err @ err, 2.0 * err
        else:
            margin = 1.0 - y * out
            loss = np.maximum(margin, 0.0).sum() * (1.0 / n)
            loss += reg * sum((W * W).sum() + (b * b).sum() for W, b in ws)
            dout = np.where(margin > 0.0, -y / n, 0.0)
        d = dout[:, None]
        for i in range(len(ws) - 1, -1, -1):
            W, b = ws[i]
            a = outs[i + 1]
            d = d * (1.0 - a * a) if acts[i] == "tanh" else d * (a > 0.0) if acts[i] == "relu" \
                else d
            gW, gb = d.T @ outs[i], d.sum(axis=0)
            if reg:
                gW, gb = gW + 2.0 * reg * W, gb + 2.0 * reg * b
            d = d @ W  # with the weights before this step's update
            W -= lr * gW
            b -= lr * gb
        return loss

    return Peer("NumPy by hand", step, note="matrices, forward + backward written out")


def _mlp3_step(X, y, W1, b1, W2, b2, W3, b3, lr, relu, out_tanh, hinge, reg):
    """One SGD step of a 2-hidden-layer MLP, sample by sample, in loops (for numba)."""
    n, nin = X.shape
    m1, m2 = W1.shape[0], W2.shape[0]
    G1, G2, G3 = np.zeros_like(W1), np.zeros_like(W2), np.zeros_like(W3)
    g1, g2, g3 = np.zeros_like(b1), np.zeros_like(b2), np.zeros_like(b3)
    a1, a2, d1, d2 = np.empty(m1), np.empty(m2), np.empty(m1), np.empty(m2)
    loss = 0.0
    for s in range(n):
        for j in range(m1):
            z = b1[j]
            for k in range(nin):
                z += W1[j, k] * X[s, k]
            a1[j] = max(z, 0.0) if relu else math.tanh(z)
        for j in range(m2):
            z = b2[j]
            for k in range(m1):
                z += W2[j, k] * a1[k]
            a2[j] = max(z, 0.0) if relu else math.tanh(z)
        z = b3[0]
        for k in range(m2):
            z += W3[0, k] * a2[k]
        out = math.tanh(z) if out_tanh else z
        if hinge:
            margin = 1.0 - y[s] * out
            loss += max(margin, 0.0)
            dout = -y[s] / n if margin > 0.0 else 0.0
        else:
            err = out - y[s]
            loss += err * err
            dout = 2.0 * err
        if out_tanh:
            dout *= 1.0 - out * out
        g3[0] += dout
        for k in range(m2):
            G3[0, k] += dout * a2[k]
            da = (1.0 if a2[k] > 0.0 else 0.0) if relu else 1.0 - a2[k] * a2[k]
            d2[k] = dout * W3[0, k] * da
        for j in range(m2):
            g2[j] += d2[j]
            for k in range(m1):
                G2[j, k] += d2[j] * a1[k]
        for k in range(m1):
            acc = 0.0
            for j in range(m2):
                acc += d2[j] * W2[j, k]
            d1[k] = acc * ((1.0 if a1[k] > 0.0 else 0.0) if relu else 1.0 - a1[k] * a1[k])
        for j in range(m1):
            g1[j] += d1[j]
            for k in range(nin):
                G1[j, k] += d1[j] * X[s, k]
    if hinge:
        loss /= n
    if reg:
        for W, G in ((W1, G1), (W2, G2), (W3, G3)):
            loss += reg * (W * W).sum()
            G += 2.0 * reg * W
        for b, g in ((b1, g1), (b2, g2), (b3, g3)):
            loss += reg * (b * b).sum()
            g += 2.0 * reg * b
    for W, G in ((W1, G1), (W2, G2), (W3, G3)):
        W -= lr * G
    for b, g in ((b1, g1), (b2, g2), (b3, g3)):
        b -= lr * g
    return loss


def numba_mlp(task: MLPTask) -> Peer:
    """The step written as loops over samples and neurons, compiled by ``numba.njit``."""
    if len(task.layers) != 3 or task.act not in ("tanh", "relu"):
        raise Unavailable("the numba kernel is written for two tanh/ReLU hidden layers")
    kernel = _numba(_mlp3_step)
    arrays = [np.array(t, dtype=np.float64) for W, b in task.layers for t in (W, b)]
    X, y = np.array(task.X, dtype=np.float64), np.array(task.y, dtype=np.float64)
    flags = (task.act == "relu", task.out_act == "tanh", task.loss == "hinge", task.reg)

    def step():
        return kernel(X, y, *arrays, task.lr, *flags)

    return Peer("numba by hand", step, note=f"numba {version('numba')}, njit loops")


def _micrograd_tanh(Value, v):
    """tanh added the way micrograd adds ops (a node with a ``_backward`` closure, as in the
    lecture): micrograd 0.1.0 has no tanh."""
    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def micrograd_mlp(task: MLPTask) -> Peer:
    """micrograd 0.1.0's own MLP and loop (``zero_grad``, ``parameters()``, update), with
    its weights set to the same numbers; its neurons give the pre-activations and each
    layer's activation is applied after them (tanh as :func:`_micrograd_tanh`)."""
    Value, MLP = _micrograd()
    model = MLP(len(task.layers[0][0][0]), [len(b) for _, b in task.layers])
    for p, x in zip(model.parameters(), [x for W, b in task.layers for x in _flat(W, b)]):
        p.data = x
    for layer in model.layers:
        for neuron in layer.neurons:
            neuron.nonlin = False
    act = {"relu": lambda v: v.relu(), "tanh": lambda v: _micrograd_tanh(Value, v),
           "linear": lambda v: v}
    acts = [act[a] for a in task.acts]

    def forward(x):
        for layer, f in zip(model.layers, acts):
            x = [f(n(x)) for n in layer.neurons]
        return x[0]

    X, y, n = task.X, task.y, len(task.y)

    def step():
        scores = [forward(x) for x in X]
        if task.loss == "sse":
            loss = sum((s - t) ** 2 for s, t in zip(scores, y))
        else:
            data = sum((1 + -t * s).relu() for t, s in zip(y, scores)) * (1.0 / n)
            loss = data + task.reg * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= task.lr * p.grad
        return loss.data

    return Peer("micrograd 0.1.0", step, note="its own MLP and loop; tanh added micrograd's way"
                if "tanh" in task.acts else "its own MLP and loop")


def _flat(W: list[list[float]], b: list[float]) -> list[float]:
    """micrograd's parameter order for one layer: each neuron's weights, then its bias."""
    return [x for row, bias in zip(W, b) for x in [*row, bias]]


# -- W3: a chain x = tanh(x + w), n nodes deep ----------------------------------------------
def torch_chain(steps: int, x0: float, w: float) -> Peer:
    """0-d float64 tensors, one tanh(x + w) per step, then ``backward()``."""
    torch = _torch()
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)

    def step():
        wt.grad = None
        x = torch.tensor(x0, dtype=torch.float64)
        for _ in range(steps):
            x = torch.tanh(x + wt)
        x.backward()
        return x.item(), wt.grad.item()

    return Peer("PyTorch eager", step, probe=list, note="0-d tensors, 1 thread")


def jax_chain(steps: int, x0: float, w: float) -> Peer:
    """``jax.lax.scan`` of tanh(x + w) under ``jax.jit(jax.value_and_grad(...))``."""
    jax, jnp = _jax()

    def chain(w):
        x, _ = jax.lax.scan(lambda x, _: (jnp.tanh(x + w), None), jnp.float64(x0), None,
                            length=steps)
        return x

    fn = jax.jit(jax.value_and_grad(chain))
    wj = jnp.float64(w)
    box: list = [None]

    def step():
        box[0] = fn(wj)
        return box[0]

    return Peer("JAX jit", step, probe=lambda r: [float(r[0]), float(r[1])],
                sync=lambda: jax.block_until_ready(box[0]), note="lax.scan, value_and_grad, x64")


def _chain(x0, w, steps):
    """Forward keeping every x, then the backward sweep: (x, d x / d w)."""
    xs = np.empty(steps)
    x = x0
    for i in range(steps):
        x = math.tanh(x + w)
        xs[i] = x
    g, dw = 1.0, 0.0
    for i in range(steps - 1, -1, -1):
        g *= 1.0 - xs[i] * xs[i]
        dw += g
    return x, dw


def numba_chain(steps: int, x0: float, w: float) -> Peer:
    kernel = _numba(_chain)
    return Peer("numba by hand", lambda: kernel(x0, w, steps), probe=list,
                note="njit loop, forward then backward")


def python_chain(steps: int, x0: float, w: float) -> Peer:
    """The same two loops on Python floats (NumPy has nothing to vectorise in a chain)."""
    tanh = math.tanh

    def step():
        xs = []
        x = x0
        for _ in range(steps):
            x = tanh(x + w)
            xs.append(x)
        g, dw = 1.0, 0.0
        for t in reversed(xs):
            g *= 1.0 - t * t
            dw += g
        return x, dw

    return Peer("Python floats by hand", step, probe=list,
                note="math.tanh loop; NumPy by hand n/a: a chain has nothing to vectorise")


def micrograd_chain(steps: int, x0: float, w: float) -> str:
    """micrograd's backward sorts the graph recursively: what happens on a deep chain."""
    Value, _ = _micrograd()
    wv, x = Value(w), Value(x0)
    for _ in range(steps):
        x = _micrograd_tanh(Value, x + wv)
    try:
        x.backward()
    except RecursionError:
        return (f"fails: RecursionError in backward (recursive topological sort, "
                f"recursion limit {sys.getrecursionlimit()})")
    return "ran"


# -- W4: layers of mixed binary ops on a wide vector -----------------------------------------
@dataclass
class MixTask:
    """h0 = w * x; each layer: h'[2i] = h[2i] * h[pa[i]], h'[2i+1] = (h[2i+1] + h[pb[i]]) / 2
    (``pa``, ``pb`` each hit distinct slots); the result is sum(h); gradients w.r.t. w."""

    w: list[float]
    x: list[float]
    pa: list[int]
    pb: list[int]
    layers: int

    def check(self) -> None:
        assert len(set(self.pa)) == len(self.pa) and len(set(self.pb)) == len(self.pb)


def _probe_grads(out: Any) -> list[float]:
    value, grads = out
    return [float(value), *np.asarray(grads, dtype=np.float64).tolist()]


def torch_mix(task: MixTask, compiled: bool = False) -> Peer:
    """Eager: ``torch.autograd.grad``; compiled: ``torch.compile`` of the same written with
    ``torch.func.grad_and_value`` (one graph)."""
    torch = _torch()
    w = torch.tensor(task.w, dtype=torch.float64, requires_grad=not compiled)
    x = torch.tensor(task.x, dtype=torch.float64)
    pa, pb = torch.tensor(task.pa), torch.tensor(task.pb)

    def net(w):
        h = w * x
        for _ in range(task.layers - 1):
            m = h[0::2] * h[pa]
            a = (h[1::2] + h[pb]) * 0.5
            h = torch.stack([m, a], dim=1).reshape(-1)
        return h.sum()

    if not compiled:
        def step():
            total = net(w)
            (grad,) = torch.autograd.grad(total, [w])
            return total.detach(), grad

        return Peer("PyTorch eager", step, probe=_probe_grads,
                    note="float64 vectors, one op per layer and kind, 1 thread")
    grad_and_value = torch.func.grad_and_value(net)

    def fstep():
        grad, total = grad_and_value(w)
        return total, grad

    return Peer("torch.compile", _compile_torch(torch, fstep), probe=_probe_grads,
                note="inductor, CPU, 1 thread; torch.func.grad_and_value")


def jax_mix(task: MixTask) -> Peer:
    jax, jnp = _jax()
    x = jnp.asarray(np.array(task.x))
    pa, pb = jnp.asarray(np.array(task.pa)), jnp.asarray(np.array(task.pb))

    def net(w):
        h = w * x
        for _ in range(task.layers - 1):
            h = jnp.stack([h[0::2] * h[pa], (h[1::2] + h[pb]) * 0.5], axis=1).reshape(-1)
        return h.sum()

    fn = jax.jit(jax.value_and_grad(net))
    w = jnp.asarray(np.array(task.w))
    box: list = [None]

    def step():
        box[0] = fn(w)
        return box[0]

    return Peer("JAX jit", step, probe=_probe_grads, sync=lambda: jax.block_until_ready(box[0]),
                note="unrolled layers, value_and_grad, x64")


def numpy_mix(task: MixTask) -> Peer:
    task.check()
    w, x = np.array(task.w), np.array(task.x)
    pa, pb = np.array(task.pa), np.array(task.pb)

    def step():
        hs = [w * x]
        for _ in range(task.layers - 1):
            h = hs[-1]
            new = np.empty_like(h)
            new[0::2] = h[0::2] * h[pa]
            new[1::2] = (h[1::2] + h[pb]) * 0.5
            hs.append(new)
        g = np.ones_like(w)
        for h in reversed(hs[:-1]):
            gm, ga = g[0::2], 0.5 * g[1::2]
            prev = np.zeros_like(h)
            prev[0::2] += gm * h[pa]
            prev[pa] += gm * h[0::2]  # pa's slots are distinct, so += adds once per slot
            prev[1::2] += ga
            prev[pb] += ga
            g = prev
        return hs[-1].sum(), g * x

    return Peer("NumPy by hand", step, probe=_probe_grads,
                note="gathers forward, scatters backward")


def _mix(w, x, pa, pb, layers):
    width = w.shape[0]
    half = width // 2
    H = np.empty((layers, width))
    for i in range(width):
        H[0, i] = w[i] * x[i]
    for k in range(1, layers):
        for i in range(half):
            H[k, 2 * i] = H[k - 1, 2 * i] * H[k - 1, pa[i]]
            H[k, 2 * i + 1] = (H[k - 1, 2 * i + 1] + H[k - 1, pb[i]]) * 0.5
    total = H[layers - 1].sum()
    g = np.ones(width)
    for k in range(layers - 1, 0, -1):
        prev = np.zeros(width)
        for i in range(half):
            gm, ga = g[2 * i], 0.5 * g[2 * i + 1]
            prev[2 * i] += gm * H[k - 1, pa[i]]
            prev[pa[i]] += gm * H[k - 1, 2 * i]
            prev[2 * i + 1] += ga
            prev[pb[i]] += ga
        g = prev
    return total, g * x


def numba_mix(task: MixTask) -> Peer:
    kernel = _numba(_mix)
    w, x = np.array(task.w), np.array(task.x)
    pa, pb = np.array(task.pa), np.array(task.pb)
    return Peer("numba by hand", lambda: kernel(w, x, pa, pb, task.layers), probe=_probe_grads,
                note="njit loops")


def micrograd_mix(task: MixTask) -> Peer:
    """micrograd on the same graph; its final sum is pairwise (a 1000-long chain of + would
    overflow its recursive backward)."""
    Value, _ = _micrograd()
    ws = [Value(v) for v in task.w]
    half = len(task.w) // 2

    def step():
        for p in ws:
            p.grad = 0.0
        h = [wi * xi for wi, xi in zip(ws, task.x)]
        for _ in range(task.layers - 1):
            new = []
            for i in range(half):
                new.append(h[2 * i] * h[task.pa[i]])
                new.append((h[2 * i + 1] + h[task.pb[i]]) * 0.5)
            h = new
        while len(h) > 1:
            h = [h[i] + h[i + 1] for i in range(0, len(h) - 1, 2)] + h[len(h) - len(h) % 2:]
        h[0].backward()
        return h[0].data, [p.grad for p in ws]

    return Peer("micrograd 0.1.0", step, probe=_probe_grads, note="final sum pairwise")
