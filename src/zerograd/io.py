"""Checkpoints: ``save``/``load`` state dicts and training checkpoints as .json or .safetensors.

The format is chosen by the file's extension: ``.json`` (readable text) or ``.safetensors``
(binary; every float and every list of floats is an F64 tensor named by its path, the rest
of the structure rides in the header). Both carry a SHA-256 checksum of their content.

Writes are atomic: the bytes go to a temporary file in the same folder, which is flushed,
fsynced and then renamed over the target, so a crash or a full disk mid-write leaves the old
file intact. Reads check everything (format, checksum, finiteness) before returning, and
``restore`` puts a checkpoint into a model/optimizer/scheduler all together or not at all.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import numbers
import os
import random
import tempfile
from pathlib import Path
from typing import Any

FORMAT = "zerograd-checkpoint"
VERSION = 1
SUFFIXES = (".json", ".safetensors")
_TAGS = ("__tuple__", "__dict__", "__tensor__")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or used: truncated, corrupt, or the wrong shape."""


# -- public API ----------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a state dict, a checkpoint dict, or anything with ``state_dict()``)
    to ``path``, as JSON or safetensors by the extension, atomically.

    Leaves may be None, bool, int, str and finite floats, inside dicts, lists and tuples.
    A nan or inf is refused (a checkpoint that cannot be loaded must not replace a good one).
    """
    path = Path(path)
    kind = _kind(path)
    if callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    payload = _to_json_bytes(obj) if kind == ".json" else _to_safetensors_bytes(obj)
    _write_atomic(path, payload)


def load(path: str | os.PathLike) -> Any:
    """Read what :func:`save` wrote; a damaged or foreign file raises :class:`CheckpointError`."""
    path = Path(path)
    kind = _kind(path)
    raw = path.read_bytes()
    try:
        return _from_json_bytes(raw) if kind == ".json" else _from_safetensors_bytes(raw)
    except CheckpointError as e:
        raise CheckpointError(f"cannot load {path}: {e}") from None


def checkpoint(model: Any, optimizer: Any = None, scheduler: Any = None, step: int = 0) -> dict:
    """A full training checkpoint: ``{model, optimizer, scheduler, step, rng}`` (state dicts,
    the step count and ``random.getstate()``), ready for :func:`save`."""
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
    and return its step. All or nothing: if any part fails, every part is put back."""
    if not isinstance(ckpt, dict) or not {"model", "step"} <= set(ckpt):
        raise CheckpointError(
            "restore needs a checkpoint dict with at least 'model' and 'step' (as made by "
            "zg.io.checkpoint); for a bare state dict use model.load_state_dict(zg.load(path))"
        )
    parts = [("model", model), ("optimizer", optimizer), ("scheduler", scheduler)]
    for name, target in parts[1:]:
        if target is not None and ckpt.get(name) is None:
            raise CheckpointError(f"the checkpoint holds no {name} state to restore")
    applied: list[tuple[Any, Any]] = []
    old_rng = random.getstate()
    try:
        for name, target in parts:
            if target is None:
                continue
            before = copy.deepcopy(target.state_dict())
            target.load_state_dict(copy.deepcopy(ckpt[name]))
            applied.append((target, before))
        if rng:
            state = ckpt.get("rng")
            if state is None:
                raise CheckpointError("the checkpoint holds no rng state (pass rng=False)")
            random.setstate(state)
    except BaseException:
        for target, before in reversed(applied):
            target.load_state_dict(before)
        random.setstate(old_rng)
        raise
    return int(ckpt["step"])


# -- encoding: a tree of containers and scalars <-> JSON-able values ------------------------
def _encode(x: Any, where: str, tensors: dict | None) -> Any:
    """JSON-able form of ``x``; tuples and non-string keys are tagged, floats checked.
    With ``tensors`` (safetensors), floats and float lists become named tensors."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        _check_finite(x, where)
        return _tensor(tensors, where, x, "float") if tensors is not None else x
    if isinstance(x, (list, tuple)):
        if tensors is not None and x and all(_is_float(v) for v in x):
            for i, v in enumerate(x):
                _check_finite(float(v), f"{where}[{i}]")
            return _tensor(tensors, where, [float(v) for v in x], type(x).__name__)
        items = [_encode(v, f"{where}[{i}]", tensors) for i, v in enumerate(x)]
        return {"__tuple__": items} if isinstance(x, tuple) else items
    if isinstance(x, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in x):
            return {k: _encode(v, _join(where, k), tensors) for k, v in x.items()}
        pairs = []
        for k, v in x.items():
            if not isinstance(k, (str, int, float, bool, type(None))):
                raise TypeError(f"cannot save {where or 'the object'}: dict key {k!r} is a "
                                f"{type(k).__name__} (keys may be str, int, float, bool, None)")
            pairs.append([k, _encode(v, _join(where, str(k)), tensors)])
        return {"__dict__": pairs}
    raise TypeError(
        f"cannot save {where or 'the object'}: {type(x).__name__} is not storable (use dicts, "
        f"lists, tuples, None, bool, int, float, str)"
    )


def _decode(x: Any, where: str, tensors: dict | None) -> Any:
    """Inverse of :func:`_encode`; raises :class:`CheckpointError` on anything unexpected."""
    if isinstance(x, float):
        _check_finite(x, where, CheckpointError)
        return x
    if isinstance(x, list):
        return [_decode(v, f"{where}[{i}]", tensors) for i, v in enumerate(x)]
    if isinstance(x, dict):
        if len(x) == 1 and "__tuple__" in x and isinstance(x["__tuple__"], list):
            return tuple(_decode(x["__tuple__"], where, tensors))
        if len(x) == 1 and "__dict__" in x and isinstance(x["__dict__"], list):
            out = {}
            for pair in x["__dict__"]:
                if not (isinstance(pair, list) and len(pair) == 2
                        and isinstance(pair[0], (str, int, float, bool, type(None)))):
                    raise CheckpointError(f"malformed entry in {where or 'the data'}: {pair!r}")
                out[pair[0]] = _decode(pair[1], _join(where, str(pair[0])), tensors)
            return out
        if set(x) == {"__tensor__", "as"} and tensors is not None:
            return _untensor(x, where, tensors)
        return {k: _decode(v, _join(where, k), tensors) for k, v in x.items()}
    return x


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


# -- JSON ------------------------------------------------------------------------------------
def _to_json_bytes(obj: Any) -> bytes:
    data = _encode(obj, "", None)
    doc = {"format": FORMAT, "version": VERSION,
           "sha256": hashlib.sha256(_canonical(data)).hexdigest(), "data": data}
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def _reject_constant(name: str) -> Any:
    raise CheckpointError(f"the file holds {name}; a checkpoint must hold finite numbers only")


def _from_json_bytes(raw: bytes) -> Any:
    if raw[8:9] == b"{" and not raw.startswith(b"{"):
        raise CheckpointError("it looks like a .safetensors checkpoint, not JSON; "
                              "rename it to end in .safetensors")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"not a readable JSON checkpoint (truncated or corrupt?): "
                              f"{e}") from None
    if not raw.endswith(b"\n"):
        raise CheckpointError("the file is truncated: it lacks its final newline")
    data = _check_header(doc, version_type=int)
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
    name, n = where or "value", 1
    while name in tensors:  # a key containing '/' could collide with a nested path
        n += 1
        name = f"{where}#{n}"
    tensors[name] = value
    return {"__tensor__": name, "as": kind}


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
    return st.numpy.save(arrays, metadata=meta)


def _from_safetensors_bytes(raw: bytes) -> Any:
    st = _safetensors()
    if raw.lstrip()[:1] == b"{":
        raise CheckpointError("it looks like a JSON checkpoint, not safetensors; rename it "
                              "to end in .json")
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
    try:
        data = json.loads(structure, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"malformed structure header: {e}") from None
    return _decode(data, "", arrays)


# -- files -------------------------------------------------------------------------------------
def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unknown checkpoint extension {suffix or '(none)'!r} in {path}: use "
                         f".json (readable text) or .safetensors (binary)")
    return suffix


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename it over ``path``."""
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


__all__ = ["save", "load", "checkpoint", "restore", "CheckpointError", "SUFFIXES"]
