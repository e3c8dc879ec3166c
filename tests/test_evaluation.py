"""Question shapes and the evaluation's threshold cross-validation, on made-up questions."""

import pytest

from careerqa.evaluation import EvalRow, at_threshold, best_threshold, cross_validate, metrics
from careerqa.shapes import question_shape


@pytest.mark.parametrize(
    "question,shape",
    [
        ("Which databases should a data engineer learn?", "list"),
        ("What are some good first projects for a data analyst?", "list"),
        ("Name the skills a cloud architect needs.", "list"),
        ("What is feature engineering?", "definition"),
        ("What does MLOps mean?", "definition"),
        ("Define overfitting.", "definition"),
        ("How much does a junior data analyst earn?", "figure"),
        ("What is the median salary of a DevOps engineer?", "figure"),
        ("How long is a typical data science bootcamp?", "figure"),
        ("Do data analysts need a master's degree?", "yes/no"),
        ("I've worked in retail for ten years. Can I still move into analytics?", "yes/no"),
        ("Spark or Flink: which should I learn first?", "comparison"),
        ("How does a data engineer differ from a data analyst?", "comparison"),
        ("Should I learn Scala or Java?", "comparison"),
        ("How do I prepare for a data engineering interview?", "steps"),
        ("After the course, how can I keep my skills current?", "steps"),
        ("What is the capital of Peru?", "other"),
    ],
)
def test_question_shapes(question, shape):
    assert question_shape(question) == shape


def _row(n: int, evidence: float, in_scope: bool, ok: bool = True) -> EvalRow:
    return EvalRow(
        id=f"q{n}",
        question="?",
        in_scope=in_scope,
        answered=True,
        evidence=evidence,
        first_match_rank=1 if in_scope and ok else None,
        answer_ok=in_scope and ok,
        citation_ok=in_scope and ok,
        answer="…",
    )


def test_a_threshold_declines_below_it_and_cites_nothing_then():
    rows = [_row(0, 0.9, True), _row(1, 0.2, True), _row(2, 0.1, False)]
    kept = at_threshold(rows, 0.5)
    assert [r.answered for r in kept] == [True, False, False]
    assert kept[1].first_match_rank is None and not kept[1].answer_ok
    figures = metrics(kept)
    assert figures["false_abstain_rate"] == 0.5 and figures["abstain_accuracy"] == 1.0


def test_best_threshold_separates_in_from_out_of_scope():
    rows = [_row(i, e, True) for i, e in enumerate((0.5, 0.6, 0.7))]
    rows += [_row(10 + i, e, False) for i, e in enumerate((0.1, 0.2, 0.3))]
    assert 0.3 < best_threshold(rows) < 0.5


def test_cross_validation_reports_out_of_fold_figures():
    rows = [_row(i, 0.5 + i / 100, True) for i in range(20)]
    rows += [_row(100 + i, 0.1 + i / 100, False) for i in range(10)]
    rows.append(_row(200, 0.45, False))  # an out-of-scope question that looks answerable
    cv = cross_validate(rows, folds=5)
    assert len(cv.thresholds) == 5 and all(0.19 < t < 0.5 for t in cv.thresholds)
    assert cv.metrics["questions"] == len(rows)
    assert cv.metrics["answer_accuracy"] == 1.0 and cv.metrics["abstain_accuracy"] < 1.0
