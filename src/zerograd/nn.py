"""Neural-network building blocks with micrograd's API: Module, Neuron, Layer, MLP."""

from __future__ import annotations

import numbers
import random
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

from .engine import Value, dot

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


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
        out: list[Value] = []
        for attr in vars(self).values():
            kind = _kind(attr)
            if kind == "value":
                out.append(attr)
            elif kind == "vector":
                out.extend(attr)
            elif kind == "module":
                out.extend(attr.parameters())
            elif kind == "modules":
                for m in attr:
                    out.extend(m.parameters())
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
        missing = [k for k in entries if k not in state]
        unexpected = [k for k in state if k not in entries]
        if missing or unexpected:
            raise ValueError(
                f"state_dict does not fit this {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        updates: list[tuple[Value, float]] = []
        for name, t in entries.items():
            given = state[name]
            if isinstance(t, Value):
                updates.append((t, _number(given, name)))
                continue
            if isinstance(given, (str, bytes)) or not hasattr(given, "__len__"):
                raise ValueError(
                    f"state_dict entry '{name}' is {type(given).__name__}, the model needs a "
                    f"list of {len(t)} numbers"
                )
            if len(given) != len(t):
                raise ValueError(
                    f"state_dict entry '{name}' has size {len(given)}, the model needs {len(t)}"
                )
            updates.extend(
                (v, _number(x, f"{name}[{i}]")) for i, (v, x) in enumerate(zip(t, given))
            )
        for v, x in updates:
            v.data = x


def _kind(attr: Any) -> str | None:
    """How an attribute holds parameters: "value", "vector", "module", "modules" or None."""
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


def _number(x: Any, name: str) -> float:
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"state_dict entry '{name}' must be a number, got {type(x).__name__}: {x!r}")


def _check_activation(activation: str | None) -> str:
    activation = "linear" if activation is None else activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
    return activation


def _check_size(n: Any, what: str) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


class Neuron(Module):
    """``act(b + sum(w_i * x_i))``; weights drawn with ``random.uniform(-1, 1)``, bias 0."""

    def __init__(self, nin: int, nonlin: bool = True, activation: str = "relu"):
        nin = _check_size(nin, "nin")
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin
        self.activation = _check_activation(activation) if nonlin else "linear"

    def __call__(self, x: Sequence[Any]) -> Value:
        x = list(x) if not isinstance(x, (list, tuple)) else x
        if len(x) != len(self.w):
            raise ValueError(f"{self!r} takes {len(self.w)} inputs, got {len(x)}")
        act = dot(self.w, x, self.b)
        return getattr(act, self.activation)()

    def __repr__(self) -> str:
        name = "ReLU" if self.activation == "relu" else self.activation.capitalize()
        return f"{name}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; one neuron's output is returned bare."""

    def __init__(self, nin: int, nout: int, **kwargs: Any):
        nout = _check_size(nout, "nout")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """The outputs as a list, whatever their number."""
        return [n(x) for n in self.neurons]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        out = self.forward(x)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``nouts`` after ``nin`` inputs; hidden layers use ``activation``,
    the last uses ``output_activation`` (linear by default, as micrograd)."""

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str | None = None,
    ):
        if isinstance(nouts, numbers.Integral) or not len(nouts):
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        _check_activation(activation)
        out_act = _check_activation(output_activation)
        sz = [nin] + list(nouts)
        self.layers = [
            Layer(sz[i], sz[i + 1], activation=activation if i != len(nouts) - 1 else out_act,
                  nonlin=(i != len(nouts) - 1) or out_act != "linear")
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer.forward(x)
        return x[0] if len(x) == 1 else x

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def count_parameters(module: Module) -> int:
    """How many scalar parameters ``module`` has."""
    return len(module.parameters())


__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "count_parameters"]
