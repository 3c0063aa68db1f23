"""The ``zerograd`` command line: ``zerograd train`` runs the lecture's training."""

from __future__ import annotations

import argparse
import random
import sys
from typing import Callable, Sequence

from . import nn
from .engine import Value

LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {n}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return x


def cmd_train(args: argparse.Namespace) -> int:
    """The lecture's loop: MLP(3, [4, 4, 1]) with tanh, sum of squared errors, plain GD."""
    random.seed(args.seed)
    model = nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    print(f"training {model!r} ({len(model.parameters())} parameters) on the lecture's 4 "
          f"examples: {args.steps} steps, lr {args.lr}, seed {args.seed}")
    ypred: list[Value] = []
    for k in range(args.steps):
        ypred = [model(x) for x in LECTURE_XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(LECTURE_YS, ypred))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data += -args.lr * p.grad
        print(f"step {k:3d}  loss {loss.data:.6f}")
    print("predictions vs targets:")
    for yp, yt in zip(ypred, LECTURE_YS):
        print(f"  {yp.data:+.4f}  {yt:+.1f}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the lecture's MLP(3, [4, 4, 1]) on its 4 examples",
                       description=cmd_train.__doc__)
    p.add_argument("--steps", type=_positive_int, default=20, help="gradient steps (default 20)")
    p.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    p.set_defaults(func=cmd_train)


def cmd_lr_find(args: argparse.Namespace) -> int:
    """Sweep the learning rate on moons (MLP(2, [16, 16, 1]), hinge loss); print the
    suggested rate and, with --plot, draw the curve."""
    from . import data, losses, optim, train

    X, y = data.moons(args.samples, seed=args.seed, signed=True)
    X, y = X.tolist(), y.tolist()
    random.seed(args.seed)
    model = nn.MLP(2, [16, 16, 1])
    opt = {"adam": optim.Adam, "sgd": optim.SGD}[args.optimizer](model.parameters())
    result = train.lr_find(
        model, lambda X, y: losses.hinge([model(x) for x in X], y), opt,
        start_lr=args.start_lr, end_lr=args.end_lr, num_it=args.num_it,
        batch=lambda: (X, y), compile=args.compile,
    )
    print(f"lr_find on {args.dataset} ({len(X)} points), MLP(2, [16, 16, 1]), {args.optimizer}, "
          f"hinge loss: {len(result.lrs)} steps, lr {result.lrs[0]:.3g} to {result.lrs[-1]:.3g}")
    print(f"suggested learning rate: {result.suggestion:.3g}")
    if args.plot:
        print(f"wrote {result.plot(args.plot)}")
    return 0


def _add_lr_find(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lr-find", help="find a learning rate (exponential sweep, valley rule)",
                       description=cmd_lr_find.__doc__)
    p.add_argument("dataset", choices=["moons"], help="the data set")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="optimizer (default adam)")
    p.add_argument("--start-lr", type=_positive_float, default=1e-7, help="default 1e-7")
    p.add_argument("--end-lr", type=_positive_float, default=10.0, help="default 10")
    p.add_argument("--num-it", type=_positive_int, default=100, help="steps (default 100)")
    p.add_argument("--samples", type=_positive_int, default=100, help="points (default 100)")
    p.add_argument("--seed", type=int, default=1337, help="data and weights seed (default 1337)")
    p.add_argument("--compile", action="store_true", help="run the model through zg.compile")
    p.add_argument("--plot", metavar="PATH", help="write the loss-vs-lr curve to this PNG")
    p.set_defaults(func=cmd_lr_find)


# Each entry adds one subcommand to the parser; other modules' commands register here.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_train]
COMMANDS += [_add_lr_find]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zerograd", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, ValueError, TypeError, OSError, ImportError) as e:
        if args.debug:
            raise
        print(f"zerograd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
