"""Checkpoints: round trips, atomic writes, and damaged files that fail cleanly."""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import needs

import zerograd as zg
from zerograd import io, nn

SAFETENSORS = pytest.mark.needs("safetensors", "the .safetensors format")
FORMATS = [".json", pytest.param(".safetensors", marks=SAFETENSORS)]  # as parameters
SRC = str(Path(zg.__file__).resolve().parent.parent)


def make_model(seed: int = 0, sizes: tuple = (3, 1)) -> nn.MLP:
    random.seed(seed)
    return nn.MLP(2, list(sizes))


def snapshot(model: nn.Module) -> list[bytes]:
    """The parameters as exact bytes (floats compared bitwise)."""
    return [p.data.hex().encode() for p in model.parameters()]


def a_checkpoint() -> dict:
    random.seed(5)
    model = make_model(1)
    return {
        "model": model.state_dict(),
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": [0.25, -1e-300]}, 1: {"step": 3}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False,
                              "params": [0, 1], "name": None}],
        },
        "scheduler": {"last_epoch": 7, "base_lrs": [0.1], "_last_lr": [0.05]},
        "step": 50,
        "rng": random.getstate(),
        "tricky": {"__tuple__": 1, "__tensor__": [1.5], "a/b": 2.0, "a": {"b": 3.0}, "e": [],
                   "ints": [1, 2], "mixed": [1, 2.5], "big": 2**70, "tiny": 5e-324},
    }


# -- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", FORMATS)
def test_checkpoint_round_trip_is_exact(tmp_path, ext):
    ckpt = a_checkpoint()
    path = tmp_path / f"ckpt{ext}"
    zg.save(ckpt, path)
    back = zg.load(path)
    assert back == ckpt
    assert type(back["rng"]) is tuple and type(back["rng"][1]) is tuple
    assert type(back["optimizer"]["param_groups"][0]["betas"]) is tuple
    assert list(back["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    random.setstate(back["rng"])  # storable and restorable as is
    assert random.random() == (random.setstate(ckpt["rng"]) or random.random())


@pytest.mark.parametrize("ext", FORMATS)
def test_model_state_round_trip_bitwise(tmp_path, ext):
    model = make_model(3, (4, 4, 1))
    for p in model.parameters():  # values whose decimal form is long
        p.data = p.data / 3.0 + 1e-17
    path = tmp_path / f"m{ext}"
    zg.save(model, path)  # anything with state_dict() is saved as its state dict
    fresh = make_model(4, (4, 4, 1))
    fresh.load_state_dict(zg.load(path))
    assert snapshot(fresh) == snapshot(model)


def test_safetensors_file_is_plain_safetensors_named_by_parameter(tmp_path):
    needs("safetensors", "the .safetensors format")
    from safetensors.numpy import load_file

    model = make_model()
    zg.save(model.state_dict(), tmp_path / "m.safetensors")
    tensors = load_file(str(tmp_path / "m.safetensors"))
    assert sorted(tensors) == sorted(model.state_dict())
    first = model.layers[0].neurons[0]
    assert tensors["layers.0.neurons.0.w"].tolist() == [v.data for v in first.w]
    assert tensors["layers.0.neurons.0.b"].shape == ()


def test_json_file_is_readable_json(tmp_path):
    model = make_model()
    zg.save(model, tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["data"] == model.state_dict()


def test_restore_puts_back_model_optimizer_scheduler_and_rng():
    model, other = make_model(1), make_model(2)
    random.seed(11)
    ckpt = io.checkpoint(other, step=9)
    expected_next = random.random()
    random.seed(99)
    assert io.restore(ckpt, model) == 9
    assert snapshot(model) == snapshot(other)
    assert random.random() == expected_next


def test_restore_is_all_or_nothing():
    class Broken:
        def state_dict(self):
            return {"x": 1}

        def load_state_dict(self, sd):
            raise ValueError("no thanks")

    model = make_model(1)
    before = snapshot(model)
    ckpt = io.checkpoint(make_model(2), optimizer=Broken())
    rng_before = random.getstate()
    with pytest.raises(ValueError, match="no thanks"):
        io.restore(ckpt, model, optimizer=Broken())
    assert snapshot(model) == before
    assert random.getstate() == rng_before
    with pytest.raises(io.CheckpointError, match="no scheduler state"):
        io.restore(ckpt, model, scheduler=Broken())
    with pytest.raises(io.CheckpointError, match="checkpoint dict"):
        io.restore(model.state_dict(), model)


# -- refusing bad input before touching anything ----------------------------------------------
def test_unknown_extension_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"unknown checkpoint extension '\.pt'.*\.json.*\.safe"):
        zg.save({"a": 1.0}, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="extension"):
        zg.load(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", FORMATS)
def test_save_refuses_nan_and_keeps_the_old_file(tmp_path, ext):
    path = tmp_path / f"m{ext}"
    model = make_model()
    zg.save(model, path)
    old = path.read_bytes()
    model.parameters()[1].data = float("nan")
    with pytest.raises(ValueError, match=r"refusing to save: layers\.0\.neurons\.0\.w\[1\] is nan"):
        zg.save(model, path)
    with pytest.raises(TypeError, match="function is not storable"):
        zg.save({"fn": lambda: 1}, path)
    assert path.read_bytes() == old


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zg.save({"a": 1.0}, tmp_path / "nope" / "m.json")


# -- damaged files fail cleanly, the model unchanged ------------------------------------------
def load_into(model: nn.Module, path: Path) -> None:
    model.load_state_dict(zg.load(path))


def assert_fails_cleanly(model: nn.Module, path: Path, match: str | None = None) -> None:
    before = snapshot(model)
    with pytest.raises(ValueError, match=match) as info:
        load_into(model, path)
    assert isinstance(info.value, io.CheckpointError), info.value
    assert str(path) in str(info.value)
    assert snapshot(model) == before


@pytest.mark.parametrize("ext", FORMATS)
def test_truncated_file_at_every_97th_byte_fails_cleanly(tmp_path, ext):
    good, bad = tmp_path / f"good{ext}", tmp_path / f"bad{ext}"
    zg.save(make_model(1, (4, 1)), good)
    raw = good.read_bytes()
    model = make_model(2, (4, 1))
    cuts = list(range(0, len(raw), 97)) + [len(raw) - 1]
    for cut in cuts:
        bad.write_bytes(raw[:cut])
        assert_fails_cleanly(model, bad)


@pytest.mark.parametrize("ext", FORMATS)
def test_every_single_bit_flip_fails_cleanly(tmp_path, ext):
    good, bad = tmp_path / f"good{ext}", tmp_path / f"bad{ext}"
    zg.save(make_model(1, (2, 1)), good)
    raw = good.read_bytes()
    model = make_model(2, (2, 1))
    for i in range(len(raw)):  # every byte, one bit each, cycling through the 8 bits
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad.write_bytes(bytes(flipped))
        assert_fails_cleanly(model, bad)


@pytest.mark.parametrize("ext", FORMATS)
def test_bit_flips_in_a_full_checkpoint_fail_or_change_nothing(tmp_path, ext):
    """Flips all over a checkpoint with every kind of entry: each one raises, except a flip
    that leaves every value the same (JSON '1e-300' -> '1E-300'), which loads the original."""
    good, bad = tmp_path / f"good{ext}", tmp_path / f"bad{ext}"
    ckpt = a_checkpoint()
    zg.save(ckpt, good)
    raw = good.read_bytes()
    failures = 0
    for i in range(0, len(raw), 11):
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad.write_bytes(bytes(flipped))
        try:
            assert zg.load(bad) == ckpt
        except io.CheckpointError:
            failures += 1
    assert failures > 0.99 * len(range(0, len(raw), 11))


def test_bit_flip_in_a_number_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "m.json"
    zg.save({"w": [0.5]}, path)
    text = path.read_text()
    path.write_text(text.replace("0.5", "0.4"))  # '5' -> '4' is one bit
    assert_fails_cleanly(make_model(), path, match="checksum")


def test_files_renamed_to_the_wrong_extension_fail_cleanly(tmp_path):
    needs("safetensors", "the .safetensors format")
    model = make_model(1)
    zg.save(model, tmp_path / "a.json")
    zg.save(model, tmp_path / "b.safetensors")
    (tmp_path / "a.json").rename(tmp_path / "a.safetensors")
    (tmp_path / "b.safetensors").rename(tmp_path / "b.json")
    other = make_model(2)
    assert_fails_cleanly(other, tmp_path / "a.safetensors", match="looks like a JSON.*rename")
    assert_fails_cleanly(other, tmp_path / "b.json", match="looks like a .safetensors.*rename")


@pytest.mark.parametrize("end", ["\n", ""])
def test_foreign_json_fails_cleanly(tmp_path, end):
    path = tmp_path / "m.json"  # another tool's JSON, with or without a final newline
    path.write_text(json.dumps(make_model().state_dict()) + end)
    assert_fails_cleanly(make_model(2), path, match="not a zerograd checkpoint")


def test_non_finite_numbers_in_the_file_fail_cleanly(tmp_path, monkeypatch):
    needs("safetensors", "the .safetensors format")
    path = tmp_path / "m.json"
    zg.save({"w": [0.5, 0.25]}, path)
    text = path.read_text()
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        path.write_text(text.replace("0.25", bad))
        assert_fails_cleanly(make_model(), path, match="finite")
    # a safetensors file holding nan (written with the save-time check switched off)
    spath = tmp_path / "m.safetensors"
    monkeypatch.setattr(io, "_check_finite", lambda *a, **k: None)
    model = make_model()
    model.parameters()[0].data = float("nan")
    zg.save(model, spath)
    monkeypatch.undo()
    assert_fails_cleanly(make_model(2), spath, match=r"layers\.0\.neurons\.0\.w\[0\] is nan")


@pytest.mark.parametrize("ext", FORMATS)
def test_wrong_names_or_sizes_leave_the_model_unchanged(tmp_path, ext):
    path = tmp_path / f"m{ext}"
    zg.save(make_model(1, (3, 1)), path)
    for sizes in [(4, 1), (3, 2), (3, 1, 1)]:
        model = make_model(2, sizes)
        before = snapshot(model)
        with pytest.raises(ValueError, match="state_dict"):
            load_into(model, path)
        assert snapshot(model) == before


# -- atomic writes ------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("failing", ["os.replace", "os.fsync"])
def test_failed_write_leaves_the_old_checkpoint_loadable(tmp_path, monkeypatch, ext, failing):
    path = tmp_path / f"ckpt{ext}"
    old_model = make_model(1)
    zg.save(old_model, path)

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing.split(".")[1], fail)
    with pytest.raises(OSError, match="No space left"):
        zg.save(make_model(2), path)
    monkeypatch.undo()
    fresh = make_model(3)
    load_into(fresh, path)
    assert snapshot(fresh) == snapshot(old_model)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_writer_killed_before_rename_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "ckpt.json"
    old_model = make_model(1)
    zg.save(old_model, path)
    writer = textwrap.dedent(f"""
        import os, random, sys, time
        import zerograd as zg
        def stall(src, dst):
            print("written", flush=True)
            time.sleep(60)
        os.replace = stall
        random.seed(2)
        zg.save(zg.nn.MLP(2, [3, 1]), {str(path)!r})
    """)
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline() == b"written\n"
        temps = [p for p in tmp_path.iterdir() if p != path]
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # the new bytes are on disk
    finally:
        proc.kill()
        proc.wait()
    fresh = make_model(3)
    load_into(fresh, path)
    assert snapshot(fresh) == snapshot(old_model)


def test_save_keeps_the_existing_file_mode(tmp_path):
    path = tmp_path / "m.json"
    zg.save({"a": 1.0}, path)
    os.chmod(path, 0o640)
    zg.save({"a": 2.0}, path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert zg.load(path) == {"a": 2.0}


# -- resuming training in a new process is bitwise exact ----------------------------------------
RUN = textwrap.dedent("""
    import random, sys
    import zerograd as zg
    from zerograd import io, losses, nn, optim, train

    mode, path, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X, y = zg.data.moons(40, noise=0.1, seed=1, signed=True)
    X, y = X.tolist(), y.tolist()
    random.seed(0)
    model = nn.MLP(2, [6, 1])
    opt = optim.Adam(model.parameters(), lr=0.05)
    sched = optim.StepLR(opt, step_size=20, gamma=0.5)

    def sample():  # a random minibatch: the rng state matters
        picks = random.sample(range(len(X)), 8)
        return [X[i] for i in picks], [y[i] for i in picks]

    loss_fn = lambda X, y: losses.hinge([model(x) for x in X], y)
    done = io.restore(zg.load(path), model, opt, sched) if mode == "resume" else 0
    train.fit(model, loss_fn, opt, steps, scheduler=sched, batch=sample, progress=False)
    if mode == "first":
        zg.save(io.checkpoint(model, opt, sched, step=done + steps), path)
    print(" ".join(p.data.hex() for p in model.parameters()))
""")


def run(*args: str) -> str:
    needs("sklearn", "the run's moons dataset")
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> str:
    """The parameters after 100 steps in one go (the path is unused)."""
    return run("straight", str(tmp_path_factory.mktemp("s") / "unused.json"), "100")


@pytest.mark.parametrize("ext", FORMATS)
def test_resume_in_a_new_process_is_bitwise_identical(tmp_path, ext, straight):
    path = str(tmp_path / f"ckpt{ext}")
    halfway = run("first", path, "50")
    resumed = run("resume", path, "50")
    assert resumed == straight
    assert halfway != straight  # the second half really changed the parameters
    assert zg.load(path)["step"] == 50
