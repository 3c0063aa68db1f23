"""A way out to PyTorch and back: ``to_torch(mlp)`` and ``from_torch(sequential)``.

A zerograd layer of neurons is a ``torch.nn.Linear`` (weight row ``i`` is neuron ``i``'s
``w``, bias ``i`` its ``b``) followed by its activation module; values are copied exactly
(float64), so both models compute the same function.
"""

from __future__ import annotations

import random
import types
from typing import Any

from . import lecture, nn

# zerograd activation name -> torch.nn class name (linear has no module)
_TO_TORCH = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}
_FROM_TORCH = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": None}
SUPPORTED = (
    "torch.nn.Sequential (nested ones are flattened) of torch.nn.Linear layers (with bias), "
    "each optionally followed by one of ReLU, Tanh, Sigmoid or Identity"
)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError('zg.interop needs PyTorch: pip install "zerograd[torch]"') from None
    return torch


def _layers_of(model: Any) -> list[Any]:
    """The layers of ``model``, each with its ``neurons``."""
    if isinstance(model, (nn.MLP, lecture.MLP)):
        return list(model.layers)
    if isinstance(model, (nn.Layer, lecture.Layer)):
        return [model]
    if isinstance(model, (nn.Neuron, lecture.Neuron)):
        return [types.SimpleNamespace(neurons=[model])]
    raise TypeError(
        f"to_torch converts an MLP, Layer or Neuron of zerograd.nn or zerograd.lecture, got "
        f"{type(model).__module__}.{type(model).__name__}"
    )


def _activation(neuron: Any) -> str:
    """A neuron's activation name (the lecture's neurons are all tanh)."""
    return "tanh" if isinstance(neuron, lecture.Neuron) else neuron.activation


def to_torch(model: nn.Module) -> Any:
    """A float64 ``torch.nn.Sequential`` computing the same function as ``model``
    (an ``MLP``, ``Layer`` or ``Neuron`` of ``zerograd.nn`` or ``zerograd.lecture``). A
    single output comes out with shape ``(1,)``."""
    torch = _torch()
    mods = []
    for i, layer in enumerate(_layers_of(model)):
        acts = {_activation(n) for n in layer.neurons}
        nins = {len(n.w) for n in layer.neurons}
        if len(acts) != 1 or len(nins) != 1:
            raise ValueError(f"layer {i} mixes activations {sorted(acts)} or input sizes "
                             f"{sorted(nins)}; torch.nn.Linear needs one of each per layer")
        (act,), (nin,) = acts, nins
        lin = torch.nn.Linear(nin, len(layer.neurons), dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons],
                                          dtype=torch.float64))
            lin.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        mods.append(lin)
        if act != "linear":
            mods.append(getattr(torch.nn, _TO_TORCH[act])())
    return torch.nn.Sequential(*mods)


def _flatten(module: Any, torch: Any) -> list:
    if isinstance(module, torch.nn.Sequential):
        return [m for child in module for m in _flatten(child, torch)]
    return [module]


def _refuse(what: str) -> ValueError:
    return ValueError(f"from_torch cannot convert {what}; it supports a {SUPPORTED}")


def from_torch(model: Any) -> nn.MLP:
    """A zerograd ``MLP`` with the weights of ``model``, a ``torch.nn.Sequential`` of
    ``Linear`` layers each optionally followed by ReLU, Tanh, Sigmoid or Identity (or a
    single ``Linear``). Anything else raises ``ValueError`` naming what is supported.
    Python's ``random`` state is left as it was."""
    torch = _torch()
    if not isinstance(model, (torch.nn.Sequential, torch.nn.Linear)):
        raise _refuse(f"a {type(model).__name__}")
    spec: list[list] = []  # [linear, activation]
    for i, m in enumerate(_flatten(model, torch)):
        name = type(m).__name__
        if type(m) is torch.nn.Linear:
            if m.bias is None:
                raise _refuse(f"module {i} (a Linear without bias; zerograd neurons always "
                              f"have one: use bias=True with a zero bias)")
            if spec and m.in_features != spec[-1][0].out_features:
                raise _refuse(f"module {i}: it takes {m.in_features} inputs but the layer "
                              f"before gives {spec[-1][0].out_features}")
            spec.append([m, "linear"])
        elif name in _FROM_TORCH and type(m) is getattr(torch.nn, name):
            if _FROM_TORCH[name] is None:
                continue
            if not spec or spec[-1][1] != "linear":
                where = "before any Linear" if not spec else "right after another activation"
                raise _refuse(f"module {i} ({name} {where})")
            spec[-1][1] = _FROM_TORCH[name]
        else:
            raise _refuse(f"module {i} ({name})")
    if not spec:
        raise _refuse("an empty Sequential")
    state = random.getstate()
    try:
        mlp = nn.MLP.__new__(nn.MLP)
        mlp.layers = [
            nn.Layer(lin.in_features, lin.out_features, nonlin=act != "linear",
                     activation=act if act != "linear" else "relu")
            for lin, act in spec
        ]
    finally:
        random.setstate(state)
    for layer, (lin, _) in zip(mlp.layers, spec, strict=True):
        weight = lin.weight.detach().to(torch.float64).tolist()
        bias = lin.bias.detach().to(torch.float64).tolist()
        for neuron, row, b in zip(layer.neurons, weight, bias, strict=True):
            for w, x in zip(neuron.w, row, strict=True):
                w.data = x
            neuron.b.data = b
    return mlp


__all__ = ["to_torch", "from_torch", "SUPPORTED"]
