"""DragBench's point-matching distance with DIFT features, as DragDiffusion's published
evaluation computes it (`drag_bench_evaluation/run_eval_point_matching.py`).

The features of an image: the image at its own size (no resizing) in [-1, 1], repeated
`ensemble` (8) times; each copy encoded by the VAE to a *sample* of its latent posterior (not the
mean), noised to t = 261 with its own noise, and run through the UNet with the prompt's
embedding (no guidance); the output of up-block 1 averaged over the copies. The edited image is
first resized to the input's size (bilinear), as the script does. Both feature maps are
upsampled to the image size (bilinear); each handle's feature vector in the input is looked up
in the edited image by cosine similarity, and the Euclidean distance from the best match to the
target is that point's distance. DragBench averages over every point of every sample (not per
sample first); the per-point distances are kept so the summary can do the same.

The published script uses SD 2.1's UNet; `dift_model.feature_model_for` chooses the model and
says when the numbers are not comparable with published ones. The model is reached through
`encode_prompt`, `predict_noise` (LoRA off), its `vae` (for the posterior sample) and its
`unet.up_blocks` (where the features are taken); the UNet stops right after that block.

Random draws: a generator seeded 42 (the script seeds 42), the input's draws first, then each
edited image's from the state after them; the script's own draws come from the global RNG of
the device it runs on, so its exact noise is reproduced on a CPU run of its first sample only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

DIFT_T = 261
DIFT_UP_BLOCK = 1
DIFT_ENSEMBLE = 8
DIFT_SEED = 42  # the published script seeds its random draws with 42
CHANNEL_CHUNK = 64  # channels upsampled at a time: full-size SD features would need GBs


class _FeaturesTaken(Exception):  # a control-flow signal, not an error
    """Raised by the forward hook to stop the UNet once the wanted block has run."""

    def __init__(self, features: torch.Tensor):
        super().__init__()
        self.features = features


def has_dift_parts(model) -> bool:
    """Whether `model` exposes what the DIFT features need."""
    return (hasattr(getattr(model, "unet", None), "up_blocks")
            and hasattr(getattr(model, "vae", None), "encode"))


def _to_unit_range(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> [1, 3, H, W] float32 in [-1, 1] (the script's (x/255 - 0.5) * 2)."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    return (x / 255.0 - 0.5) * 2.0


@torch.no_grad()
def posterior_samples(model, image: torch.Tensor, count: int,
                      generator: torch.Generator) -> torch.Tensor:
    """`count` draws from the VAE's latent posterior of `image` ([1, 3, H, W] in [-1, 1]),
    scaled by the VAE's scaling factor: [count, 4, h, w] float32 on the CPU. Every copy of the
    script's repeated batch has the same mean and deviation, so the image is encoded once and
    the draws are made as the script's batched `latent_dist.sample()` makes them (one normal
    draw of the whole batch); the noise comes from `generator` (CPU), the same on any device."""
    x = image.to(device=model.device, dtype=model.vae.dtype)  # SDXL's VAE runs in float32
    dist = model.vae.encode(x).latent_dist
    mean, std = dist.mean.float().cpu(), dist.std.float().cpu()
    eps = torch.randn((count, *mean.shape[1:]), generator=generator, dtype=torch.float32)
    return (mean + std * eps) * float(model.scaling_factor)


@torch.no_grad()
def dift_features(model, image: np.ndarray, prompt: str, *, t: int = DIFT_T,
                  up_block: int = DIFT_UP_BLOCK, ensemble: int = DIFT_ENSEMBLE,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """[C, h, w] float32 features of `image` (HxWx3 uint8, at its own size)."""
    if not has_dift_parts(model):
        raise ValueError("the model has no diffusers UNet and VAE to take DIFT features from")
    generator = generator if generator is not None else torch.Generator().manual_seed(DIFT_SEED)
    latents = posterior_samples(model, _to_unit_range(image), ensemble, generator)
    noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32)
    alpha = model.schedule.alpha_bar(t)  # the feature model's own training schedule
    noisy = math.sqrt(alpha) * latents + math.sqrt(1.0 - alpha) * noise

    def take(_module, _inputs, output):
        raise _FeaturesTaken(output[0] if isinstance(output, tuple) else output)

    hook = model.unet.up_blocks[up_block].register_forward_hook(take)
    try:
        model.predict_noise(noisy, t, model.encode_prompt(prompt), lora_scale=0.0)
    except _FeaturesTaken as taken:
        return taken.features.float().mean(dim=0).cpu()
    finally:
        hook.remove()
    raise RuntimeError(f"UNet up-block {up_block} did not run")


def match_points(source_features: torch.Tensor, edited_features: torch.Tensor,
                 handles: Sequence[tuple[int, int]], size: tuple[int, int],
                 ) -> list[tuple[int, int]]:
    """For each (x, y) handle: the pixel of the edited image (height, width = size) whose
    feature is most similar (cosine) to the handle's feature in the source image; the first
    such pixel in row-major order on ties, as numpy's argmax in the script."""
    height, width = size
    channels = source_features.shape[0]
    dots = torch.zeros(len(handles), height * width, dtype=torch.float64)
    sq_norm = torch.zeros(height * width, dtype=torch.float64)
    for start in range(0, channels, CHANNEL_CHUNK):
        part = slice(start, start + CHANNEL_CHUNK)
        src = F.interpolate(source_features[None, part], size=size, mode="bilinear",
                            align_corners=False)[0]
        dst = F.interpolate(edited_features[None, part], size=size, mode="bilinear",
                            align_corners=False)[0].reshape(src.shape[0], -1).double()
        vectors = torch.stack([src[:, y, x] for x, y in handles]).double()  # [P, c]
        dots += vectors @ dst
        sq_norm += (dst * dst).sum(dim=0)
    # the handle's own norm does not change which pixel is best; the pixels' norms do
    similarity = dots / sq_norm.clamp_min(1e-16).sqrt()
    best = similarity.argmax(dim=1).tolist()
    return [(i % width, i // width) for i in best]


def point_distances(points: Sequence[tuple[int, int]],
                    targets: Sequence[tuple[int, int]]) -> list[float]:
    return [math.dist(p, t) for p, t in zip(points, targets, strict=True)]


def mean_distance(points: Sequence[tuple[int, int]],
                  targets: Sequence[tuple[int, int]]) -> float:
    return float(np.mean(point_distances(points, targets)))


def resized_like(edited: np.ndarray, source: np.ndarray) -> np.ndarray:
    """`edited` at `source`'s size (PIL bilinear, as the published scripts), unchanged when
    the sizes agree."""
    if edited.shape[:2] == source.shape[:2]:
        return edited
    height, width = source.shape[:2]
    return np.asarray(Image.fromarray(edited).resize((width, height), Image.BILINEAR))


class DiftMatcher:
    """Per-point distances of one run. The features of a sample's input are computed once and
    reused for every method and setting of that sample, and every edited image of a sample is
    featurised with the same noise draws (the generator's state after the input's draw), so
    methods are compared on equal terms."""

    def __init__(self, model, ensemble: int = DIFT_ENSEMBLE, seed: int = DIFT_SEED):
        self.model = model
        self.ensemble = ensemble
        self.seed = seed
        self._key: tuple | None = None
        self._source: torch.Tensor | None = None
        self._state: torch.Tensor | None = None

    def _source_features(self, source: np.ndarray, prompt: str) -> tuple[torch.Tensor,
                                                                          torch.Generator]:
        key = (source.shape, hash(source.tobytes()), prompt)
        if key != self._key:
            generator = torch.Generator().manual_seed(self.seed)
            self._source = dift_features(self.model, source, prompt, ensemble=self.ensemble,
                                         generator=generator)
            self._state, self._key = generator.get_state(), key
        generator = torch.Generator()
        generator.set_state(self._state)
        return self._source, generator

    def distances(self, source: np.ndarray, edited: np.ndarray, prompt: str,
                  pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> list[float]:
        """The distance (pixels of the input image) of every handle's match to its target."""
        src, generator = self._source_features(source, prompt)
        dst = dift_features(self.model, resized_like(edited, source), prompt,
                            ensemble=self.ensemble, generator=generator)
        matched = match_points(src, dst, [h for h, _ in pairs], source.shape[:2])
        return point_distances(matched, [t for _, t in pairs])


def drag_distance(model, source: np.ndarray, edited: np.ndarray, prompt: str,
                  pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]],
                  ensemble: int = DIFT_ENSEMBLE) -> float:
    """The mean per-point distance of one edited sample."""
    return float(np.mean(DiftMatcher(model, ensemble).distances(source, edited, prompt, pairs)))
