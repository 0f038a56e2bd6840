"""The paper's user study: a blind two-alternative forced-choice page and its tally.

`write_study` makes one page per participant, `study/p/<participant>.html`, and a list of them
in `study/index.html`. Each question shows the input, what was asked (for a drag: the points,
arrows and mask; the prompt) and two results under neutral names. The order of the questions
and which result is on the left are drawn per participant (seeded by the study and the
participant id, so a page can be made again identically), with each method on the left in half
of the questions. `study/key.json` says which image is which method and what each participant
was shown; it stays out of the pages so the pages stay blind.

`tally` maps the answers files saved by the pages back to methods through the key, counts each
participant once (the same answers given twice are one participant's), shows every method (zero
votes included) and gives an interval from a bootstrap over participants and questions: answers
of one participant, or about one sample, are not independent, and a pooled binomial interval
would be far too narrow.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.report.run_folder import load_rows
from sdedit_desktop.eval.stats import two_way_bootstrap
from sdedit_desktop.eval.store import (
    RunStore,
    is_plain_name,
    parse_json_bytes,
    read_failure,
    read_json,
    write_bytes_atomic,
    write_json,
)
from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.textsafe import shown

DEFAULT_QUESTION = "Which result is the better edit of the input?"
DEFAULT_PARTICIPANTS = 20
MAX_ANSWERS_BYTES = 4 * 1024 * 1024
MAX_PARTICIPANT_CHARS = 64
MAX_STUDY_IMAGE_BYTES = 256 * 1024 * 1024


class StudyError(ValueError):
    """No questions to ask, or answers that do not belong to this study."""


def participant_ids(spec: str | int) -> list[str]:
    """'12' -> p01..p12; 'anna,ben' -> those ids (plain names, at most 64 characters)."""
    text = str(spec).strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= 10_000:
            raise StudyError(f"--participants: between 1 and 10000 participants, got {count}")
        width = max(2, len(str(count)))
        return [f"p{n:0{width}d}" for n in range(1, count + 1)]
    ids = [p.strip() for p in text.split(",") if p.strip()]
    for pid in ids:
        if not is_plain_name(pid) or len(pid) > MAX_PARTICIPANT_CHARS:
            raise StudyError(f"--participants: {shown(pid, 40)!r} is not a usable id (letters, "
                             f"digits, '.', '_', '-'; at most {MAX_PARTICIPANT_CHARS})")
    if not ids or len(set(ids)) != len(ids):
        raise StudyError("--participants: give a number or distinct comma-separated ids")
    return ids


def participant_layout(study_id: str, participant: str, key: dict[str, Any],
                       methods: tuple[str, str]) -> dict[str, Any]:
    """The question order and, per question, which image ('a' or 'b') is on the left, for one
    participant: seeded by the study and the participant, with `methods[0]` on the left in
    half of the questions (one more when their number is odd, chosen at random)."""
    rng = random.Random(hashlib.sha256(f"{study_id}\0{participant}".encode()).hexdigest())
    order = sorted(key)
    rng.shuffle(order)
    first_left = [n < len(order) // 2 for n in range(len(order))]
    if len(order) % 2:
        first_left[-1] = rng.random() < 0.5
    rng.shuffle(first_left)
    left = {}
    for qid, first in zip(order, first_left, strict=True):
        wanted = methods[0] if first else methods[1]
        left[qid] = "a" if key[qid]["a"] == wanted else "b"
    return {"order": order, "left": left}


def _script_json(data: Any) -> str:
    """JSON that can sit inside <script>: no '</script>', no HTML, no JS line separators."""
    text = json.dumps(data)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace every placeholder in one pass: a value that contains another placeholder's
    name (a question with '__DATA__' in it) is pasted as it is."""
    return re.sub("|".join(map(re.escape, values)), lambda m: values[m.group(0)], template)


def write_study(store: RunStore, seed: int = 0, question: str = DEFAULT_QUESTION,
                methods: tuple[str, str] = ("sde", "ode"),
                participants: list[str] | None = None) -> Path:
    _run, rows = load_rows(store)
    participants = participants or participant_ids(DEFAULT_PARTICIPANTS)
    pairs: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["status"] == "ok":
            label = " ".join(f"{k}={v}" for k, v in r["setting"].items())
            pairs[(r["sample"], label)][r["method"]] = r
    usable = [(k, v) for k, v in pairs.items() if all(m in v for m in methods)]
    if not usable:
        raise StudyError(f"{store.root}: no sample has both {methods[0]} and {methods[1]} "
                         "results to compare")
    rng = random.Random(seed)
    a_is_first = [n < (len(usable) + 1) // 2 for n in range(len(usable))]
    rng.shuffle(a_is_first)  # neutral names: 'a' is either method, as often as the other
    folder = store.root / "study"
    key, entries = {}, {}
    for n, (((sample, label), by_method), first) in enumerate(
            zip(usable, a_is_first, strict=True)):
        qid = f"q{n + 1}"
        a, b = (methods[0], methods[1]) if first else (methods[1], methods[0])
        key[qid] = {"sample": sample, "setting": label, "a": a, "b": b}
        record = by_method[a]
        sources = {"input": store.input_path(sample), "a": store.root / by_method[a]["image"],
                   "b": store.root / by_method[b]["image"]}
        if store.instruction_path(sample).is_file():
            sources["asked"] = store.instruction_path(sample)
        entry: dict[str, Any] = {"id": qid, "prompt": shown(record.get("instruction", ""), 500)}
        for role, source in sources.items():
            try:
                data = store.read_bytes(source, MAX_STUDY_IMAGE_BYTES)
            except (OSError, ValueError) as exc:
                raise StudyError(f"{source}: cannot copy into the study ({exc})") from None
            name = f"images/{qid}_{role}.png"
            write_bytes_atomic(folder / name, lambda h, d=data: h.write(d))
            entry[role] = f"../{name}"
        entries[qid] = entry
    study_id = hashlib.sha256(json.dumps([seed, key], sort_keys=True).encode()).hexdigest()[:16]
    layouts = {pid: participant_layout(study_id, pid, key, methods) for pid in participants}
    write_json(folder / "key.json", {"study": study_id, "seed": seed, "methods": list(methods),
                                     "questions": key, "participants": layouts})
    for pid, layout in layouts.items():
        shown_questions = []
        for qid in layout["order"]:
            entry = entries[qid]
            left = layout["left"][qid]
            right = "b" if left == "a" else "a"
            shown_questions.append({"id": qid, "input": entry["input"],
                                    "asked": entry.get("asked"), "prompt": entry["prompt"],
                                    "left": entry[left], "right": entry[right]})
        page = _fill(_PAGE, {"__QUESTION__": html.escape(question),
                             "__DATA__": _script_json({"study": study_id, "participant": pid,
                                                       "questions": shown_questions})})
        write_bytes_atomic(folder / "p" / f"{pid}.html", lambda h, p=page: h.write(p.encode()))
    links = "".join(f'<li><a href="p/{html.escape(pid)}.html">{html.escape(pid)}</a></li>'
                    for pid in participants)
    index = _fill(_INDEX, {"__COUNT__": str(len(key)), "__LINKS__": links})
    write_bytes_atomic(folder / "index.html", lambda h: h.write(index.encode()))
    return folder / "index.html"


# -- tally ---------------------------------------------------------------------------------------
def _read_key(store: RunStore) -> dict[str, Any]:
    path = store.root / "study" / "key.json"
    key = read_json(path)
    if not isinstance(key, dict):
        raise StudyError(f"{store.root}: no readable study/key.json (run `sdedit eval study` "
                         "first)")

    def bad(what: str) -> StudyError:
        return StudyError(f"{path}: {what} (not a key written by `sdedit eval study`; make the "
                          "study again)")

    questions, layouts, methods = key.get("questions"), key.get("participants"), key.get(
        "methods")
    if not isinstance(key.get("study"), str) or not isinstance(questions, dict):
        raise bad("no study id or questions")
    for qid, q in questions.items():
        if not isinstance(q, dict) or not all(isinstance(q.get(k), str)
                                              for k in ("sample", "setting", "a", "b")):
            raise bad(f"question {shown(qid, 20)!r} is malformed")
    if not isinstance(methods, list) or len(methods) != 2 or not all(
            isinstance(m, str) for m in methods):
        raise bad("no pair of methods")
    if not isinstance(layouts, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("left"), dict)
            and all(v["left"].get(q) in ("a", "b") for q in questions)
            for v in layouts.values()):
        raise bad("no participant layouts")
    return key


def _read_answers(path: Path) -> Any:
    try:
        data = read_regular_bytes(path, MAX_ANSWERS_BYTES)
    except OSError as exc:  # missing, a FIFO or /dev/zero, too large, unreadable
        raise StudyError(read_failure(path, exc)) from None
    try:
        return parse_json_bytes(data)
    except ValueError as exc:
        raise StudyError(f"{path}: not an answers file saved by the study page ({exc})") \
            from None


def tally(store: RunStore, answer_files: list[Path], draws: int = 2000) -> dict[str, Any]:
    key = _read_key(store)
    questions, layouts, methods = key["questions"], key["participants"], key["methods"]
    by_participant: dict[str, dict[str, str]] = {}
    files: dict[str, list[str]] = defaultdict(list)
    for path in answer_files:
        data = _read_answers(path)
        if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
            raise StudyError(f"{path}: not an answers file saved by the study page")
        if data.get("study") != key["study"]:
            raise StudyError(f"{path}: answers for study {shown(data.get('study'), 40)!r}, but "
                             f"this run's study is {key['study']!r}")
        pid = data.get("participant")
        if not isinstance(pid, str) or pid not in layouts:
            raise StudyError(f"{path}: participant {shown(pid, 40)!r} is not one of this "
                             "study's participants")
        answers = {}
        for qid, side in data["answers"].items():
            if qid not in questions or side not in ("left", "right"):
                raise StudyError(f"{path}: unknown question {shown(qid, 20)!r} or answer "
                                 f"{shown(side, 20)!r}")
            answers[qid] = side
        if pid in by_participant and by_participant[pid] != answers:
            raise StudyError(f"{path}: participant {pid} answered differently in "
                             f"{files[pid][0]}: keep one of the two files")
        by_participant[pid] = answers
        files[pid].append(str(path))
    cells: dict[str, dict[tuple[str, str], float]] = {m: {} for m in methods}
    votes = dict.fromkeys(methods, 0)
    for pid, answers in by_participant.items():
        for qid, side in answers.items():
            left = layouts[pid]["left"][qid]
            image = left if side == "left" else ("b" if left == "a" else "a")
            chosen = questions[qid][image]
            votes[chosen] = votes.get(chosen, 0) + 1
            for m in methods:
                cells[m][(pid, questions[qid]["sample"] + "\0" + questions[qid]["setting"])] \
                    = 1.0 if chosen == m else 0.0
    total = sum(votes.values())
    result: dict[str, Any] = {
        "study": key["study"], "answers": total, "participants": len(by_participant),
        "votes": votes, "methods": {},
        "interval": f"95% percentile bootstrap over participants and questions ({draws} "
                    "draws)",
        "files": {pid: paths for pid, paths in files.items()},
        "duplicates": {pid: paths[1:] for pid, paths in files.items() if len(paths) > 1}}
    for m in methods:
        interval = two_way_bootstrap(cells[m], draws=draws)
        result["methods"][m] = {"votes": votes[m],
                                "share": votes[m] / total if total else None,
                                "ci95": list(interval) if interval else None}
    write_json(store.root / "study" / "tally.json", result)
    return result


_INDEX = """<!doctype html><html><head><meta charset="utf-8"><title>User study</title></head>
<body><h2>User study: __COUNT__ questions</h2><p>Send each participant their own page (the
question order and the sides differ per participant; the answers file names the participant).
</p><ul>__LINKS__</ul></body></html>
"""

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Which is better?</title>
<style>body{font-family:sans-serif;margin:1em;text-align:center}img{max-width:30vw;
max-height:50vh;margin:4px}button{font-size:18px;margin:8px 40px}#prompt{font-style:italic}
</style></head><body>
<h2>__QUESTION__</h2><p id="count"></p>
<div style="display:flex;justify-content:center"><div><div>input</div>
<img id="input" alt="input"></div><div id="asked-box"><div>what was asked</div>
<img id="asked" alt="what was asked"></div></div><p id="prompt"></p>
<div><img id="left" alt="left"><img id="right" alt="right"></div>
<div><button id="b-left">left</button><button id="b-right">right</button></div>
<div id="done" hidden><p>Thank you.</p><button id="save">Save answers</button></div>
<script>
const DATA = __DATA__;
const answers = {};
let i = 0;
function show() {
  const q = DATA.questions[i];
  document.getElementById("count").textContent = `${i + 1} / ${DATA.questions.length}`;
  for (const k of ["input", "left", "right"]) document.getElementById(k).src = q[k];
  document.getElementById("asked-box").hidden = !q.asked;
  if (q.asked) document.getElementById("asked").src = q.asked;
  document.getElementById("prompt").textContent = q.prompt ? `"${q.prompt}"` : "";
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
  const body = JSON.stringify({study: DATA.study, participant: DATA.participant, answers},
                              null, 1);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([body], {type: "application/json"}));
  a.download = `answers-${DATA.participant}.json`;
  a.click();
};
show();
</script></body></html>
"""
