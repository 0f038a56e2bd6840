"""Which model the DIFT features of the drag distance come from (`--feature-model`).

DragBench's published numbers use SD 2.1 (`stabilityai/stable-diffusion-2-1`). By default that
model is used when its weights are in the local Hugging Face cache (nothing is downloaded);
otherwise the loaded edit model gives the features and every record and report says the numbers
are not comparable with published ones, and why. `--feature-model loaded` asks for the loaded
model; any other value is a model source (hub id, folder, file) that must load.

Loading goes through `models.loading.load_model` only, so SD 2.x works here as soon as the
loader supports its family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PUBLISHED_FEATURE_MODEL = "stabilityai/stable-diffusion-2-1"
LOADED = "loaded"
# The published script loads the featuriser in float32 (from_pretrained's default).
FEATURE_DTYPE = "float32"


class FeatureModelError(ValueError):
    """The model named by --feature-model cannot be used."""


@dataclass
class FeatureModel:
    model: Any
    comparable: bool  # computed as the published protocol: SD 2.1's features
    note: str  # how the features were made, for records and reports
    identity: dict[str, Any] = field(default_factory=dict)


def _is_published(identity: Any) -> bool:
    return (getattr(identity, "kind", None) == "hub"
            and getattr(identity, "source", None) == PUBLISHED_FEATURE_MODEL)


def _describe(identity: Any) -> str:
    source = getattr(identity, "source", "?")
    revision = getattr(identity, "revision", None)
    return f"{source}@{revision[:12]}" if revision else str(source)


def _published(model: Any) -> FeatureModel:
    return FeatureModel(model, True,
                        f"DragBench protocol: DIFT features of {_describe(model.identity)}",
                        model.identity.to_dict())


def _not_comparable(model: Any, why: str) -> FeatureModel:
    return FeatureModel(model, False,
                        f"NOT COMPARABLE with published DragBench numbers: DIFT features of "
                        f"{_describe(model.identity)}, not of {PUBLISHED_FEATURE_MODEL} ({why})",
                        model.identity.to_dict())


def _default_loader() -> Callable[[Any], Any]:
    from sdedit_desktop.models.loading import load_model

    return load_model


def feature_model_for(choice: str | None, loaded: Any, device: str,
                      load: Callable[[Any], Any] | None = None) -> FeatureModel:
    """The feature model for `choice` (None: the published one when local). `loaded` is the
    edit model; `device` where a separately loaded feature model goes. Raises
    FeatureModelError when an explicitly named model cannot be loaded."""
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.hub import find_snapshot
    from sdedit_desktop.models.interface import ModelSpec

    load = load or _default_loader()
    if choice == LOADED or (choice is None and _is_published(loaded.identity)):
        if _is_published(loaded.identity):
            return _published(loaded)
        return _not_comparable(loaded, "--feature-model loaded")
    if choice is None:
        try:
            find_snapshot(PUBLISHED_FEATURE_MODEL)
        except ModelError:
            return _not_comparable(loaded, "its weights are not in the local Hugging Face "
                                           "cache; nothing is downloaded for a metric")
        try:
            model = load(ModelSpec(PUBLISHED_FEATURE_MODEL, device=device, dtype=FEATURE_DTYPE))
        except ModelError as exc:
            return _not_comparable(loaded, f"its cached weights do not load: "
                                           f"{str(exc).splitlines()[0]}")
        return _published(model)
    try:
        model = load(ModelSpec(choice, device=device, dtype=FEATURE_DTYPE))
    except ModelError as exc:
        raise FeatureModelError(f"--feature-model {choice}: {str(exc).splitlines()[0]}") \
            from None
    if _is_published(model.identity):
        return _published(model)
    return _not_comparable(model, "chosen with --feature-model")
