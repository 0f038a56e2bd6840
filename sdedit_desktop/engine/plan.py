"""What phases an edit will report and what their steps cost, estimated from the request.

Only used for the whole-job progress bar and the ETA (see progress_tracker.py): a wrong guess
costs accuracy, never correctness - the tracker trusts the totals the edit reports and drops or
adds phases as they show up. Each edit kind computes its own plan next to its algorithm
(edits/registry.py); costs are in UNet samples per step.
"""

from __future__ import annotations

from sdedit_desktop.edits.registry import kind_of
from sdedit_desktop.edits.requests import DragRequest, EditRequest
from sdedit_desktop.engine.progress_tracker import JobPlan


def drag_step_count(request: DragRequest) -> int:
    """The number of drag steps m the edit will make (Alg. 1, step 1), computed the way the
    edit does it. 1 if the request is invalid (the edit then fails before any step)."""
    try:
        return request.drag_step_count()
    except (ValueError, ZeroDivisionError):  # EditError is a ValueError
        return 1


def plan_for(request: EditRequest) -> JobPlan:
    """The expected phases of `request`; an empty plan for an unknown kind (then the tracker
    follows the phases as they come)."""
    try:
        kind = kind_of(request)
    except KeyError:
        return ()
    return kind.plan(request)
