"""Scoring the assistant on a question set (metrics: docs/architecture.md, Evaluation)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .answering import Answer, cited_numbers
from .errors import CareerQAError
from .shapes import SHAPES, question_shape


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]


def normalize(text: str) -> str:
    """Lower-case and collapse white space, as the question set's matching rule says."""
    return " ".join(text.lower().split())


def matches(text: str, answers: list[str]) -> bool:
    norm = normalize(text)
    return any(normalize(a) in norm for a in answers)


def load_questions(path: Path) -> list[EvalQuestion]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CareerQAError(f"cannot read question set {path}: {exc}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                EvalQuestion(str(row["id"]), str(row["question"]), list(row.get("answers") or []))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CareerQAError(f"{path}:{number}: not a question line ({exc})") from exc
    if not out:
        raise CareerQAError(f"{path} holds no questions")
    return out


@dataclass(frozen=True)
class EvalRow:
    """How one question fared."""

    id: str
    question: str
    in_scope: bool  # the set gives strings a correct answer contains
    answered: bool
    evidence: float
    first_match_rank: int | None  # first citation (of 10) holding an expected string
    answer_ok: bool
    citation_ok: bool  # a passage cited by an [n] marker holds an expected string
    answer: str
    shape: str = "other"  # what the question asks for (shapes.py)

    @property
    def ok(self) -> bool:
        """Answered correctly, or declined when out of scope."""
        return self.answer_ok if self.in_scope else not self.answered


def score_answer(q: EvalQuestion, answer: Answer) -> EvalRow:
    """The row for one question and the answer it got."""
    texts = [c.text for c in answer.citations]
    first = next((i for i, t in enumerate(texts[:10], 1) if matches(t, q.answers)), None)
    cited = cited_numbers(answer.answer)
    return EvalRow(
        id=q.id,
        question=q.question,
        in_scope=bool(q.answers),
        answered=answer.answered,
        evidence=answer.evidence,
        first_match_rank=first,
        answer_ok=answer.answered and matches(answer.answer, q.answers),
        citation_ok=any(matches(c.text, q.answers) for c in answer.citations if c.n in cited),
        answer=answer.answer,
        shape=question_shape(q.question),
    )


def metrics(rows: list[EvalRow]) -> dict[str, float]:
    """The metrics of a question set over its rows (see docs/architecture.md, Evaluation)."""
    scoped = [r for r in rows if r.in_scope]
    unscoped = [r for r in rows if not r.in_scope]
    answered = [r for r in scoped if r.answered]

    def share(items: list[EvalRow], key: Callable[[EvalRow], bool]) -> float:
        return round(sum(1 for r in items if key(r)) / len(items), 4) if items else 0.0

    def hit(k: int) -> Callable[[EvalRow], bool]:
        return lambda r: r.first_match_rank is not None and r.first_match_rank <= k

    ranks = [1 / r.first_match_rank for r in scoped if r.first_match_rank]
    return {
        "questions": float(len(rows)),
        "hit@1": share(scoped, hit(1)),
        "hit@3": share(scoped, hit(3)),
        "hit@5": share(scoped, hit(5)),
        "mrr@10": round(sum(ranks) / len(scoped), 4) if scoped else 0.0,
        "answer_accuracy": share(scoped, lambda r: r.answer_ok),
        "citation_accuracy": share(answered, lambda r: r.citation_ok),
        "abstain_accuracy": share(unscoped, lambda r: not r.answered),
        "false_abstain_rate": share(scoped, lambda r: not r.answered),
    }


def evaluate(
    questions: list[EvalQuestion], ask: Callable[[str], Answer]
) -> tuple[dict[str, float], list[EvalRow]]:
    """(metrics, one row per question) for a question set."""
    rows = [score_answer(q, ask(q.question)) for q in questions]
    return metrics(rows), rows


def by_shape(rows: list[EvalRow]) -> dict[str, dict[str, float]]:
    """Questions, answer accuracy (in scope) and abstain accuracy (out of scope) per shape."""
    out = {}
    for shape in SHAPES:
        mine = [r for r in rows if r.shape == shape]
        if not mine:
            continue
        scoped = [r for r in mine if r.in_scope]
        unscoped = [r for r in mine if not r.in_scope]
        out[shape] = {
            "questions": float(len(mine)),
            "answer_accuracy": _share(scoped, lambda r: r.answer_ok),
            "abstain_accuracy": _share(unscoped, lambda r: not r.answered),
        }
    return out


def _share(items: list[EvalRow], key: Callable[[EvalRow], bool]) -> float:
    return round(sum(1 for r in items if key(r)) / len(items), 4) if items else 0.0


# --- threshold cross-validation --------------------------------------------------


def at_threshold(rows: list[EvalRow], threshold: float) -> list[EvalRow]:
    """Rows as they would be with another abstain threshold.

    `rows` must come from answering every question (a threshold below any evidence):
    the threshold only decides whether the composed answer is given, never what it is.
    """
    declined = {"answered": False, "answer_ok": False, "citation_ok": False}
    # A declined question cites nothing, so no passage of it can match either.
    return [
        r
        if r.answered and r.evidence >= threshold
        else replace(r, **declined, first_match_rank=None)  # type: ignore[arg-type]
        for r in rows
    ]


def best_threshold(rows: list[EvalRow]) -> float:
    """The threshold that decides answer-or-decline right for the most questions.

    In-scope questions should be answered, out-of-scope ones declined. Candidates
    are midpoints between neighbouring evidence values; ties go to the middle of the
    widest run of equally good candidates.
    """
    values = sorted({r.evidence for r in rows})
    candidates = [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)] or [0.0]

    def right(t: float) -> int:
        return sum((r.evidence >= t) == r.in_scope for r in rows)

    scores = [right(t) for t in candidates]
    top = max(scores)
    best = [t for t, score in zip(candidates, scores, strict=True) if score == top]
    return best[len(best) // 2]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold figures: each fold answered with the threshold chosen on the others."""

    folds: int
    thresholds: list[float]
    metrics: dict[str, float]


def cross_validate(rows: list[EvalRow], folds: int = 5, seed: int = 0) -> CrossValidation:
    """k-fold cross-validation of the abstain threshold, stratified by scope."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: not rows[i].in_scope)  # stable: in scope first, shuffled
    fold_of = {i: k % folds for k, i in enumerate(order)}
    thresholds, held_out = [], []
    for fold in range(folds):
        train = [r for i, r in enumerate(rows) if fold_of[i] != fold]
        test = [r for i, r in enumerate(rows) if fold_of[i] == fold]
        threshold = best_threshold(train)
        thresholds.append(round(threshold, 4))
        held_out.extend(at_threshold(test, threshold))
    return CrossValidation(folds, thresholds, metrics(held_out))
