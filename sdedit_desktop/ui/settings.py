"""Persistent user settings: one JSON file in the user config dir (platformdirs).

`SDEDIT_CONFIG_DIR` overrides the folder (tests, the self-test, portable installs). A damaged
file never stops the app: `load_settings` falls back to defaults and says why; saving is atomic.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.filesave import write_bytes
from sdedit_desktop.ui.mask_colour import DEFAULT_MASK_COLOUR, is_mask_colour

APP_NAME = "sdedit-desktop"
SETTINGS_FILE = "settings.json"
MAX_RECENT = 10
MAX_SETTINGS_BYTES = 4_000_000  # a few KB normally; call costs grow with each model and size


@dataclass
class AppSettings:
    model_source: str | None = None  # None = not configured yet (first-run dialog)
    device: str = "auto"
    dtype: str = "auto"
    allow_pickle: bool = False
    # What the model's UNet predicts: "auto" (what the model says, or what was chosen for that
    # file before), "epsilon" or "v_prediction" (an SD 2.x single file does not say).
    prediction_type: str = "auto"
    recent_files: list[str] = field(default_factory=list)
    last_dir: str = ""
    overlay_opacity: float = 0.45
    mask_colour: str = DEFAULT_MASK_COLOUR  # "#rrggbb" of the mask overlay (ui/mask_colour.py)
    brush_radius: float = 16.0
    brush_hardness: float = 0.8
    max_side: int = 768
    autosave_minutes: int = 2
    export_quality: int = 92  # JPEG / WebP export quality (1-100)
    # Seconds per model call measured by finished edits, "model|device|WxH" -> s: the time
    # estimate before Run survives restarts (ui/model/estimates.py).
    call_costs: dict[str, float] = field(default_factory=dict)
    # Saving a project also stores the LoRA weights its edits used (from the local LoRA cache),
    # so it re-runs identically on another machine; off: projects stay small.
    embed_loras: bool = False
    window_geometry: str = ""  # hex of QWidget.saveGeometry()

    def add_recent(self, path: str | Path) -> None:
        text = str(Path(path).resolve())
        self.recent_files = [text] + [p for p in self.recent_files if p != text]
        del self.recent_files[MAX_RECENT:]


def config_dir() -> Path:
    override = os.environ.get("SDEDIT_CONFIG_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def _coerce(data: Any) -> tuple[AppSettings, list[str]]:
    """Keep every well-typed known key; report the ones that were dropped."""
    settings = AppSettings()
    problems: list[str] = []
    if not isinstance(data, dict):
        return settings, ["the file does not hold a JSON object"]
    defaults = asdict(settings)
    for f in fields(AppSettings):
        if f.name not in data:
            continue
        value, default = data[f.name], defaults[f.name]
        ok = (
            (f.name == "model_source" and (value is None or isinstance(value, str)))
            or (isinstance(default, bool) and isinstance(value, bool))
            or (isinstance(default, float) and isinstance(value, int | float)
                and not isinstance(value, bool))
            or (isinstance(default, int) and not isinstance(default, bool)
                and isinstance(value, int) and not isinstance(value, bool))
            or (f.name == "mask_colour" and is_mask_colour(value))
            or (isinstance(default, str) and isinstance(value, str) and f.name != "mask_colour")
            or (isinstance(default, list) and isinstance(value, list)
                and all(isinstance(v, str) for v in value))
            or (isinstance(default, dict) and isinstance(value, dict)
                and all(isinstance(v, int | float) and not isinstance(v, bool)
                        for v in value.values()))
        )
        if ok:
            setattr(settings, f.name, float(value) if isinstance(default, float) else value)
        else:
            problems.append(f"ignored {f.name!r}: unexpected value {value!r}")
    return settings, problems


def load_settings(path: Path | None = None) -> tuple[AppSettings, list[str]]:
    """Read the settings; returns (settings, problems). Missing file = defaults, no problem."""
    path = path or settings_path()
    try:
        raw = read_regular_bytes(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return AppSettings(), []
    except OSError as exc:  # a FIFO, a device, a huge file: defaults, never a hang
        return AppSettings(), [f"could not read {path}: {exc}"]
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return AppSettings(), [f"{path} is not valid JSON ({exc}); using defaults"]
    return _coerce(data)


def save_settings(settings: AppSettings, path: Path | None = None) -> Path:
    """Write atomically (filesave) so a crash never leaves half a file."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(asdict(settings), indent=2, sort_keys=True).encode("utf-8")
    return write_bytes(path, payload)
