"""Reconstruction metrics: PSNR and SSIM of the decoded result against the input, and the
latent error the paper's Table 3 is about (the reconstruction's latent against the encoded
input: Cycle-SDE is exact up to rounding, DDIM inversion is not), which the VAE round trip in
the pixel metrics hides."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.eval.metrics.base import KindMetrics, MetricOptions, Scores, TaskImages
from sdedit_desktop.eval.metrics.pixels import psnr, ssim

LATENT_ERRORS = ("latent_rmse", "latent_max_abs_err")


def reconstruct_metrics(_scorer: Any, task: TaskImages) -> Scores:
    values = {"psnr": psnr(task.source, task.edited), "ssim": ssim(task.source, task.edited)}
    for name in LATENT_ERRORS:
        if isinstance(task.edit_metrics.get(name), int | float):
            values[name] = float(task.edit_metrics[name])
    return Scores(values)


def describe(_options: MetricOptions) -> dict[str, str]:
    return {"psnr": "dB, decoded result vs input pixels (includes the VAE round trip)",
            "ssim": "decoded result vs input pixels",
            "latent_rmse": "RMSE of the reconstructed latent vs the encoded input "
                           "(the paper's Tab. 3 error)",
            "latent_max_abs_err": "largest absolute latent error"}


RECONSTRUCT_METRICS = KindMetrics(score=reconstruct_metrics, describe=describe)
