"""The long fuzz run: random programs against PyTorch float64, zg.compile against eager.

Run: python benchmarks/fuzz.py --programs 20000 [--seed 1] [--jobs 2]
          [--executors python,scalar,numpy,jax]
     python benchmarks/fuzz.py --show 1234        (one program: its recipe and differences)

The programs, checks and reasons are those of tests/test_fuzz.py (whose short campaign runs
with the test suite), with every executor, the jax one included (tests/test_fuzz.py leaves
it out: XLA compiles each program, about half a second). A jax result that differs from
eager is documented when the numpy executor's documented reasons explain it (XLA adds
gradients in another order too), or when eager's numbers hold a subnormal (XLA on CPU
flushes numbers below 2.2e-308 to zero). Prints programs tried, agreeing, differing for a
documented reason, failed, and the count per reason with the first program showing it;
exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import test_fuzz as fuzz  # noqa: E402

EXECUTORS = ("python", "scalar", "numpy", "jax")
TINY = 2.2250738585072014e-308  # the smallest normal float64; XLA flushes what is below


def jax_reasons(prog: fuzz.Program, sample: int, eager: list) -> list[str]:
    """Why the jax executor's result on ``sample`` differs from eager's ``eager`` nodes."""
    data, grads = fuzz.run_compiled(prog, "jax")[sample]
    why = fuzz.numpy_differences(prog, eager, [data, *grads])
    if all(r.startswith("documented") for r in why):
        return [r.replace("documented: numpy", "documented: jax (as numpy)") for r in why]
    if any(0 < abs(x) < TINY for v in eager for x in (v.data, v.grad)):
        return ["documented: XLA flushes subnormals to zero (jax)"]
    return ["jax differs from eager"]


def check(prog: fuzz.Program, executors: Sequence[str]) -> fuzz.Result:
    """``fuzz.check``, with the jax executor's differences explained where they can be."""
    res = fuzz.check(prog, executors)
    for n, (where, reasons) in enumerate(res.failures):
        if reasons == ["jax differs from eager"]:
            s = int(where.rsplit(" ", 1)[1])
            res.failures[n] = (where, jax_reasons(prog, s, fuzz.run_eager(prog, prog.samples[s])))
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
    rep.seconds = time.perf_counter() - t0
    return rep


def run(seed: int, programs: int, jobs: int,
        executors: Sequence[str] = EXECUTORS) -> fuzz.Report:
    """The campaign of ``programs`` programs of ``seed``, split over ``jobs`` processes."""
    size = max(1, min(500, programs // max(1, jobs)))
    chunks = [(seed, s, min(size, programs - s), tuple(executors))
              for s in range(0, programs, size)]
    report = fuzz.Report(seed)
    t0 = time.perf_counter()
    if jobs <= 1:
        parts = [_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_chunk, chunks))
    for part in parts:
        report.merge(part)
    report.seconds = time.perf_counter() - t0  # wall clock, not the sum over processes
    return report


def show(seed: int, index: int) -> None:
    """Print program ``index`` of ``seed`` and what differs in it."""
    prog = fuzz.program_at(seed, index)
    print(f"program_at({seed}, {index}): leaves {prog.samples} (parameter: {prog.params})")
    for j, st in enumerate(prog.steps):
        print(f"  node {prog.n_leaves + j} = {st.op}{st.args}")
    failures = check(prog, EXECUTORS).failures
    for where, reasons in failures:
        print(f"  {where}: {'; '.join(reasons)}")
    if not failures:
        print("  agrees everywhere")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
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
    report = run(args.seed, args.programs, args.jobs, executors)
    print(report.text())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
