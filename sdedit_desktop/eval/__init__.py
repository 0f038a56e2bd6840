"""`sdedit eval`: the paper's experiments as batch runs over data sets.

datasets/ turns a folder or a list file into samples, runner.py runs every sample x method x
setting through `sdedit_desktop.edits.run_edit` (sharded over accelerate's processes, resumable),
metrics/ scores the outputs and report/ writes the per-run tables, pages and the user study.
"""
