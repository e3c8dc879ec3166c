"""Calibrating the generated-answer checker: its similarity and word-overlap thresholds.

    .venv/bin/python bench/calibrate_checker.py [--folds 5] [--per-question 8] [SETS...]

Labelled claims are made from the question sets and the corpus, without a model.
For each answerable question (`answers` not empty) the passages retrieved for it are
what a model would be given. A claim is a part of a sentence — its first clause, or
the rest — because models restate parts of sentences rather than copy them whole:

Each part is taken as it is and framed by the question's words ("How do I become an
ML engineer: a bachelor's degree is the usual start."), as answers restate the question.

- **supported**: parts of the sentences of a given passage, checked against it;
- **unsupported**: the same kind of parts of sentences from the same articles outside
  the given passages (same topic, same vocabulary: the hard case) that restate none
  of them (cosine below 0.9 to every sentence of every given passage), checked
  against the given passage closest to them — a model citing the likeliest passage.

The thresholds are chosen on a grid to maximise balanced accuracy (the mean of the
share of supported claims kept and of unsupported claims dropped). Questions are
split into k folds; each fold is scored with the thresholds chosen on the others, so
the figures printed are out-of-fold. The last table fits on all questions: those are
the values to put in `src/careerqa/checking.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from careerqa import checking  # noqa: E402
from careerqa.answering import make_citations  # noqa: E402
from careerqa.assistant import Assistant  # noqa: E402
from careerqa.checking import Claim, is_claim, measure  # noqa: E402
from careerqa.cli import _assistant  # noqa: E402
from careerqa.evaluation import load_questions  # noqa: E402
from careerqa.settings import Settings  # noqa: E402

SETS = [REPO / "eval" / name for name in ("dev.jsonl", "dev2.jsonl", "extra.jsonl")]
SIMILARITIES = np.round(np.arange(0.0, 0.901, 0.025), 3)
OVERLAPS = np.round(np.arange(0.0, 0.901, 0.05), 3)
RESTATES = 0.9  # a sentence this close to a given one says the same: not a negative


@dataclass(frozen=True)
class Labelled:
    question: int  # index of the question it was made for (the fold unit)
    supported: bool
    similarity: float
    overlap: float
    figures_ok: bool


def parts(sentence: str) -> list[str]:
    """A sentence's first clause and the rest (the whole of a short sentence)."""
    words = sentence.split()
    if len(words) < 8:
        return [sentence]
    cut = next(
        (i + 1 for i, w in enumerate(words[3:-3], start=3) if w.endswith((",", ";", ":"))),
        len(words) // 2,
    )
    return [" ".join(words[:cut]).rstrip(",;:") + ".", " ".join(words[cut:])]


async def labelled_for(
    assistant: Assistant, number: int, question: str, per_question: int, rng: random.Random
) -> list[Labelled]:
    """Supported and unsupported claims for one question, measured."""
    hits, _ = await assistant.retrieve(question)
    if not hits:
        return []
    passages = assistant.passages(hits, make_citations(hits, assistant.index))
    table = assistant.index.sentences
    given = {
        row: p
        for hit, p in zip(hits, passages, strict=True)
        for row in range(*hit.chunk.sentence_rows)
    }
    docs = {hit.chunk.chunk.doc_id for hit in hits}
    given_vectors = table.vectors[sorted(given)]
    outside = [
        row
        for row, doc in enumerate(table.docs)
        if doc in docs
        and row not in given
        and table.texts[row]
        and float((given_vectors @ table.vectors[row]).max()) < RESTATES
    ]
    chosen = [(row, True) for row in rng.sample(sorted(given), min(per_question, len(given)))]
    chosen += [(row, False) for row in rng.sample(outside, min(per_question, len(outside)))]
    frame = question.rstrip(" ?")  # models restate the question around what they cite
    texts = [
        (claim, row, label)
        for row, label in chosen
        for part in parts(table.texts[row])
        for claim in (part, f"{frame}: {part[0].lower()}{part[1:]}")
    ]
    vectors = await asyncio.to_thread(assistant.embedder.embed, [t for t, _, _ in texts])
    out = []
    for (text, row, supported), vector in zip(texts, vectors, strict=True):
        # An unsupported claim is checked against the passage a model would likely cite.
        closest = max(passages, key=lambda p: float(p.vector @ vector))
        passage = given[row] if supported else closest
        claim = Claim(text, (passage.n,), item=False)
        if not is_claim(claim, passages):
            continue
        m = measure(claim, vector, passage)
        out.append(Labelled(number, supported, m.similarity, m.overlap, not m.missing))
    return out


def scores(rows: list[Labelled], min_similarity: float, min_overlap: float) -> dict[str, float]:
    """Share of supported claims kept, of unsupported dropped, and their mean."""
    kept = [
        r.figures_ok and r.similarity >= min_similarity and r.overlap >= min_overlap for r in rows
    ]
    pos = [k for k, r in zip(kept, rows, strict=True) if r.supported]
    neg = [not k for k, r in zip(kept, rows, strict=True) if not r.supported]
    keep = sum(pos) / max(len(pos), 1)
    drop = sum(neg) / max(len(neg), 1)
    return {"kept": keep, "dropped": drop, "balanced": (keep + drop) / 2}


def fit(rows: list[Labelled]) -> tuple[float, float]:
    """The grid point of best balanced accuracy (ties: the strictest)."""
    best = max(
        ((scores(rows, s, o)["balanced"], s, o) for s in SIMILARITIES for o in OVERLAPS),
        key=lambda t: (round(t[0], 6), t[1], t[2]),
    )
    return float(best[1]), float(best[2])


def cross_validate(rows: list[Labelled], folds: int, seed: int) -> tuple[list, dict[str, float]]:
    questions = sorted({r.question for r in rows})
    random.Random(seed).shuffle(questions)
    fold_of = {q: i % folds for i, q in enumerate(questions)}
    chosen, judged = [], []
    for k in range(folds):
        train = [r for r in rows if fold_of[r.question] != k]
        test = [r for r in rows if fold_of[r.question] == k]
        s, o = fit(train)
        chosen.append((k, s, o, scores(test, s, o)))
        judged += [(r, s, o) for r in test]
    pos = [r for r, _, _ in judged if r.supported]
    kept = sum(
        r.figures_ok and r.similarity >= s and r.overlap >= o for r, s, o in judged if r.supported
    )
    dropped = sum(
        not (r.figures_ok and r.similarity >= s and r.overlap >= o)
        for r, s, o in judged
        if not r.supported
    )
    keep, drop = kept / len(pos), dropped / (len(judged) - len(pos))
    return chosen, {"kept": keep, "dropped": drop, "balanced": (keep + drop) / 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", type=Path, default=SETS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--per-question", type=int, default=8, help="sentences of each label")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    assistant = _assistant(Settings())
    rng = random.Random(args.seed)
    questions = [q for path in args.sets for q in load_questions(path) if q.answers]

    async def gather() -> list[Labelled]:
        rows = []
        for number, q in enumerate(questions):
            rows += await labelled_for(assistant, number, q.question, args.per_question, rng)
        return rows

    rows = asyncio.run(gather())
    positives = sum(r.supported for r in rows)
    print(
        f"{len(questions)} questions, {positives} supported and {len(rows) - positives} "
        "unsupported claims\n"
    )
    chosen, oof = cross_validate(rows, args.folds, args.seed)
    print("| fold | similarity ≥ | overlap ≥ | kept (held out) | dropped (held out) |")
    print("| --- | --- | --- | --- | --- |")
    for k, s, o, sc in chosen:
        print(f"| {k + 1} | {s:.3f} | {o:.2f} | {sc['kept']:.3f} | {sc['dropped']:.3f} |")
    print(
        f"\nout-of-fold: kept {oof['kept']:.3f}, dropped {oof['dropped']:.3f}, "
        f"balanced {oof['balanced']:.3f}\n"
    )
    s, o = fit(rows)
    now = scores(rows, checking.MIN_SIMILARITY, checking.MIN_OVERLAP)
    best = scores(rows, s, o)
    print("| thresholds | similarity ≥ | overlap ≥ | kept | dropped | balanced |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (a, b), sc in (
        ("in checking.py", (checking.MIN_SIMILARITY, checking.MIN_OVERLAP), now),
        ("fitted on all", (s, o), best),
    ):
        print(
            f"| {name} | {a:.3f} | {b:.2f} | {sc['kept']:.3f} | {sc['dropped']:.3f} | "
            f"{sc['balanced']:.3f} |"
        )


if __name__ == "__main__":
    main()
