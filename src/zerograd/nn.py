"""Neural-network building blocks with micrograd's API: Module, Neuron, Layer, MLP."""

from __future__ import annotations

import math
import numbers
import random
import weakref
from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from operator import is_
from typing import Any

from .args import count, parameters
from .engine import Value, dot

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
BIASES = ("zero", "uniform")


class Module:
    """Base class. Parameters are found in the attributes: a ``Value`` (a scalar), a list
    of Values (a vector) or a Module / list of Modules (children), in assignment order."""

    def _entries(self) -> Iterator[tuple[str, Any]]:
        """(name, Value | list[Value]) for every parameter tensor, children included."""
        for name, attr in vars(self).items():
            kind = _kind(attr)
            if kind == "value":
                yield name, attr
            elif kind == "vector":
                yield name, list(attr)
            elif kind == "module":
                for sub, t in attr._entries():
                    yield f"{name}.{sub}", t
            elif kind == "modules":
                for i, m in enumerate(attr):
                    for sub, t in m._entries():
                        yield f"{name}.{i}.{sub}", t

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with a dotted name, in the order of ``parameters()``."""
        out = []
        for name, t in self._entries():
            if isinstance(t, Value):
                out.append((name, t))
            else:
                out.extend((f"{name}.{i}", v) for i, v in enumerate(t))
        return out

    def parameters(self) -> list[Value]:
        """Every parameter Value, in micrograd's order (that of ``named_parameters()``)."""
        walk = _WALKS.get(id(self))
        if walk is not None and walk[0]() is self and _unchanged(self, walk):
            return walk[-1][:]  # a user's loop asks every step: the last walk, still true
        seen: list = [[], []]
        out = _collect(self, [], seen)
        if seen[0] is not None:
            key = id(self)
            try:
                ref = weakref.ref(self, lambda _, key=key: _WALKS.pop(key, None))
            except TypeError:  # a class with __slots__ and no __weakref__: walk each time
                return out
            mods, lists = seen[0], seen[1]
            _WALKS[key] = (ref, tuple(mods[1:]), *_contents(mods), tuple(lists),
                           *_contents(lists, False), out[:])
        return out

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float | list[float]]:
        """Name -> float (a scalar parameter) or list of floats (a vector), copied."""
        return {
            name: t.data if isinstance(t, Value) else [v.data for v in t]
            for name, t in self._entries()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values from ``state`` into the parameters.

        Names, kinds and sizes must match exactly; on any mismatch a ``ValueError`` (or
        ``TypeError`` for a non-number) says what differs and nothing is changed.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict needs a dict, got {type(state).__name__}")
        entries = dict(self._entries())
        missing = [repr(k) for k in entries if k not in state]
        unexpected = [repr(k) for k in state if k not in entries]
        wrong = [f"{k!r} ({why})" for k, t in entries.items()
                 if k in state and (why := _misfit(t, state[k]))]
        problems = [f"{what}: {', '.join(keys)}" for what, keys in (
            ("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
            if keys]
        if problems:
            raise ValueError(
                f"state_dict does not fit this {type(self).__name__}: {'; '.join(problems)}"
            )
        updates: list[tuple[Value, float]] = []
        for name, t in entries.items():
            given = state[name]
            if isinstance(t, Value):
                updates.append((t, _number(given, name)))
                continue
            updates.extend(
                (v, _number(x, f"{name}[{i}]")) for i, (v, x) in enumerate(zip(t, given))
            )
        for v, x in updates:
            v.data = x


_PLAIN = frozenset({str, bool, int, float, type(None)})  # attribute types that hold none


_PARAMETERS = Module.parameters

# Module.parameters' last walk of each module: (a weak reference to it, the modules walked
# below it, the number of attributes of each of them (its own first) and all those
# attributes in order, the lists read, their lengths and items, the parameters). The walk
# gives the same parameters while every one of those objects is the same (an attribute's
# kind follows from the object), which is cheaper to check than the walk is to redo.
_WALKS: dict[int, tuple] = {}


def _contents(objs: list, modules: bool = True) -> tuple[tuple, tuple]:
    """(each one's length, all their items in order) of modules' attributes or of lists."""
    parts = list(map(dict.values, map(vars, objs))) if modules else objs
    return tuple(map(len, parts)), tuple(chain.from_iterable(parts))


def _unchanged(module: Module, walk: tuple) -> bool:
    """Whether ``module`` and what its last walk read hold the same objects still (the
    check runs in C: the lengths, then every object's identity)."""
    _, below, sizes, items, lists, lengths, held, _ = walk
    mods = list(map(vars, (module, *below)))
    return (tuple(map(len, mods)) == sizes
            and all(map(is_, chain.from_iterable(map(dict.values, mods)), items))
            and tuple(map(len, lists)) == lengths
            and all(map(is_, chain.from_iterable(lists), held)))


def _collect(module: Module, out: list[Value], seen: list | None = None) -> list[Value]:
    """Append ``module``'s parameters to ``out`` (this runs every step of a user's loop:
    the usual attribute kinds first, without a call). ``seen``: (modules, lists), to note
    every module walked and list read with its contents; the modules' entry becomes None
    where a child's own ``parameters()`` was asked (its walk is not seen)."""
    d = module.__dict__
    if seen is not None and seen[0] is not None:
        seen[0].append(module)
    for attr in d.values():
        t = type(attr)
        if t is Value:
            out.append(attr)
        elif t in _PLAIN:
            pass
        elif t is list and attr and type(attr[0]) is Value and all(
                map(isinstance, attr, repeat(Value))):
            out += attr  # a vector: a neuron's weights
            if seen is not None:
                seen[1].append(attr)
        elif t is list and attr and all(map(isinstance, attr, repeat(Module))):
            if seen is not None:
                seen[1].append(attr)
            for m in attr:  # a layer's neurons, walked here unless their class says how
                _child(m, out, seen)
        else:
            if isinstance(attr, (list, tuple)) and seen is not None:
                seen[1].append(attr)
            kind = _kind(attr)
            if kind == "value":
                out.append(attr)
            elif kind == "vector":
                out.extend(attr)
            elif kind == "module":
                _child(attr, out, seen)
            elif kind == "modules":
                for m in attr:
                    _child(m, out, seen)
    return out


def _child(m: Module, out: list[Value], seen: list | None = None) -> None:
    """A child's parameters: walked in the same call where its class keeps Module's
    ``parameters``, asked where it overrides it."""
    if type(m).parameters is _PARAMETERS:
        _collect(m, out, seen)
    else:
        out += m.parameters()
        if seen is not None:
            seen[:1] = [None]


def _kind(attr: Any) -> str | None:
    """How an attribute holds parameters: "value", "vector", "module", "modules" or None."""
    t = type(attr)
    if t is Value:
        return "value"
    if t in _PLAIN:  # a neuron's activation name, its nonlin flag: the usual non-parameters
        return None
    if isinstance(attr, Value):
        return "value"
    if isinstance(attr, Module):
        return "module"
    if isinstance(attr, (list, tuple)) and attr:
        if all(map(isinstance, attr, repeat(Value))):
            return "vector"
        if all(map(isinstance, attr, repeat(Module))):
            return "modules"
    return None


def _misfit(t: Value | list[Value], given: Any) -> str:
    """How ``given`` does not fit the parameter tensor ``t`` in size ('' if it does)."""
    sized = hasattr(given, "__len__") and not isinstance(given, (str, bytes))
    if isinstance(t, Value):
        return f"a list of {len(given)}, the model needs a number" if sized else ""
    if not sized:
        return f"{type(given).__name__}, the model needs a list of {len(t)} numbers"
    return f"size {len(given)}, the model needs {len(t)}" if len(given) != len(t) else ""


def _number(x: Any, name: str) -> float:
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        try:
            return float(x)
        except OverflowError:
            digits = int(int(x).bit_length() * math.log10(2)) + 1
            raise ValueError(f"state_dict entry '{name}' is too large for a float64 (an int "
                             f"of about {digits} digits)") from None
    raise TypeError(f"state_dict entry '{name}' must be a number, got {type(x).__name__}: "
                    f"{x!r:.60}")


def _check_activation(activation: str | None) -> str:
    activation = "linear" if activation is None else activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
    return activation


def _check_bias(bias: Any) -> str:
    if bias not in BIASES:
        raise ValueError(f"unknown bias {bias!r}; choose 'zero' (micrograd's package: b = 0) "
                         f"or 'uniform' (the lecture: b = random.uniform(-1, 1), drawn after "
                         f"the neuron's weights)")
    return bias


def _prefix_labels(module: Module, prefix: str) -> None:
    """Put ``prefix`` before the label of every parameter of ``module`` (done once, when a
    Layer or MLP is built, so drawings name each parameter, e.g. ``L0.N1.w0``)."""
    for p in module.parameters():
        p.label = prefix + p.label


class Neuron(Module):
    """``act(b + sum(w_i * x_i))``; weights drawn with ``random.uniform(-1, 1)``. The bias is
    0 (``bias="zero"``, micrograd's package) or, with ``bias="uniform"`` (the lecture's
    notebook), one more ``random.uniform(-1, 1)`` drawn after the weights. Parameters are
    labelled ``w0, w1, ...`` and ``b`` for drawings."""

    def __init__(self, nin: int, nonlin: bool = True, activation: str = "relu",
                 bias: str = "zero"):
        nin = count(nin, "nin")  # every argument is checked before a number is drawn
        parameters([nin, 1], "Neuron")
        uniform = _check_bias(bias) == "uniform"
        self.activation = _check_activation(activation) if nonlin else "linear"
        self.nonlin = nonlin
        self.w = [Value(random.uniform(-1, 1), label=f"w{i}") for i in range(nin)]
        self.b = Value(random.uniform(-1, 1) if uniform else 0, label="b")

    def __call__(self, x: Sequence[Any]) -> Value:
        try:
            xs = list(x) if not isinstance(x, (list, tuple)) else x
            if len(xs) != len(self.w):
                raise ValueError(f"{self!r} takes {len(self.w)} inputs, got {len(xs)}")
            act = dot(self.w, xs, self.b)
        except (TypeError, ValueError):
            error = _input_error(x, len(self.w), repr(self))
            if error is None:
                raise
            raise error from None
        return getattr(act, self.activation)()

    def __repr__(self) -> str:
        name = "ReLU" if self.activation == "relu" else self.activation.capitalize()
        return f"{name}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; one neuron's output is returned bare."""

    def __init__(self, nin: int, nout: int, **kwargs: Any):
        nout = count(nout, "nout")
        parameters([count(nin, "nin"), nout], "Layer")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
        for j, n in enumerate(self.neurons):
            _prefix_labels(n, f"N{j}.")

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """The outputs as a list, whatever their number."""
        return [n(x) for n in self.neurons]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        try:
            out = self.forward(x)
        except (TypeError, ValueError):
            nin = len(self.neurons[0].w)
            error = _input_error(x, nin, f"Layer({nin}, {len(self.neurons)})")
            if error is None:
                raise
            raise error from None
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``nouts`` after ``nin`` inputs; hidden layers use ``activation``,
    the last uses ``output_activation`` (linear by default, as micrograd); ``bias`` as in
    :class:`Neuron`. Parameters are labelled ``L<layer>.N<neuron>.w<k>`` / ``...b`` (the
    ``state_dict`` name ``layers.0.neurons.1.w.2`` is labelled ``L0.N1.w2``)."""

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str | None = None,
        bias: str = "zero",
    ):
        if isinstance(nouts, (numbers.Integral, str)) or not len(nouts):
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sz = [count(nin, "nin")]  # every argument is checked before a number is drawn
        sz += [count(n, f"nouts[{i}]") for i, n in enumerate(nouts)]
        parameters(sz, "MLP")
        _check_activation(activation)
        out_act = _check_activation(output_activation)
        _check_bias(bias)
        self.layers = [
            Layer(sz[i], sz[i + 1], activation=activation if i != len(nouts) - 1 else out_act,
                  nonlin=(i != len(nouts) - 1) or out_act != "linear", bias=bias)
            for i in range(len(nouts))
        ]
        for i, layer in enumerate(self.layers):
            _prefix_labels(layer, f"L{i}.")

    @classmethod
    def lecture(cls, nin: int, nouts: Sequence[int]) -> MLP:
        """The lecture notebook's MLP: tanh on every layer, output included, and each bias
        drawn with ``random.uniform(-1, 1)`` after its neuron's weights, so after the same
        ``random.seed(s)`` it has the notebook's exact weights and biases."""
        return cls(nin, nouts, activation="tanh", output_activation="tanh", bias="uniform")

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        try:
            out = self.layers[0].forward(x)
        except (TypeError, ValueError):
            error = _input_error(x, len(self.layers[0].neurons[0].w), self._call_name())
            if error is None:
                raise
            raise error from None
        for layer in self.layers[1:]:
            out = layer.forward(out)
        return out[0] if len(out) == 1 else out

    def _call_name(self) -> str:
        """``MLP(nin, nouts)``, as it was built."""
        nouts = [len(layer.neurons) for layer in self.layers]
        return f"MLP({len(self.layers[0].neurons[0].w)}, {nouts})"

    def summary(self) -> str:
        """One line: sizes, activations, parameter count, e.g.
        ``MLP(3, [4, 4, 1]), tanh, 41 parameters``."""
        hidden = [layer.neurons[0].activation for layer in self.layers[:-1]]
        out = self.layers[-1].neurons[0].activation
        acts = out if set(hidden) <= {out} else f"{hidden[0]}, {out} output"
        return f"{self._call_name()}, {acts}, {len(self.parameters())} parameters"

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def _input_error(x: Any, nin: int, who: str) -> Exception | None:
    """What is wrong with the input ``x`` of ``who`` (which takes ``nin`` numbers), if
    anything; called only after the forward pass failed, so the normal call pays nothing."""
    s = "s" if nin != 1 else ""
    row = f"a list of {nin} number{s} or Value{s}"
    expects = f"{who} expects {row}"
    if isinstance(x, (str, bytes, dict, numbers.Number, Value)):
        one = nin == 1 and isinstance(x, (numbers.Number, Value))
        hint = "; for one input write model([x])" if one else ""
        return TypeError(f"{expects}, got {type(x).__name__} {x!r:.60}{hint}")
    try:
        rows = list(x)
    except TypeError:
        return TypeError(f"{expects}, got {type(x).__name__} {x!r:.60}")
    if getattr(x, "ndim", 1) > 1 or any(
        isinstance(r, (list, tuple)) or getattr(r, "ndim", 0) > 0 for r in rows
    ):
        n = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
        return TypeError(f"{who} takes one input ({row}) per call, but was given a batch of "
                         f"{n}; call it on each row: [model(x) for x in X]")
    if len(rows) != nin:
        return ValueError(f"{expects}, got {len(rows)} of them")
    for i, r in enumerate(rows):
        if not isinstance(r, (numbers.Real, Value)):
            return TypeError(f"{expects}; item {i} is {type(r).__name__} {r!r:.60}")
    return None


def count_parameters(module: Module) -> int:
    """How many scalar parameters ``module`` has."""
    return len(module.parameters())


__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "BIASES", "count_parameters"]
