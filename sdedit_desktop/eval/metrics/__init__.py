"""Scores for `sdedit eval`: per-task (scoring.py) and per-run (fid.py); weights-free metrics
always, learned ones (LPIPS, CLIP score, FID) only when their weights are on this machine."""
