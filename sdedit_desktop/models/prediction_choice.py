"""The prediction type the user chose for a single checkpoint file (an SD 2.x file does not say
whether it predicts ε or v), remembered per file: by resolved path, size and modification time,
so the choice is asked once and asked again when the file is replaced. Torch-free."""

from __future__ import annotations

from pathlib import Path

from sdedit_desktop.core.families import PREDICTION_TYPES
from sdedit_desktop.models.file_memo import FileMemo
from sdedit_desktop.models.paths import file_choices_file

_FIELD = "prediction_type"


def remembered_prediction_type(file: Path) -> str | None:
    value = FileMemo(file_choices_file(), _FIELD).get(file)
    return value if value in PREDICTION_TYPES else None


def remember_prediction_type(file: Path, prediction_type: str) -> None:
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"unknown prediction type {prediction_type!r}")
    FileMemo(file_choices_file(), _FIELD).put(file, prediction_type)
