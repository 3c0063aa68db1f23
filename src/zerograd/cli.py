"""The ``zerograd`` command line: train, demo, graph, lr-find, playground."""

from __future__ import annotations

import argparse
import difflib
import os
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol

from . import lecture, nn
from .args import count
from .engine import TrainingWarning, Value

LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns (argparse keeps its class private):
    each entry of :data:`COMMANDS` adds its subcommand with ``add_parser``."""

    def add_parser(self, name: str, **kwargs: Any) -> Any: ...


def _positive_int(text: str) -> int:
    try:
        n: Any = int(text)
    except ValueError:
        n = text  # not a whole number: count() says so
    try:
        return count(n, "the value")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return x


def cmd_train(args: argparse.Namespace) -> int:
    """The lecture's loop on the lecture's network (zerograd.lecture's MLP(3, [4, 4, 1]):
    tanh on every layer, 41 parameters), sum of squared errors, plain gradient descent."""
    random.seed(args.seed)
    model = lecture.MLP(3, [4, 4, 1])
    print(f"training the lecture's MLP(3, [4, 4, 1]), tanh, {len(model.parameters())} "
          f"parameters on the lecture's 4 examples: {args.steps} steps, lr {args.lr}, "
          f"seed {args.seed}")
    params = model.parameters()
    ypred: list[Value] = []
    noted: list[str] = []
    for k in range(args.steps):
        ypred = [model(x) for x in LECTURE_XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(LECTURE_YS, ypred))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TrainingWarning)
            value = lecture.step(loss, params, args.lr)  # zero, backward, p.data += -lr*p.grad
        for w in caught:  # shown now, and again at the end where it is not missed
            noted.append(f"step {k}: {w.message}")
            print(f"warning at step {k}: {w.message}", file=sys.stderr)
        print(f"step {k:3d}  loss {value:.6f}")
    print("predictions vs targets:")
    for yp, yt in zip(ypred, LECTURE_YS):
        print(f"  {yp.data:+.4f}  {yt:+.1f}")
    for text in noted:
        print(f"TrainingWarning at {text}")
    return 0


def _add_train(sub: Subcommands) -> None:
    p = sub.add_parser("train", help="train the lecture's MLP(3, [4, 4, 1]) on its 4 examples",
                       description=cmd_train.__doc__)
    p.add_argument("--steps", type=_positive_int, default=20, help="gradient steps (default 20)")
    p.add_argument("--lr", type=_positive_float, default=0.05,
                   help="learning rate (default 0.05, the lecture's)")
    p.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    p.set_defaults(func=cmd_train)


def cmd_demo(args: argparse.Namespace) -> int:
    """Train one of the demos (see ``zerograd demo NAME --help``) and write its plots; a
    run that diverges (``zg.train.fit`` stops it) writes its plots so far and is an error."""
    from . import demos, train

    options = {k: v for k, v in vars(args).items() if k in args.demo_options and v is not None}
    compile = True if args.executor == "auto" else (args.executor or args.compile)
    try:
        demos.DEMOS[args.demo](out=args.out, compile=compile, progress=args.progress,
                               **options)
    except train.TrainingDiverged as e:
        raise CLIError(str(e)) from None
    return 0


def _add_demo(sub: Subcommands) -> None:
    p = sub.add_parser("demo", help="train a demo model (moons, spiral, digits) and plot it",
                       description="Train a demo model, print its progress and write PNGs.")
    demo_sub = p.add_subparsers(dest="demo", metavar="NAME")
    demo_sub.required = True
    helps = {
        "moons": "micrograd's demo: MLP(2, [16, 16, 1]), hinge loss, 100 steps; prints "
                 "micrograd's exact numbers",
        "spiral": "3-class spiral: MLP(2, [16, 16, 3]), cross-entropy, Adam",
        "digits": "8x8 digits: MLP(64, [64, 10]), cross-entropy, minibatch Adam, test accuracy",
    }
    for name, text in helps.items():
        d = demo_sub.add_parser(name, help=text, description=text)
        d.add_argument("--steps", type=_positive_int, help="training steps (default: the demo's)")
        d.add_argument("--seed", type=int, help="random seed (default: the demo's)")
        d.add_argument("--print-every", type=_positive_int, help="print a line every N steps")
        options = ["steps", "seed", "print_every"]
        if name != "moons":
            d.add_argument("--lr", type=_positive_float, help="Adam's learning rate")
            options.append("lr")
        if name == "digits":
            d.add_argument("--batch-size", type=_positive_int, help="minibatch size (default 64)")
            d.add_argument("--hidden", type=_positive_int, help="hidden units (default 64)")
            d.add_argument("--samples", type=_positive_int,
                           help="use only this many images (quick runs)")
            options += ["batch_size", "hidden", "samples"]
        d.add_argument("--out", default=".", metavar="DIR",
                       help="folder for the loss and decision-boundary PNGs (default: here)")
        d.add_argument("--compile", action="store_true", help="train through zg.compile")
        d.add_argument("--executor", choices=["auto", "numpy", "scalar", "python"],
                       help="zg.compile's executor (implies --compile; default auto)")
        d.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar (default: when stderr is a terminal)")
        d.set_defaults(func=cmd_demo, demo_options=options)


def _parse_set(text: str) -> tuple[str, float]:
    name, eq, number = text.partition("=")
    if not eq or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER such as x=2.0, got {text!r}")
    try:
        return name.strip(), float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name.strip()}: expected a number, got {number!r}") \
            from None


def cmd_graph(args: argparse.Namespace) -> int:
    """Build a formula's graph, backpropagate through it and draw it."""
    from . import formula, viz

    values = {}
    for name, x in args.set:
        if name in values:
            raise CLIError(f"{name} is set twice")
        values[name] = x
    out = formula.build(args.expr, values)
    out.backward()
    graph = viz.draw_dot(out, format="dot", rankdir=args.rankdir, max_nodes=args.max_nodes)
    folder = os.path.dirname(args.output)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise OSError(f"cannot create the folder {folder!r}: {e.strerror or e}") from None
    path = viz.render(graph, args.output)
    print(f"{args.expr.strip()} = {out.data!r}")
    leaves = {v.label: v for v in _leaves(out)}
    for name in formula.variables(args.expr):
        print(f"  d/d{name} = {leaves[name].grad!r}")
    print(f"wrote {path}")
    return 0


def _leaves(root: Value) -> list[Value]:
    from .engine import topological_order

    return [v for v in topological_order(root) if not v._children]


def _add_graph(sub: Subcommands) -> None:
    p = sub.add_parser(
        "graph", help="draw the graph of a formula, e.g. 'tanh(x*w + b)', with its gradients",
        description="Evaluate a formula on named numbers, backpropagate, and draw the graph "
                    "(values and gradients in every node). Formulas may use numbers, names, "
                    "+ - * / **, parentheses and tanh relu sigmoid exp log softplus abs sqrt; "
                    "nothing else is run.", add_help=False)
    options = [p.add_argument("-h", "--help", action="help",
                              help="show this help message and exit")]
    p.add_argument("expr", metavar="EXPR", help="the formula, e.g. 'tanh(x*w + b)' (it may "
                   "start with '-', as in '-x*y')")
    options += [
        p.add_argument("--set", type=_parse_set, action="append", default=[],
                       metavar="NAME=NUMBER", help="a variable's value (repeat for each variable)"),
        p.add_argument("-o", "--output", default="graph.svg",
                       help="file to write: .svg, .png, .pdf or .dot (default graph.svg)"),
        p.add_argument("--rankdir", choices=["LR", "TB"], default="LR",
                       help="layout direction: left to right or top down (default LR)"),
        p.add_argument("--max-nodes", type=_positive_int, default=1000,
                       help="refuse graphs with more Values than this (default 1000)"),
    ]
    p.options = {o: a.nargs != 0 for a in options for o in a.option_strings}
    p.set_defaults(func=cmd_graph)


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
        batch=lambda: (X, y), compile=args.compile, progress=args.progress,
    )
    print(f"lr_find on {args.dataset} ({len(X)} points), MLP(2, [16, 16, 1]), {args.optimizer}, "
          f"hinge loss: {len(result.lrs)} steps, lr {result.lrs[0]:.3g} to {result.lrs[-1]:.3g}")
    print(f"suggested learning rate: {result.suggestion:.3g}")
    if args.plot:
        print(f"wrote {result.plot(args.plot)}")
    return 0


def _add_lr_find(sub: Subcommands) -> None:
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
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_lr_find)


def cmd_playground(args: argparse.Namespace) -> int:
    """Serve the playground (the lecture's training, live in the browser) until Ctrl-C."""
    from .playground import server

    server.serve(args.host, args.port, open_browser=args.browser)
    return 0


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: a free one), got {n}")
    return n


def _add_playground(sub: Subcommands) -> None:
    p = sub.add_parser("playground", help="watch training live in the browser",
                       description="Start the playground's web server on this machine and "
                       "open its page: train the lecture's networks live, make the lecture's "
                       "mistakes, walk backprop node by node, take the code. Ctrl-C stops it.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; any "
                   "other needs the access token printed at start)")
    p.add_argument("--port", type=_port, default=0, help="port (default 0: a free one)")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="print the address without opening a browser")
    p.set_defaults(func=cmd_playground)


# Each entry adds one subcommand to the parser; other modules' commands register here.
COMMANDS: list[Callable[[Subcommands], None]] = [_add_train]
COMMANDS += [_add_lr_find]
COMMANDS += [_add_demo, _add_graph, _add_playground]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors that point at the right ``--help`` and suggest
    the closest choice for a typo (its subcommand parsers inherit this class)."""

    commands: dict[str, argparse.ArgumentParser]  # on the top parser: name -> its parser
    options: dict[str, bool]  # on graph's: each option string -> whether it takes a value

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # report unknown words here, so a subcommand's own usage and --help are named
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            lowered = {str(c).lower(): c for c in choices}
            close = difflib.get_close_matches(str(value).lower(), list(lowered), n=1)
            hint = f"; did you mean {lowered[close[0]]!r}?" if close else ""
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint} (choose "
                                                 f"from {', '.join(map(repr, choices))})")


def build_parser() -> _Parser:
    from .version import version

    parser = _Parser(
        prog="zerograd",
        description="zerograd's command line: train the lecture's network, run a demo, draw "
                    "a formula's graph, find a learning rate, or open the playground.",
        epilog="Run 'zerograd COMMAND --help' for a command's options, e.g. 'zerograd demo "
               "moons --help'.")
    parser.add_argument("--version", action="version", version=f"zerograd {version()}",
                        help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    parser.commands = sub.choices
    return parser


def _formula_first(argv: list[str], graph: _Parser | None) -> list[str]:
    """``argv`` with a ``graph`` formula starting with '-' (``graph '-x*y'``) moved after
    ``--``, where argparse reads it as the positional it is, not as an option.

    The formula is the first word after ``graph`` that is neither one of its options nor an
    option's value, and parses as a formula (or, failing that, is not ``-o`` with its value
    attached, so a mistyped formula gets the formula's error message)."""
    command = next((i for i, w in enumerate(argv) if not w.startswith("-")), None)
    if graph is None or command is None or argv[command] != "graph":
        return argv
    options = graph.options
    i = command + 1
    while i < len(argv) and argv[i] != "--" and argv[i].startswith("-"):
        word = argv[i]
        if word.startswith("--"):  # a long option, maybe abbreviated, maybe with =value
            name, eq, _ = word.partition("=")
            known = [takes for o, takes in options.items() if o.startswith(name)]
            if not known and _is_formula(word):  # '--x' is -(-x), not an option
                return [*argv[:i], *argv[i + 1:], "--", word]
            i += 2 if known and known[0] and not eq else 1
        elif word in options:  # a short option: -o FILE, -h
            i += 2 if options[word] else 1
        elif _is_formula(word) or word[:2] not in options:
            return [*argv[:i], *argv[i + 1:], "--", word]
        else:  # a short option with its value attached: -ograph.svg
            i += 1
    return argv


def _is_formula(text: str) -> bool:
    from . import formula

    try:
        formula.parse(text)
    except formula.FormulaError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_formula_first(argv, parser.commands.get("graph")))
    try:
        return args.func(args)
    except BrokenPipeError:  # `zerograd train | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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
