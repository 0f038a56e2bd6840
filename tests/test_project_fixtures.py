"""The shared project builders (tests/project_helpers.py) really cover every edit kind, method
and request field, and chain continued edits as the editor does."""

from __future__ import annotations

from dataclasses import fields

from project_helpers import make_project

from sdedit_desktop.edits.kinds import request_types


def test_fixture_covers_every_kind_method_and_field():
    requests = [e.request for e in make_project().history]
    assert {r.kind for r in requests} == set(request_types())
    assert {(r.kind, r.method) for r in requests} == {
        (k, m) for k in request_types() for m in ("sde", "ode")}
    for kind, cls in request_types().items():
        of_kind = [r for r in requests if r.kind == kind]
        for f in fields(cls):
            if f.name in ("image", "mask"):
                continue
            values = {repr(getattr(r, f.name)) for r in of_kind}
            assert len(values) >= 2, (kind, f.name)


def test_fixture_continues_from_previous_results():
    project = make_project()
    chained = [e for e in project.history if e.parent_id is not None]
    assert len(chained) == 2
    for entry in chained:
        parent = project.find_entry(entry.parent_id)
        assert entry.request.image is parent.result.image
