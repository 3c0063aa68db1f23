"""Compiled training: the fast path of ``zg.train.fit`` and ``zg.train.Step``, where the
parameters' numbers, their gradients and the optimizer's state stay in arrays for the run.

:func:`start` makes a run for a compiled loss: an :class:`ArrayRun` (the loss and its
gradients from ``CompiledFunction.value_and_grad``, the update by ``Optimizer.apply`` in
NumPy) or, where the executor trains on its device (``Executor.trains_on_device``: jax), a
:class:`DeviceRun` (loss, gradients and update in one program there). The training loop
drives it a step at a time: :meth:`~ArrayRun.evaluate` (the loss and its gradients; the loop
checks them), :meth:`~ArrayRun.update` (the optimizer's step on them),
:meth:`~ArrayRun.write_back` (the numbers into the Values, as the eager loop leaves them)
and :meth:`~ArrayRun.read` (the Values' numbers into the run, after a change made to them).

The optimizer is a zerograd one (``zg.optim``): its ``params``, ``param_groups``,
``scalars``, ``apply``, ``rule``, ``state_arrays``, ``advance``, ``get_state`` and
``set_state`` are all a run uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import monitor
from .guard import ModelChanged

STEPS_PER_CALL = 4  # a device run with known inputs: steps per program (see DeviceRun)
NO_NUMBERS = np.zeros(0)  # the "others" of a loss that reads no untrained parameter


def start(compiled: Any, arguments: Callable[[], tuple], optimizer: Any,
          ahead: bool = False, device: bool = True) -> ArrayRun:
    """The run training ``optimizer``'s parameters on ``compiled`` (a ``CompiledFunction``,
    traced here on the first ``arguments()`` if it has not been), fed ``arguments()`` each
    step. ``device``: an executor that trains on its device does (else the update runs in
    NumPy); ``ahead``: the next steps' inputs are known (see :class:`DeviceRun`)."""
    first = arguments()
    compiled.prepare(*first)
    if device and compiled.executor.trains_on_device:
        return DeviceRun(compiled, arguments, optimizer, first, ahead)
    return ArrayRun(compiled, arguments, optimizer, first)


class ArrayRun:
    """The parameters' numbers (:attr:`data`), their gradients (:attr:`grad`) and the
    optimizer's state in arrays for the run (``CompiledFunction.value_and_grad``,
    ``Optimizer.apply``); :meth:`write_back` puts them into the Values.

    The loss reads the parameters :attr:`reads` (``compiled.params``); read parameter ``i``
    is trained number ``into[i]``, or one the optimizer does not hold (``into[i] < 0``, in
    :attr:`others`: its Value's number is read each step, never trained)."""

    def __init__(self, compiled: Any, args: Callable[[], tuple], optimizer: Any,
                 first: tuple):
        self.compiled, self.args, self.optimizer = compiled, args, optimizer
        self.params = optimizer.params
        self.read()
        where = {id(p): i for i, p in enumerate(self.params)}
        self.pending: tuple | None = first  # the first batch: traced on, then trained on
        self.reads = compiled.prepare(*first)
        self.traces = compiled.traces  # the trace this run was set up for
        self.into = np.array([where.get(id(p), -1) for p in self.reads], dtype=np.intp)
        self.others = np.flatnonzero(self.into < 0).tolist()  # read, not trained
        self.pick: tuple | None = None  # each trained number's gradient (see picker)
        self.grad = np.array([p.grad for p in self.params], dtype=float)
        self.at_pass = self.data.copy()  # the numbers the last gradients were taken at
        self.passed: tuple | None = None  # the last pass: (pvals, which, grads)

    def read(self) -> None:
        """Take the Values' numbers (the start, or after a callback)."""
        self.data = np.array([p.data for p in self.params], dtype=float)

    def evaluate(self, size: bool = True) -> tuple[float, float]:
        """The loss at the current numbers and its largest gradient's magnitude (nan
        unless ``size``; the gradients are kept for :meth:`update`)."""
        if self.compiled.traces != self.traces:
            self.retraced()
        pvals = self.data[self.into]
        if self.others:  # read by the loss but not trained: their current numbers
            pvals[self.others] = [self.reads[i].data for i in self.others]
        batch = self.pending if self.pending is not None else self.args()
        self.pending = None
        value, which, grads = self.compiled.value_and_grad(pvals, *batch)
        self.passed = pvals, which, grads  # the pass as the loss saw it (until the next call:
        if self.pick is None:  # the executor reuses its buffer)
            self.pick = picker(which, self.into, len(self.params))
        pick, pad = self.pick
        grads = np.asarray(grads, dtype=float)
        self.taken = grad = (np.append(grads, 0.0) if pad else grads)[pick]  # (a copy)
        return float(value), float(np.abs(grad).max(initial=0.0)) if size else math.nan

    def retraced(self) -> None:
        """Refuse to go on: the compiled loss was traced again (for a changed model)
        since this run was set up for it."""
        raise ModelChanged(
            "zg.compile: the model changed and the compiled loss was traced again since "
            "this training run started; start a new one for the changed model (a new Step, "
            "or fit again; a new optimizer over model.parameters() if parameters were added "
            "or replaced).")

    def pass_numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """The last :meth:`evaluate`'s pass as the loss saw it: the numbers of the
        parameters it reads (one per :attr:`reads`) and their gradients (0 where it has
        none), for the training watch (``monitor.after_compiled``)."""
        pvals, which, grads = self.passed
        full = np.zeros(len(pvals))
        full[which] = grads
        return pvals, full

    def update(self) -> None:
        """The optimizer's step on the gradients :meth:`evaluate` took."""
        self.at_pass[...] = self.data
        self.grad = self.taken
        self.optimizer.apply(self.data, self.grad)

    def write_back(self) -> None:
        """The numbers, gradients and passes into the Values, as after ``backward()`` at
        the numbers of the last pass and ``optimizer.step()``."""
        monitor.put(self.params, self.data.tolist(), self.grad.tolist(), self.at_pass.tolist())


class CallInputs(NamedTuple):
    """What one device call is sent."""

    program: Callable  # the executor's training step for these hyperparameters
    data: Any  # the trained numbers
    others: Any  # the numbers of the parameters the loss reads but does not train
    scalars: tuple[dict[str, float], ...]  # each step's Optimizer.scalars
    state: dict[str, Any]  # the optimizer's state arrays


class CallOutputs(NamedTuple):
    """What one device call returns (``Executor.training_step``'s program), for its steps
    in order."""

    heads: Any  # per step: (loss, largest gradient magnitude)
    datas: Any  # per step: the numbers it was taken at
    grads: Any  # per step: its gradients
    states: dict[str, Any]  # per step: the optimizer's state before its update
    data: Any  # the numbers after the last step's update
    state: dict[str, Any]  # the optimizer's state after it
    at_pass: Any  # the last step's numbers (datas[-1])
    grad: Any  # and its gradients (grads[-1])


class Sent(NamedTuple):
    """A call sent ahead, before the loop has checked the one before it."""

    inputs: CallInputs
    outputs: CallOutputs


class Call(NamedTuple):
    """The call whose steps the loop is checking: its heads as Python floats."""

    inputs: CallInputs
    heads: list[list[float]]
    outputs: CallOutputs


class DeviceRun(ArrayRun):
    """The run of an executor that trains on its device (jax): the numbers, their
    gradients and the optimizer's state stay there for the run. One program per call
    (``executor.training_step``) takes the loss, the gradients and the optimizer's update
    (``Optimizer.rule``); :meth:`update` keeps the update once the loop's checks have passed.

    ``ahead`` (fit sets it for a run with no batch function, scheduler or callbacks, where
    the next steps' inputs are known): each call runs STEPS_PER_CALL steps, which the loop
    then checks one by one, and before it waits for them the next call is sent on their
    outcome, so the device works while the loop checks. A step the loop does not keep (it
    raised) ends the call's use: the Values get the numbers it was taken at. A call's later
    steps and the call sent ahead are used only if nothing they assumed has changed (the
    learning rate, the numbers); else they are dropped and run again."""

    def __init__(self, compiled: Any, args: Callable[[], tuple], optimizer: Any,
                 first: tuple, ahead: bool = False):
        super().__init__(compiled, args, optimizer, first)
        self.programs: list[tuple[dict, Callable]] = []  # per set of fixed hyperparameters
        self.seen: tuple[dict, Callable] | None = None  # the last group a program was for
        self.x: np.ndarray | None = None  # the inputs' numbers, when they are the same each step
        self.ahead = ahead
        self.k = STEPS_PER_CALL if ahead else 1
        self.sent: Sent | None = None  # the next call, sent early
        self.call: Call | None = None  # the call being checked
        self.j = 0  # its steps kept so far

    def _program(self) -> Callable:
        """The program for the optimizer's hyperparameters, made once for each set of them
        (the learning rate is an input, fed per step)."""
        g = self.optimizer.param_groups[0]
        if self.seen is not None:  # (checked each step: a copy compared, in C)
            group, program = self.seen
            group["lr"] = g["lr"]
            if group == g:
                return program
        fixed = {k: v for k, v in g.items() if k not in ("params", "lr")}
        program = next((known for hyper, known in self.programs if hyper == fixed), None)
        if program is None:
            program = self._make(fixed)
            self.programs.append((fixed, program))
        self.seen = dict(g), program
        return program

    def _make(self, fixed: dict) -> Callable:
        """The executor's training step, running the optimizer's rule with ``fixed``."""
        rule, executor = self.optimizer.rule, self.compiled.executor
        pick, pad = picker(executor.which(executor.mask(0)), self.into, len(self.params))

        def step(data: Any, grad: Any, s: dict, state: dict, xp: Any) -> tuple:
            return rule(fixed, s, data, grad, state, xp)

        return executor.training_step(self.into, pick, pad, step, self.k)

    def _inputs(self, data: Any, state: dict, after: int = 0) -> CallInputs:
        """A call's inputs, its first step ``after`` steps from the optimizer's next."""
        others = (np.array([self.reads[i].data for i in self.others], dtype=float)
                  if self.others else NO_NUMBERS)
        opt = self.optimizer
        return CallInputs(self._program(), data, others,
                          tuple(opt.scalars(after + j) for j in range(self.k)), state)

    def _send(self, inputs: CallInputs, x: Any) -> CallOutputs:
        ss = inputs.scalars
        per_step = {key: np.array([s[key] for s in ss]) for key in ss[0]}
        return CallOutputs._make(inputs.program(inputs.data, inputs.others, per_step,
                                                inputs.state, x))

    def evaluate(self, size: bool = True) -> tuple[float, float]:  # size: from XLA anyway
        if self.compiled.traces != self.traces:
            self.retraced()
        call, j = self.call, self.j
        if call is not None and j and not self._holds(call, j):
            self._settle()  # a later step of the call assumed what has changed
            call = None
        if call is None:
            x = self.x
            if x is None:
                batch = self.pending if self.pending is not None else self.args()
                self.pending = None
                x = np.asarray(self.compiled.flatten(*batch), dtype=float)
                self.x = x if self.ahead else None  # ahead: no batch function, same inputs
            inputs = self._inputs(self.data, self.optimizer.state_arrays(len(self.params)))
            sent, self.sent = self.sent, None
            outs = (sent.outputs if sent is not None and same(sent.inputs, inputs)
                    else self._send(inputs, x))
            if self.ahead:  # the next call on this one's outcome, while the loop checks it
                nxt = self._inputs(outs.data, outs.state, self.k)
                self.sent = Sent(nxt, self._send(nxt, x))
            heads = np.asarray(outs.heads).tolist()  # one transfer, waiting for the call
            self.call = call = Call(inputs, heads, outs)
            self.j = j = 0
        return tuple(call.heads[j])

    def _holds(self, call: Call, j: int) -> bool:
        """Whether step ``j`` of ``call`` assumed what is true now (its program, scalars and
        others' numbers)."""
        sent = call.inputs
        return (self._program() is sent.program
                and sent.scalars[j] == self.optimizer.scalars(started=True)
                and (not self.others or np.array_equal(
                    sent.others, [self.reads[i].data for i in self.others])))

    def update(self) -> None:
        self.j += 1
        if self.j < self.k:
            self.optimizer.advance({})  # the state moves on with the call's last step
            return
        out = self.call.outputs
        self.at_pass, self.grad, self.data = out.at_pass, out.grad, out.data
        self.optimizer.advance(out.state)
        self.call, self.j = None, 0

    def _settle(self) -> None:
        """The numbers as the steps kept of the call being checked left them (its ``j``
        first ones); the rest of it, and the call sent after it, dropped."""
        if self.call is not None and self.j:
            j, out = self.j, self.call.outputs
            self.data, self.at_pass, self.grad = out.datas[j], out.datas[j - 1], out.grads[j - 1]
            self.optimizer.set_state({k: v[j] for k, v in out.states.items()})
            self.sent = None
        self.call, self.j = None, 0

    def write_back(self) -> None:
        self._settle()
        opt = self.optimizer
        opt.set_state({k: np.array(v, dtype=float) for k, v in opt.get_state().items()})
        self.data, self.grad, self.at_pass = (
            np.array(a, dtype=float) for a in (self.data, self.grad, self.at_pass))
        super().write_back()


def picker(which: Any, into: np.ndarray, n: int) -> tuple[np.ndarray, bool]:
    """(pick, pad): for each of the ``n`` trained numbers, its gradient's place among the
    loss's gradients (those of the read parameters ``which``; read parameter ``i`` is
    trained number ``into[i]``, none if -1), or ``len(which)`` where the loss has none;
    ``pad``: some have none (their gradient is a zero put after the loss's)."""
    which = np.asarray(which, dtype=np.intp)
    pick = np.full(n, len(which), np.intp)
    to = into[which]
    pick[to[to >= 0]] = np.flatnonzero(to >= 0)
    return pick, bool((pick == len(which)).any())


def same(a: CallInputs, b: CallInputs) -> bool:
    """Whether two calls' inputs are the same (the same arrays, equal numbers)."""
    return (a.program is b.program and a.data is b.data
            and (a.others is b.others or np.array_equal(a.others, b.others))
            and a.scalars == b.scalars
            and a.state.keys() == b.state.keys() and all(a.state[k] is b.state[k] for k in a.state))


__all__ = ["start", "ArrayRun", "DeviceRun", "CallInputs", "CallOutputs", "STEPS_PER_CALL"]
