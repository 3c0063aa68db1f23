"""The lecture's own network, as the micrograd lecture types it.

``from zerograd.lecture import Value, Neuron, Layer, MLP`` gives the classes the lecture
builds on camera: tanh on every layer (the output too), each bias drawn with
``random.uniform(-1, 1)`` right after its neuron's weights, and a neuron computed node for
node as ``sum((wi * xi for wi, xi in zip(self.w, x)), self.b).tanh()``. So after the same
``random.seed(s)`` the numbers are the lecture notebook's, and ``draw_dot`` of an output is
the lecture's big picture: one ``*`` and one ``+`` node per weight, then ``tanh``.

:func:`step` is the lecture's training loop after its forward pass: zero the gradients,
``loss.backward()``, ``p.data += -lr * p.grad``; ``zerograd train`` and the playground run it.

``zerograd.nn`` keeps micrograd's package classes (ReLU hidden layers, a linear output,
zero biases, one node per neuron); ``zerograd.nn.MLP.lecture`` gives this network's numbers
with that compact node. These classes are ``zerograd.nn.Module``\\ s, so ``zero_grad()``,
``state_dict()``, the optimizers, ``fit`` and ``zg.compile`` take them as they are.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Sequence
from typing import Any

from .args import count, parameters
from .engine import Value
from .nn import Module


class Neuron(Module):
    """``tanh(b + w0*x0 + w1*x1 + ...)``, added up in that order, as in the lecture."""

    def __init__(self, nin: int):
        nin = count(nin, "nin")
        parameters([nin, 1], "Neuron")
        self.w = [Value(random.uniform(-1, 1), label=f"w{i}") for i in range(nin)]
        self.b = Value(random.uniform(-1, 1), label="b")

    def __call__(self, x: Sequence[Any]) -> Value:
        if not isinstance(x, Sequence) or len(x) != len(self.w):  # zip would drop extras
            raise ValueError(f"this Neuron takes a list of {len(self.w)} inputs, got {x!r:.60}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class Layer(Module):
    """``nout`` neurons that all read the same inputs."""

    def __init__(self, nin: int, nout: int):
        nout = count(nout, "nout")
        parameters([count(nin, "nin"), nout], "Layer")
        self.neurons = [Neuron(nin) for _ in range(nout)]
        for j, n in enumerate(self.neurons):  # labels for drawings: N1.w0, N1.b, ...
            for p in n.parameters():
                p.label = f"N{j}.{p.label}"

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP(Module):
    """Layers of sizes ``nouts`` after ``nin`` inputs, e.g. the lecture's ``MLP(3, [4, 4, 1])``
    (41 parameters)."""

    def __init__(self, nin: int, nouts: Sequence[int]):
        if isinstance(nouts, (numbers.Integral, str)) or not len(nouts):
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sz = [count(nin, "nin")] + [count(n, "each layer size") for n in nouts]
        parameters(sz, "MLP")
        self.layers = [Layer(sz[i], sz[i + 1]) for i in range(len(nouts))]
        for i, layer in enumerate(self.layers):  # L0.N1.w2, as zerograd.nn labels them
            for p in layer.parameters():
                p.label = f"L{i}.{p.label}"

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]


def step(loss: Value, params: Sequence[Value], update: Any, zero_grad: bool = True) -> float:
    """One step of the lecture's loop on a computed ``loss``: every ``p.grad = 0.0`` (unless
    ``zero_grad=False``: the lecture's mistake, made on purpose), ``loss.backward()``, then
    ``p.data += -update * p.grad`` for each parameter (``update`` a learning rate) or
    ``update.step()`` (an optimizer over ``params``). Returns ``loss.data``."""
    if not callable(getattr(loss, "backward", None)):
        raise TypeError(f"step needs the loss (a Value), got {type(loss).__name__}")
    rate = isinstance(update, numbers.Real) and not isinstance(update, bool)
    if not rate and not callable(getattr(update, "step", None)):
        raise TypeError(f"update must be a learning rate (a number) or an optimizer, got "
                        f"{type(update).__name__}: {update!r:.60}")
    if zero_grad:
        for p in params:
            p.grad = 0.0
    loss.backward()
    if rate:
        for p in params:
            p.data += -update * p.grad
    else:
        update.step()
    return loss.data


__all__ = ["Value", "Neuron", "Layer", "MLP", "step"]
