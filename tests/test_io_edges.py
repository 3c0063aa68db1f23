"""Checkpoint edge cases: format detection, strict restore, non-regular and hostile files,
temporary files of failed or killed saves, symlinks, read-only files and modes."""

from __future__ import annotations

import copy
import json
import os
import random
import re
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import needs
from hypothesis import given
from hypothesis import strategies as hs

import zerograd as zg
from zerograd import io, nn, optim

EXTENSIONS = [".json", ".safetensors"]
SAFETENSORS = pytest.mark.needs("safetensors", "the .safetensors format")
FORMATS = [".json", pytest.param(".safetensors", marks=SAFETENSORS)]  # as parameters
SRC = str(Path(zg.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": SRC}


def same(a, b) -> bool:
    """Equal and of the same types all the way down (floats bitwise, key order included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return same(list(a), list(b)) and all(same(a[k], b[k]) for k in a)
    return a == b


def round_trip(obj, path: Path):
    zg.save(obj, path)
    return zg.load(path)


def a_checkpoint() -> dict:
    random.seed(5)
    model = nn.MLP(2, [3, 1])
    opt = optim.Adam(model.parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = 0.1
    opt.step()
    ckpt = io.checkpoint(model, opt, step=7)
    ckpt["extra"] = {1: (0.5, None, True), "s": "é\n\"", "big": 2**70, "neg0": -0.0}
    return ckpt


# -- 1. the extension decides the format -----------------------------------------------------
def header_length(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def state_with_header(folder: Path, total: int) -> tuple[dict, bytes]:
    """A state dict whose .safetensors file (as zg.save writes it) has a header of exactly
    ``total`` bytes (a multiple of 8: safetensors pads the header with spaces)."""
    path = folder / "probe.safetensors"

    def saved(pad: int) -> tuple[dict, bytes]:
        state = {"w": [0.5, -0.25], "b": 0.125, "step": 3, "pad": "x" * pad}
        zg.save(state, path)
        return state, path.read_bytes()

    _, raw = saved(0)
    unpadded = len(raw[8:8 + header_length(raw)].rstrip(b" "))
    state, raw = saved(total - unpadded)  # each 'x' adds one byte to the header
    assert header_length(raw) == total
    return state, raw


def repad(raw: bytes, total: int) -> bytes:
    """The same safetensors file with its header padded to ``total`` bytes (any length, as
    another writer might choose)."""
    n = header_length(raw)
    header = raw[8:8 + n].rstrip(b" ")
    assert len(header) <= total
    return total.to_bytes(8, "little") + header + b" " * (total - len(header)) + raw[8 + n:]


# header lengths whose leading bytes are whitespace and/or '{': b' {', b'  {', b' \t{', ...
SAVED_LENGTHS = [0x0920, 0x0A20, 0x0B20, 0x0C20, 0x0D20, 0x2020, 0x7B20, 0x17B20, 0x207B20,
                 0x7B2020, 0x7B0920, 0x7B0A20, 0x7B0D20]


def test_the_issue_reproduction_loads(tmp_path):
    needs("safetensors", "the .safetensors format")
    random.seed(0)
    m = nn.MLP(1, [13, 2])
    opt = optim.Adam(m.parameters(), lr=0.01)
    for p in m.parameters():
        p.grad = 0.1
    opt.step()
    random.seed(154)
    random.random()
    ckpt = io.checkpoint(m, opt, step=100)
    path = tmp_path / "c.safetensors"
    zg.save(ckpt, path)
    assert path.read_bytes()[:2] == b" {"
    assert same(zg.load(path), ckpt)


@pytest.mark.parametrize("total", SAVED_LENGTHS, ids=hex)
def test_safetensors_header_lengths_with_whitespace_and_brace_bytes_round_trip(tmp_path, total):
    needs("safetensors", "the .safetensors format")
    state, raw = state_with_header(tmp_path, total)
    assert raw[:8] == total.to_bytes(8, "little") and raw[0] == ord(" ")
    for ext in EXTENSIONS:
        assert same(round_trip(state, tmp_path / f"s{ext}"), state)


@pytest.mark.parametrize("low", [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x7B])
def test_safetensors_headers_of_any_length_load(tmp_path, low):
    """Another writer may pad differently: first bytes b'\\t', b'\\n', b'\\r', b' ', b'{'
    followed by whitespace or '{' must all load."""
    needs("safetensors", "the .safetensors format")
    state, raw = state_with_header(tmp_path, 0x600)
    path = tmp_path / "other.safetensors"
    for high in (0x09, 0x0A, 0x0D, 0x20, 0x7B):
        total = low + 256 * high
        path.write_bytes(repad(raw, total))
        assert path.read_bytes()[:2] == bytes([low, high])
        assert same(zg.load(path), state)


def test_a_misnamed_file_is_named_only_after_the_real_parse_fails(tmp_path):
    needs("safetensors", "the .safetensors format")
    state, raw = state_with_header(tmp_path, 0x7B20)
    (tmp_path / "a.json").write_bytes(raw)
    with pytest.raises(io.CheckpointError, match=r"looks like a \.safetensors.*rename"):
        zg.load(tmp_path / "a.json")
    zg.save(state, tmp_path / "b.json")
    (tmp_path / "b.json").rename(tmp_path / "b.safetensors")
    with pytest.raises(io.CheckpointError, match="looks like a JSON.*rename"):
        zg.load(tmp_path / "b.safetensors")
    # a damaged misnamed file gets the real parse's error, not a guess
    (tmp_path / "c.safetensors").write_bytes(b"  {" + raw[:40])
    with pytest.raises(io.CheckpointError, match="not a readable safetensors"):
        zg.load(tmp_path / "c.safetensors")


leaves = (hs.none() | hs.booleans() | hs.integers() | hs.text(max_size=8)
          | hs.floats(allow_nan=False, allow_infinity=False))
keys = hs.text(max_size=6) | hs.sampled_from(["__tuple__", "__dict__", "__tensor__",
                                               "__metadata__", "a/b", "value", "as", ""])
trees = hs.recursive(
    leaves,
    lambda kids: (hs.lists(kids, max_size=4) | hs.lists(kids, max_size=4).map(tuple)
                  | hs.lists(hs.floats(allow_nan=False, allow_infinity=False), min_size=1,
                             max_size=4).map(tuple)
                  | hs.dictionaries(keys, kids, max_size=4)
                  | hs.dictionaries(hs.integers() | hs.booleans() | hs.none()
                                    | hs.floats(allow_nan=False, allow_infinity=False),
                                    kids, max_size=3)),
    max_leaves=20,
)


@given(trees)
def test_whatever_save_writes_load_reads_back(tree):
    needs("safetensors", "the .safetensors format")
    with tempfile.TemporaryDirectory() as folder:
        for ext in EXTENSIONS:
            assert same(round_trip(tree, Path(folder) / f"t{ext}"), tree)


@pytest.mark.parametrize("ext", FORMATS)
def test_awkward_names_and_values_round_trip(tmp_path, ext):
    tree = {"__metadata__": 1.5, "\ud800": [2.5, 3.5], "\ud800x": 4.5, "value": 1.0, "": 2.0,
            "deep": [[[[[0.5]]]]], "x#2": 3.0, "big": 10**3999, "neg": -(10**3999)}
    assert same(round_trip(tree, tmp_path / f"t{ext}"), tree)


# -- 2. restore checks everything before changing anything ------------------------------------
def trained(seed: int) -> tuple[nn.MLP, optim.Adam, optim.StepLR]:
    random.seed(seed)
    model = nn.MLP(2, [3, 1])
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.StepLR(opt, step_size=2)
    for p in model.parameters():
        p.grad = 0.1 * seed
    opt.step()
    sched.step()
    return model, opt, sched


def state_of(model, opt, sched) -> tuple:
    return ([p.data for p in model.parameters()], copy.deepcopy(opt.state_dict()),
            sched.state_dict(), random.getstate())


BAD = ["step='abc'", "step=None", "step=1.5", "step=-5", "step=True", "step=2.0", "step=[3]",
       "no step", "no rng", "rng garbage", "rng wrong version", "rng bad gauss", "no optimizer",
       "optimizer is a list", "no scheduler", "model is None", "model that does not fit",
       "optimizer that does not fit", "not a dict"]


def bad_checkpoints() -> dict:
    good = io.checkpoint(*trained(2), step=5)
    wrong_model = {**good, "model": {**good["model"], "layers.0.neurons.0.w": [1.0]}}
    wrong_opt = {**good, "optimizer": {"state": {}, "param_groups": []}}
    bad = {f"step={s!r}": {**good, "step": s} for s in ("abc", None, 1.5, -5, True, 2.0, [3])}
    bad.update({
        "no step": {k: v for k, v in good.items() if k != "step"},
        "no rng": {**good, "rng": None},
        "rng garbage": {**good, "rng": (3, (1, 2, 3), None)},
        "rng wrong version": {**good, "rng": (99,) + good["rng"][1:]},
        "rng bad gauss": {**good, "rng": good["rng"][:2] + ("x",)},
        "no optimizer": {**good, "optimizer": None},
        "optimizer is a list": {**good, "optimizer": [1, 2]},
        "no scheduler": {**good, "scheduler": None},
        "model is None": {**good, "model": None},
        "model that does not fit": wrong_model,
        "optimizer that does not fit": wrong_opt,
        "not a dict": [good],
    })
    return bad


@pytest.mark.parametrize("case", BAD)
def test_a_bad_checkpoint_changes_nothing(case, restore_random):
    cases = bad_checkpoints()
    assert list(cases) == BAD
    ckpt = cases[case]
    model, opt, sched = trained(1)
    random.seed(42)
    before = state_of(model, opt, sched)
    fails = io.CheckpointError if "fit" not in case else ValueError
    with pytest.raises(fails) as info:
        io.restore(ckpt, model, opt, sched)
    if "step=" in case:
        assert re.search(r"step must be a whole number >= 0", str(info.value))
    assert same(state_of(model, opt, sched), before)


def test_restore_still_restores_a_good_checkpoint(restore_random):
    ckpt = io.checkpoint(*trained(2), step=5)
    random.seed(3)
    ckpt["rng"] = random.getstate()
    expected = random.random()
    model, opt, sched = trained(1)
    assert io.restore(ckpt, model, opt, sched) == 5
    assert random.random() == expected
    assert same(state_of(model, opt, sched)[:3], state_of(*trained(2))[:3])
    assert io.restore({**ckpt, "rng": None, "step": 0}, model, rng=False) == 0


HUGE = {"309 digits": 10**308 * 10, "4000 digits (just under json's 4300)": 10**3999}
NUMBERS = {  # an entry of a saved checkpoint, and where the error must say it is
    "a weight": (lambda c, x: c["model"]["layers.0.neurons.0.w"].__setitem__(0, x),
                 "model entry layers.0.neurons.0.w[0]"),
    "a bias": (lambda c, x: c["model"].__setitem__("layers.0.neurons.0.b", x),
               "model entry layers.0.neurons.0.b"),
    "lr": (lambda c, x: c["optimizer"]["param_groups"][0].__setitem__("lr", x),
           "optimizer entry param_groups[0]/lr"),
    "exp_avg": (lambda c, x: c["optimizer"]["state"][3].__setitem__("exp_avg", x),
                "optimizer entry state/3/exp_avg"),
    "adam's step": (lambda c, x: [e.__setitem__("step", x)
                                  for e in c["optimizer"]["state"].values()],
                    "optimizer entry state/0/step"),
    "last_epoch": (lambda c, x: c["scheduler"].__setitem__("last_epoch", x),
                   "scheduler entry last_epoch"),
    "base_lrs": (lambda c, x: c["scheduler"]["base_lrs"].__setitem__(0, x),
                 "scheduler entry base_lrs[0]"),
}


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("size", list(HUGE))
@pytest.mark.parametrize("entry", list(NUMBERS))
def test_a_number_too_large_for_a_float_is_refused_and_changes_nothing(
        entry, size, ext, tmp_path, restore_random):
    """A checkpoint with a valid checksum but an int no float can hold (309 digits and up)
    is a CheckpointError naming the entry, before anything is restored."""
    ckpt = io.checkpoint(*trained(2), step=5)
    put, where = NUMBERS[entry]
    put(ckpt, HUGE[size])
    path = tmp_path / f"c{ext}"
    zg.save(ckpt, path)  # save writes ints of up to 4000 digits, with the right checksum
    loaded = zg.load(path)
    model, opt, sched = trained(1)
    random.seed(42)
    before = state_of(model, opt, sched)
    with pytest.raises(io.CheckpointError, match=re.escape(where)) as info:
        io.restore(loaded, model, opt, sched)
    assert "too large" in str(info.value)
    assert same(state_of(model, opt, sched), before)
    opt.step()  # the objects still work
    sched.step()


@pytest.mark.parametrize("last_epoch", [2**53 + 1, 10**300, 10**3999],
                         ids=["2**53+1", "10**300", "10**3999"])
def test_a_scheduler_count_past_any_real_run_is_refused(last_epoch, restore_random):
    """``last_epoch`` of 10**3999 used to be restored and overflow at the next step()."""
    for make in (lambda o: optim.StepLR(o, step_size=2),
                 lambda o: optim.CosineAnnealingLR(o, T_max=10)):
        model, opt, _ = trained(2)
        sched = make(opt)
        ckpt = io.checkpoint(model, opt, sched, step=5)
        ckpt["scheduler"]["last_epoch"] = last_epoch
        with pytest.raises(io.CheckpointError, match="scheduler entry last_epoch"):
            io.restore(ckpt, model, opt, sched)
        opt.step()
        sched.step()
    model, opt, _ = trained(2)
    sched = optim.CosineAnnealingLR(opt, T_max=10)
    ckpt = io.checkpoint(model, opt, sched, step=5)
    ckpt["scheduler"]["last_epoch"] = 2**53  # the largest count allowed still works
    io.restore(ckpt, model, opt, sched)
    opt.step()
    sched.step()
    assert sched.last_epoch == 2**53 + 1


@pytest.mark.parametrize("step", ["abc", None, 1.5, -1, True])
def test_checkpoint_refuses_a_bad_step(step):
    with pytest.raises(ValueError, match="step must be a whole number >= 0"):
        io.checkpoint(nn.MLP(1, [1]), step=step)
    assert io.checkpoint(nn.MLP(1, [1]), step=np.int64(4))["step"] == 4


# -- 3. load refuses what is not a regular checkpoint file -----------------------------------
def load_within(path: Path, seconds: float = 10.0) -> BaseException | None:
    """Run zg.load in a thread; fail if it does not return or raise within ``seconds``."""
    outcome: list = []

    def run():
        try:
            zg.load(path)
            outcome.append(None)
        except BaseException as e:  # noqa: B036 - hand any outcome back to the test
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"zg.load({path}) hung"
    return outcome[0]


def test_load_refuses_a_fifo_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "p.json")
    error = load_within(tmp_path / "p.json")
    assert isinstance(error, io.CheckpointError) and "FIFO" in str(error)


def test_load_refuses_a_file_swapped_for_a_fifo_after_the_check(tmp_path, monkeypatch):
    """The path passes the first check, then is a FIFO when opened: the open must not block
    and fstat catches it."""
    fifo, regular = tmp_path / "p.json", tmp_path / "r.json"
    os.mkfifo(fifo)
    regular.write_bytes(b"{}\n")
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(
        regular if Path(p) == fifo else p, *a, **k))
    error = load_within(fifo)
    monkeypatch.undo()
    assert isinstance(error, io.CheckpointError) and "FIFO" in str(error)


def test_load_refuses_folders_and_devices(tmp_path):
    (tmp_path / "d.json").mkdir()
    (tmp_path / "zero.safetensors").symlink_to("/dev/zero")
    (tmp_path / "null.json").symlink_to("/dev/null")
    for name, what in [("d.json", "folder"), ("zero.safetensors", "character device"),
                       ("null.json", "character device")]:
        error = load_within(tmp_path / name)
        assert isinstance(error, io.CheckpointError), error
        assert what in str(error) and "not a regular file" in str(error)
    with pytest.raises(FileNotFoundError):
        zg.load(tmp_path / "missing.json")


@pytest.mark.parametrize("ext", FORMATS)
def test_the_size_cap_applies_to_save_and_load(tmp_path, monkeypatch, ext):
    path = tmp_path / f"m{ext}"
    zg.save({"w": [0.5] * 10}, path)
    monkeypatch.setattr(io, "MAX_BYTES", path.stat().st_size)
    assert zg.load(path) == {"w": [0.5] * 10}  # exactly at the cap is fine
    with pytest.raises(ValueError, match="MAX_BYTES"):
        zg.save({"w": [0.5] * 11}, tmp_path / f"n{ext}")
    assert not (tmp_path / f"n{ext}").exists()
    monkeypatch.setattr(io, "MAX_BYTES", path.stat().st_size - 1)
    with pytest.raises(io.CheckpointError, match="cap.*MAX_BYTES"):
        zg.load(path)
    monkeypatch.undo()
    assert io.MAX_BYTES == 1 << 30


def test_load_reads_at_most_cap_plus_one_bytes_of_a_growing_file(tmp_path, monkeypatch):
    path = tmp_path / "g.json"
    path.write_bytes(b" " * 100_000)
    monkeypatch.setattr(io, "MAX_BYTES", 1000)
    real_stat, real_fstat, read = os.stat, os.fstat, []

    def small(info: os.stat_result) -> os.stat_result:  # 10 bytes when checked, then it grew
        return os.stat_result(info[:6] + (10,) + info[7:10])

    monkeypatch.setattr(os, "stat", lambda p, *a, **k: small(real_stat(p, *a, **k)))
    monkeypatch.setattr(os, "fstat", lambda fd: small(real_fstat(fd)))
    real_open = open

    class Counting:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def read(self, n):
            data = self.f.read(n)
            read.append(len(data))
            return data

    monkeypatch.setattr(io, "open", lambda *a, **k: Counting(real_open(*a, **k)),
                        raising=False)
    with pytest.raises(io.CheckpointError, match="grew past"):
        zg.load(path)
    assert sum(read) == 1001


def write_json_doc(path: Path, data_text: str, checksum_of=None) -> None:
    """A JSON checkpoint whose data is ``data_text`` verbatim, with a correct checksum when
    ``checksum_of`` (the parsed data) is given."""
    digest = "0" * 64
    if checksum_of is not None:
        import hashlib

        digest = hashlib.sha256(io._canonical(checksum_of)).hexdigest()
    path.write_text(f'{{"format": "{io.FORMAT}", "version": 1, "sha256": "{digest}", '
                    f'"data": {data_text}}}\n')


def test_hostile_json_fails_cleanly(tmp_path):
    path = tmp_path / "h.json"
    cases = {
        "[" * 100_000 + "]" * 100_000: "nested far too deeply",
        '{"a":' * 100_000 + "1" + "}" * 100_000: "nested far too deeply",
        "1" * 5000: "int of 5000 digits",
        "[" + "9" * 4001 + "]": "int of 4001 digits",
        '"\\ud800"': "checksum",
    }
    for text, message in cases.items():
        write_json_doc(path, text)
        with pytest.raises(io.CheckpointError, match=message):
            zg.load(path)


def test_deep_json_with_a_valid_checksum_fails_cleanly(tmp_path):
    path = tmp_path / "h.json"
    deep: list = [0.5]
    for _ in range(300):
        deep = [deep]
    write_json_doc(path, json.dumps(deep), checksum_of=deep)
    with pytest.raises(io.CheckpointError, match="nested more than 100 deep"):
        zg.load(path)


def test_ints_are_limited_the_same_way_by_any_int_digit_setting(tmp_path):
    path = tmp_path / "h.json"
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # unlimited: the file's limit must not depend on it
    try:
        big = 10**5000
        write_json_doc(path, str(big), checksum_of=big)
        with pytest.raises(io.CheckpointError, match="int of 5001 digits"):
            zg.load(path)
        with pytest.raises(ValueError, match="more than 4000 digits"):
            zg.save({"n": big}, path)
    finally:
        sys.set_int_max_str_digits(old)


def write_safetensors(path: Path, structure: str, arrays: dict | None = None) -> None:
    """A safetensors checkpoint with the given structure text and a valid checksum."""
    from safetensors.numpy import save_file

    arrays = arrays or {"t": np.zeros(1)}
    meta = {"format": io.FORMAT, "version": "1", "structure": structure,
            "sha256": io._digest(structure.encode(), arrays)}
    save_file(arrays, str(path), metadata=meta)


def test_hostile_safetensors_with_valid_checksums_fail_cleanly(tmp_path):
    needs("safetensors", "the .safetensors format")
    path = tmp_path / "h.safetensors"
    cases = {
        "[" * 100_000 + "]" * 100_000: "nested far too deeply",
        json.dumps(json.loads("[" * 200 + "]" * 200)): "nested more than 100 deep",
        "9" * 5000: "int of 5000 digits",
        '{"__tensor__": "t", "as": "float"}': "expected float64 with 0 dimensions",
        '{"__tensor__": "nope", "as": "list"}': "missing or malformed",
        '{"__tensor__": "t", "as": "set"}': "missing or malformed",
        '{"__dict__": [[[1], 2]]}': "malformed entry",
        "[1,": "not a readable structure header",
        "NaN": "finite",
    }
    for text, message in cases.items():
        write_safetensors(path, text)
        with pytest.raises(io.CheckpointError, match=message):
            zg.load(path)
    write_safetensors(path, "1", {"t": np.zeros(2, dtype=np.int8)})
    assert zg.load(path) == 1  # an unreferenced tensor of another dtype is harmless


def test_nesting_is_limited_the_same_way_on_save_and_load(tmp_path):
    needs("safetensors", "the .safetensors format")
    for ext in EXTENSIONS:
        deep: object = 0.5
        for i in range(io.MAX_DEPTH):
            deep = [deep] if i % 3 else ({2: deep} if i % 2 else (deep,))
        assert same(round_trip(deep, tmp_path / f"d{ext}"), deep)
        with pytest.raises(ValueError, match="nested more than 100 deep"):
            zg.save([deep], tmp_path / f"e{ext}")
        loop: list = []
        loop.append(loop)
        with pytest.raises(ValueError, match="contains itself"):
            zg.save({"a": loop}, tmp_path / f"e{ext}")
        assert not (tmp_path / f"e{ext}").exists()


def mutations(raw: bytes, rnd: random.Random, n: int):
    for _ in range(n):
        b = bytearray(raw)
        i = rnd.randrange(len(b)) if rnd.random() < 0.8 else rnd.randrange(min(len(b), 16))
        op = rnd.randrange(5)
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[i] = rnd.randrange(256)
        elif op == 2:
            del b[i:]
        elif op == 3:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 9)))
        else:
            del b[i:i + rnd.randint(1, 17)]
        yield bytes(b)


@pytest.mark.parametrize("ext", FORMATS)
def test_random_damage_gives_checkpoint_error_or_the_original(tmp_path, ext):
    ckpt = a_checkpoint()
    good, bad = tmp_path / f"good{ext}", tmp_path / f"bad{ext}"
    zg.save(ckpt, good)
    rnd, failures, n = random.Random(1234), 0, 600
    for damaged in mutations(good.read_bytes(), rnd, n):
        bad.write_bytes(damaged)
        try:
            back = zg.load(bad)
        except io.CheckpointError:
            failures += 1
            continue
        assert same(back, ckpt)
    assert failures > 0.95 * n


# -- 4. temporary files ---------------------------------------------------------------------
def temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".zgtmp"))


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("failing", ["write", "fsync", "replace", "fchmod"])
@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError, MemoryError])
def test_a_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch, ext, failing, error):
    path = tmp_path / f"m{ext}"
    zg.save({"a": 1.0}, path)
    old = path.read_bytes()

    def fail(*args, **kwargs):
        raise error("interrupted")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(error):
        zg.save({"a": 2.0}, path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [path] and path.read_bytes() == old


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    import zerograd as zg
    real_fsync = os.fsync
    def stall(fd):
        real_fsync(fd)
        print("written", flush=True)
        time.sleep(60)
    os.fsync = stall
    zg.save({"w": [0.25] * 1000}, sys.argv[1])
""")


def start_writer(path: Path, script: str = KILLED_WRITER) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE,
                            env=ENV)
    assert proc.stdout.readline() == b"written\n"
    return proc


@pytest.mark.parametrize("ext", FORMATS)
def test_a_save_removes_the_temporary_file_of_a_writer_killed_mid_save(tmp_path, ext):
    path = tmp_path / f"ckpt{ext}"
    zg.save({"w": [0.5]}, path)
    proc = start_writer(path)
    (left,) = temps(tmp_path)
    assert re.fullmatch(rf"\.ckpt{re.escape(ext)}\.{proc.pid}\.[0-9a-f]{{16}}\.zgtmp", left.name)
    assert left.stat().st_size > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temps(tmp_path) == [left] and zg.load(path) == {"w": [0.5]}
    zg.save({"w": [0.75]}, path)
    assert list(tmp_path.iterdir()) == [path] and zg.load(path) == {"w": [0.75]}


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    path = tmp_path / "ckpt.json"
    proc = start_writer(path)
    try:
        (left,) = temps(tmp_path)
        os.utime(left, (time.time() - 10 * io.STALE_AFTER,) * 2)  # old, but locked
        zg.save({"w": [0.5]}, path)
        assert temps(tmp_path) == [left]
    finally:
        proc.kill()
        proc.wait()
    zg.save({"w": [0.5]}, path)
    assert temps(tmp_path) == []


KILLED_AT_RANDOM = textwrap.dedent("""
    import os, sys, time
    import zerograd as zg
    real_write = os.write
    def slow_write(fd, data):  # a slow disk: 64 KiB per millisecond
        time.sleep(0.001)
        return real_write(fd, data[:65536])
    os.write = slow_write
    print("written", flush=True)
    while True:
        zg.save({"w": [0.25] * 1000, "s": "x" * 8_000_000}, sys.argv[1])
""")


def test_writers_killed_at_random_moments_leave_nothing_after_the_next_save(tmp_path):
    path, rnd, leftovers = tmp_path / "ckpt.json", random.Random(7), 0
    for _ in range(8):
        proc = start_writer(path, KILLED_AT_RANDOM)
        end = time.monotonic() + 30  # its first save has begun writing (slow on a busy machine)
        while not temps(tmp_path) and time.monotonic() < end:
            time.sleep(0.002)
        time.sleep(rnd.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        leftovers += len(temps(tmp_path))
        zg.save({"w": [1.0]}, path)
        assert list(tmp_path.iterdir()) == [path] and zg.load(path) == {"w": [1.0]}
    assert leftovers > 0  # some kills did land mid-write


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_which_leftover_temporaries_a_save_removes(tmp_path):
    path = tmp_path / "m.json"
    hour_ago = time.time() - 2 * io.STALE_AFTER
    names = {
        f".m.json.{dead_pid()}.0123456789abcdef.zgtmp": False,  # writer dead: removed
        f".m.json.{os.getpid()}.00000000000000aa.zgtmp": True,  # writer alive, fresh: kept
        f".m.json.{os.getpid()}.00000000000000bb.zgtmp": False,  # alive but old: removed
        f".n.json.{dead_pid()}.0123456789abcdef.zgtmp": True,  # another target's
        f".m.json.{dead_pid()}.0123.zgtmp": True,  # not our pattern
        "m.json.bak": True,
        f"m.json.{dead_pid()}.0123456789abcdef.zgtmp": True,  # no leading dot
    }
    for name in names:
        (tmp_path / name).write_text("x")
    os.utime(tmp_path / f".m.json.{os.getpid()}.00000000000000bb.zgtmp", (hour_ago, hour_ago))
    zg.save({"a": 1.0}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [n for n, kept in names.items() if kept] + ["m.json"])


def test_a_very_long_file_name_saves(tmp_path):
    path = tmp_path / ("x" * 240 + ".json")
    assert round_trip({"a": 1.0}, path) == {"a": 1.0}
    assert list(tmp_path.iterdir()) == [path]


# -- 5. symlinks, read-only files, modes, owners --------------------------------------------
@pytest.mark.parametrize("ext", FORMATS)
def test_saving_through_a_symlink_replaces_its_target(tmp_path, ext):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / f"m{ext}"
    link = tmp_path / f"link{ext}"
    zg.save({"a": 1.0}, real)
    os.chmod(real, 0o640)
    link.symlink_to(os.path.relpath(real, tmp_path))
    zg.save({"a": 2.0}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, tmp_path)
    assert zg.load(real) == zg.load(link) == {"a": 2.0}
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["real", real.name, link.name])


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    zg.save({"a": 1.0}, link)
    assert link.is_symlink() and zg.load(tmp_path / "made.json") == {"a": 1.0}


def test_a_symlink_loop_is_a_clear_error(tmp_path):
    (tmp_path / "a.json").symlink_to("b.json")
    (tmp_path / "b.json").symlink_to("a.json")
    with pytest.raises(OSError, match="loop"):
        zg.save({"a": 1.0}, tmp_path / "a.json")


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o000])
def test_saving_over_a_read_only_file_is_refused_and_changes_nothing(tmp_path, mode):
    path = tmp_path / "m.json"
    zg.save({"a": 1.0}, path)
    os.chmod(path, mode)
    link = tmp_path / "link.json"
    link.symlink_to("m.json")
    for target in (path, link):
        with pytest.raises(PermissionError, match=r"m\.json is read-only.*chmod u\+w"):
            zg.save({"a": 2.0}, target)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    os.chmod(path, 0o644)
    assert zg.load(path) == {"a": 1.0} and temps(tmp_path) == []


def test_save_refuses_a_folder_or_a_fifo_as_the_target(tmp_path):
    (tmp_path / "d.json").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        zg.save({"a": 1.0}, tmp_path / "d.json")
    os.mkfifo(tmp_path / "p.json")
    with pytest.raises(ValueError, match="FIFO"):
        zg.save({"a": 1.0}, tmp_path / "p.json")
    assert stat.S_ISFIFO(os.stat(tmp_path / "p.json").st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o606, 0o2644])
def test_save_keeps_the_replaced_files_mode(tmp_path, mode):
    needs("safetensors", "the .safetensors format")
    path = tmp_path / "m.safetensors"
    zg.save({"a": 1.0}, path)
    os.chmod(path, mode)
    zg.save({"a": 2.0}, path)
    assert stat.S_IMODE(path.stat().st_mode) == mode and zg.load(path) == {"a": 2.0}


def test_a_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        zg.save({"a": 1.0}, tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_save_as_root_keeps_the_replaced_files_owner(tmp_path):
    path = tmp_path / "m.json"
    zg.save({"a": 1.0}, path)
    os.chown(path, 12345, 23456)
    zg.save({"a": 2.0}, path)
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)
