"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with PyTorch's update rules.

Every optimizer updates ``Value.data`` in place from ``Value.grad``, holds its
hyperparameters in ``param_groups[0]`` (one group, as PyTorch lays it out) and checks each
``step()`` for gradients summed over several ``backward()`` calls by a forgotten
``zero_grad()``.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from . import monitor
from .args import count
from .engine import TrainingWarning, Value
from .ops import SCALAR

ARRAYS_FROM = 10  # parameters from which step() runs on arrays, if NumPy is loaded already
# (measured: below it Python floats are faster; above it arrays, 2.5x with 48 and Adam)


# what Optimizer.formula calls on Python floats, by an array namespace's names: the IEEE
# results of ops.SCALAR (x/0 is inf or nan, sqrt(-1) nan), as NumPy gives them on arrays
FLOATS = types.SimpleNamespace(divide=SCALAR.div, sqrt=SCALAR.sqrt, where=SCALAR.where)


def _numpy() -> Any:
    """NumPy, imported on first use (only the array paths need it)."""
    return sys.modules.get("numpy") or importlib.import_module("numpy")


def _real(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    return float(x)


def _at_least_zero(x: Any, what: str, owner: str) -> float:
    x = _real(x, f"{owner}: {what}")
    if not x >= 0.0:
        raise ValueError(f"{owner}: invalid {what} {x!r}; it must be >= 0")
    return x


def _key_difference(got: Any, expected: Any) -> str:
    """``missing 'a'; unexpected 'b', 'c'``, naming only the non-empty sets."""
    missing, unexpected = set(expected) - set(got), set(got) - set(expected)
    return "; ".join(f"{what} {', '.join(sorted(map(repr, keys)))}" for what, keys in
                     (("missing", missing), ("unexpected", unexpected)) if keys)


def _flag(x: Any, what: str, owner: str) -> bool:
    if not isinstance(x, bool):
        raise TypeError(f"{owner}: {what} must be True or False, got {type(x).__name__}: {x!r}")
    return x


def _betas(betas: Any, owner: str) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    out = tuple(_real(b, f"{owner}: betas[{i}]") for i, b in enumerate(betas))
    for i, b in enumerate(out):
        if not 0.0 <= b < 1.0:
            raise ValueError(
                f"{owner}: invalid beta parameter at index {i}: {b!r}; it must be in [0, 1)"
            )
    return out  # type: ignore[return-value]


def _check_params(params: Any, owner: str) -> list[Value]:
    """``params`` as a list of distinct leaf Values, or a clear error."""
    if isinstance(params, Value):
        raise TypeError(
            f"{owner} needs an iterable of Values, got a single Value; "
            f"wrap it in a list: {owner}([v], ...)"
        )
    if callable(getattr(params, "parameters", None)):
        raise TypeError(
            f"{owner} needs the parameters, not the {type(params).__name__} "
            f"itself: pass model.parameters()"
        )
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{owner} needs an iterable of Values (e.g. model.parameters()), "
            f"got {type(params).__name__}: {params!r}"
        ) from None
    if not params:
        raise ValueError(
            f"{owner} got an empty parameter list; pass model.parameters() "
            f"of a model that has parameters"
        )
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(
                f"{owner}: params[{i}] is {type(p).__name__} ({p!r}), not a Value; "
                f"optimizers update Values such as model.parameters()"
            )
        if p._fn is not None:
            raise ValueError(
                f"{owner}: params[{i}] is computed by op '{p._op}', not a leaf; "
                f"optimize the leaves it was computed from"
            )
        if id(p) in seen:
            raise ValueError(f"{owner}: params[{i}] appears more than once in params")
        seen.add(id(p))
    return params


class Optimizer:
    """Base class: ``params``, one ``param_groups[0]`` dict of hyperparameters, the step loop.

    Subclasses define ``_check_group`` (validate hyperparameters), ``_state_keys`` (the
    per-parameter state a group needs), ``_rule_state`` (the state the update reads and
    returns), ``_step_numbers`` (what changes from step to step besides the learning rate)
    and :meth:`formula`, the update itself: the one place its math is written, run on
    Python floats by :meth:`step` and on arrays by :meth:`apply` and compiled training.
    """

    _counts_steps = False  # True: ``_t`` counts the steps taken (Adam's bias correction)

    def __init__(self, params: Iterable[Value], hyper: dict[str, Any], accumulate: bool):
        name = type(self).__name__
        self.params = _check_params(params, name)
        self.accumulate = _flag(accumulate, "accumulate", name)
        self.param_groups = [{"params": self.params, **self._check_group(hyper)}]
        # state name -> one float per parameter: a list, or an array in compiled training
        self._state: dict[str, Any] = {}
        self._t = 0  # steps taken (Adam's bias correction)
        self._steps = 0  # calls to step(), for the schedulers' order check
        self._warned = False

    # -- hyperparameters --------------------------------------------------------------
    def _check_group(self, g: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def lr(self) -> float:
        """The learning rate, ``param_groups[0]["lr"]`` (schedulers set it)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.param_groups[0]["lr"] = _at_least_zero(value, "learning rate", type(self).__name__)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"

    # -- the training loop ------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter from its grad; returns ``closure()`` if one is given.
        The update runs on Python floats; where NumPy is loaded already, that of
        ``ARRAYS_FROM`` parameters or more runs on arrays (the same :meth:`formula`, the same
        numbers)."""
        loss = closure() if closure is not None else None
        if not (self.accumulate or self._warned) and self._grads_summed():
            self._warn_summed()
        params, np = self.params, sys.modules.get("numpy")
        if np is not None and len(params) >= ARRAYS_FROM:
            data = np.array([p.data for p in params], dtype=float)
            self.apply(data, np.array([p.grad for p in params], dtype=float))
            new = data.tolist()
        else:
            g = self.param_groups[0]
            names = self._rule_state(g)
            update = functools.partial(self.formula, g, self.scalars(), FLOATS)
            columns = list(zip(*map(update, [p.data for p in params], [p.grad for p in params],
                                    *(self._floats(k) for k in names))))
            self.advance(zip(names, map(list, columns[1:])))
            new = columns[0]
        for p, x in zip(params, new):
            p.data = x
        if self.accumulate:  # the next backward() may add to these grads: no warning
            for p in params:
                monitor.updated_on_purpose(p)
        return loss

    def formula(self, g: dict[str, Any], s: dict[str, Any], m: Any, x: Any, grad: Any,
                *state: Any) -> tuple[Any, ...]:
        """One step of the update: ``(x', *state')`` from one parameter's number ``x``, its
        gradient and its state (named by ``_rule_state``, in that order), or from arrays of
        them, touching none of them. ``g`` holds the hyperparameters, ``s`` the step's
        :meth:`scalars` (the learning rate ``s["lr"]`` and what follows from it and the step
        count, such as Adam's ``s["step_size"]``), ``m`` the ``divide``, ``sqrt`` and
        ``where`` of what it runs on: :data:`FLOATS` on Python floats, or an array
        namespace (NumPy, ``jax.numpy``)."""
        raise NotImplementedError

    def apply(self, data: Any, grad: Any) -> None:
        """One step of the math on NumPy arrays (one number per parameter, in ``params``
        order): updates ``data`` and the optimizer's state in place. ``step()`` runs it on
        the numbers of a model with ``ARRAYS_FROM`` parameters or more;
        ``zg.train.fit(..., compile=True)`` on arrays it keeps for the run. The state and
        ``data`` change together at the end, so an interruption (Ctrl-C) leaves either the
        whole step or none of it."""
        g, held, args = self.param_groups[0], self._state, [data, grad]
        names = self._rule_state(g)
        for k in names:  # (a loop, not a comprehension: this runs each step of a fast path)
            a = held.get(k)
            args.append(a if a is not None and type(a) is not list else self._array(k, len(data)))
        out = self.formula(g, self.scalars(), _numpy(), *args)
        self.advance(zip(names, out[1:]))
        data[...] = out[0]

    def rule(self, g: dict[str, Any], s: dict[str, Any], data: Any, grad: Any,
             state: dict[str, Any], xp: Any) -> tuple[Any, dict[str, Any]]:
        """:meth:`formula` on arrays: (new numbers, new state) from the numbers, their
        gradients and the state, touching none of them. ``xp`` is the array namespace
        (NumPy, or ``jax.numpy`` inside the jax executor's compiled training step)."""
        names = self._rule_state(g)
        new, *after = self.formula(g, s, xp, data, grad, *[state[k] for k in names])
        return new, dict(zip(names, after))

    def scalars(self, ahead: int = 0, started: bool = False) -> dict[str, float]:
        """The numbers the next step's :meth:`formula` takes besides the parameters': the
        learning rate ``"lr"`` and what follows from the step count (Python floats).
        ``ahead``: those of the step that many after it, if those before are taken and
        nothing else changes; ``started``: a step has been taken whose state is not held
        yet."""
        g = self.param_groups[0]
        t = self._t + 1 + ahead * self._counts_steps
        s = self._step_numbers(g, t, started or ahead > 0 or bool(self._state))
        s["lr"] = g["lr"]  # as it is: the formula reads it there
        return s

    def _step_numbers(self, g: dict[str, Any], t: int, started: bool) -> dict[str, float]:
        """What changes from step to step besides the learning rate, in a new dict (which
        :meth:`scalars` adds the rate to). ``t``: the step's count from 1; ``started``: the
        state is there already."""
        return {}

    def _rule_state(self, g: dict[str, Any]) -> tuple[str, ...]:
        """The per-parameter state :meth:`formula` reads and returns, in its order."""
        raise NotImplementedError

    def _floats(self, name: str) -> list[float]:
        """State ``name`` as Python floats (zeros before the first step)."""
        held = self._state.get(name)
        if held is None:
            return [0.0] * len(self.params)
        return held if type(held) is list else held.tolist()

    def state_arrays(self, n: int) -> dict[str, Any]:
        """The state :meth:`rule` reads, one array per name (zeros before the first step)."""
        held = self._state
        return {k: held[k] if k in held and type(held[k]) is not list else self._array(k, n)
                for k in self._rule_state(self.param_groups[0])}

    def _array(self, name: str, n: int) -> Any:
        """State ``name``, held as Python floats by step() (or not yet: zeros), as a NumPy
        array."""
        held, np = self._state.get(name), _numpy()
        return np.zeros(n) if held is None else np.array(held, dtype=float)

    def get_state(self) -> dict[str, Any]:
        """The per-parameter state held now: one sequence of numbers per name, one number
        per parameter (empty before the first step). See :meth:`set_state`."""
        return dict(self._state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Hold ``state`` (as :meth:`get_state` gives it; names not in it are kept), without
        counting a step: compiled training puts back the state of the step it kept."""
        what, n = f"{type(self).__name__}.set_state", len(self.params)
        if not isinstance(state, dict):
            raise TypeError(f"{what} needs a dict {{state name: numbers}}, got "
                            f"{type(state).__name__}")
        required, optional = self._state_keys(self.param_groups[0])
        names = (required | optional) - {"step"}
        for name, held in state.items():
            if name not in names:
                raise ValueError(f"{what}: {name!r} is no state of this optimizer (its state: "
                                 f"{', '.join(sorted(map(repr, names)))})")
            size = len(held) if hasattr(held, "__len__") else None
            if size != n:
                got = f"{size} numbers" if size is not None else type(held).__name__
                raise ValueError(f"{what}: {name!r} needs one number per parameter ({n}), "
                                 f"got {got}")
        self._state.update(state)

    def advance(self, state: dict[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Take the state a :meth:`rule` returned (its namespace's arrays, or (name, array)
        pairs; fit's jax run turns them into NumPy arrays when it writes back) and count the
        step."""
        self._state.update(state)
        self._t += self._counts_steps
        self._steps += 1

    def _grads_summed(self) -> bool:
        """True if some grad sums several backward() passes that backward() has not already
        warned about."""
        for p in self.params:
            if monitor.unreported_sum(p):
                return True
        return False

    def _warn_summed(self) -> None:
        self._warned = True
        passes = [monitor.passes(p) for p in self.params]
        most, hit = max(passes), sum(n > 1 for n in passes)
        monitor.warn(
            f"{type(self).__name__}.step(): the gradients of {hit} of {len(passes)} parameters "
            f"hold the sum of {most} backward() passes, because grads were not zeroed between "
            f"them, so this step uses summed gradients. Call optimizer.zero_grad() (or "
            f"model.zero_grad()) before loss.backward(); if you accumulate gradients on "
            f"purpose, pass accumulate=True to the optimizer. (Warned once per optimizer.)"
        )

    # -- state ------------------------------------------------------------------------
    def _state_keys(self, g: dict[str, Any]) -> tuple[set[str], set[str]]:
        """(required, optional) per-parameter state names once a step has been taken."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: ``{"state": {i: {name: value}}, "param_groups": [{..., "params"}]}``.

        Parameter ``i`` is ``params[i]``; the state is empty before the first step.
        """
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self.params)))
        state: dict[int, dict[str, Any]] = {}
        if self._state:
            for i in range(len(self.params)):
                entry: dict[str, Any] = {"step": self._t} if self._t else {}
                entry.update((name, float(vals[i])) for name, vals in self._state.items())
                state[i] = entry
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`. On any mismatch a ``ValueError``/``TypeError`` says
        what differs and nothing is changed."""
        name = type(self).__name__
        group, slots, t = self._read_state_dict(state_dict, name)
        live = self.param_groups[0]
        live.clear()
        live["params"] = self.params
        live.update(group)
        self._state = slots
        self._t = t

    def _read_state_dict(self, sd: Any, name: str) -> tuple[dict, dict, int]:
        """Validate ``sd`` and return (group, state lists, step count), copied."""
        what = f"{name}.load_state_dict"
        if not isinstance(sd, dict) or set(sd) != {"state", "param_groups"}:
            got = sorted(sd) if isinstance(sd, dict) else type(sd).__name__
            raise ValueError(
                f"{what}: expected a dict with keys 'state' and 'param_groups' "
                f"(from optimizer.state_dict()), got {got}"
            )
        groups, state = sd["param_groups"], sd["state"]
        if not isinstance(groups, (list, tuple)) or len(groups) != 1:
            raise ValueError(
                f"{what}: expected 1 parameter group, got "
                f"{len(groups) if isinstance(groups, (list, tuple)) else groups!r}"
            )
        saved = groups[0]
        if not isinstance(saved, dict):
            raise TypeError(f"{what}: param_groups[0] must be a dict, got {type(saved).__name__}")
        n, ids = len(self.params), saved.get("params")
        if not isinstance(ids, (list, tuple)) or list(ids) != list(range(n)):
            size = len(ids) if isinstance(ids, (list, tuple)) else repr(ids)
            raise ValueError(
                f"{what}: the saved group holds {size} parameters, this optimizer "
                f"has {n}; load the state of an optimizer over the same model"
            )
        hyper = {k: v for k, v in saved.items() if k not in ("params", "initial_lr")}
        expected = set(self.param_groups[0]) - {"params", "initial_lr"}
        if set(hyper) != expected:
            raise ValueError(
                f"{what}: the hyperparameters do not match {name}'s "
                f"({_key_difference(hyper, expected)}); was it saved from another optimizer?"
            )
        try:
            group = self._check_group(hyper)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{what}: {e}") from None
        if "initial_lr" in saved:
            group["initial_lr"] = _real(saved["initial_lr"], f"{what}: initial_lr")
        if not isinstance(state, dict):
            raise TypeError(f"{what}: 'state' must be a dict, got {type(state).__name__}")
        if not state:
            return group, {}, 0
        keys = {int(k) if isinstance(k, str) and k.isdigit() else k for k in state}
        if keys != set(range(n)) or len(state) != n:
            raise ValueError(
                f"{what}: 'state' must have an entry for each of the {n} "
                f"parameters (keys 0..{n - 1})"
            )
        required, optional = self._state_keys(group)
        entries = {int(k): v for k, v in state.items()}
        slots: dict[str, list[float]] = {}
        steps = set()
        for i in range(n):
            e = entries[i]
            if not isinstance(e, dict):
                raise ValueError(f"{what}: state[{i}] is {type(e).__name__}, expected a dict")
            if not required <= set(e) <= required | optional:
                extra = set(e) - optional
                raise ValueError(f"{what}: state[{i}] does not fit ("
                                 f"{_key_difference(extra, required)})")
            for k, v in e.items():
                if k == "step":
                    steps.add(_real(v, f"{what}: state[{i}]['step']"))
                else:
                    slots.setdefault(k, []).append(_real(v, f"{what}: state[{i}][{k!r}]"))
        if any(len(v) != n for v in slots.values()):
            raise ValueError(f"{what}: every parameter's state must have the same entries")
        t = 0
        if steps:
            t = steps.pop()
            if steps or t != int(t) or t < 0:
                raise ValueError(
                    f"{what}: every parameter's 'step' must be the same whole "
                    f"number >= 0 (all parameters step together)"
                )
        return group, slots, int(t)


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule:
    ``g = grad + wd*p``; ``b = g`` (first step) else ``momentum*b + (1-dampening)*g``;
    ``g = g + momentum*b`` (nesterov) or ``b``; ``p -= lr*g``."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        accumulate: bool = False,
    ):
        hyper = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, hyper, accumulate)

    def _check_group(self, g: dict[str, Any]) -> dict[str, Any]:
        out = dict(
            lr=_at_least_zero(g["lr"], "learning rate", "SGD"),
            momentum=_at_least_zero(g["momentum"], "momentum", "SGD"),
            dampening=_real(g["dampening"], "SGD: dampening"),
            weight_decay=_at_least_zero(g["weight_decay"], "weight_decay", "SGD"),
            nesterov=_flag(g["nesterov"], "nesterov", "SGD"),
        )
        if out["nesterov"] and (out["momentum"] <= 0 or out["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        return out

    def _state_keys(self, g: dict[str, Any]) -> tuple[set[str], set[str]]:
        return {"momentum_buffer"}, set()

    def _step_numbers(self, g: dict[str, Any], t: int, started: bool) -> dict[str, float]:
        return {"first": float(not started)} if g["momentum"] != 0 else {}  # first: b = d

    def _rule_state(self, g: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if g["momentum"] != 0 else ()

    def formula(self, g: dict[str, Any], s: dict[str, Any], m: Any, x: Any, grad: Any,
                buf: Any = None) -> tuple[Any, ...]:
        """``(x', [momentum_buffer'])``: the rule in the class's docstring."""
        lr, mom, wd = s["lr"], g["momentum"], g["weight_decay"]
        d = grad + wd * x if wd != 0 else grad
        if mom == 0:
            return (x - lr * d,)
        b = m.where(s["first"] > 0, d, buf * mom + (1 - g["dampening"]) * d)
        d = d + mom * b if g["nesterov"] else b
        return x - lr * d, b


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule: ``m = lerp(m, g, 1-b1)``, ``v = b2*v + (1-b2)*g*g``,
    ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``; amsgrad uses max(v) so far.
    ``weight_decay`` adds ``wd*p`` to the gradient (L2); AdamW decays ``p`` directly."""

    _decoupled = False
    _counts_steps = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        accumulate: bool = False,
    ):
        hyper = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, hyper, accumulate)

    def _check_group(self, g: dict[str, Any]) -> dict[str, Any]:
        name = type(self).__name__
        return dict(
            lr=_at_least_zero(g["lr"], "learning rate", name),
            betas=_betas(g["betas"], name),
            eps=_at_least_zero(g["eps"], "epsilon value", name),
            weight_decay=_at_least_zero(g["weight_decay"], "weight_decay", name),
            amsgrad=_flag(g["amsgrad"], "amsgrad", name),
        )

    def _state_keys(self, g: dict[str, Any]) -> tuple[set[str], set[str]]:
        required = {"step", "exp_avg", "exp_avg_sq"}
        return (
            (required | {"max_exp_avg_sq"}, set())
            if g["amsgrad"]
            else (required, {"max_exp_avg_sq"})
        )

    def _step_numbers(self, g: dict[str, Any], t: int, started: bool) -> dict[str, float]:
        # the bias corrections of step t, in Python floats as PyTorch works them out (the
        # division inside the jax executor's program made a call of 4 steps a third slower)
        b1, b2 = g["betas"]
        return {"step_size": g["lr"] / (1 - b1**t), "bias2_sqrt": (1 - b2**t) ** 0.5}

    def _rule_state(self, g: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if g["amsgrad"] else ())

    def formula(self, g: dict[str, Any], s: dict[str, Any], m: Any, x: Any, grad: Any,
                mean: Any, var: Any, most: Any = None) -> tuple[Any, ...]:
        """``(x', exp_avg', exp_avg_sq'[, max_exp_avg_sq'])``: the rule in the class's
        docstring."""
        (b1, b2), eps, wd, lr = g["betas"], g["eps"], g["weight_decay"], s["lr"]
        d = grad + wd * x if wd != 0 and not self._decoupled else grad
        mean = mean + (1 - b1) * (d - mean)
        var = var * b2 + (1 - b2) * d * d
        v = var
        if g["amsgrad"]:  # the largest var so far, keeping a nan
            v = most = m.where(var <= most, most, var)
        if wd != 0 and self._decoupled:
            x = x * (1 - lr * wd)
        x = x + -s["step_size"] * m.divide(mean, m.sqrt(v) / s["bias2_sqrt"] + eps)
        return (x, mean, var, most) if g["amsgrad"] else (x, mean, var)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr*wd`` each step,
    then the Adam update without ``wd`` in the gradient; ``weight_decay`` defaults to 1e-2."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        accumulate: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, accumulate=accumulate)


# -- learning-rate schedules -----------------------------------------------------------------
class LRScheduler:
    """Base class: the learning rate is ``_lr(base_lr, last_epoch)``, a closed form.

    As in PyTorch, creating a scheduler sets the optimizer's lr for epoch 0, and each
    ``step()`` (called after ``optimizer.step()``) moves to the next epoch.
    """

    # The subclass's arguments, saved in state_dict(): name -> checker(value, what).
    _hyper: dict[str, Callable[[Any, str], Any]] = {}

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name} needs a zerograd optimizer (SGD, Adam, AdamW), got "
                f"{type(optimizer).__name__}"
            )
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be a whole number >= -1, got {last_epoch!r}")
        groups = optimizer.param_groups
        if last_epoch == -1:
            for g in groups:
                g.setdefault("initial_lr", g["lr"])
        elif any("initial_lr" not in g for g in groups):
            raise KeyError(
                f"{name}: resuming with last_epoch={last_epoch} needs 'initial_lr' in "
                f"the optimizer's param_groups; load the optimizer's state_dict first"
            )
        self.optimizer = optimizer
        self.base_lrs = [g["initial_lr"] for g in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._opt_steps = optimizer._steps
        self._advance()

    def _lr(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def lr_at(self, epoch: int) -> list[float]:
        """The learning rates (one per param group) this schedule gives at ``epoch``."""
        return [self._lr(base, epoch) for base in self.base_lrs]

    def _advance(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        self._last_lr = self.lr_at(self.last_epoch)
        for g, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            g["lr"] = lr

    def step(self) -> None:
        """Move to the next epoch and set the optimizer's lr. Call after ``optimizer.step()``."""
        if self._step_count == 1 and self.optimizer._steps == self._opt_steps:
            monitor.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(), so the "
                f"first learning rate of the schedule is skipped. Call optimizer.step() "
                f"first, then scheduler.step()."
            )
        self._advance()

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last step (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer: ``last_epoch``, ``base_lrs``, the arguments."""
        sd = {k: getattr(self, k) for k in self._hyper}
        sd.update(
            base_lrs=list(self.base_lrs),
            last_epoch=self.last_epoch,
            _step_count=self._step_count,
            _last_lr=list(self._last_lr),
        )
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the optimizer's lr comes from its own state_dict).
        A mismatch raises before anything changes."""
        what = f"{type(self).__name__}.load_state_dict"
        mine = self.state_dict()
        if not isinstance(state_dict, dict):
            raise ValueError(f"{what}: expected a dict (from state_dict()), got "
                             f"{type(state_dict).__name__}")
        if set(state_dict) != set(mine):
            raise ValueError(f"{what}: the keys do not match ({_key_difference(state_dict, mine)}"
                             f"); was it saved from another scheduler?")
        new: dict[str, Any] = {}
        for k in ("last_epoch", "_step_count"):
            v = state_dict[k]
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{what}: {k} must be a whole number, got {v!r}")
            new[k] = v
        for k in ("base_lrs", "_last_lr"):
            v = state_dict[k]
            if not isinstance(v, (list, tuple)) or len(v) != len(mine[k]):
                raise ValueError(f"{what}: {k} must be a list of {len(mine[k])} numbers, got {v!r}")
            new[k] = [_real(x, f"{what}: {k}") for x in v]
        for k in self._hyper:
            new[k] = self._check_hyper(k, state_dict[k])
        self.__dict__.update(new)

    def _check_hyper(self, key: str, value: Any) -> Any:
        return self._hyper[key](value, f"{type(self).__name__}: {key}")

    def _repr_args(self) -> list[str]:
        return [f"{k}={getattr(self, k)!r}" for k in self._hyper]

    def __repr__(self) -> str:
        lrs = ", ".join(f"{lr:.6g}" for lr in self._last_lr)
        args = [*self._repr_args(), f"last_epoch={self.last_epoch}", f"lr=[{lrs}]"]
        return f"{type(self).__name__}({', '.join(args)})"


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``; micrograd's demo decay is
    ``LambdaLR(opt, lambda k: 1.0 - 0.9 * k / 100)`` with ``lr=1.0``."""

    def __init__(
        self, optimizer: Optimizer, lr_lambda: Callable[[int], float], last_epoch: int = -1
    ):
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda]
        if len(fns) != 1 or not callable(fns[0]):
            raise TypeError(
                f"LambdaLR needs a function of the epoch, e.g. lambda k: 0.95 ** k; "
                f"got {lr_lambda!r}"
            )
        self.lr_lambda = fns[0]
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.lr_lambda(epoch)

    def _repr_args(self) -> list[str]:
        fn = self.lr_lambda
        return [f"lr_lambda={getattr(fn, '__name__', type(fn).__name__)}"]

    def state_dict(self) -> dict[str, Any]:
        """As the base, plus ``lr_lambdas``: the attributes of a callable object, or None for a
        plain function (which is not saved; pass it again when re-creating)."""
        sd = super().state_dict()
        fn = self.lr_lambda
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn))]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As the base; a callable object's saved attributes are restored too."""
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, dict) else None
        if (
            not isinstance(saved, (list, tuple))
            or len(saved) != 1
            or not (saved[0] is None or isinstance(saved[0], dict))
        ):
            raise ValueError(
                f"LambdaLR.load_state_dict: lr_lambdas must be [None] or [dict] "
                f"(from LambdaLR.state_dict()), got {saved!r}"
            )
        super().load_state_dict(state_dict)
        if saved[0] is not None:
            vars(self.lr_lambda).update(saved[0])


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every
    ``step_size`` epochs."""

    _hyper = {"step_size": count, "gamma": _real}

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        self.step_size = self._check_hyper("step_size", step_size)
        self.gamma = self._check_hyper("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: half a
    cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs (then back up, as
    PyTorch's)."""

    _hyper = {"T_max": count, "eta_min": _real}

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        self.T_max = self._check_hyper("T_max", T_max)
        self.eta_min = self._check_hyper("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        eta = self.eta_min
        return eta + (base_lr - eta) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


__all__ = [
    "TrainingWarning",
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "CosineAnnealingLR",
]
