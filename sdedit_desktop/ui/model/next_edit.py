"""The edit Run would send now, built in one place from the canvas (image, mask, points, the
user's region) and the next-edit parameters: Run submits it, the run box estimates it and the
canvas frames its region. Pure Python over the document and the parameters (no widgets)."""

from __future__ import annotations

from dataclasses import dataclass

from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.edits.region import Region, resolve_region
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.ui.model.document import EditorDocument
from sdedit_desktop.ui.model.edit_params import EditParams

NO_IMAGE = "Open an image first (File > Open, drop a file, paste, or pick a sample)."


@dataclass(frozen=True)
class NextEdit:
    """The next edit: its request (None without an image), why Run would refuse it ("" when it
    can run), and the region it would edit."""

    request: EditRequest | None
    problem: str
    region: Region | None  # None when it cannot be told (no image, an unusable region)
    explicit: bool  # the region is the user's choice (else "auto")
    shown: bool  # the kind edits a region (the canvas draws the frame)
    region_error: str = ""  # why the user's region (or the auto one) cannot serve this edit
    max_side: int | None = None

    @property
    def runnable(self) -> bool:
        return self.request is not None and not self.problem


def sentence(text: str) -> str:
    """An edit error as a sentence for a dialog: capitalised, one full stop."""
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def build_next_edit(doc: EditorDocument, params: EditParams, kind_name: str,
                    model: ModelIdentity | None) -> NextEdit:
    """The next edit of `kind_name` for what the document holds. The request shares the
    document's arrays: copy them before it outlives this moment (Run does)."""
    kind = kind_named(kind_name)
    max_side = params.value(kind_name, "max_side")
    shown = kind.mask_use.used
    if doc.image is None:
        return NextEdit(None, NO_IMAGE, None, False, shown, max_side=max_side)
    values = params.get(kind_name)
    painted = not doc.mask_is_empty()
    # Which mask goes into a request: the kind's rule, the one place it is applied.
    mask = doc.mask if kind.mask_use.sends(values, painted) else None
    choice = doc.region if shown else None
    request = params.build_request(kind_name, doc.image, mask, doc.points, region=choice,
                                   model=model)
    problem = kind.canvas_check(values, doc.points, painted)
    if not problem:
        try:
            request.validate()
        except EditError as exc:
            problem = sentence(str(exc))
    region, region_error = None, ""
    try:
        region = resolve_region(request)
    except (EditError, ValueError, TypeError, IndexError) as exc:
        region_error = str(exc)
        if not problem:
            problem = sentence(str(exc)) + (" Move or resize the frame, or use Edit > Auto "
                                            "region." if choice is not None else "")
    return NextEdit(request, problem, region if region is not None else choice,
                    choice is not None, shown, region_error, max_side)
