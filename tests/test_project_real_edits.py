"""Real edits from the tiny model (not fakes) survive the file, and every stored request replays
to the stored result: the project file is enough to reproduce each edit."""

from __future__ import annotations

import numpy as np

from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.project import HistoryEntry, Project, load_project, save_project


def test_real_edits_round_trip_and_replay(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[8:40, 16:48] = 255
    model_id = tiny_model.identity
    requests = [
        DragRequest(image=image, mask=mask, points=(((10, 10), (30, 20)),), steps=10,
                    model=model_id),
        InpaintRequest(image=image, mask=mask, method="sde", steps=5, prompt="x",
                       model=model_id),
        DiffEditRequest(image=image, source_prompt="a", target_prompt="b", steps=5,
                        mask_samples=2, model=model_id),
        ReconstructRequest(image=image, method="ode", steps=5, model=model_id),
    ]
    project = Project(image=image, mask=mask, points=[((10, 10), (30, 20))])
    for request in requests:
        project.add_entry(HistoryEntry(result=run_edit(tiny_model, request)))
    first = project.history[0]
    follow = DragRequest(image=first.result.image, points=(((30, 20), (40, 20)),), steps=10,
                         model=model_id, seed=5)
    project.add_entry(HistoryEntry(result=run_edit(tiny_model, follow), parent_id=first.id))

    path = tmp_path / "real.sdeproj"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded == project
    assert len(loaded.history[0].result.trajectory) >= 2  # a multi-step drag
    assert loaded.history[2].result.mask.shape == (48, 64)  # DiffEdit's auto mask
    for entry in loaded.history:
        replay = run_edit(tiny_model, entry.request)  # everything needed comes from the file
        assert np.array_equal(replay.image, entry.result.image), entry.request.kind
        assert entry.request.model == model_id
