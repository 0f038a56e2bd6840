"""`sdedit theory`: the paper's Thm 3.1/3.2 measured on a 1-D Gaussian mixture."""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from sdedit_desktop.cli.common import CliError, Output, check_outputs, check_range, float_list
from sdedit_desktop.filesave import write_bytes, write_text

if TYPE_CHECKING:
    from sdedit_desktop.diffusion.theory import KLCurve

MAX_SAMPLES = 20_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("theory", help="measure KL(p_t||q_t) under SDE and ODE sampling",
                       description="Sample a 1-D Gaussian mixture model from mismatched priors "
                       "with the SDE (DDPM) and the ODE (DDIM) and estimate KL along t.")
    p.add_argument("--means", type=float_list, default=[-1.0, 1.0])
    p.add_argument("--stds", type=float_list, default=[0.5, 0.5])
    p.add_argument("--weights", type=float_list, default=[0.5, 0.5])
    p.add_argument("--prior", action="append", default=None, metavar="SPEC",
                   help="normal:MEAN,STD or uniform:LOW,HIGH (repeatable; default normal:0,2)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--samples", type=int, default=200_000)
    p.add_argument("--schedule", choices=("cosine", "sd15"), default="cosine")
    p.add_argument("--start", type=float, default=1.0,
                   help="start time as a fraction of the grid (1.0 = pure-noise end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # torch is imported when the command runs, not when `sdedit --help` lists it.
    from sdedit_desktop.diffusion.schedule import cosine_schedule, sd15_schedule
    from sdedit_desktop.diffusion.theory import Prior, kl_along_sampling
    from sdedit_desktop.diffusion.toy import GaussianMixture1D

    try:
        data = GaussianMixture1D.create(args.means, args.stds, args.weights)
        priors = [Prior.parse(s) for s in (args.prior or ["normal:0,2"])]
    except ValueError as exc:
        raise CliError(str(exc)) from None
    for spec, prior in zip(args.prior or [], priors, strict=False):
        if not (math.isfinite(prior.a) and math.isfinite(prior.b)):
            raise CliError(f"bad prior {spec!r}: its numbers must be finite")
    if not 1 <= args.steps <= 1000:
        raise CliError(f"--steps must be between 1 and 1000, got {args.steps}")
    # Enough for a usable estimate, few enough to fit in memory (8 bytes per sample, a few
    # copies along the way).
    check_range("--samples", args.samples, 1000, MAX_SAMPLES)
    check_outputs(Output(args.out, "--out", folder=True))
    schedule = cosine_schedule() if args.schedule == "cosine" else sd15_schedule()
    curves: dict[str, KLCurve] = {}
    for spec, prior in zip(args.prior or ["normal:0,2"], priors, strict=True):
        try:
            curves[spec] = kl_along_sampling(data, prior, schedule, args.steps, args.samples,
                                             args.seed, args.start)
        except (ValueError, FloatingPointError) as exc:
            raise CliError(str(exc)) from None
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create output folder {args.out}: {exc.strerror}") from None
    record = {
        "mixture": {"means": data.means, "stds": data.stds, "weights": data.weights},
        "schedule": args.schedule, "steps": args.steps, "samples": args.samples,
        "priors": {
            k: {"t": c.t, "kl_sde": c.kl_sde, "kl_ode": c.kl_ode} for k, c in curves.items()
        },
    }
    try:
        write_text(args.out / "theory.json", json.dumps(record, indent=2))
        plot_curves(curves, args.out / "theory.png")
    except OSError as exc:
        raise CliError(str(exc)) from None
    for spec, c in curves.items():
        print(f"{spec:>20}: KL SDE {c.kl_sde[0]:.4f} -> {c.kl_sde[-1]:.4f}   "
              f"KL ODE {c.kl_ode[0]:.4f} -> {c.kl_ode[-1]:.4f}")
    print(f"wrote {args.out / 'theory.json'} and {args.out / 'theory.png'}")
    return 0


def plot_curves(curves: dict[str, KLCurve], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (spec, c) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        ax.plot(c.t, [max(v, 1e-4) for v in c.kl_sde], color=color, lw=2,
                label=f"SDE, prior {spec}")
        ax.plot(c.t, [max(v, 1e-4) for v in c.kl_ode], color=color, lw=2, ls="--",
                label=f"ODE, prior {spec}")
    ax.set_xlim(max(max(c.t) for c in curves.values()), 0)  # time runs right to left: t -> 0
    ax.set_yscale("log")  # KL estimates are >= 0; show values down to the estimator's bias
    ax.set_ylim(bottom=1e-4)
    ax.set_xlabel("time t (sampling runs from left to right, towards the data at t = 0)")
    ax.set_ylabel("KL(p_t || q_t)")
    ax.set_title("Mismatched start: the SDE forgets it, the ODE keeps it (Thm 3.1 / 3.2)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_bytes(path, buffer.getvalue())
