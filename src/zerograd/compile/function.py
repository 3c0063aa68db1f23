"""Phase 3, replay: the callable ``zg.compile`` returns, and the Value-like results."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .. import modes, monitor
from . import trace
from .anomaly import Checked, CheckedExecutor
from .executors import EXECUTORS, choose
from .guard import Guard, ModelChanged
from .tape import Tape, record

RETRACE_WARNING = 10  # traces after which a function retraced for changes is warned about


class CompiledFunction:
    """``fn`` traced on its first call and replayed on later calls (see ``zg.compile``)."""

    def __init__(self, fn: Callable, executor: str = "auto"):
        if not callable(fn):
            raise TypeError(f"zg.compile needs a function, got {type(fn).__name__}: {fn!r}")
        if executor != "auto" and executor not in EXECUTORS:
            raise ValueError(
                f"unknown executor {executor!r}; choose 'auto' or one of {sorted(EXECUTORS)}"
            )
        if executor != "auto":
            EXECUTORS[executor]  # imported now: a missing NumPy or JAX is said now
        self.fn = fn
        self.executor_name = executor
        self.executor: Any = None
        self.n_ops = self.n_nodes = 0  # op nodes; all nodes (leaves included)
        self._spec: Any = None
        self._extract: Callable | None = None  # flattens arguments of the traced structure
        self._params: list = []
        self._kind: type | None = None
        self._checked: CheckedExecutor | None = None  # the replay used in detect_anomaly()
        self._both = False  # the last result's backward() was called: take both in one call
        self._guard: Any = None  # what the trace depended on (see guard.Guard)
        self.traces = 0  # how many times fn was traced (again after a change to the model)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat = self._flat(args, kwargs)
        if modes.current.anomaly is not None:
            outs, saved = self._checked_forward(args, kwargs, flat)
        elif self._both and self._kind is None:
            # a training loop on an executor that computes the result and its gradients
            # in one call (jax: one XLA program, not two): take both, for backward()
            value, which, grads = self.executor.value_and_grad(
                [p.data for p in self._params], flat)
            outs, saved = [value], Gradients(which, grads)
        else:
            outs, saved = self.executor.forward([p.data for p in self._params], flat)
        self._both = False
        traces = self.traces
        results = [CompiledValue(self, saved, i, d, traces) for i, d in enumerate(outs)]
        return results[0] if self._kind is None else self._kind(results)

    def _flat(self, args: tuple, kwargs: dict, retrace: bool = True) -> list:
        """The arguments' numbers, flat; the first call traces ``fn`` on them, and so does a
        call after the model changed (``retrace``; else that raises ``ModelChanged``)."""
        flat = self._extract((args, kwargs)) if self._extract is not None else None
        if flat is not None:
            guard = self._guard  # the model as traced? (Guard.changed, inlined: hot path)
            try:
                same = guard.live == guard.copies
            except Exception:  # an attribute whose == raises (a numpy array replaced)
                same = False
            if not same or guard.spaces and guard.changed():
                self._changed(args, kwargs, retrace)
        else:  # the first call, or arguments of another structure
            flat = []
            spec = trace.flatten((args, kwargs), flat)
            if self.executor is None:
                self._trace(args, kwargs, spec)
            elif spec != self._spec:
                why = trace.difference(self._spec, spec, trace.positional_names(self.fn))
                raise ValueError(
                    "zg.compile: this function was compiled for arguments of another "
                    f"structure or shape: {why}. A compiled "
                    "function replays one graph; compile the function again (zg.compile(fn)) "
                    "for the new shape."
                )
        return flat

    def _changed(self, args: tuple, kwargs: dict, retrace: bool) -> None:
        """The model changed since the trace: trace again, or refuse (a training run)."""
        what = self._guard.what()
        if not retrace:
            raise ModelChanged(
                f"zg.compile: the model changed since {self._name()} was traced: {what}. "
                "A compiled training run (zg.train.Step, fit(compile=True)) holds the traced "
                "graph and the optimizer's numbers for its parameters; start a new one for "
                "the changed model (a new Step, or fit again; a new optimizer over "
                "model.parameters() if parameters were added or replaced)."
            )
        self._trace(args, kwargs, self._spec)
        if self.traces == RETRACE_WARNING:
            warnings.warn(
                f"zg.compile: {self._name()} has been traced {self.traces} times because "
                f"the model it reads changed (the last time: {what}); each trace costs "
                "like a first call. Change the model before compiling, or compile "
                "the function that uses the model as it is now.", stacklevel=4)

    def _name(self) -> str:
        return repr(getattr(self.fn, "__name__", self.fn))

    def prepare(self, *args: Any, **kwargs: Any) -> list:
        """Trace ``fn`` on these arguments if it has not been traced yet; returns
        :attr:`params`, the order :meth:`value_and_grad` takes parameter numbers in."""
        self._flat(args, kwargs)
        return self._params

    def flatten(self, *args: Any, **kwargs: Any) -> list:
        """The numbers of these arguments, flat, in the order the executor takes its inputs
        (``xvals``); the first call traces ``fn`` on them, and arguments of another structure
        or shape than the traced ones raise ``ValueError``, and a changed model raises
        ``ModelChanged``. Compiled training (:mod:`.training`) feeds the executor with
        this."""
        return self._flat(args, kwargs, False)

    def value_and_grad(self, pvals: Any, *args: Any, **kwargs: Any) -> tuple[float, list, Any]:
        """Result 0 and its gradients for the parameter numbers ``pvals`` (one per
        :attr:`params`, in that order; call :meth:`prepare` first), touching no Value:
        (value, indices into ``params``, gradients). ``zg.train.fit``'s fast path runs on
        this; a model changed since the trace raises ``ModelChanged``."""
        if self.executor is None:
            raise RuntimeError("call prepare(*args) first: the parameters are known once the "
                               "function has been traced")
        flat, ex = self._flat(args, kwargs, False), self.executor
        if not ex.fused_value_and_grad and ex.name != "numpy":  # python, scalar: on floats
            pvals = pvals.tolist() if hasattr(pvals, "tolist") else list(pvals)
        return ex.value_and_grad(pvals, flat)

    @property
    def params(self) -> list:
        """The Values the compiled graph reads as parameters (known after the first call)."""
        return self._params

    def _record(self, args: tuple, kwargs: dict, spec: Any) -> tuple[Tape, type | None]:
        """Run ``fn`` on placeholders for ``args``; its graph as a tape (with every op
        node's creation site when tracing inside ``detect_anomaly()``)."""
        made: list = []
        targs, tkwargs = trace.placeholders(spec, (args, kwargs), made)
        result, consts = trace.run(self.fn, targs, tkwargs)
        outs, kind = trace.outputs(result)
        return record(outs, made, consts, modes.current.anomaly), kind

    def _trace(self, args: tuple, kwargs: dict, spec: Any) -> None:
        tape, kind = self._record(args, kwargs, spec)
        # traced inside detect_anomaly(): keep the checked replay (else made when needed)
        self._checked = CheckedExecutor(tape) if tape.sites is not None else None
        name = choose(tape) if self.executor_name == "auto" else self.executor_name
        self.executor = EXECUTORS[name](tape)
        self.n_ops, self.n_nodes = tape.n_ops, tape.n_slots
        self._spec, self._params, self._kind = spec, tape.params, kind
        self._extract = trace.extractor(spec)
        self._guard = Guard(self.fn)  # the model as traced (fn may have built parts of it)
        self._both = False
        self.traces += 1

    def _checked_forward(self, args: tuple, kwargs: dict, flat: list) -> tuple[list, Checked]:
        """Forward inside ``detect_anomaly()``: the tape replayed node by node, checked.

        A function traced outside ``detect_anomaly()`` kept no tape (it would cost memory on
        every call), so it is traced once more here, which also records where each node was
        created; the fast executor stays for calls outside ``detect_anomaly()``.
        """
        if self._checked is None:
            self._checked = CheckedExecutor(self._record(args, kwargs, self._spec)[0])
        ex = self._checked
        outs, values = ex.forward([p.data for p in ex.tape.params], flat)
        return outs, Checked(ex, values)

    def _backward(self, saved: Any, out: int, value: float, traces: int) -> None:
        """Add result ``out``'s gradients into the parameters, as ``Value.backward`` does
        (``value``: its data, for the training watch; ``traces``: :attr:`traces` when it
        was computed)."""
        if traces != self.traces:
            raise ModelChanged(
                f"zg.compile: this result came from the graph of {self._name()} traced "
                "before the model changed; the function has been traced again since. Call "
                "it again and take backward() of the new result.")
        ex, params = self.executor, self._params
        if saved.__class__ is Checked:  # computed inside detect_anomaly()
            ex, saved = saved.executor, saved.values
            params = ex.tape.params
        elif ex.fused_value_and_grad:
            self._both = out == 0  # the next call takes result 0 and its gradients at once
        if saved.__class__ is Gradients:
            which, grads = saved.which, saved.grads
        else:
            which, grads = ex.backward(saved, out)
        grads = grads.tolist() if hasattr(grads, "tolist") else grads
        if len(which) != len(params):
            params = [params[i] for i in which]
        stale = monitor.add_grads(params, grads)
        if stale:
            monitor.warn_stale(stale, params)
        alarm = monitor.after_compiled(self, value, self._params)
        if alarm is not None:
            monitor.warn(alarm)

    def __repr__(self) -> str:
        state = "not traced yet" if self.executor is None else (
            f"{self.n_ops} op nodes, {len(self._params)} parameters, "
            f"executor {self.executor.name!r}")
        return f"<zg.compile of {getattr(self.fn, '__name__', self.fn)!r}: {state}>"


class Gradients:
    """What a call that took its result's gradients with it saves for ``backward()``."""

    __slots__ = ("which", "grads")

    def __init__(self, which: list[int], grads: Any):
        self.which, self.grads = which, grads


class CompiledValue:
    """One result of a compiled call: ``.data``, ``.grad`` and ``.backward()`` like a Value."""

    __slots__ = ("data", "grad", "_owner", "_saved", "_index", "_traces")

    def __init__(self, owner: CompiledFunction, saved: Any, index: int, data: float,
                 traces: int = 1):
        self.data = data
        self.grad = 0.0
        self._owner, self._saved, self._index, self._traces = owner, saved, index, traces

    def backward(self) -> None:
        """Add d(this result)/d(parameter) into every parameter's ``grad``, as eager does."""
        self._owner._backward(self._saved, self._index, self.data, self._traces)
        self.grad = 1.0

    def item(self) -> float:
        return self.data

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        return f"CompiledValue(data={self.data}, grad={self.grad})"
