"""Latent previews of a region edit show the region in place inside the photo."""

from __future__ import annotations

import numpy as np
from engine_helpers import TIMEOUT_MS, Recorder, wait_end
from PIL import Image

from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.engine import Engine
from sdedit_desktop.engine.region_preview import RegionPreviewPlacer
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.ui.qimage import qimage_to_rgb


def _photo(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_the_preview_lands_in_the_region_of_the_scaled_photo():
    image = _photo(800, 600)
    placer = RegionPreviewPlacer(image)
    preview = np.full((24, 32, 3), 7, np.uint8)  # a 256x192 region at 1/8
    out = placer.place(preview, (400, 200, 256, 192))
    assert out.shape == (75, 100, 3)  # the whole photo at 1/8
    assert (out[25:49, 50:82] == 7).all()  # the region, in place
    scaled = np.asarray(Image.fromarray(image).resize((100, 75), Image.Resampling.BILINEAR))
    outside = np.ones((75, 100), bool)
    outside[25:49, 50:82] = False
    assert np.array_equal(out[outside], scaled[outside])
    # A whole-image region is the preview itself.
    whole = np.zeros((75, 100, 3), np.uint8)
    assert placer.place(whole, (0, 0, 800, 600)) is whole


def test_engine_previews_of_a_region_drag_cover_the_whole_photo(qtbot):
    engine = Engine()
    recorder = Recorder(engine)
    try:
        engine.load_model(ModelSpec("tiny", device="cpu"))
        qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)
        image = _photo(640, 480)
        region = (256, 160, 128, 96)
        job = engine.submit(DragRequest(image=image, points=(((300, 200), (316, 204)),),
                                        steps=10, region=region))
        wait_end(qtbot, recorder, job)
        assert recorder.of("jobFinished", job)
        previews = [qimage_to_rgb(img) for _, img in recorder.of("preview", job)]
        latent_previews = [p for p in previews if p.shape[1] < 640]
        assert latent_previews
        for preview in latent_previews:
            h, w = preview.shape[:2]
            assert abs(w / h - 640 / 480) < 0.05  # the photo's shape, not the region's
            assert w == 640 // 8  # 1/8 of the photo: the region's latent is 1/8 of the region
    finally:
        engine.shutdown()
