"""spade_lesson.evaluation.study.claims and report: means and stds over seeds and judges per budget, the 2 x pooled std
rule, "the instrument cannot tell" at the ceiling, where the order changes, the tables."""

from __future__ import annotations

import pytest
from study_helpers import document

from spade_lesson.evaluation.study.claims import (
    CANNOT_TELL,
    CLAIMS,
    NOT_MEASURABLE,
    ONE_SEED,
    Claim,
    calibration,
    decimals,
    measure,
    order_changes,
    summarize,
)
from spade_lesson.evaluation.study.report import claims_table, curve_table, progress_line, results_table
from spade_lesson.models.variants import VARIANTS

CLAIM = Claim("spade beats concat", "spade", "concat", "SPADE higher", 1)


def test_summaries_average_judges_for_the_seed_std_and_seeds_for_the_judge_std() -> None:
    summary = summarize(document({"spade": {150: [[0.6, 0.7, 0.8], [0.5, 0.6, 0.7], [0.7, 0.8, 0.9]]}}), 150)["spade"]
    assert (summary.seeds, summary.judges, summary.steps) == (3, 3, 150)
    assert summary.miou.mean == pytest.approx(0.7)
    assert summary.miou.seed_std == pytest.approx(0.1)  # seed means 0.7, 0.6, 0.8
    assert summary.miou.judge_std == pytest.approx(0.1)  # judge means 0.6, 0.7, 0.8
    assert summary.kid.mean == pytest.approx(3.0) and summary.accuracy.mean == pytest.approx(0.75)


def test_a_difference_counts_only_beyond_twice_the_pooled_seed_std() -> None:
    clear = document({"spade": {150: [[0.60] * 3, [0.62] * 3]}, "concat": {150: [[0.40] * 3, [0.42] * 3]}})
    assert measure(clear, CLAIM, 150).sign == 1 and "spade: higher mIoU by 0.20" in measure(clear, CLAIM, 150).verdict
    noisy = document({"spade": {150: [[0.60] * 3, [0.30] * 3]}, "concat": {150: [[0.40] * 3, [0.45] * 3]}})
    assert measure(noisy, CLAIM, 150).sign == 0 and NOT_MEASURABLE in measure(noisy, CLAIM, 150).verdict


def test_at_the_judges_ceiling_the_verdict_is_that_the_instrument_cannot_tell() -> None:
    saturated = document({"spade": {2000: [[0.91] * 3, [0.92] * 3]}, "concat": {2000: [[0.60] * 3, [0.61] * 3]}},
                         ceiling=0.9)
    m = measure(saturated, CLAIM, 2000)
    assert m.sign is None and m.verdict.startswith(CANNOT_TELL) and "spade" in m.verdict
    assert m.agrees_with_paper == CANNOT_TELL


def test_kid_favours_the_lower_score_and_cannot_tell_at_the_real_floor() -> None:
    doc = document({"spade": {150: [[0.6] * 3, [0.62] * 3]}, "concat": {150: [[0.4] * 3, [0.42] * 3]}})
    assert measure(doc, CLAIM, 150, "kid").sign == 1  # spade's KID is 2 lower
    floor = document({"spade": {150: [[0.6] * 3, [0.62] * 3]}, "concat": {150: [[0.4] * 3, [0.42] * 3]}}, kid=0.0)
    floor["runs"] = [{**run, "kid": 0.0} for run in floor["runs"]]
    assert measure(floor, CLAIM, 150, "kid").sign is None


def test_one_seed_gives_no_verdict_however_large_the_difference() -> None:
    single = document({"spade": {150: [[0.9, 0.1, 0.5]]}, "concat": {150: [[0.2, 0.2, 0.2]]}}, ceiling=0.99)
    m = measure(single, CLAIM, 150)
    assert m.sign == 0 and m.verdict.startswith(ONE_SEED) and m.agrees_with_paper == ONE_SEED


def test_the_order_change_between_budgets_is_named() -> None:
    doc = document({"spade": {150: [[0.3] * 3, [0.31] * 3], 2000: [[0.8] * 3, [0.81] * 3]},
                    "concat": {150: [[0.6] * 3, [0.61] * 3], 2000: [[0.7] * 3, [0.71] * 3]}})
    assert order_changes(doc, CLAIM) == "150 -> 2000 steps"
    assert measure(doc, CLAIM, 150).agrees_with_paper.startswith("disagrees")
    assert measure(doc, CLAIM, 2000).agrees_with_paper == "agrees"


def test_the_calibration_rows_are_summarized_over_judges() -> None:
    rows = calibration(document({"spade": {150: [[0.5] * 3]}}))
    assert rows["real images"]["miou"].mean == pytest.approx(0.9) and rows["flat painter"]["kid"].mean == 12.0


def test_numbers_carry_the_digits_their_std_supports() -> None:
    assert [decimals(s) for s in (0.0, 0.3, 0.03, 0.003, 0.0003)] == [3, 2, 2, 3, 3]


def test_every_claim_names_variants_of_the_study() -> None:
    assert all({claim.better, claim.worse} <= VARIANTS.keys() for claim in CLAIMS)


def test_a_claim_about_a_model_that_was_not_run_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no runs of 'concat' at 150 steps"):
        measure(document({"spade": {150: [[0.5] * 3]}}), CLAIM, 150)


def test_the_tables_hold_a_row_per_model_control_and_claim_and_a_column_per_budget() -> None:
    doc = document({"spade": {150: [[0.5] * 3, [0.52] * 3], 300: [[0.7] * 3]}, "concat": {150: [[0.6] * 3]}})
    table = results_table(doc, 150).splitlines()
    assert len(table) == 2 + 2 + 2 and "*real images*" in table[-2] and "*flat painter*" in table[-1]
    curves = curve_table(doc).splitlines()
    assert "150 steps | 300 steps" in curves[0] and "(1 seed)" in curves[2]
    assert len(claims_table(doc).splitlines()) == 2 + len(CLAIMS) and "not run yet" in claims_table(doc)
    line = progress_line(doc, ("spade", "concat"), (0, 1), (0, 1, 2))
    assert line.startswith("the study is incomplete: 1 of 4 runs")
