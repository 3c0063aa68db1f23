"""The long fuzz run: random programs against PyTorch float64, zg.compile against eager.

Run: python benchmarks/fuzz.py --programs 20000 [--seed 1] [--jobs 2]
     python benchmarks/fuzz.py --show 1234        (one program: its recipe and differences)

The programs, checks and reasons are those of tests/test_fuzz.py (whose short campaign runs
with the test suite). Prints programs tried, agreeing, differing for a documented reason,
failed, and the count per reason with the first program showing it; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import test_fuzz as fuzz  # noqa: E402


def _chunk(job: tuple[int, int, int]) -> fuzz.Report:
    seed, start, n = job
    return fuzz.campaign(seed, n, start=start)


def run(seed: int, programs: int, jobs: int) -> fuzz.Report:
    """The campaign of ``programs`` programs of ``seed``, split over ``jobs`` processes."""
    size = max(1, min(500, programs // max(1, jobs)))
    chunks = [(seed, s, min(size, programs - s)) for s in range(0, programs, size)]
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
    failures = fuzz.check(prog).failures
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
    args = ap.parse_args(argv)
    if args.show is not None:
        show(args.seed, args.show)
        return 0
    report = run(args.seed, args.programs, args.jobs)
    print(report.text())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
