import os

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The tiny test models are far faster on one thread: with two, a busy 2-core CI machine turns a
# 8 ms UNet call into hundreds of ms of spinning threads. The engine's and the CLI's thread
# policy (models/cpu_threads.py) follows OMP_NUM_THREADS, and so do subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)


import pytest  # noqa: E402


# -- shared fixtures: the tiny model, the real engine, error dialogs, test photos ---------------
@pytest.fixture(scope="session")
def make_tiny_model():
    """`build_tiny_model(seed=0, device="cpu", dtype=torch.float32, unet_config=None)`: a fresh
    tiny SD 1.x model with random weights (the real architecture, shrunk) for a test that changes
    it or needs another seed, precision or UNet layout."""
    from sdedit_desktop.models.tiny import build_tiny_model

    return build_tiny_model


@pytest.fixture(scope="module")
def tiny_model(make_tiny_model):
    """The tiny model (seed 0, float32, CPU), built once and shared by a module's tests; a test
    that changes it undoes its change (monkeypatch, detaching a LoRA)."""
    return make_tiny_model(0)


@pytest.fixture
def errors():
    """The error dialogs the app would show, collected instead of shown (ShownError items)."""
    from sdedit_desktop.ui.errors import error_handler

    shown = []
    with error_handler(lambda _parent, error: shown.append(error)):
        yield shown


@pytest.fixture
def engine(qtbot):
    """The real engine (its worker thread runs real edits, e.g. through the tiny model), shut
    down after the test."""
    from sdedit_desktop.engine import Engine

    running = Engine()
    yield running
    running.shutdown()


@pytest.fixture(scope="session")
def make_image():
    """`make_image(width=96, height=64, seed=0)`: a textured test photo (images.py)."""
    from images import textured_image

    return textured_image


@pytest.fixture
def hub_server(monkeypatch, tmp_path):
    """A local Hugging Face hub (tests/hub_server.py) for the real huggingface_hub client:
    HF_ENDPOINT points at it, the hub cache is a fresh folder, and the offline switch this file
    sets for every other test is lifted (the library reads it once, at import)."""
    from hub_server import HubServer
    from huggingface_hub import constants
    from huggingface_hub.utils import close_session

    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Never send a developer's own token: none in the environment, none in a token file.
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    close_session()  # a fresh HTTP client that reads NO_PROXY
    yield server
    close_session()
    server.stop()
