"""zerograd: micrograd's scalar autograd, made correct, fast and friendly."""

from . import data, engine, interop, io, losses, monitor, nn, ops, optim, train, viz
from .anomaly import detect_anomaly
from .check import GradcheckError, gradcheck
from .compile import compile
from .engine import Value, as_value, dot, is_grad_enabled, logsumexp, no_grad, vsum
from .io import load, save
from .optim import TrainingWarning
from .train import TrainingDiverged
from .viz import draw_dot

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "playground":  # imported on first use: zg.playground() shows it in a notebook
        import importlib

        return importlib.import_module(".playground", __name__)
    raise AttributeError(f"module 'zerograd' has no attribute {name!r}")

__all__ = [
    "Value", "compile", "as_value", "dot", "vsum", "logsumexp", "no_grad", "is_grad_enabled",
    "detect_anomaly", "gradcheck", "GradcheckError", "engine", "ops", "nn", "losses",
    "draw_dot", "viz", "data", "io", "save", "load", "interop", "train", "TrainingDiverged",
    "optim", "TrainingWarning", "playground", "monitor",
]
