"""The long fuzz run: random programs against PyTorch float64, zg.compile against eager.

Run: python benchmarks/fuzz.py --programs 20000 [--seed 1] [--jobs 2]
          [--executors python,scalar,numpy,jax] [--start 0]
     python benchmarks/fuzz.py --show 1234        (one program: its recipe and differences)

The programs, checks and reasons are those of tests/test_fuzz.py (whose short campaign runs
with the test suite), with every executor, the jax one included (tests/test_fuzz.py leaves
it out: XLA compiles each program, about a quarter of a second). The jax executor runs
through ``value_and_grad``, the training fast path: one XLA program per program. A jax
result beyond 1e-12 of eager's is documented when recomputing the program with one or more
of XLA's documented differences gives jax's numbers (:func:`as_xla`): subnormals flushed to
zero, a dot's products added by fused multiply-adds, XLA's exp/log/tanh/pow; or when it is
the numpy executor's other order of adding gradients (measured as for numpy). Prints
programs tried, agreeing, differing for a documented reason, failed, and the count per
reason with the first program showing it (progress and each failure as it comes to
stderr); exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import test_fuzz as fuzz  # noqa: E402

import zerograd as zg  # noqa: E402
from zerograd import engine  # noqa: E402
from zerograd.engine import Value  # noqa: E402
from zerograd.ops import SCALAR, ScalarMath  # noqa: E402

EXECUTORS = ("python", "scalar", "numpy", "jax")
FMA = "documented: XLA fuses a dot's a * b + c (jax)"
CONTRACT = "documented: XLA fuses a product and a sum, (a * b) +- c (jax)"
MATH = "documented: XLA's exp/log/tanh/pow (jax)"
FLUSH = "documented: XLA flushes subnormals to zero (jax)"
ORDER = "documented: jax adds gradients in another order"
# jax_reasons' changes
CHANGES = {"flush": FLUSH, "dots": FMA, "contract": CONTRACT, "math": MATH, "order": ORDER}
TINY = 2.2250738585072014e-308  # the smallest normal float64; XLA flushes what is below


def fma(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once, as a fused multiply-add (``math.fma`` of Python 3.13):
    the exact sum of the exact product, by fractions; inf and nan as IEEE 754's fma."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c  # the product is inf or nan: exact as it is
    if not math.isfinite(c):
        return c  # a finite product (however large) plus inf or nan
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:  # an exact zero: -0.0 only when both a * b and c are -0.0
        return -0.0 if math.copysign(1.0, a * b) < 0 and math.copysign(1.0, c) < 0 else 0.0
    try:
        return float(exact)  # rounded to nearest, ties to even
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


class XlaMath(ScalarMath):
    """``ScalarMath`` with XLA's exp, log, log1p, tanh and pow (one float through a jitted
    ``jax.numpy`` function): the elementary functions as the jax executor computes them."""

    _jitted: dict = {}

    @classmethod
    def _xla(cls, name: str, *xs: float) -> float:
        import jax
        import jax.numpy as jnp

        fn = cls._jitted.get(name)
        if fn is None:
            fn = cls._jitted[name] = jax.jit(getattr(jnp, name))
        with jax.enable_x64(True):
            return float(fn(*(np.float64(getattr(x, "raw", x)) for x in xs)))

    def exp(self, x: float) -> float:
        return self._xla("exp", x)

    def log(self, x: float) -> float:
        return self._xla("log", x)

    def log1p(self, x: float) -> float:
        return self._xla("log1p", x)

    def tanh(self, x: float) -> float:
        return self._xla("tanh", x)

    def pow(self, x: float, y: float) -> float:
        return self._xla("power", x, y)

    def powk(self, x: float, k: float) -> float:
        return ScalarMath.powk(x, k) if k in (0.5, -0.5, -2.0) else self.pow(x, k)

    def powkm1(self, x: float, k: float) -> float:
        return self.powk(x, k - 1.0)


XLA = XlaMath()


class Flushed(float):
    """A subnormal number flushed to zero (its value), holding the number (``raw``): XLA's
    arithmetic and comparisons take it as zero, but its negation, abs and selects (relu)
    keep it, and its exp/log/tanh/pow see the number and decide themselves (``XlaMath``;
    its pow does not flush it: 5e-324 ** 1e-300 is 1.0)."""

    raw: float

    def __neg__(self) -> float:  # a sign flip and a mask: bits, not arithmetic, in XLA
        return ftz(-self.raw)

    def __abs__(self) -> float:
        return ftz(abs(self.raw))


def ftz(x: float) -> float:
    """``x``, or a zero of its sign where it is subnormal: what XLA on the CPU makes of it."""
    if 0 < abs(x) < TINY:
        z = Flushed(math.copysign(0.0, x))
        z.raw = x
        return z
    return x


class Flushing:
    """Math ``m`` whose functions' results are flushed (:func:`ftz`): subnormals inside an
    op's formula (``1 / MAX`` in a division's derivative) are zero, as in XLA."""

    FUNCTIONS = ("div", "pow", "powk", "powkm1", "exp", "log", "log1p", "sqrt", "tanh")

    def __init__(self, m: ScalarMath):
        self.m = m

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.m, name)
        return (lambda *xs: ftz(fn(*xs))) if name in self.FUNCTIONS else fn


def _op(v: Value, m: Any, xs: list[float], g: float | None = None,
        out: float = 0.0, f: Any = float) -> Any:
    """Node ``v``'s op on floats ``xs`` with ``m``: its value, or with ``g`` its
    contributions (``fuzz.local`` without its float(): a :class:`Flushed` stays one);
    ``f`` is applied to the op's constant (``x ** k``'s ``k``), as to every operand."""
    op, k = v._fn, (f(v._arg),) if v._fn.param else ()
    with np.errstate(all="ignore"):
        return op.forward(m, *xs, *k) if g is None else op.backward(m, g, out, *xs, *k)


def as_xla(prog: fuzz.Program, eager: list, *changes: str) -> list[float]:
    """The root's value and the parameters' gradients of ``prog`` at eager's leaf values,
    computed as eager computes them (its graph ``eager``, walked again in its order) but
    with ``changes``, what XLA's CPU code does differently: ``"dots"``, every ``dot``
    (``b + w0*x0 + w1*x1 + ...``) adds each product by a fused multiply-add, rounded once;
    ``"contract"``, an ``add``/``sub`` with a ``mul`` operand adds its product by a fused
    multiply-add (:func:`_contracted`); ``"math"``, XLA's elementary functions
    (:class:`XlaMath`); ``"flush"``, every operand, constant, result and gradient
    contribution of an op that is subnormal is a :class:`Flushed` zero."""
    m: Any = XLA if "math" in changes else SCALAR
    m, f = (Flushing(m), ftz) if "flush" in changes else (m, lambda x: x)
    n = prog.n_leaves
    data = {id(v): v.data for v in eager[:n]}
    fused = {id(v) for st, v in zip(prog.steps, eager[n:]) if st.op == "dot"}
    fused = fused if "dots" in changes else set()
    contract = "contract" in changes
    order = engine.topological_order(eager[-1])
    for v in order:
        if v._fn is None:
            data.setdefault(id(v), v.data)  # a leaf, or a constant operand
            continue
        xs = [f(data[id(c)]) for c in v._children]
        if id(v) in fused:
            acc = xs[0]
            for w, x in zip(xs[1::2], xs[2::2]):
                acc = f(fma(w, x, acc))
            data[id(v)] = acc
        elif contract and v._fn.name in ("add", "sub") and any(
                _is_mul(c) for c in v._children):
            left, right = ([f(data[id(g)]) for g in c._children] if _is_mul(c) else None
                           for c in v._children)
            data[id(v)] = f(_contracted(v, left, right, xs))
        else:
            data[id(v)] = f(_op(v, m, xs, f=f))
    grad = {id(eager[-1]): 1.0}
    for v in reversed(order):
        if v._fn is not None:
            xs = [f(data[id(c)]) for c in v._children]
            parts = _op(v, m, xs, f(grad.get(id(v), 0.0)), data[id(v)], f)
            for c, d in zip(v._children, parts):
                grad[id(c)] = f(grad.get(id(c), 0.0) + f(d))
    leaves = [v for v, p in zip(eager, prog.params) if p]
    return [data[id(eager[-1])]] + [grad.get(id(v), 0.0) for v in leaves]


def _is_mul(v: Value) -> bool:
    return v._fn is not None and v._fn.name == "mul"


def _contracted(v: Value, left: list[float] | None, right: list[float] | None,
                xs: list[float]) -> float:
    """``add``/``sub`` node ``v`` with a product fused into it, as LLVM contracts it:
    ``left``/``right`` are the factors of its first/second operand where that operand is a
    ``mul`` node (None where not); where both are, the second one's product is fused (as
    measured: ``x*x - x*x`` gives ``fma(-x, x, x*x)``)."""
    sub = v._fn.name == "sub"
    if right is not None:
        return fma(-right[0] if sub else right[0], right[1], xs[0])
    assert left is not None
    return fma(left[0], left[1], -xs[1] if sub else xs[1])


def run_jax(prog: fuzz.Program) -> list[tuple[float, list[float]]]:
    """``fuzz.run_compiled(prog, "jax")`` through ``value_and_grad``, the training fast path:
    one XLA program per program (the compiled call and ``backward()`` compile a forward and
    a backward program first, tripling the cost)."""
    params = [Value(0.0) for p in prog.params if p]

    def fn(xs: list) -> Value:
        ps, it = iter(params), iter(xs)
        return fuzz.build(prog, [next(ps) if p else next(it) for p in prog.params])[-1]

    f = zg.compile(fn, executor="jax")
    at = {id(p): j for j, p in enumerate(params)}
    out = []
    for sample in prog.samples:
        xs = [x for x, q in zip(sample, prog.params) if not q]
        order = f.prepare(xs)  # traced on the first sample, replayed on the others
        number = {id(p): x for p, x in zip(params, [x for x, q in zip(sample, prog.params) if q])}
        value, which, grads = f.value_and_grad([number[id(p)] for p in order], xs)
        got = [0.0] * len(params)
        for i, g in zip(which, np.asarray(grads).tolist()):
            got[at[id(order[i])]] = g
        out.append((float(value), got))
    return out


def jax_reasons(prog: fuzz.Program, eager: list, data: float, grads: list[float]) -> list[str]:
    """Why the jax executor's ``data`` and ``grads`` differ from eager's ``eager`` nodes:
    the fewest of XLA's documented differences (:data:`CHANGES`) that, recomputed on the
    program (:func:`as_xla`), give jax's numbers; ``"order"``: a gradient may also differ
    by what adding its contributions in another order can change it by (the numpy
    executor's rule: 64 ulps of the sum of their magnitudes, or any amount when that sum
    overflows)."""
    got = [data, *grads]
    scales = fuzz.error_scales(eager[-1])
    size = [0.0] + [scales.get(id(v), 0.0) for v, p in zip(eager, prog.params) if p]
    for k in range(1, len(CHANGES) + 1):
        for changes in itertools.combinations(CHANGES, k):
            want = as_xla(prog, eager, *changes)
            loose = "order" in changes
            if all(fuzz.agree(g, w) or loose and (not math.isfinite(s) or abs(g - w) <= (
                    fuzz.REORDER * s)) for g, w, s in zip(got, want, size)):
                return [CHANGES[c] for c in changes]
    return ["jax differs from eager"]


def fuzz_want(prog: fuzz.Program, eager: list) -> list[float]:
    """Eager's root value and parameters' gradients."""
    return [eager[-1].data] + [v.grad for v, p in zip(eager, prog.params) if p]


def check(prog: fuzz.Program, executors: Sequence[str]) -> fuzz.Result:
    """``fuzz.check``, the jax executor run by :func:`run_jax` and its differences
    explained where they can be."""
    res = fuzz.check(prog, [e for e in executors if e != "jax"])
    if "jax" in executors:
        for s, (data, grads) in enumerate(run_jax(prog)):
            eager = fuzz.run_eager(prog, prog.samples[s])
            if not all(fuzz.agree(a, b) for a, b in zip([data, *grads], fuzz_want(prog, eager))):
                res.failures.append((f"jax, sample {s}", jax_reasons(prog, eager, data, grads)))
    return res


def _chunk(job: tuple[int, int, int, tuple[str, ...]]) -> fuzz.Report:
    seed, start, n, executors = job
    rep = fuzz.Report(seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's overflow warnings, training-loop hints
        for i in range(start, start + n):
            try:
                res = check(fuzz.program_at(seed, i), executors)
            except Exception as e:  # a program that raises is a failure, reported as such
                res = fuzz.Result([("raised", [f"raised {type(e).__name__}: {str(e)[:80]}"])])
            rep.add(i, res)
            if not res.documented:  # each failure as it comes: a long run shows them early
                print(f"  program_at({seed}, {i}) failed: " + "; ".join(
                    f"{where}: {', '.join(rs)}" for where, rs in res.failures
                    if not all(r.startswith("documented") for r in rs)),
                    file=sys.stderr, flush=True)
    rep.seconds = time.perf_counter() - t0
    return rep


class _Serial:
    """The pool of ``--jobs 1``: this process, one chunk after another."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn, items):  # noqa: ANN001, ANN201
        return map(fn, items)


def run(seed: int, programs: int, jobs: int,
        executors: Sequence[str] = EXECUTORS, start: int = 0) -> fuzz.Report:
    """The campaign of ``programs`` programs of ``seed`` from index ``start``, split over
    ``jobs`` processes."""
    size = max(1, min(100, programs // max(1, jobs)))
    chunks = [(seed, s, min(size, start + programs - s), tuple(executors))
              for s in range(start, start + programs, size)]
    report = fuzz.Report(seed)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) if jobs > 1 else _Serial() as pool:
        for part in pool.map(_chunk, chunks):  # in order, each as soon as it is done
            report.merge(part)
            print(f"  ... {report.tried} of {programs} programs: failed {report.failed}, "
                  f"documented {report.documented} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    report.seconds = time.perf_counter() - t0  # wall clock, not the sum over processes
    return report


def show(seed: int, index: int) -> None:
    """Print program ``index`` of ``seed`` and what differs in it."""
    prog = fuzz.program_at(seed, index)
    print(f"program_at({seed}, {index}): leaves {prog.samples} (parameter: {prog.params})")
    for j, st in enumerate(prog.steps):
        print(f"  node {prog.n_leaves + j} = {st.op}{st.args}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's overflow warnings, training-loop hints
        failures = check(prog, EXECUTORS).failures
    for where, reasons in failures:
        print(f"  {where}: {'; '.join(reasons)}")
    if not failures:
        print("  agrees everywhere")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0,
                    help="the first program's index (to run again part of a long campaign)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--show", type=int, metavar="INDEX", help="show one program and stop")
    ap.add_argument("--executors", default=",".join(EXECUTORS),
                    help="zg.compile executors compared with eager, comma-separated")
    args = ap.parse_args(argv)
    executors = [e for e in args.executors.split(",") if e]
    unknown = sorted(set(executors) - set(EXECUTORS))
    if unknown:
        ap.error(f"--executors: unknown {', '.join(unknown)}; choose from {', '.join(EXECUTORS)}")
    if args.show is not None:
        show(args.seed, args.show)
        return 0
    report = run(args.seed, args.programs, args.jobs, executors, args.start)
    print(report.text())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
