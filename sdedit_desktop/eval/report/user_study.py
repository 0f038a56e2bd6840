"""The paper's user study: a blind two-alternative forced-choice page and its tally.

`write_study` makes study/index.html (one question per sample and setting with both an SDE and
an ODE result, left/right drawn at random per question) and study/key.json (which side is
which: kept out of the page so the page stays blind). Participants' answers are saved by the
page as a JSON file; `tally` maps them back to methods through the key.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.report.merge import load_rows
from sdedit_desktop.eval.stats import wilson_interval
from sdedit_desktop.eval.store import RunStore, read_json, write_bytes_atomic, write_json

DEFAULT_QUESTION = "Which result is the better edit of the input?"


class StudyError(ValueError):
    """No questions to ask, or answers that do not belong to this study."""


def write_study(store: RunStore, seed: int = 0, question: str = DEFAULT_QUESTION,
                methods: tuple[str, str] = ("sde", "ode")) -> Path:
    _run, rows = load_rows(store)
    pairs: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["status"] == "ok":
            label = " ".join(f"{k}={v}" for k, v in r["setting"].items())
            pairs[(r["sample"], label)][r["method"]] = r
    rng = random.Random(seed)
    questions, key = [], {}
    for n, ((sample, label), by_method) in enumerate(
            (k, v) for k, v in pairs.items() if all(m in v for m in methods)):
        left, right = rng.sample(list(methods), 2)
        qid = f"q{n + 1}"
        key[qid] = {"sample": sample, "setting": label, "left": left, "right": right}
        # Copies under neutral names: the run's file names say which method made an image.
        entry = {"id": qid}
        for side, source in (("input", by_method[left]["input"]),
                             ("left", by_method[left]["image"]),
                             ("right", by_method[right]["image"])):
            name = f"images/{qid}_{side}.png"
            data = (store.root / source).read_bytes()
            write_bytes_atomic(store.root / "study" / name, lambda h, d=data: h.write(d))
            entry[side] = name
        questions.append(entry)
    if not questions:
        raise StudyError(f"{store.root}: no sample has both {methods[0]} and {methods[1]} "
                         "results to compare")
    study_id = hashlib.sha256(json.dumps([seed, key], sort_keys=True).encode()).hexdigest()[:16]
    folder = store.root / "study"
    write_json(folder / "key.json", {"study": study_id, "seed": seed, "questions": key})
    page = _PAGE.replace("__QUESTION__", html.escape(question)).replace(
        "__DATA__", json.dumps({"study": study_id, "questions": questions}))
    write_bytes_atomic(folder / "index.html", lambda h: h.write(page.encode("utf-8")))
    return folder / "index.html"


def tally(store: RunStore, answer_files: list[Path]) -> dict[str, Any]:
    key = read_json(store.root / "study" / "key.json")
    if not isinstance(key, dict):
        raise StudyError(f"{store.root}: no study/key.json (run `sdedit eval study` first)")
    votes: dict[str, int] = defaultdict(int)
    per_file = []
    for path in answer_files:
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
            raise StudyError(f"{path}: not an answers file saved by the study page")
        if data.get("study") != key["study"]:
            raise StudyError(f"{path}: answers for study {data.get('study')!r}, but this run's "
                             f"study is {key['study']!r}")
        mine: dict[str, int] = defaultdict(int)
        for qid, side in data["answers"].items():
            question = key["questions"].get(qid)
            if question is None or side not in ("left", "right"):
                raise StudyError(f"{path}: unknown question {qid!r} or answer {side!r}")
            mine[question[side]] += 1
        for method, count in mine.items():
            votes[method] += count
        per_file.append({"file": str(path), "participant": data.get("participant", ""),
                         "votes": dict(mine)})
    total = sum(votes.values())
    result: dict[str, Any] = {"study": key["study"], "answers": total, "votes": dict(votes),
                              "participants": per_file}
    for method in sorted(votes):
        low, high = wilson_interval(votes[method], total)
        result[f"{method}_preferred"] = {"share": votes[method] / total, "ci95": [low, high]}
    write_json(store.root / "study" / "tally.json", result)
    return result


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Which is better?</title>
<style>body{font-family:sans-serif;margin:1em;text-align:center}img{max-width:30vw;
max-height:60vh;margin:4px}button{font-size:18px;margin:8px 40px}</style></head><body>
<h2>__QUESTION__</h2><p id="count"></p>
<div><div>input</div><img id="input" alt="input"></div>
<div><img id="left" alt="left"><img id="right" alt="right"></div>
<div><button id="b-left">left</button><button id="b-right">right</button></div>
<div id="done" hidden><p>Thank you. Your name or code (optional):
<input id="participant"></p><button id="save">Save answers</button></div>
<script>
const DATA = __DATA__;
const answers = {};
let i = 0;
function show() {
  const q = DATA.questions[i];
  document.getElementById("count").textContent = `${i + 1} / ${DATA.questions.length}`;
  for (const k of ["input", "left", "right"]) document.getElementById(k).src = q[k];
}
function answer(side) {
  if (i >= DATA.questions.length) return;
  answers[DATA.questions[i].id] = side;
  i += 1;
  if (i < DATA.questions.length) { show(); return; }
  document.getElementById("done").hidden = false;
  for (const b of ["b-left", "b-right"]) document.getElementById(b).disabled = true;
}
document.getElementById("b-left").onclick = () => answer("left");
document.getElementById("b-right").onclick = () => answer("right");
document.getElementById("save").onclick = () => {
  const body = JSON.stringify({study: DATA.study, answers,
    participant: document.getElementById("participant").value}, null, 1);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([body], {type: "application/json"}));
  a.download = "answers.json";
  a.click();
};
show();
</script></body></html>
"""
