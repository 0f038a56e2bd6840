"""What one run does: samples x methods x settings, each turned into an edit request with a
hash that says whether an earlier output was made from exactly the same inputs."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.edits.region import region_choice
from sdedit_desktop.eval.samples import Sample, SampleInputs


@dataclass(frozen=True)
class Task:
    sample: Sample
    method: str
    setting: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """File-name stem of this task's outputs, e.g. `sde` or `ode_steps50_order2`."""
        return "_".join([self.method, *(setting_slug(self.setting) or [])])

    @property
    def setting_label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.setting.items())


def setting_slug(setting: dict[str, Any]) -> list[str]:
    return [f"{k.replace('_', '')}{v}" for k, v in setting.items()]


def setting_grid(lists: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """{"steps": [25, 50], "order": [1, 2]} -> the four combinations, in a fixed order."""
    names = list(lists)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(lists[n] for n in names))]


def expand_tasks(samples: list[Sample], methods: tuple[str, ...],
                 settings: list[dict[str, Any]]) -> list[Task]:
    return [Task(s, m, dict(st)) for s in samples for st in settings for m in methods]


def request_kwargs(task: Task, inputs: SampleInputs, common: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the task's request: command-line options, then the sample's own
    fields (points, prompts), then the setting and the method."""
    return {**common, **inputs.fields, **task.setting, "method": task.method}


def build_request(kind: str, inputs: SampleInputs, kwargs: dict[str, Any], model_identity):
    if "region" in kwargs:  # --region auto|whole|X,Y,W,H, per sample's image
        height, width = inputs.image.shape[:2]
        kwargs = {**kwargs, "region": region_choice(kwargs["region"], width, height)}
    return kind_named(kind).request_type(image=inputs.image, mask=inputs.mask, model=model_identity,
                                 **kwargs)


def array_sha256(array: np.ndarray | None) -> str | None:
    if array is None:
        return None
    digest = hashlib.sha256(str((array.shape, str(array.dtype))).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def request_hash(kind: str, kwargs: dict[str, Any], inputs: SampleInputs,
                 model_identity: dict[str, Any] | None) -> str:
    """Same hash <=> same edit: kind, every request parameter, the pixels and the weights."""
    payload = {"kind": kind, "params": jsonable(kwargs), "model": model_identity,
               "image": array_sha256(inputs.image), "mask": array_sha256(inputs.mask)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
