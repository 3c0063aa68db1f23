"""The executor interface: what a compiled function and compiled training call.

An executor runs one tape. Every executor offers :meth:`~Executor.forward`,
:meth:`~Executor.backward` and :meth:`~Executor.value_and_grad`; one that can run whole
optimizer steps where its numbers live (jax: on its device) says so with
:attr:`~Executor.trains_on_device` and offers :meth:`~Executor.training_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
