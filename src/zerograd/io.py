"""Checkpoints: ``save``/``load`` state dicts and training checkpoints as .json or .safetensors.

The extension alone chooses the format: ``.json`` (readable text) or ``.safetensors`` (binary;
every float and every list of floats is an F64 tensor named by its path, the rest of the
structure rides in the header). Both carry a SHA-256 checksum of their content. Only when a
file fails to parse as its extension says, and parses as the other format, is it called
misnamed. Whatever ``save`` writes, ``load`` reads back: both keep to the same limits, files of
at most ``MAX_BYTES`` (1 GiB; raise it if you must), containers nested at most ``MAX_DEPTH``
(100) deep and ints of at most ``MAX_INT_DIGITS`` (4000) digits. ``load`` reads regular files
only (a folder, FIFO or device is refused without reading from it), checks everything (format,
checksum, finiteness) before returning, and turns any malformed file into a CheckpointError.

Writes are atomic: the bytes go to a temporary file ``.{name}.{pid}.{random}.zgtmp`` in the
target's folder, which is flushed, fsynced and renamed over the target, so a crash or a full
disk mid-write leaves the old file intact. A failed save (any exception, Ctrl-C included)
deletes its temporary file. A writer killed outright cannot, so every save first deletes the
target's stale temporaries: those no process holds locked (a writer holds an flock on its
temporary until the rename) and whose writer pid is no longer running, or unlocked ones older
than ``STALE_AFTER`` (an hour: a reused pid, a writer on another machine). Without flock
(Windows) only the age counts.

Saving behaves like ``torch.save``, which opens the path for writing: through a symlink it
replaces the file the link points to (atomically; the link stays a link); an existing file keeps
its permission bits (and its owner and group where allowed); a read-only file (no write bit, or
not writable by this user) is refused with PermissionError and left unchanged; a folder or any
other non-regular file is refused too. A hard link is not followed: the path gets a new file.

``restore`` checks the whole checkpoint (the parts asked for, ``step`` a whole number >= 0, no
int too large for a float and no count over ``MAX_COUNT``, the rng state) before changing
anything, then puts it into model/optimizer/scheduler all together or not at all.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import json
import math
import numbers
import os
import random
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock, so stale temporaries are judged by age alone
    fcntl = None  # type: ignore[assignment]

FORMAT = "zerograd-checkpoint"
VERSION = 1
SUFFIXES = (".json", ".safetensors")
MAX_BYTES = 1 << 30  # 1 GiB: a million parameters take ~8 MB as safetensors, ~25 MB as JSON
MAX_DEPTH = 100  # containers inside containers; a training checkpoint needs about 5
MAX_INT_DIGITS = 4000  # below Python's default int/str conversion limit (4300 digits)
STALE_AFTER = 3600.0  # seconds after which an unlocked temporary file is stale regardless
_TAGS = ("__tuple__", "__dict__", "__tensor__")
_TEMP_SUFFIX = ".zgtmp"
_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))
_WRITE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                | getattr(os, "O_BINARY", 0))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or used: truncated, corrupt, or the wrong shape."""


# -- public API ----------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a state dict, a checkpoint dict, or anything with ``state_dict()``)
    to ``path``, as JSON or safetensors by the extension, atomically.

    Leaves may be None, bool, int, str and finite floats, inside dicts, lists and tuples.
    A nan or inf is refused (a checkpoint that cannot be loaded must not replace a good one),
    and so is a read-only file (PermissionError); a symlink's target file is replaced.
    """
    path = Path(path)
    kind = _kind(path)
    target, old = _save_target(path)
    if callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    payload = _to_json_bytes(obj) if kind == ".json" else _to_safetensors_bytes(obj)
    if len(payload) > MAX_BYTES:
        raise ValueError(f"refusing to save {path}: it would be {len(payload)} bytes, over "
                         f"zg.io.MAX_BYTES ({MAX_BYTES}), so zg.load would refuse it; raise "
                         f"zg.io.MAX_BYTES if you really mean to")
    _write_atomic(target, old, payload)


def load(path: str | os.PathLike) -> Any:
    """Read what :func:`save` wrote. A damaged, foreign, oversized or non-regular file raises
    :class:`CheckpointError` (a missing one FileNotFoundError)."""
    path = Path(path)
    kind = _kind(path)
    raw = _read_regular(path)
    try:
        return _parse(raw, kind)
    except CheckpointError as e:
        raise CheckpointError(f"cannot load {path}: {_misnamed(raw, kind) or e}") from None


def checkpoint(model: Any, optimizer: Any = None, scheduler: Any = None, step: int = 0) -> dict:
    """A full training checkpoint: ``{model, optimizer, scheduler, step, rng}`` (state dicts,
    the step count and ``random.getstate()``), ready for :func:`save`."""
    problem = _step_problem(step)
    if problem:
        raise ValueError(f"checkpoint: {problem}")
    return {
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "step": int(step),
        "rng": random.getstate(),
    }


def restore(ckpt: dict, model: Any, optimizer: Any = None, scheduler: Any = None,
            rng: bool = True) -> int:
    """Load a :func:`checkpoint` into the given objects (and ``random``'s state if ``rng``)
    and return its step. The checkpoint is checked first (a bad one raises
    :class:`CheckpointError` and changes nothing); if a ``load_state_dict`` still refuses its
    part, every part already loaded is put back."""
    step = _check_restorable(ckpt, optimizer, scheduler, rng)
    targets = [("model", model), ("optimizer", optimizer), ("scheduler", scheduler)]
    parts = [(target, ckpt[name]) for name, target in targets if target is not None]
    _apply_all(parts, ckpt["rng"] if rng else None)
    return step


# -- restore: check everything, then change everything or nothing ----------------------------
def _step_problem(step: Any) -> str | None:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        return (f"step must be a whole number >= 0 (an int; bool is not a step), got "
                f"{step!r} ({type(step).__name__})")
    if step < 0:
        return f"step must be a whole number >= 0, got {step}"
    return None


def _check_restorable(ckpt: Any, optimizer: Any, scheduler: Any, rng: bool) -> int:
    """Raise :class:`CheckpointError` unless ``ckpt`` can be restored; return its step."""
    if not isinstance(ckpt, dict) or not {"model", "step"} <= set(ckpt):
        raise CheckpointError(
            "restore needs a checkpoint dict with at least 'model' and 'step' (as made by "
            "zg.io.checkpoint); for a bare state dict use model.load_state_dict(zg.load(path))"
        )
    problem = _step_problem(ckpt["step"])
    if problem:
        raise CheckpointError(f"the checkpoint's {problem}. It is the number of training "
                              f"steps done: set ckpt['step'] to that number")
    for name, wanted in (("model", True), ("optimizer", optimizer is not None),
                         ("scheduler", scheduler is not None)):
        state = ckpt.get(name)
        if wanted and state is None:
            fix = "is it a zg.io.checkpoint?" if name == "model" else f"pass {name}=None"
            raise CheckpointError(f"the checkpoint holds no {name} state to restore ({fix})")
        if wanted and not isinstance(state, dict):
            raise CheckpointError(f"the checkpoint's {name} state is a {type(state).__name__}, "
                                  f"not a state dict")
    for name, wanted in (("model", True), ("optimizer", optimizer is not None),
                         ("scheduler", scheduler is not None)):
        if wanted:
            _check_numbers(ckpt[name], name, "", counts=name == "scheduler")
    if rng:
        _check_rng(ckpt.get("rng"))
    return int(ckpt["step"])


MAX_COUNT = 2**53  # a float counts exactly up to here; no run takes more steps


def _check_numbers(x: Any, part: str, where: str, counts: bool, depth: int = 0) -> None:
    """Raise :class:`CheckpointError` naming the entry of ``part`` that holds an int no float
    can hold (~1.8e308 and up: a weight or lr of 309+ digits), or a count (a scheduler's
    ints, an optimizer's per-parameter ``step``) over ``MAX_COUNT``."""
    if isinstance(x, bool) or depth > MAX_DEPTH:  # deeper: load_state_dict refuses it
        return
    if isinstance(x, numbers.Integral):
        entry = f"the checkpoint's {part} entry {where or '(the whole state)'}"
        if counts and abs(x) > MAX_COUNT:
            raise CheckpointError(f"{entry} is too large a count ({_digits(x)}); a count is "
                                  f"at most 2**53 = {MAX_COUNT} (a corrupt or edited file?)")
        try:
            float(x)
        except OverflowError:
            raise CheckpointError(f"{entry} is too large for a float ({_digits(x)}; at most "
                                  f"about 1.8e308): a corrupt or edited file?") from None
        return
    if isinstance(x, dict):
        for k, v in x.items():
            _check_numbers(v, part, _join(where, str(k)), counts or k == "step", depth + 1)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _check_numbers(v, part, f"{where}[{i}]", counts, depth + 1)


def _digits(x: numbers.Integral) -> str:
    n = abs(int(x))
    if n.bit_length() <= 64:
        return str(x)
    try:
        return f"an int of {len(str(n))} digits"
    except ValueError:  # over sys.get_int_max_str_digits()
        return f"an int of about {int(n.bit_length() * math.log10(2)) + 1} digits"


def _check_rng(state: Any) -> None:
    if state is None:
        raise CheckpointError("the checkpoint holds no rng state (pass rng=False to keep "
                              "random's current state)")
    try:
        random.Random().setstate(state)  # a scratch generator: the global one is untouched
        valid = state[2] is None or isinstance(state[2], float)
    except (TypeError, ValueError, OverflowError, IndexError, KeyError):
        valid = False
    if not valid:
        raise CheckpointError("the checkpoint's rng state is not what random.getstate() "
                              "returns (pass rng=False to keep random's current state)")


def _apply_all(parts: list[tuple[Any, Any]], rng_state: Any) -> None:
    """Load each ``(target, state)`` then the rng state; on any failure put all back."""
    applied: list[tuple[Any, Any]] = []
    old_rng = random.getstate()
    try:
        for target, state in parts:
            before = copy.deepcopy(target.state_dict())
            target.load_state_dict(copy.deepcopy(state))
            applied.append((target, before))
        if rng_state is not None:
            random.setstate(rng_state)
    except BaseException:
        for target, before in reversed(applied):
            target.load_state_dict(before)
        random.setstate(old_rng)
        raise


# -- encoding: a tree of containers and scalars <-> JSON-able values ------------------------
def _encode(x: Any, where: str, tensors: dict | None, depth: int = 0) -> Any:
    """JSON-able form of ``x``; tuples and non-string keys are tagged, floats checked.
    With ``tensors`` (safetensors), floats and float lists become named tensors."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, numbers.Integral):
        return _check_int(int(x), where)
    if isinstance(x, numbers.Real):
        x = float(x)
        _check_finite(x, where)
        return _tensor(tensors, where, x, "float") if tensors is not None else x
    if isinstance(x, (list, tuple, dict)) and depth >= MAX_DEPTH:
        raise ValueError(f"cannot save {where or 'the object'}: containers are nested more "
                         f"than {MAX_DEPTH} deep (zg.io.MAX_DEPTH), or one contains itself")
    if isinstance(x, (list, tuple)):
        if tensors is not None and x and all(_is_float(v) for v in x):
            for i, v in enumerate(x):
                _check_finite(float(v), f"{where}[{i}]")
            return _tensor(tensors, where, [float(v) for v in x], type(x).__name__)
        items = [_encode(v, f"{where}[{i}]", tensors, depth + 1) for i, v in enumerate(x)]
        return {"__tuple__": items} if isinstance(x, tuple) else items
    if isinstance(x, dict):
        return _encode_dict(x, where, tensors, depth)
    raise TypeError(
        f"cannot save {where or 'the object'}: {type(x).__name__} is not storable (use dicts, "
        f"lists, tuples, None, bool, int, float, str)"
    )


def _encode_dict(x: dict, where: str, tensors: dict | None, depth: int) -> dict:
    if all(isinstance(k, str) and k not in _TAGS for k in x):
        return {k: _encode(v, _join(where, k), tensors, depth + 1) for k, v in x.items()}
    return {"__dict__": [[_encode_key(k, where), _encode(v, _join(where, str(k)), tensors,
                                                         depth + 1)]
                         for k, v in x.items()]}


def _encode_key(k: Any, where: str) -> Any:
    if isinstance(k, (bool, str)) or k is None:
        return k
    if isinstance(k, int):
        return _check_int(int(k), where)
    if isinstance(k, float):
        _check_finite(float(k), f"a key of {where or 'the object'}")
        return float(k)
    raise TypeError(f"cannot save {where or 'the object'}: dict key {k!r} is a "
                    f"{type(k).__name__} (keys may be str, int, float, bool, None)")


def _check_int(x: int, where: str) -> int:
    # 2 ** (3 * d) < 10 ** d, so only ints longer than that need the exact (costly) test
    if x.bit_length() > 3 * MAX_INT_DIGITS and abs(x) >= 10 ** MAX_INT_DIGITS:
        raise ValueError(f"cannot save {where or 'the object'}: an int of more than "
                         f"{MAX_INT_DIGITS} digits (zg.io.MAX_INT_DIGITS); store it as a str")
    return x


def _decode(x: Any, where: str, tensors: dict | None, depth: int = 0) -> Any:
    """Inverse of :func:`_encode`; raises :class:`CheckpointError` on anything unexpected."""
    if isinstance(x, float):
        _check_finite(x, where, CheckpointError)
        return x
    if not isinstance(x, (list, dict)):
        return x
    if depth >= MAX_DEPTH:
        raise CheckpointError(f"{where or 'the data'} is nested more than {MAX_DEPTH} deep, "
                              f"which zerograd never writes (a corrupt or foreign file)")
    if isinstance(x, list):
        return [_decode(v, f"{where}[{i}]", tensors, depth + 1) for i, v in enumerate(x)]
    return _decode_dict(x, where, tensors, depth)


def _decode_dict(x: dict, where: str, tensors: dict | None, depth: int) -> Any:
    if len(x) == 1 and isinstance(x.get("__tuple__"), list):
        return tuple(_decode(v, f"{where}[{i}]", tensors, depth + 1)
                     for i, v in enumerate(x["__tuple__"]))
    if len(x) == 1 and isinstance(x.get("__dict__"), list):
        out = {}
        for pair in x["__dict__"]:
            if not (isinstance(pair, list) and len(pair) == 2
                    and isinstance(pair[0], (str, int, float, bool, type(None)))):
                raise CheckpointError(f"malformed entry in {where or 'the data'}: {pair!r}")
            out[pair[0]] = _decode(pair[1], _join(where, str(pair[0])), tensors, depth + 1)
        return out
    if set(x) == {"__tensor__", "as"} and tensors is not None:
        return _untensor(x, where, tensors)
    return {k: _decode(v, _join(where, k), tensors, depth + 1) for k, v in x.items()}


def _is_float(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, numbers.Integral))


def _join(where: str, key: str) -> str:
    return f"{where}/{key}" if where else key


def _check_finite(x: float, where: str, error: type = ValueError) -> None:
    if not math.isfinite(x):
        if error is CheckpointError:
            raise CheckpointError(f"{where or 'a value'} is {x} in the file; a checkpoint "
                                  f"must hold finite numbers only")
        raise ValueError(
            f"refusing to save: {where or 'the value'} is {x}. A nan/inf checkpoint cannot be "
            f"loaded; the run has probably diverged (lower the learning rate)"
        )


def _canonical(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _reject_constant(name: str) -> Any:
    raise CheckpointError(f"the file holds {name}; a checkpoint must hold finite numbers only")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise CheckpointError(f"the file holds an int of {len(text.lstrip('-'))} digits; "
                              f"zerograd writes at most {MAX_INT_DIGITS} (a corrupt file?)")
    return int(text)


def _json_loads(text: str, what: str) -> Any:
    """``json.loads`` that refuses nan/inf and overlong ints, raising CheckpointError only."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{what} is nested far too deeply (zerograd writes at most "
                              f"{MAX_DEPTH} levels)") from None
    except ValueError as e:  # json.JSONDecodeError
        raise CheckpointError(f"not {what} (truncated or corrupt?): {e}") from None


# -- reading: which format, and turning every failure into CheckpointError -------------------
def _parse(raw: bytes, kind: str) -> Any:
    try:
        return _from_json_bytes(raw) if kind == ".json" else _from_safetensors_bytes(raw)
    except CheckpointError:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError) as e:
        raise CheckpointError(f"malformed content ({type(e).__name__}: {e})") from e


def _misnamed(raw: bytes, kind: str) -> str | None:
    """After ``raw`` failed to parse as ``kind``: a hint if it parses as the other format."""
    other = ".safetensors" if kind == ".json" else ".json"
    try:
        _parse(raw, other)
    except (CheckpointError, ImportError):
        return None
    if other == ".json":
        return "it looks like a JSON checkpoint, not safetensors; rename it to end in .json"
    return ("it looks like a .safetensors checkpoint, not JSON; rename it to end in "
            ".safetensors")


# -- JSON ------------------------------------------------------------------------------------
def _to_json_bytes(obj: Any) -> bytes:
    data = _encode(obj, "", None)
    doc = {"format": FORMAT, "version": VERSION,
           "sha256": hashlib.sha256(_canonical(data)).hexdigest(), "data": data}
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def _from_json_bytes(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"not a readable JSON checkpoint (truncated or corrupt?): "
                              f"{e}") from None
    doc = _json_loads(text, "a readable JSON checkpoint")
    data = _check_header(doc, version_type=int)  # first: another tool's JSON is not truncated
    if not raw.endswith(b"\n"):
        raise CheckpointError("the file is truncated: it lacks its final newline")
    value = _decode(data, "", None)  # first, so a non-finite number gets its own message
    if hashlib.sha256(_canonical(data)).hexdigest() != doc["sha256"]:
        raise CheckpointError("the file is corrupt: its content does not match its checksum "
                              "(it was damaged or edited)")
    return value


def _check_header(doc: Any, version_type: type) -> Any:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"not a zerograd checkpoint (no 'format: {FORMAT}' header); "
                              "it may be corrupt or written by another tool")
    if doc.get("version") != version_type(VERSION):
        raise CheckpointError(f"checkpoint version {doc.get('version')!r}; this zerograd "
                              f"reads version {VERSION}")
    if not isinstance(doc.get("sha256"), str) or "data" not in doc and "structure" not in doc:
        raise CheckpointError("the file is corrupt: its header lacks the checksum or the data")
    return doc.get("data", doc.get("structure"))


# -- safetensors -----------------------------------------------------------------------------
def _tensor(tensors: dict, where: str, value: Any, kind: str) -> dict:
    base = where if where and where != "__metadata__" and _utf8(where) else "value"
    name, n = base, 1
    while name in tensors:  # a key containing '/' could collide with a nested path
        n += 1
        name = f"{base}#{n}"
    tensors[name] = value
    return {"__tensor__": name, "as": kind}


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: fine in JSON, not in a tensor name
        return False
    return True


def _untensor(ref: dict, where: str, tensors: dict) -> Any:
    name, kind = ref.get("__tensor__"), ref.get("as")
    arr = tensors.get(name) if isinstance(name, str) else None
    if arr is None or kind not in ("float", "list", "tuple"):
        raise CheckpointError(f"the file's structure names tensor {name!r} for "
                              f"{where or 'the data'}, which is missing or malformed")
    want_ndim = 0 if kind == "float" else 1
    if str(arr.dtype) != "float64" or arr.ndim != want_ndim:
        raise CheckpointError(f"tensor {name!r} has dtype {arr.dtype} and shape "
                              f"{list(arr.shape)}; expected float64 with {want_ndim} dimensions")
    values = arr.tolist()
    for i, v in enumerate([values] if kind == "float" else values):
        _check_finite(v, where if kind == "float" else f"{where}[{i}]", CheckpointError)
    return tuple(values) if kind == "tuple" else values


def _safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            '.safetensors checkpoints need the safetensors package: pip install "zerograd[io]" '
            "(or save to a .json path)"
        ) from None
    return safetensors


def _digest(structure: bytes, arrays: dict) -> str:
    h = hashlib.sha256(structure)
    for name in sorted(arrays):
        h.update(name.encode() + b"\0" + arrays[name].astype("<f8").tobytes())
    return h.hexdigest()


def _to_safetensors_bytes(obj: Any) -> bytes:
    import numpy as np

    st = _safetensors()
    tensors: dict = {}
    structure = _canonical(_encode(obj, "", tensors))
    arrays = {k: np.asarray(v, dtype="<f8") for k, v in tensors.items()}
    meta = {"format": FORMAT, "version": str(VERSION), "structure": structure.decode(),
            "sha256": _digest(structure, arrays)}
    try:
        return st.numpy.save(arrays, metadata=meta)
    except st.SafetensorError as e:  # the header (all but the floats) is over 100 MB
        raise ValueError(f"cannot save as .safetensors: {e}; save to a .json path") from None


def _from_safetensors_bytes(raw: bytes) -> Any:
    st = _safetensors()
    try:
        arrays = st.numpy.load(raw)
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + size])
    except Exception as e:  # safetensors raises its own SafetensorError (an Exception)
        raise CheckpointError(f"not a readable safetensors checkpoint (truncated or "
                              f"corrupt?): {e}") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    structure = _check_header(meta, version_type=str)
    if not isinstance(structure, str) or _digest(structure.encode(), arrays) != meta["sha256"]:
        raise CheckpointError("the file is corrupt: its content does not match its checksum "
                              "(it was damaged or edited)")
    data = _json_loads(structure, "a readable structure header")
    return _decode(data, "", arrays)


# -- files: reading --------------------------------------------------------------------------
def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unknown checkpoint extension {suffix or '(none)'!r} in {path}: use "
                         f".json (readable text) or .safetensors (binary)")
    return suffix


def _what(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def _check_loadable(info: os.stat_result, path: Path) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"cannot load {path}: it is {_what(info.st_mode)}, not a "
                              f"regular file; give the path of a checkpoint file")
    if info.st_size > MAX_BYTES:
        raise CheckpointError(f"cannot load {path}: it is {info.st_size} bytes, over the "
                              f"{MAX_BYTES}-byte cap (zg.io.MAX_BYTES); is it a checkpoint? "
                              f"If so, raise zg.io.MAX_BYTES")


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, a regular file of at most MAX_BYTES; never blocks on a FIFO."""
    _check_loadable(os.stat(path), path)  # refuse a FIFO or device before opening it
    fd = os.open(path, _READ_FLAGS)  # non-blocking: it may have become a FIFO since the stat
    with open(fd, "rb", buffering=0) as f:
        info = os.fstat(fd)
        _check_loadable(info, path)
        limit, chunks, total = MAX_BYTES + 1, [], 0
        want = min(info.st_size + 1, limit)
        while total < limit:  # read at most MAX_BYTES + 1 bytes, even if the file grows
            chunk = f.read(min(want, limit - total))
            if not chunk:
                break
            chunks.append(chunk)
            total, want = total + len(chunk), 1 << 16
    if total > MAX_BYTES:
        raise CheckpointError(f"cannot load {path}: it grew past the {MAX_BYTES}-byte cap "
                              f"(zg.io.MAX_BYTES) while being read")
    return b"".join(chunks)


# -- files: writing --------------------------------------------------------------------------
def _save_target(path: Path) -> tuple[Path, os.stat_result | None]:
    """The file a save to ``path`` replaces (a symlink's target) and its stat, None if it does
    not exist yet; a missing folder, a folder, a special or a read-only file is refused."""
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise OSError(errno.ELOOP, f"cannot save to {path}: the symlinks loop", str(path))
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {target.parent} does not "
                                f"exist")
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"cannot save to {path}: it is a folder; save to a file in it, "
                                f"e.g. {path / ('ckpt' + path.suffix.lower())}")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"cannot save to {path}: it is {_what(info.st_mode)}, not a regular "
                         f"file; save to a file path")
    if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(
            f"cannot save to {path}: {target} is read-only ({stat.filemode(info.st_mode)}), "
            f"so it is left unchanged; make it writable (chmod u+w) or save to another path"
        )
    return target, info


def _write_atomic(target: Path, old: os.stat_result | None, payload: bytes) -> None:
    """Write a locked temporary file beside ``target``, fsync, rename it over ``target``;
    on any failure (Ctrl-C included) delete the temporary file."""
    _remove_stale_temps(target)
    tmp = target.with_name(f"{_temp_prefix(target)}{os.getpid()}.{secrets.token_hex(8)}"
                           f"{_TEMP_SUFFIX}")
    fd = None
    try:
        fd = os.open(tmp, _WRITE_FLAGS, 0o666 if old is None else 0o600)  # new: the umask's
        _fill(fd, tmp, old, payload)
        if os.name == "nt":  # Windows cannot rename an open file
            fd = _close(fd)
        os.replace(tmp, target)  # still locked (POSIX), so no other save takes it for stale
    except BaseException:
        _close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _close(fd)
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _fill(fd: int, tmp: Path, old: os.stat_result | None, payload: bytes) -> None:
    """Lock the temporary file (the mark of a live writer), give it the replaced file's
    owner and mode, write ``payload`` and fsync."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    if old is not None:
        _copy_owner_and_mode(fd, tmp, old)
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _copy_owner_and_mode(fd: int, tmp: Path, old: os.stat_result) -> None:
    """Give the temporary file the replaced file's owner, group (where allowed) and mode."""
    mine = os.fstat(fd)
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            with contextlib.suppress(OSError):  # not root: at least keep the group
                os.fchown(fd, -1, old.st_gid)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which may clear set-id bits
    else:
        os.chmod(tmp, stat.S_IMODE(old.st_mode))


def _temp_prefix(target: Path) -> str:
    name = target.name
    if len(os.fsencode(name)) > 200:  # keep the temporary's name within 255 bytes
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:40]
    return f".{name}."


def _remove_stale_temps(target: Path) -> None:
    """Delete the temporary files killed writers left for ``target`` (see the docstring)."""
    pattern = re.compile(re.escape(_temp_prefix(target)) + r"(\d{1,10})\.[0-9a-f]{16}"
                         + re.escape(_TEMP_SUFFIX))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            _remove_if_stale(target.parent / name, int(match.group(1)))


def _remove_if_stale(tmp: Path, pid: int) -> None:
    try:
        info = os.lstat(tmp)
    except OSError:
        return
    old = time.time() - info.st_mtime > STALE_AFTER
    if not stat.S_ISREG(info.st_mode) or (not old and _writer_alive(pid)):
        return  # a live writer's temporary is not even opened
    try:  # opened for writing: flock on NFS emulates LOCK_EX with a write lock
        fd = os.open(tmp, os.O_RDWR | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    with contextlib.suppress(OSError):
        if _unlocked(fd):
            os.unlink(tmp)  # while holding its lock, so no writer can be mid-way
    os.close(fd)


def _unlocked(fd: int) -> bool:
    """Take the lock on ``fd`` if no one holds it (True); without flock, True."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _writer_alive(pid: int) -> bool:
    """Whether process ``pid`` may be running here; True whenever that cannot be told."""
    if fcntl is None or pid <= 0 or pid == os.getpid():  # os.kill(pid, 0) kills on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


__all__ = ["save", "load", "checkpoint", "restore", "CheckpointError", "SUFFIXES", "MAX_BYTES"]
