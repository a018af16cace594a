"""Stream activations of every sentence to safetensors shards, and load them back.

Layout of a store folder::

    manifest.json          model, dataset, hooks, per-sentence positions, shard list, complete flag
    shard-00000.safetensors {hook_name: [b, pos_max_in_shard, d], "tokens": [b, pos], "lengths": [b]}
    ...

Activations are stored right-aligned (token 0 at index 0, zeros past each sentence's
length) whatever padding side the forward pass used. Each shard is written atomically
by a writer thread while the next batch runs, so memory stays bounded by ~2 batches.

Integrity: every shard carries the store's ``config_key`` (a hash of the settings) and its
row range in its safetensors metadata, and the manifest records each finished shard's
size and SHA-256. A rerun with the same settings reuses only shards that verify (SHA-256
when recorded, else size + header + metadata) and recomputes the rest; a store is
complete only when every shard verifies. Opening a store checks every shard's size,
header and key, so a truncated or foreign shard raises a :class:`StoreError` naming it.
"""

import errno
import hashlib
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float, Int
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.capture import capture, unpad
from interp.datasets import EmotionDataset
from interp.errors import DatasetError, StoreError
from interp.hook_names import RESIDUAL_KINDS, expand_hooks
from interp.integrity import file_record, safetensors_problem, sha256_file
from interp.io import atomic_write_json, atomic_write_with, ensure_writable_dir, read_json, write_error
from interp.models import model_info
from interp.positions import prepends_bos, token_ids_and_offsets, tokenize_batch

STORE_VERSION = 1
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def default_hooks(n_layers: int) -> list[str]:
    """resid_pre and resid_post of every layer, attn_out and mlp_out of every layer."""
    return [f"blocks.{layer}.hook_{kind}" for kind in RESIDUAL_KINDS for layer in range(n_layers)]


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.safetensors"


def _plan(ds: EmotionDataset, batch_size: int) -> list[tuple[int, int]]:
    return [(a, min(a + batch_size, len(ds))) for a in range(0, len(ds), batch_size)]


def _settings(model, ds: EmotionDataset, hooks: list[str], batch_size: int, padding_side: str, dtype: str) -> dict:
    info = model_info(model)
    settings = {
        "store_version": STORE_VERSION,
        "model": info.name,
        "model_hash": info.source_hash,
        "compat_numerics": info.compat_numerics,
        "dataset_source": ds.source,
        "dataset_hash": ds.hash(),
        "hooks": hooks,
        "batch_size": batch_size,
        "padding_side": padding_side,
        "dtype": dtype,
    }
    if info.dtype != "float32":
        # Only then, so stores written before the model's dtype was recorded keep their settings and resume.
        settings["model_dtype"] = info.dtype
    return settings


def config_key(settings: dict) -> str:
    """Short hash of a store's settings; stamped into every shard it writes."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _shard_metadata(key: str, start: int, stop: int) -> dict[str, str]:
    return {"config_key": key, "start": str(start), "stop": str(stop)}


def _shard_problem(path: Path, entry: dict, key: str | None, *, full: bool) -> str | None:
    """Why the shard at ``path`` cannot be trusted for manifest ``entry``, or None.

    Always: the file's size equals the recorded size (when recorded) and its safetensors header
    is whole and names this config and row range. With ``full``: its SHA-256 equals the recorded one.
    """
    if not path.exists():
        return "missing"
    if "bytes" in entry and path.stat().st_size != entry["bytes"]:
        return f"{path.stat().st_size} bytes, {entry['bytes']} were written (truncated or damaged)"
    expected = None if key is None else _shard_metadata(key, entry["start"], entry["stop"])
    problem = safetensors_problem(path, expected_metadata=expected)
    if problem is None and full and "sha256" in entry and sha256_file(path) != entry["sha256"]:
        problem = "its SHA-256 differs from the one recorded when it was written"
    return problem


def _disk_error(exc: BaseException, path: Path) -> StoreError | None:
    """A StoreError naming the fix for a full disk (safetensors reports it as its own error type), or None."""
    if isinstance(exc, OSError):
        return write_error(exc, path)
    if isinstance(exc, SafetensorError) and "No space left" in str(exc):
        return write_error(OSError(errno.ENOSPC, "No space left on device"), path)
    return None


def _check_context(model, recs, n_ctx: int | None) -> None:
    """Raise a DatasetError naming the first record longer than the model's context window."""
    if not n_ctx:
        return
    for r in recs:
        if len(r.text.encode("utf-8")) + 1 < n_ctx:  # a token covers ≥ 1 byte (+ BOS): short texts cannot overflow
            continue
        n = len(token_ids_and_offsets(model, r.text)[0])
        if n > n_ctx:
            raise DatasetError(f"record {r.id!r} is {n} tokens long, more than the model's context of {n_ctx}; "
                               "shorten or remove it from the dataset")


class _ShardWriter:
    """Writes shards on a background thread; ``put`` blocks when one shard is already waiting."""

    def __init__(self) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=1)
        self._err: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            path, tensors, done, metadata = item
            if self._err is not None:
                continue  # an earlier shard failed: drain the queue, the main thread re-raises
            try:
                record: dict = {}

                def write(tmp, t=tensors, m=metadata, rec=record):
                    save_file(t, str(tmp), metadata=m)
                    rec.update(file_record(tmp))  # hashed before the rename: the record is of the bytes written

                atomic_write_with(path, write)
                done(record)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._err = _disk_error(exc, path) or exc

    def put(self, path: Path, tensors: dict[str, Tensor], done: Callable[[dict], None], metadata: dict[str, str] | None = None) -> None:
        if self._err:
            raise self._err
        self._q.put((path, tensors, done, metadata))

    def close(self) -> None:
        self._q.put(None)
        self._t.join()
        if self._err:
            raise self._err


def _dedupe(acts: dict[str, Tensor], hooks: list[str], tb, dtype: torch.dtype) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Unpadded tensors to store, each distinct tensor once, and ``{hook: stored_hook}`` for the rest.

    In the bridge ``blocks.{l}.hook_resid_post`` and ``blocks.{l+1}.hook_resid_pre`` are the
    same tensor; storing it once halves the bytes written for the residual hooks.
    """
    seen: dict[tuple, str] = {}
    tensors: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    for h in hooks:
        a = acts[h]
        key = (a.data_ptr(), tuple(a.shape), a.stride(), a.dtype)
        if key in seen:
            aliases[h] = seen[key]
            continue
        seen[key] = h
        # In-place zeroing of the padding is safe: the captured tensor is ours once the forward pass is done.
        tensors[h] = unpad(a, tb, inplace=True).to("cpu", dtype).contiguous()
    return tensors, aliases


def read_hook(f, hook: str) -> Tensor:
    """Tensor of ``hook`` from an open shard (``safe_open``), following stored aliases."""
    meta = f.metadata() or {}
    name = json.loads(meta.get("aliases", "{}")).get(hook, hook)
    return f.get_tensor(name)


def extract_activations(
    model,
    ds: EmotionDataset,
    out_dir: str | Path,
    *,
    hooks: list[str] | None = None,
    layers: list[int] | None = None,
    batch_size: int = 32,
    padding_side: str = "right",
    dtype: str = "float32",
    progress: Callable[[int, int], None] | None = None,
) -> "ActivationStore":
    """Run every sentence of ``ds`` through ``model`` and stream the hooks to ``out_dir``.

    Args:
        model: a bridge from :func:`interp.models.load_model`.
        ds: sentences with spans.
        out_dir: store folder (created; must be writable).
        hooks: hook names or short kinds (``resid_pre``…); default :func:`default_hooks`.
        layers: layers for short kinds (default all).
        batch_size: sentences per forward pass and per shard.
        padding_side: ``"right"`` or ``"left"`` padding in the forward pass.
        dtype: storage dtype: float32, float16 or bfloat16.
        progress: called as ``progress(done_sentences, total)`` after each shard is queued.

    Returns:
        The completed :class:`ActivationStore`.
    """
    if len(ds) == 0:
        raise StoreError("the dataset is empty: nothing to extract")
    if dtype not in DTYPES:
        raise StoreError(f"dtype {dtype!r} is not supported; choose one of {', '.join(DTYPES)}")
    if batch_size < 1:
        raise StoreError(f"batch_size must be ≥ 1, got {batch_size}")
    n_layers = model.cfg.n_layers
    layer_list = list(range(n_layers)) if layers is None else layers
    hook_list = expand_hooks(hooks or list(RESIDUAL_KINDS), layer_list, model.hook_dict.keys(), n_layers)
    out = ensure_writable_dir(out_dir)
    settings = _settings(model, ds, hook_list, batch_size, padding_side, dtype)
    key = config_key(settings)
    plan = _plan(ds, batch_size)
    manifest_path = out / "manifest.json"
    old_shards: dict[str, dict] = {}
    if manifest_path.exists():
        old = read_json(manifest_path)
        if old.get("settings") != settings:
            changed = sorted(k for k in settings if (old.get("settings") or {}).get(k) != settings[k])
            raise StoreError(
                f"{str(out)!r} already holds activations made with other settings ({', '.join(changed) or 'store format'} differ); "
                "use a new --out folder or delete the old one"
            )
        old_shards = {e["file"]: e for e in old.get("shards", []) if "sha256" in e and old.get("config_key") == key}
    positions = []
    n_ctx = getattr(model.cfg, "n_ctx", None)
    for start in range(0, len(ds), batch_size):
        recs = ds.records[start : start + batch_size]
        _check_context(model, recs, n_ctx)
        tb = tokenize_batch(model, [r.text for r in recs], [r.spans for r in recs], padding_side=padding_side)
        positions.extend({"end": e, "span": list(s)} for e, s in zip(tb.end_positions, tb.span_positions))
    # Reuse a shard only if it verifies against this config: recorded SHA-256, else size + header + metadata.
    shards, reused, recomputed = [], 0, []
    for i, (a, b) in enumerate(plan):
        entry = {"file": _shard_name(i), "start": a, "stop": b}
        path = out / entry["file"]
        if path.exists():
            rec = old_shards.get(entry["file"], {})
            problem = _shard_problem(path, {**entry, **{k: rec[k] for k in ("bytes", "sha256") if k in rec}}, key, full=True)
            if problem is None:
                entry.update({k: rec[k] for k in ("bytes", "sha256")} if rec else file_record(path))
                reused += 1
            else:
                recomputed.append(f"{entry['file']}: {problem}")
                path.unlink()
        shards.append(entry)
    manifest = {
        "settings": settings,
        "config_key": key,
        "model_info": model_info(model).to_dict(),
        "n_sentences": len(ds),
        "d_model": model.cfg.d_model,
        "prepend_bos": prepends_bos(model),
        "ids": [r.id for r in ds.records],
        "texts": [r.text for r in ds.records],
        "labels": [r.emotion for r in ds.records],
        "spans": [[list(s) for s in r.spans] for r in ds.records],
        "positions": positions,
        "shards": shards,
        "complete": False,
        "resume": {"reused_shards": reused, "recomputed_shards": recomputed},
    }
    atomic_write_json(manifest_path, manifest)
    if reused == len(plan):
        manifest["complete"] = True
        atomic_write_json(manifest_path, manifest)
        return ActivationStore(out)
    store_dtype = DTYPES[dtype]
    writer = _ShardWriter()
    done_count = [sum(e["stop"] - e["start"] for e in shards if "sha256" in e)]
    try:
        for i, (a, b) in enumerate(plan):
            path = out / _shard_name(i)
            if "sha256" in shards[i]:
                continue
            recs = ds.records[a:b]
            tb = tokenize_batch(model, [r.text for r in recs], [r.spans for r in recs], padding_side=padding_side)
            acts = capture(model, tb, hook_list)
            tensors, aliases = _dedupe(acts, hook_list, tb, store_dtype)
            tensors["tokens"] = unpad(tb.tokens, tb).contiguous()
            tensors["lengths"] = torch.tensor(tb.lengths, dtype=torch.long)

            def done(record: dict, n=b - a, i=i):
                # Runs on the writer thread; the main thread does not touch the manifest until close().
                shards[i].update(record)
                atomic_write_json(manifest_path, manifest)
                done_count[0] += n
                if progress:
                    progress(done_count[0], len(ds))

            writer.put(path, tensors, done, {"aliases": json.dumps(aliases), **_shard_metadata(key, a, b)})
    finally:
        writer.close()
    manifest["complete"] = True
    atomic_write_json(manifest_path, manifest)
    return ActivationStore(out)


@dataclass(frozen=True)
class ActivationStore:
    """Read access to a store folder written by :func:`extract_activations`."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not (self.path / "manifest.json").exists():
            raise StoreError(f"{str(self.path)!r} is not an activation store (no manifest.json); run `emotion-circuits extract` first")
        object.__setattr__(self, "_manifest", read_json(self.path / "manifest.json"))
        if not self._manifest.get("complete"):
            raise StoreError(f"activation store {str(self.path)!r} is incomplete; rerun the same extract command to resume it")
        problems = self.verify(full=False)
        if problems:
            raise StoreError(f"activation store {str(self.path)!r} is damaged: {problems[0]}; "
                             "rerun the same extract command (same --out) to recompute the damaged shards")

    def verify(self, *, full: bool = True) -> list[str]:
        """``"<shard>: <problem>"`` for every shard that does not verify (size, header, config key; SHA-256 if ``full``)."""
        key = self._manifest.get("config_key")
        out = []
        for s, path in self._shards():
            problem = _shard_problem(path, s, key, full=full)
            if problem is not None:
                out.append(f"{s['file']}: {problem}")
        return out

    def _open(self, path: Path):
        try:
            return safe_open(str(path), framework="pt")
        except (SafetensorError, OSError) as exc:
            raise StoreError(f"activation store {str(self.path)!r}: cannot read {path.name} ({exc}); "
                             "rerun the same extract command (same --out) to recompute it") from None

    @property
    def manifest(self) -> dict:
        return self._manifest

    @property
    def hooks(self) -> list[str]:
        return list(self.manifest["settings"]["hooks"])

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def ids(self) -> list[str]:
        return list(self.manifest["ids"])

    @property
    def texts(self) -> list[str]:
        return list(self.manifest["texts"])

    @property
    def n(self) -> int:
        return int(self.manifest["n_sentences"])

    @property
    def model_name(self) -> str:
        return self.manifest["settings"]["model"]

    @property
    def end_positions(self) -> Int[Tensor, "n"]:
        return torch.tensor([p["end"] for p in self.manifest["positions"]], dtype=torch.long)

    @property
    def span_positions(self) -> list[list[int]]:
        return [list(p["span"]) for p in self.manifest["positions"]]

    @property
    def lengths(self) -> Int[Tensor, "n"]:
        return self.end_positions + 1

    @property
    def n_tokens(self) -> int:
        """Tokens stored over all sentences (BOS included)."""
        return int(self.lengths.sum())

    def nbytes(self) -> int:
        """Size of the store's shard files on disk, in bytes."""
        return sum(p.stat().st_size for p in self.path.glob("shard-*.safetensors"))

    def _check_hook(self, hook: str) -> None:
        if hook not in self.hooks:
            raise StoreError(f"hook {hook!r} is not in this store; stored hooks: {', '.join(self.hooks[:6])}… ({len(self.hooks)} in all)")

    def _shards(self):
        for s in self.manifest["shards"]:
            yield s, self.path / s["file"]

    def load(self, hook: str) -> Float[Tensor, "n pos d_model"]:
        """All sentences' activations at ``hook``, zero-padded on the right to the longest sentence."""
        self._check_hook(hook)
        width = int(self.lengths.max())
        parts = []
        for _, path in self._shards():
            with self._open(path) as f:
                t = read_hook(f, hook).float()
            parts.append(torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1])))
        return torch.cat(parts)

    def tokens(self) -> Int[Tensor, "n pos"]:
        width = int(self.lengths.max())
        parts = []
        for _, path in self._shards():
            with self._open(path) as f:
                t = f.get_tensor("tokens")
            parts.append(torch.nn.functional.pad(t, (0, width - t.shape[1])))
        return torch.cat(parts)

    def at_positions(self, hook: str, reduce: str = "end") -> Float[Tensor, "n d_model"]:
        """One vector per sentence: at the sentence end (``"end"``) or the mean over the span (``"span"``).

        Sentences without a span give the sentence-end vector under ``"span"`` only if
        ``reduce == "span_or_end"``; under ``"span"`` they give NaN rows.
        """
        self._check_hook(hook)
        ends = self.end_positions
        spans = self.span_positions
        rows = []
        for s, path in self._shards():
            with self._open(path) as f:
                t = read_hook(f, hook).float()
            for j, i in enumerate(range(s["start"], s["stop"])):
                if reduce == "end" or (reduce == "span_or_end" and not spans[i]):
                    rows.append(t[j, ends[i]])
                elif reduce in ("span", "span_or_end"):
                    rows.append(t[j, spans[i]].mean(0) if spans[i] else torch.full_like(t[j, 0], float("nan")))
                else:
                    raise StoreError(f"reduce must be 'end', 'span' or 'span_or_end', got {reduce!r}")
        return torch.stack(rows)

    def at_index(self, hook: str, positions: list[int]) -> Float[Tensor, "n d_model"]:
        """One vector per sentence at the given (unpadded) position of each sentence."""
        self._check_hook(hook)
        rows = []
        for s, path in self._shards():
            with self._open(path) as f:
                t = read_hook(f, hook).float()
            for j, i in enumerate(range(s["start"], s["stop"])):
                rows.append(t[j, positions[i]])
        return torch.stack(rows)


def store_is_complete(path: str | Path) -> bool:
    """True when ``path`` holds a store marked complete whose every shard verifies (size, header, config key)."""
    try:
        ActivationStore(path)
    except StoreError:
        return False
    return True
