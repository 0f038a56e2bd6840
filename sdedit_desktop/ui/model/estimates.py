"""How long the next edit will take, before it runs.

An edit's job plan (its kind's `plan`, edits/kinds/) says how many model calls it makes, in
relative cost units (~ UNet samples); a finished edit says how long it took. Their ratio -
seconds per model call - is kept per (model, device, working size), so the next edit's estimate
is its plan times the cost measured on this machine. Before any measurement the estimate is the
number of model calls only. A slow device (a CPU, or a measured cost above
`SLOW_SECONDS_PER_CALL`) gets the "draft" preset offered (edits/presets.py). No Qt, no torch
beyond what a plan needs."""

from __future__ import annotations

from dataclasses import dataclass

from sdedit_desktop.edits.geometry import working_size
from sdedit_desktop.edits.kinds import kind_of
from sdedit_desktop.edits.region import resolve_region
from sdedit_desktop.edits.requests import EditRequest

# Above this many seconds per model call the draft preset is worth offering (an SD 1.5 UNet
# call at 512 px takes ~0.02-0.1 s on a GPU and seconds on a CPU).
SLOW_SECONDS_PER_CALL = 0.25
_SMOOTHING = 0.5  # weight of a new measurement against the kept one


@dataclass(frozen=True)
class CostKey:
    model: str  # what the weights are (identity kind:source), "" = unknown
    device: str  # "cpu", "cuda:0", ...
    size: tuple[int, int]  # the working size the model runs at (width, height)


@dataclass(frozen=True)
class Estimate:
    calls: int  # model evaluations (UNet samples; a guided call counts twice) of the plan
    seconds: float | None  # None = not measured yet on this model and device
    measured_here: bool  # measured at this very size (else scaled from another size)
    slow: bool  # the draft preset is worth offering

    def text(self) -> str:
        if self.seconds is None:  # the time is known after the first run on this model
            return f"Next edit: ~{self.calls} model evaluations"
        # "≈": scaled from a measurement at another size, rougher than "~" (measured here)
        approx = "~" if self.measured_here else "≈"
        return f"Next edit: {approx}{format_duration(self.seconds)} ({self.calls} evaluations)"


def format_duration(seconds: float) -> str:
    if seconds < 0.5:
        return "<1 s"
    seconds = round(seconds)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def plan_calls(request: EditRequest) -> float:
    """Model calls (cost units) the edit's job plan expects; 0 for an unknown kind."""
    try:
        plan = kind_of(request).plan(request)
    except KeyError:
        return 0.0
    return float(sum(phase.steps * phase.cost for phase in plan))


def work_size(request: EditRequest,
              region: tuple[int, int, int, int] | None = None) -> tuple[int, int]:
    """The size the model runs at: the edit region (`region`, else the one the request will
    resolve to, "auto" included) after the max-side scale."""
    if region is None:
        try:
            region = resolve_region(request)
        except (ValueError, TypeError, IndexError):  # invalid: the whole image, as a guess
            region = None
    if region is not None:
        width, height = region[2], region[3]
    else:
        height, width = request.image.shape[:2]
    try:
        return working_size(width, height, request.max_side).work
    except ValueError:
        return width, height


def cost_key(request: EditRequest, model: str, device: str,
             region: tuple[int, int, int, int] | None = None) -> CostKey:
    return CostKey(model, device, work_size(request, region))


class CostEstimates:
    """Seconds per model call, measured by finished edits, per (model, device, size)."""

    def __init__(self) -> None:
        self._per_call: dict[CostKey, float] = {}

    def record(self, key: CostKey, calls: float, seconds: float) -> None:
        if calls <= 0 or seconds <= 0:
            return
        value = seconds / calls
        old = self._per_call.get(key)
        self._per_call[key] = value if old is None else old + _SMOOTHING * (value - old)

    def to_json(self) -> dict[str, float]:
        """{"model|device|WxH": seconds per call} for the settings file."""
        return {f"{k.model}|{k.device}|{k.size[0]}x{k.size[1]}": v
                for k, v in self._per_call.items()}

    def load_json(self, data: dict[str, float]) -> None:
        """What `to_json` wrote; malformed items are skipped (a stale estimate costs nothing
        but a wrong guess until the next run measures again)."""
        for text, value in data.items():
            try:
                model, device, size = str(text).rsplit("|", 2)
                width, height = (int(v) for v in size.split("x"))
                seconds = float(value)
            except (ValueError, TypeError):
                continue
            if seconds > 0 and width > 0 and height > 0:
                self._per_call[CostKey(model, device, (width, height))] = seconds

    def per_call(self, key: CostKey) -> tuple[float, bool] | None:
        """(seconds per call, measured at this size) or None. Another size on the same model
        and device is scaled by the pixel count (the UNet's cost grows about linearly)."""
        if key in self._per_call:
            return self._per_call[key], True
        pixels = key.size[0] * key.size[1]
        others = [(k, v) for k, v in self._per_call.items()
                  if k.model == key.model and k.device == key.device]
        if not others or pixels <= 0:
            return None
        other, value = min(others, key=lambda kv: abs(kv[0].size[0] * kv[0].size[1] - pixels))
        return value * pixels / max(other.size[0] * other.size[1], 1), False

    def estimate(self, request: EditRequest, model: str, device: str,
                 region: tuple[int, int, int, int] | None = None) -> Estimate:
        """The estimate of `request` (its edit region `region` when known, else resolved)."""
        calls = plan_calls(request)
        known = self.per_call(cost_key(request, model, device, region))
        cpu = device.startswith("cpu")
        if known is None:
            return Estimate(round(calls), None, False, cpu)
        per_call, here = known
        return Estimate(round(calls), calls * per_call, here,
                        cpu or per_call > SLOW_SECONDS_PER_CALL)
