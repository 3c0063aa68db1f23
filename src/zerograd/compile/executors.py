"""The executors: the interface they offer, which one replays a tape (by name, and the rule
"auto" follows).

Every executor offers :meth:`~Executor.forward`, :meth:`~Executor.backward` and
:meth:`~Executor.value_and_grad`; one that can run whole optimizer steps where its numbers
live (jax: on its device) says so with :attr:`~Executor.trains_on_device` and offers
:meth:`~Executor.training_step` (compiled training, :mod:`.training`, asks).

An executor's module is imported the first time its name is looked up, so the python and
scalar executors run with the standard library alone; the numpy executor imports NumPy,
and the jax executor NumPy and JAX, saying what to install when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .tape import Tape, fuse_sums, levels

PYTHON_SMALL = 400  # op nodes: below this generated Python wins whatever the shape
PYTHON_MAX_OPS = 3000  # above this, generated code takes longer to compile than it saves
NUMPY_MIN_WIDTH = 16  # op nodes per depth level for the numpy executor to pay off
NUMPY_INSTALL = "NumPy: pip install numpy"
JAX_INSTALL = 'JAX: pip install "zerograd[jax]"'


class Executor:
    """Base class of the executors (``python``, ``numpy``, ``scalar``, ``jax``)."""

    name = ""
    fused_value_and_grad = False  # value_and_grad is one call, cheaper than forward+backward
    trains_on_device = False  # training_step is offered

    def forward(self, pvals: Any, xvals: Any) -> tuple[list[float], Any]:
        """(results, what backward needs) from the parameters' and inputs' numbers."""
        raise NotImplementedError

    def backward(self, saved: Any, out: int) -> tuple[list[int], Any]:
        """(parameter indices, their gradients) of result ``out``, from what forward saved."""
        raise NotImplementedError

    def value_and_grad(self, pvals: Any, xvals: Any) -> tuple[float, list[int], Any]:
        """(result 0, parameter indices, their gradients): forward, then result 0's
        backward."""
        outs, saved = self.forward(pvals, xvals)
        which, grads = self.backward(saved, 0)
        return outs[0], which, grads

    def training_step(self, read: Any, pick: Any, pad: bool, rule: Callable,
                      k: int = 1) -> Callable:
        """``k`` optimizer steps as one program run where the numbers live (see
        ``JaxExecutor.training_step``); offered where :attr:`trains_on_device`."""
        raise NotImplementedError(f"the {self.name!r} executor does not train on a device")


def _python() -> type:
    from .pyexec import PythonExecutor

    return PythonExecutor


def _scalar() -> type:
    from .scalarexec import ScalarExecutor

    return ScalarExecutor


def _numpy() -> type:
    try:
        from .npexec import NumpyExecutor
    except ImportError as e:
        raise ImportError(f'the "numpy" executor needs {NUMPY_INSTALL} ({e})') from None
    return NumpyExecutor


def _jax() -> type:
    try:
        from . import jaxexec
    except ImportError as e:
        raise ImportError(f'the "jax" executor needs {JAX_INSTALL} ({e})') from None
    jaxexec.require()
    return jaxexec.JaxExecutor


class Executors(Mapping):
    """Executor name -> executor class, its module imported when first looked up; every
    lookup checks that what it needs is there (an ``ImportError`` names what to install)."""

    def __init__(self, loaders: dict[str, Callable[[], type]]):
        self._loaders = loaders

    def __getitem__(self, name: str) -> type:
        return self._loaders[name]()

    def __contains__(self, name: object) -> bool:  # a known name; nothing is imported
        return name in self._loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __repr__(self) -> str:
        return f"Executors({sorted(self._loaders)})"


EXECUTORS = Executors({"python": _python, "numpy": _numpy, "scalar": _scalar, "jax": _jax})


def choose(tape: Tape) -> str:
    """The executor "auto" picks: generated Python for small graphs, NumPy for wide ones,
    the scalar tape loop for big narrow ones (measured in benchmarks/bench_compile.py).
    Width is measured after ``add`` chains are fused, as the numpy executor runs them (a
    Python ``sum`` of every parameter is one node there, not a chain as deep as it is long).
    A tape recorded without NumPy (lists) gets generated Python, or the scalar loop for
    graphs too big to compile."""
    if tape.n_ops <= PYTHON_SMALL:
        return "python"
    if tape.lists:
        return "python" if tape.n_ops <= PYTHON_MAX_OPS else "scalar"
    fused = fuse_sums(tape)
    if fused.n_ops >= NUMPY_MIN_WIDTH * int(levels(fused).max()):
        return "numpy"
    return "python" if tape.n_ops <= PYTHON_MAX_OPS else "scalar"
