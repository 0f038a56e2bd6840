"""Per-run outputs: results.csv, summary.json, results.md, contact_sheet.png, index.html, and
the blind two-alternative forced-choice study page."""
