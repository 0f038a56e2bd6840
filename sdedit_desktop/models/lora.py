"""Per-image LoRA (the paper's SDE-Drag setting): train, cache on disk, attach, scale per step.

Training follows the paper / DragDiffusion: rank 16 by default (the request's `lora_rank`; the
paper's DragBench script used 4) on the UNet attention projections (to_q, to_k, to_v,
to_out.0), AdamW lr 2e-4, 100 steps, batch 1, the edit prompt as the condition, MSE between the
true and predicted noise (v for a v-prediction model: each UNet is trained on its own
objective) at a random timestep (docs/algorithms.md, "Per-image LoRA training"). A trained LoRA
is stored as safetensors + a small JSON file, keyed by a hash of the image content, the prompt,
the base model identity and every setting (the rank too), so the same request is never trained
twice; the cache is bounded in bytes and evicts the least recently used entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError

from sdedit_desktop.core import phases
from sdedit_desktop.core import tensors as core_tensors
from sdedit_desktop.core.families import DEFAULT_FAMILY, family_info
from sdedit_desktop.core.hashing import image_sha256
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.progress import StepReporter
from sdedit_desktop.diffusion.conditioning import Cond
from sdedit_desktop.fileopen import open_regular_file, read_regular_bytes
from sdedit_desktop.filesave import write_bytes, write_file, write_text
from sdedit_desktop.models.errors import (
    LoraError,
    ModelError,
    is_out_of_memory,
    out_of_memory_error,
)
from sdedit_desktop.models.families import MODEL_FAMILIES
from sdedit_desktop.models.lora_defaults import LORA_TRAIN_STEPS
from sdedit_desktop.models.paths import default_lora_dir
from sdedit_desktop.models.sd_model import LORA_ADAPTER, StableDiffusionModel
from sdedit_desktop.models.weights import read_safetensors

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
DEFAULT_MAX_BYTES = 2 * 1024 ** 3
_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")

# A cache entry's JSON: settings, identity and a loss curve of a few thousand numbers.
_MAX_METADATA_BYTES = 16_000_000


@dataclass(frozen=True)
class LoraSettings:
    """Every setting that changes the trained weights (all of them enter the cache key)."""

    rank: int = 16
    alpha: float | None = None  # None = rank (LoRA scale 1, as DragDiffusion)
    learning_rate: float = 2e-4
    steps: int = LORA_TRAIN_STEPS
    batch_size: int = 1
    seed: int = 0
    weight_decay: float = 1e-2  # AdamW's default
    target_modules: tuple[str, ...] = _TARGETS
    probe_samples: int = 8  # fixed (t, noise) pairs on which the loss is measured before/after
    sample_posterior: bool = True  # train on VAE posterior samples (DragDiffusion), not the mean

    def __post_init__(self) -> None:
        if self.rank < 1 or self.steps < 1 or self.batch_size < 1 or not (
                math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("LoRA settings: rank, steps and batch size must be >= 1 and the "
                             "learning rate a finite number > 0")
        if self.alpha is not None and not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"LoRA settings: alpha must be a finite number > 0, got "
                             f"{self.alpha}")

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha if self.alpha is not None else self.rank)

    def peft_config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.rank, lora_alpha=self.lora_alpha,
                          target_modules=list(self.target_modules), init_lora_weights=True)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


@dataclass
class LoraEntry:
    key: str
    prompt: str
    created: float
    last_used: float
    size_bytes: int
    base: dict
    settings: dict
    metadata: dict = field(repr=False, default_factory=dict)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> [1,3,H,W] float32 in [-1,1]."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise LoraError(f"LoRA training needs an HxWx3 uint8 RGB image, got {image.shape} "
                        f"{image.dtype}.")
    return core_tensors.image_to_tensor(image, torch.device("cpu"))


def image_digest(image: np.ndarray) -> str:
    return str(image_sha256(image))


class LoraCache:
    """LoRA weights on disk: `<key>.safetensors` + `<key>.json`, LRU-bounded in bytes.

    The cache is an optimisation: a folder that cannot be read or written (read-only, a file
    where the folder should be, a full disk) never costs the user an edit. Such a fault is
    logged once and queued for `take_warnings` (the engine shows it); an entry that cannot be
    written is kept in memory for this session instead. Damaged entries are skipped and
    retrained (which repairs them)."""

    _MEMORY_ENTRIES = 4  # unsaved entries kept in memory (a few MB each)

    def __init__(self, cache_dir: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.dir = Path(cache_dir) if cache_dir is not None else default_lora_dir()
        self.max_bytes = int(max_bytes)
        self._unsaved: dict[str, tuple[dict[str, torch.Tensor], dict]] = {}
        self._warned: set[str] = set()
        self._pending: list[str] = []

    # -- faults -------------------------------------------------------------------------------
    def _fault(self, action: str, exc: BaseException) -> None:
        """Log (once per kind of action) that the cache could not do `action`."""
        if action in self._warned:
            return
        self._warned.add(action)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        message = (f"The LoRA cache {self.dir} could not be {action} ({reason}); the edit goes "
                   "on without it.")
        log.warning("%s", message)
        self._pending.append(message)

    def take_warnings(self) -> list[str]:
        """Warnings not yet shown to the user (each cache fault once)."""
        pending, self._pending = self._pending, []
        return pending

    # -- keys and paths -----------------------------------------------------------------------
    def key(self, model_identity: ModelIdentity, image: np.ndarray, prompt: str,
            settings: LoraSettings) -> str:
        payload = {"format": CACHE_FORMAT, "image": image_digest(image), "prompt": prompt,
                   "base": model_identity.to_dict(), "settings": settings.to_dict()}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def weights_path(self, key: str) -> Path:
        return self.dir / f"{key}.safetensors"

    def metadata_path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def has(self, key: str) -> bool:
        try:
            return self.weights_path(key).is_file() and self.metadata_path(key).is_file()
        except OSError:
            return False

    # -- reading and writing ------------------------------------------------------------------
    def read_metadata(self, key: str) -> dict | None:
        """The entry's metadata, or None when it is missing or damaged (wrong types, times
        that are not plausible timestamps)."""
        if key in self._unsaved:
            return self._unsaved[key][1]
        try:
            data = json.loads(read_regular_bytes(self.metadata_path(key), _MAX_METADATA_BYTES))
        except (OSError, ValueError, RecursionError):
            return None
        return data if valid_metadata(data) else None

    def load(self, key: str) -> tuple[dict[str, torch.Tensor], dict] | None:
        """Weights and metadata, or None (a damaged entry is removed: it will be retrained)."""
        if key in self._unsaved:
            return self._unsaved[key]
        meta = self.read_metadata(key)
        if meta is None or not self.has(key):
            return None
        try:
            state = read_safetensors(self.weights_path(key))
        except ModelError:
            state = None
        if state is None or non_finite_tensor(state) is not None:
            self.remove(key)  # damaged: it will be retrained
            return None
        self.touch(key, meta)
        return state, meta

    def save(self, key: str, state: dict[str, torch.Tensor], metadata: dict) -> None:
        """Store an entry; when the folder cannot be written the entry stays in memory."""
        now = time.time()
        metadata = {**metadata, "key": key, "created": now, "last_used": now}
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_lora_file(self.weights_path(key), state, metadata)
            self._write_metadata(key, metadata)
        except (OSError, SafetensorError) as exc:
            self._fault("written", exc)
            self._unsaved[key] = ({k: v.detach().clone() for k, v in state.items()}, metadata)
            while len(self._unsaved) > self._MEMORY_ENTRIES:
                self._unsaved.pop(next(iter(self._unsaved)))
            return
        self.evict(keep=key)

    def export(self, key: str, path: Path) -> None:
        """Copy an entry (from disk or memory) to `path` + its metadata next to it as .json."""
        if key in self._unsaved:
            state, metadata = self._unsaved[key]
            write_lora_file(path, state, metadata)
        else:
            with open_regular_file(self.weights_path(key)) as source:
                write_file(path, lambda handle: shutil.copyfileobj(source, handle))
            metadata = self.read_metadata(key) or {}
        write_text(path.with_suffix(".json"), json.dumps(metadata, indent=1, sort_keys=True))

    def _write_metadata(self, key: str, metadata: dict) -> None:
        write_text(self.metadata_path(key), json.dumps(metadata, indent=1, sort_keys=True))

    def touch(self, key: str, metadata: dict | None = None) -> None:
        """Mark an entry as just used (LRU order)."""
        meta = metadata if metadata is not None else self.read_metadata(key)
        if meta is None or key in self._unsaved:
            return
        # Strictly increasing even within one clock tick, so LRU order is exact.
        meta["last_used"] = max(time.time(), _timestamp(meta.get("last_used")) + 1e-6)
        try:
            self._write_metadata(key, meta)
        except OSError as exc:
            self._fault("updated", exc)

    # -- listing and eviction -----------------------------------------------------------------
    def entries(self) -> list[LoraEntry]:
        """All complete, readable entries, most recently used first (damaged ones skipped)."""
        out = []
        try:
            if not self.dir.is_dir():
                return out
            meta_files = [p for p in self.dir.glob("*.json") if p.is_file()]
        except OSError as exc:
            self._fault("read", exc)
            return out
        for meta_file in meta_files:
            key = meta_file.stem
            meta = self.read_metadata(key)
            weights = self.weights_path(key)
            try:
                if meta is None or not weights.is_file():
                    continue
                size = weights.stat().st_size + meta_file.stat().st_size
            except OSError:
                continue  # removed meanwhile, or unreadable: not an entry
            out.append(LoraEntry(key=key, prompt=str(meta.get("prompt", "")),
                                 created=_timestamp(meta.get("created")),
                                 last_used=_timestamp(meta.get("last_used")), size_bytes=size,
                                 base=dict(meta.get("base", {})),
                                 settings=dict(meta.get("settings", {})), metadata=meta))
        out.sort(key=lambda e: e.last_used, reverse=True)
        return out

    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove least recently used entries until the cache fits `max_bytes` (the entry
        `keep` stays even if it alone is larger)."""
        entries = self.entries()
        total = sum(e.size_bytes for e in entries)
        removed = []
        for entry in reversed(entries):  # oldest first
            if total <= self.max_bytes:
                break
            if entry.key == keep:
                continue
            self.remove(entry.key)
            total -= entry.size_bytes
            removed.append(entry.key)
        return removed

    def remove(self, key: str) -> None:
        self._unsaved.pop(key, None)
        for path in (self.weights_path(key), self.metadata_path(key)):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                self._fault("cleaned up", exc)

    def clear(self) -> int:
        """Remove every entry (and stray temp files); returns the number of entries removed.
        Folders and other files are left alone; raises LoraError when files cannot be
        removed."""
        count = len(self.entries()) + len(self._unsaved)
        self._unsaved.clear()
        failed: list[str] = []
        try:
            paths = list(self.dir.iterdir()) if self.dir.is_dir() else []
        except OSError as exc:
            raise LoraError(f"cannot read the LoRA cache {self.dir}: {exc.strerror or exc}",
                            path=self.dir) from None
        for path in paths:
            if path.suffix not in (".safetensors", ".json", ".tmp") or path.is_dir():
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                failed.append(f"{path.name} ({exc.strerror or exc})")
        if failed:
            raise LoraError(f"cannot remove {len(failed)} file(s) from the LoRA cache "
                            f"{self.dir}, e.g. {failed[0]}", path=self.dir)
        return count


def _timestamp(value: object) -> float:
    return float(value) if _is_timestamp(value) else 0.0


def _is_timestamp(value: object) -> bool:
    # Seconds since 1970 up to the year ~5000: what datetime can show.
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value < 1e11)


def valid_metadata(data: object) -> bool:
    """A cache entry's JSON as this module writes it (types that listing and LRU rely on)."""
    if not isinstance(data, dict):
        return False
    if not all(_is_timestamp(data.get(name, 0)) for name in ("created", "last_used")):
        return False
    return (isinstance(data.get("prompt", ""), str) and isinstance(data.get("base", {}), dict)
            and isinstance(data.get("settings", {}), dict))


def write_lora_file(path: Path, state: dict[str, torch.Tensor], metadata: dict) -> None:
    """A LoRA .safetensors in this app's format (readable by `load_lora_file`)."""
    from safetensors.torch import save

    base = metadata.get("base") if isinstance(metadata.get("base"), dict) else {}
    data = save({k: v.contiguous() for k, v in state.items()},
                metadata={"format": "sdedit-lora", "rank": str(metadata["settings"]["rank"]),
                          "alpha": str(metadata["lora_alpha"]),
                          # the base model's family: a LoRA fits only models of its family
                          "family": str(base.get("family") or DEFAULT_FAMILY)})
    write_bytes(path, data)


def check_lora_family(lora_family: str | None, model: StableDiffusionModel, what: str) -> None:
    """A LoRA trained on another family's model cannot be attached (other layers, other
    widths): say so in one message before anything changes."""
    if lora_family is None or lora_family == model.family.name:
        return
    try:
        made_for = family_info(lora_family).label
    except ValueError:
        made_for = repr(lora_family[:20])
    raise LoraError(f"{what} was trained on a {made_for} model, but the loaded model is "
                    f"{model.family.info.label}: a LoRA only fits models of its own family. "
                    f"Load a {made_for} model to use it.",
                    detail=f"LoRA family {lora_family}, model family {model.family.name}")


# -- training ----------------------------------------------------------------------------------
def _posterior_std(model: StableDiffusionModel, image: np.ndarray) -> torch.Tensor:
    """Standard deviation of the VAE posterior, in the scaled latent units of encode_image."""
    with torch.no_grad():
        # (in the VAE's own precision: SDXL's runs in float32 under a float16 UNet)
        pixels = image_to_tensor(image).to(device=model.device, dtype=model.vae_dtype)
        dist = model.vae.encode(pixels).latent_dist
    return dist.std * model.scaling_factor


def _noised(model: StableDiffusionModel, clean: torch.Tensor, noise: torch.Tensor,
            timesteps: torch.Tensor) -> torch.Tensor:
    ab = model.alpha_bars(timesteps).to(device=clean.device, dtype=clean.dtype)[:, None, None, None]
    return ab.sqrt() * clean + (1 - ab).sqrt() * noise


def _probe_loss(model: StableDiffusionModel, latent: torch.Tensor, cond: Cond,
                timesteps: torch.Tensor, noise: torch.Tensor) -> float:
    """Denoising MSE on fixed (timestep, noise) pairs: the same numbers before and after."""
    clean = latent.expand(len(timesteps), *latent.shape[1:])
    with torch.no_grad():
        pred = model.unet_output(_noised(model, clean, noise, timesteps), timesteps, cond)
    target = model.training_target(clean, noise, timesteps)
    return float(torch.mean((pred.double() - target.double()) ** 2))


class _MixedPrecision:
    """Mixed precision as the reference code's accelerate fp16 mode: the LoRA parameters stay
    float32 (the model keeps adapters in at least float32), the half-precision UNet runs under
    autocast, and in float16 a GradScaler scales the loss so that small gradients do not
    underflow to zero on the way back through the UNet (a step whose scaled gradients overflow
    is skipped and the scale lowered). float32/float64 models train as is
    (docs/algorithms.md, "Per-image LoRA training")."""

    def __init__(self, device: torch.device, dtype: torch.dtype):
        self.device_type = device.type
        self.half = dtype if dtype in (torch.float16, torch.bfloat16) else None
        self.scaler = None
        if dtype == torch.float16:
            try:
                self.scaler = torch.amp.GradScaler(self.device_type)
            except (RuntimeError, ValueError):  # a device without a GradScaler: plain steps
                self.scaler = None

    def autocast(self):
        if self.half is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.half)

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()


def train_lora(model: StableDiffusionModel, image: np.ndarray, prompt: str,
               settings: LoraSettings, reporter: StepReporter | None = None,
               lora_id: str = "training") -> dict:
    """Train a fresh LoRA on one image and leave it attached to `model`. Returns the metadata
    (losses per step, probe loss before/after, timings). Cancel leaves the model as it was."""
    reporter = reporter or StepReporter()
    device, dtype = model.device, model.dtype
    work = torch.float64 if dtype == torch.float64 else torch.float32
    latent = model.encode_image(image_to_tensor(image)).to(work)  # posterior mean, scaled
    latent_std = _posterior_std(model, image).to(work) if settings.sample_posterior else None
    cond = model.encode_prompt(prompt)
    n_train = model.schedule.num_train_timesteps
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    probe_t = torch.linspace(0, n_train - 1, settings.probe_samples + 2)[1:-1].round().long()
    probe_noise = torch.randn((settings.probe_samples, *latent.shape[1:]), generator=gen,
                              dtype=work).to(device)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)  # peft's initialisation of lora_A
        model.attach_lora(settings.peft_config(), None, lora_id)
    try:
        before = _probe_loss(model, latent, cond, probe_t, probe_noise)
        params = model.lora_parameters()
        for p in params:
            if p.dtype in (torch.float16, torch.bfloat16):
                p.data = p.data.float()  # float32 master weights (and grads a scaler can unscale)
            p.requires_grad_(True)
        optimizer = torch.optim.AdamW(params, lr=settings.learning_rate,
                                      weight_decay=settings.weight_decay)
        precision = _MixedPrecision(device, dtype)
        losses: list[float] = []
        batch = settings.batch_size
        for step in range(settings.steps):
            reporter.check_cancel()
            noise = torch.randn((batch, *latent.shape[1:]), generator=gen, dtype=work).to(device)
            t = torch.randint(0, n_train, (batch,), generator=gen)
            clean = latent.expand(batch, *latent.shape[1:])
            if latent_std is not None:  # a VAE posterior sample per step, as DragDiffusion does
                clean = latent + latent_std * torch.randn(
                    (batch, *latent.shape[1:]), generator=gen, dtype=work).to(device)
            noisy = _noised(model, clean, noise, t)
            # The UNet's own target: the noise, or v for a v-model (its training objective).
            target = model.training_target(clean, noise, t)
            # Gradients even when a caller runs the edit under no_grad.
            with torch.inference_mode(False), torch.enable_grad():
                with precision.autocast():
                    pred = model.unet_output(noisy, t, cond)
                loss = torch.nn.functional.mse_loss(pred.to(work), target)
                optimizer.zero_grad(set_to_none=True)
                precision.backward_and_step(loss, optimizer)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise LoraError("LoRA training diverged (the loss is not finite); try float32 "
                                "or a lower learning rate.", detail=f"step {step}: loss {value}")
            losses.append(value)
            reporter.report(phases.LORA, step + 1, settings.steps)
        for p in params:
            p.requires_grad_(False)
        after = _probe_loss(model, latent, cond, probe_t, probe_noise)
    except RuntimeError as exc:
        model.detach_lora()
        if is_out_of_memory(exc):
            raise out_of_memory_error(exc, "training the LoRA", model.device) from exc
        raise
    except BaseException:  # cancelled, interrupted, diverged: leave the base model as it was
        model.detach_lora()
        raise
    return {"prompt": prompt, "settings": settings.to_dict(), "lora_alpha": settings.lora_alpha,
            "losses": losses, "probe_loss_before": before, "probe_loss_after": after,
            "train_seconds": time.perf_counter() - start,
            "image_sha256": image_digest(image), "image_shape": list(image.shape)}


def ensure_lora(model: StableDiffusionModel, image: np.ndarray, prompt: str,
                settings: LoraSettings, cache: LoraCache,
                reporter: StepReporter | None = None) -> str:
    """Make the LoRA for (image, prompt, base model, settings) attached to `model`, training it
    only when the cache does not have it. Returns its cache key."""
    key = cache.key(model.identity, image, prompt, settings)
    if model.lora_id == key and model.has_lora:
        cache.touch(key)
        return key
    cached = cache.load(key)
    if cached is not None:
        state, meta = cached
        base = meta.get("base") if isinstance(meta.get("base"), dict) else {}
        # (The key covers the base model, so only a hand-made entry could be foreign; it is
        # refused, not removed.)
        check_lora_family(base.get("family") or DEFAULT_FAMILY, model, "The cached LoRA")
        # The key covers every setting, so the entry was trained with exactly `settings`.
        try:
            model.attach_lora(settings.peft_config(), state, key)
        except LoraError:
            cache.remove(key)  # damaged or foreign entry under this key: train it anew
        else:
            return key
    metadata = train_lora(model, image, prompt, settings, reporter, lora_id=key)
    metadata["base"] = model.identity.to_dict()
    cache.save(key, model.lora_state_dict(), metadata)
    return key


def detach_lora(model: StableDiffusionModel) -> None:
    model.detach_lora()


# -- LoRA files given by the user ----------------------------------------------------------------
def load_lora_file(model: StableDiffusionModel, path: Path | str) -> str:
    """Attach a LoRA from a .safetensors file: this app's own format (a cache entry or an
    exported one) or the diffusers / kohya formats community LoRAs use. Text-encoder parts of a
    community LoRA are not applied (the edits condition the UNet only). Returns the LoRA id
    ("file:" + the file's sha256)."""
    from sdedit_desktop.models.hashing import file_sha256
    from sdedit_desktop.models.weights import PICKLE_SUFFIXES, refuse_pickle

    path = Path(path).expanduser()
    if not path.is_file():
        raise LoraError(f"LoRA file not found: {path}", path=path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise refuse_pickle(path)
    state = read_safetensors(path)
    bad = non_finite_tensor(state)
    if bad is not None:
        raise LoraError(f"{path.name} holds non-finite values (NaN or infinity) in {bad[:80]}: "
                        "it would turn every image black.", path=path)
    lora_id = "file:" + file_sha256(path)
    meta = _file_metadata(path)
    if meta.get("format") == "sdedit-lora":
        check_lora_family(meta.get("family") or DEFAULT_FAMILY, model, path.name)
    else:
        check_lora_width(_context_width(state), model, path.name)
    ours = [k for k in state
            if k.endswith(".lora_A.weight") and not k.startswith(("unet.", "text"))]
    if ours and len(ours) * 2 == len(state):
        rank = int(state[ours[0]].shape[0])
        alpha = _file_alpha(path)
        try:
            settings = LoraSettings(rank=rank, alpha=alpha if alpha is not None else rank,
                                    target_modules=tuple(sorted({_target_of(k) for k in ours})))
        except ValueError as exc:
            raise LoraError(f"{path.name}: {exc}", path=path) from None
        model.attach_lora(settings.peft_config(), state, lora_id)
        return lora_id
    _attach_community_lora(model, state, path)
    model.adopt_lora(lora_id)
    if not model.has_lora:
        raise LoraError(f"{path.name} has no LoRA weights for the UNet.", path=path)
    return lora_id


def _target_of(key: str) -> str:
    stem = key.removesuffix(".lora_A.weight")
    return "to_out.0" if stem.endswith("to_out.0") else stem.rsplit(".", 1)[-1]


def _file_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def _context_width(state: dict[str, torch.Tensor]) -> int | None:
    """The text-conditioning width a LoRA's cross-attention key projection takes (768 for
    SD 1.x, 1024 for SD 2.x, 2048 for SDXL), in any of the usual key spellings."""
    for key, value in state.items():
        if value.ndim == 2 and "attn2" in key and ("to_k" in key) and (
                "lora_A" in key or "lora_down" in key or "lora.down" in key):
            return int(value.shape[1])
    return None


def check_lora_width(width: int | None, model: StableDiffusionModel, what: str) -> None:
    """A community LoRA whose cross-attention takes another conditioning width than the
    model's was made for another family (768: SD 1.x, 1024: SD 2.x, 2048: SDXL)."""
    own = int(model.unet.config.cross_attention_dim)
    if width is None or width == own:
        return
    family = next((f.name for f in MODEL_FAMILIES.values() if f.context_width == width), None)
    if family is not None and family != model.family.name:
        check_lora_family(family, model, what)
    raise LoraError(f"{what} was made for a model with {width}-wide text conditioning; the "
                    f"loaded model's is {own}-wide: it is a LoRA for another model family.",
                    detail=f"LoRA cross-attention width {width}, model {own}")


def _file_alpha(path: Path) -> float | None:
    """The alpha recorded in the file's metadata; None when absent or not a number. A
    non-finite one is returned as is (LoraSettings refuses it)."""
    meta = _file_metadata(path)
    try:
        return float(meta["alpha"]) if "alpha" in meta else None
    except ValueError:
        return None


def non_finite_tensor(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or infinity, else None."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def _attach_community_lora(model: StableDiffusionModel, state: dict[str, torch.Tensor],
                           path: Path) -> None:
    from sdedit_desktop.models.components import quiet_diffusers

    # A foreign LoRA makes diffusers/peft log errors and warnings before they raise; the
    # LoraError of _attach_community_lora_quietly says it once, in our words.
    with quiet_diffusers(logging.CRITICAL), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _attach_community_lora_quietly(model, state, path)

def _attach_community_lora_quietly(model: StableDiffusionModel, state: dict[str, torch.Tensor],
                                   path: Path) -> None:
    from diffusers.loaders import StableDiffusionLoraLoaderMixin

    try:
        # The UNet's config maps LoRAs named by the original (SGM) layout, as SDXL ones are.
        converted, alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(
            state, unet_config=model.unet.config)
        unet_part = {k: v for k, v in converted.items() if k.startswith("unet.")}
        if not unet_part:
            raise LoraError(f"{path.name} is not a LoRA for a UNet (no UNet weights).",
                            detail=f"keys e.g. {list(state)[:3]}", path=path)
        unet_alphas = ({k: v for k, v in alphas.items() if k.startswith("unet.")}
                       if alphas else None)
        model.detach_lora()
        model.unet.load_lora_adapter(unet_part, prefix="unet", network_alphas=unet_alphas,
                                     adapter_name=LORA_ADAPTER)
    except LoraError:
        raise
    except (ValueError, KeyError, RuntimeError) as exc:
        if getattr(model.unet, "_hf_peft_config_loaded", False):
            model.detach_lora_layers()
        raise LoraError(f"{path.name} is not a LoRA this model can use (made for another "
                        "architecture, or an unknown format).", detail=f"{exc}", path=path) from exc
