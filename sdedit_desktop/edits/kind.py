"""`EditKind`: everything about one kind of edit in one object.

Each kind lives in its own module under `edits/kinds/` (its request type next to its kind object);
the algorithm it runs lives in the method module beside it (`edits/drag.py`, ...). Every table
and branch that used to name a kind — the method panels and their texts, the canvas checks, the
presets, the CLI sub-commands, the editor's rules for results, the eval data sets and metrics, the
benchmark cases — is derived from the registered kinds (`edits/kinds/__init__.py`).

Torch-free: the run function reaches its method module through a lazy import inside the kind's
module (a real reference a reader and a tool can follow), so the editor can list kinds, build
requests and plan jobs without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sdedit_desktop.core.plan import JobPlan
from sdedit_desktop.core.types import PlacedPair
from sdedit_desktop.edits.composite import SeamSide
from sdedit_desktop.edits.masks import MaskUse
from sdedit_desktop.edits.requests import EditRequest, EditResult

if TYPE_CHECKING:
    import numpy as np

R = TypeVar("R", bound=EditRequest)

# (session, request, reporter, execution options, LoRA provider) -> EditResult; the session is
# an `edits.session.EditSession` (typed loosely here: that module imports torch).
RunFn = Callable[[Any, Any, Any, Any, Any], EditResult]
# (panel values, the canvas's point pairs, whether the canvas mask has any paint) -> what the
# user must do before this edit can run, or "" when the canvas holds what it needs.
CanvasCheck = Callable[[Mapping[str, Any], "list[PlacedPair]", bool], str]


def no_canvas_check(_values: Mapping[str, Any], _points: list[PlacedPair], _painted: bool
                    ) -> str:
    """Nothing on the canvas is needed."""
    return ""


@dataclass(frozen=True)
class MethodTexts:
    """What the editor and the CLI call the two forms of a kind, and what they do."""

    sde_label: str  # "SDE-Drag"
    ode_label: str  # "ODE-Drag"
    sde_tip: str
    ode_tip: str

    def label(self, method: str) -> str:
        return self.sde_label if method == "sde" else self.ode_label


@dataclass(frozen=True)
class CliSpec:
    """The kind's `sdedit KIND` sub-command beyond the options generated from the schema."""

    help: str  # one line in `sdedit --help`
    # The CLI's own names for the methods (besides sde/ode), and the default it shows.
    method_aliases: Mapping[str, str] = field(default_factory=dict)
    default_method: str | None = None
    required: frozenset[str] = frozenset()  # parameters an edit without them means nothing
    trajectory_batch: bool = False  # --trajectory-batch (Cycle-SDE trajectory batching)
    saves_trajectory: bool = False  # --save-trajectory DIR (one image per step)
    saves_mask: bool = False  # --save-mask FILE (the mask the edit used, e.g. an auto mask)

    def method_of(self, name: str) -> str:
        """A CLI method name (an alias or sde/ode) -> the request's method."""
        return self.method_aliases.get(name, name)


@dataclass(frozen=True)
class EvalOption:
    """An option of `sdedit eval KIND` that chooses how the kind is scored: `--NAME`, stored as
    the `eval.metrics.base.MetricOptions` field `name`."""

    name: str  # e.g. "dift_ensemble" -> --dift-ensemble
    help: str
    default: Any = None
    type: Callable[[str], Any] = str
    bounds: tuple[int, int] | None = None  # whole numbers: the allowed range
    metavar: str | None = None


@dataclass(frozen=True)
class EvalSpec:
    """How `sdedit eval KIND DATASET` reads its data set and scores its outputs."""

    layout: str  # what the data set looks like (CLI help)
    # (data set path) -> list of `eval.samples.Sample`, in a stable order.
    samples: Callable[[Any], list[Any]]
    # () -> the kind's `eval.metrics.base.KindMetrics` (a lazy getter: metrics import torch).
    metrics: Callable[[], Any]
    # Request fields each sample supplies (the CLI does not offer them as options).
    from_data: frozenset[str] = frozenset()
    # Request fields the run sweeps: field -> (default values, what the sweep is for); the CLI
    # takes `--FIELD a,b,c`.
    sweeps: Mapping[str, tuple[tuple[Any, ...], str]] = field(default_factory=dict)
    # Request options whose default differs from the single-image command's: field ->
    # (value, help), e.g. a fixed prompt for every sample.
    defaults: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    options: tuple[EvalOption, ...] = ()  # how the metrics are computed
    fid: bool = False  # FID of the edited images against the inputs, per group
    # `--preset NAME`: request settings of a published evaluation (e.g. the paper's own study
    # as its official script ran it); options set to other than their defaults override them.
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EditKind(Generic[R]):
    """One kind of edit: its request type, algorithm, job plan and how every surface presents it.
    """

    name: str  # "drag": the request's `kind`, the CLI sub-command, the project key
    title: str  # tab title
    request_type: type[R]
    run: RunFn
    plan: Callable[[R], JobPlan]
    methods: MethodTexts
    hint: str  # the panel's line on what to do on the canvas
    cli: CliSpec
    canvas_check: CanvasCheck = no_canvas_check
    # Its result becomes the working image (False: a measurement that only joins the history).
    applies_result: bool = True
    # Which side of the mask the composite's seam lies on (edits/composite.py): OUTSIDE for a
    # mask that marks what is replaced, so none of the removed content survives in the hole.
    seam: SeamSide = SeamSide.INSIDE
    # Preset name -> the fields it changes (edits/presets.py); "paper" is every field's default.
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Latent precision the request asks for ("float32"/"float64"), or None for the model's.
    latent_dtype: Callable[[R], str | None] = lambda _request: None
    # Extra words for the history line (e.g. "2 pt").
    history_detail: Callable[[R], list[str]] = lambda _request: []
    eval: EvalSpec | None = None
    # (image HxWx3 uint8, mask HxW uint8, size) -> the paper-default request `sdedit bench` times.
    bench_case: Callable[[np.ndarray, np.ndarray, int], R] | None = None
    # `sdedit bench` also times it executed as the paper's reference code does (float32, eager,
    # every guided step at batch 4) and reports the speed-up.
    bench_reference: bool = False

    @property
    def mask_use(self) -> MaskUse:
        return self.request_type.mask_use

    @property
    def uses_points(self) -> bool:
        return self.request_type.uses_points

    def __post_init__(self) -> None:
        if self.request_type.kind != self.name:
            raise ValueError(f"kind {self.name!r} has a request of kind "
                             f"{self.request_type.kind!r}")
