import os

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

# The tiny test models are far faster on one thread: with two, a busy 2-core CI machine turns a
# 8 ms UNet call into hundreds of ms of spinning threads.
torch.set_num_threads(1)
