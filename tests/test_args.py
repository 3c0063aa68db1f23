"""zerograd.args.count: the one check of a whole-number argument, said the same way by every
layer that takes one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zerograd import nn
from zerograd.args import count

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.mark.parametrize("n, minimum", [(1, 1), (7, 1), (2, 2), (0, 0), (10**30, 1),
                                        (np.int64(5), 1), (np.uint8(3), 3)])
def test_a_whole_number_at_least_the_minimum_comes_back_as_an_int(n, minimum):
    got = count(n, "steps", minimum)
    assert got == n and type(got) is int


@pytest.mark.parametrize("n, shown", [
    (0, "0"), (-3, "-3"), (True, "True"), (False, "False"), (2.0, "2.0"), (2.5, "2.5"),
    ("3", "'3'"), (None, "None"), ([4], "[4]"), (np.float64(4.0), repr(np.float64(4.0))),
])
def test_anything_else_is_refused_naming_the_argument_the_bound_and_the_value(n, shown):
    with pytest.raises(ValueError) as info:
        count(n, "steps")
    assert str(info.value) == f"steps must be a whole number >= 1, got {shown}"


def test_the_minimum_is_in_the_message():
    assert count(10, "samples", 10) == 10
    with pytest.raises(ValueError, match=r"^samples must be a whole number >= 10, got 9$"):
        count(9, "samples", 10)


def test_an_int_too_long_to_print_is_described_not_printed():
    with pytest.raises(ValueError, match=r"got an int of about 5001 digits$"):
        count(-(10**5000), "steps")


def test_nn_and_the_demos_say_it_the_same_way():
    with pytest.raises(ValueError, match=r"^nin must be a whole number >= 1, got 0$"):
        nn.Neuron(0)
    with pytest.raises(ValueError, match=r"^nout must be a whole number >= 1, got 2.5$"):
        nn.Layer(2, 2.5)
    with pytest.raises(ValueError, match=r"^nouts\[1\] must be a whole number >= 1, got -1$"):
        nn.MLP(2, [3, -1])
    from zerograd import demos

    for kwargs, words in [({"steps": 0}, "steps must be a whole number >= 1, got 0"),
                          ({"print_every": 0}, "print_every must be a whole number >= 1, got 0"),
                          ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
                          ({"hidden": True}, "hidden must be a whole number >= 1, got True"),
                          ({"samples": 5}, "samples must be a whole number >= 10, got 5")]:
        with pytest.raises(ValueError, match=words):  # before any data is loaded
            demos.digits(out=None, progress=False, log=lambda _: None, **kwargs)


@pytest.mark.parametrize("value, shown", [("0", "0"), ("-2", "-2"), ("x", "'x'"),
                                          ("1.5", "'1.5'")])
def test_the_command_line_says_it_for_its_options_too(value, shown):
    done = subprocess.run([sys.executable, "-m", "zerograd", "train", "--steps", value],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"zerograd train: error: argument --steps: the value must be a "
                           f"whole number >= 1, got {shown} (see 'zerograd train --help')\n")
