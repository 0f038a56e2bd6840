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


@pytest.fixture
def errors():
    """The error dialogs the UI would have shown (ui/errors.py), instead of showing them."""
    from sdedit_desktop.ui.errors import error_handler

    shown = []
    with error_handler(lambda _parent, e: shown.append(e)):
        yield shown
