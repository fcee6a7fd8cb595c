"""Tests for spade_lesson.evaluation.claims: means and stds over seeds and judges, the 2 x pooled std rule, digits,
errors."""

from __future__ import annotations

import json

import pytest

from spade_lesson.evaluation.claims import (
    CLAIMS,
    NOT_MEASURABLE,
    Claim,
    claims_table,
    decimals,
    load_results,
    mean_std,
    measure,
    results_table,
    summarize,
)


def _document(scores: dict[str, list[list[float]]]) -> dict:
    """A results document from model -> [per seed [per judge mIoU]]; accuracy = mIoU + 0.1."""
    runs = [{"model": model, "seed": seed, "judge_seed": judge, "miou": value, "accuracy": value + 0.1,
             "params": 100, "norm_macs": 7}
            for model, table in scores.items() for seed, row in enumerate(table) for judge, value in enumerate(row)]
    return {"runs": runs, "judges": [{"seed": judge, "ceiling_miou": 0.9} for judge in range(3)]}


def test_summaries_average_judges_for_the_seed_std_and_seeds_for_the_judge_std() -> None:
    summary = summarize(_document({"spade": [[0.6, 0.7, 0.8], [0.5, 0.6, 0.7], [0.7, 0.8, 0.9]]}))["spade"]
    assert (summary.seeds, summary.judges) == (3, 3)
    assert summary.miou == pytest.approx(0.7)
    assert summary.miou_seed_std == pytest.approx(0.1)  # seed means 0.7, 0.6, 0.8
    assert summary.miou_judge_std == pytest.approx(0.1)  # judge means 0.6, 0.7, 0.8
    assert summary.accuracy == pytest.approx(0.8) and summary.params == 100 and summary.norm_macs == 7


def test_a_difference_counts_only_beyond_twice_the_pooled_seed_std() -> None:
    claim = Claim("a beats b", "a", "b", "a higher", 1)
    noisy = {"a": [[0.70] * 3, [0.80] * 3, [0.90] * 3], "b": [[0.60] * 3, [0.70] * 3, [0.80] * 3]}
    close = measure(summarize(_document(noisy)), claim)
    assert close.difference == pytest.approx(0.1) and close.pooled_std == pytest.approx(0.1)
    assert close.sign == 0 and close.verdict.startswith(NOT_MEASURABLE)
    assert close.agrees_with_paper == "not reproduced (no measurable difference here)"
    quiet = {"a": [[0.80] * 3, [0.81] * 3, [0.82] * 3], "b": [[0.60] * 3, [0.62] * 3, [0.64] * 3]}
    far = measure(summarize(_document(quiet)), claim)
    assert far.sign == 1 and far.verdict == "a higher by 0.19 (2 x pooled std = 0.03; every judge agrees)"
    assert far.agrees_with_paper == "agrees"
    reverse = measure(summarize(_document(quiet)), Claim("b beats a", "b", "a", "not tested", None))
    assert reverse.sign == -1 and reverse.verdict.startswith("a higher")
    assert reverse.agrees_with_paper == "not comparable"


def test_numbers_carry_the_digits_their_std_supports() -> None:
    assert decimals(0.03) == 2 and decimals(0.005) == 3 and decimals(0.2) == 2 and decimals(0.0) == 3
    assert decimals(0.0004) == 3  # three seeds do not support a fourth decimal
    assert mean_std(0.6045, 0.0005, noise=0.02) == "0.60 ± 0.00"  # the judges' noise decides the digits
    assert mean_std(0.72461, 0.0049) == "0.725 ± 0.005"
    assert mean_std(0.3974, 0.0302) == "0.40 ± 0.03"


def test_every_claim_names_variants_of_the_ablation() -> None:
    from spade_lesson.models.variants import VARIANTS

    assert all(claim.better in VARIANTS and claim.worse in VARIANTS for claim in CLAIMS)


def test_a_claim_about_a_model_that_was_not_run_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no runs of 'concat'"):
        measure(summarize(_document({"spade": [[0.5]]})), Claim("x", "spade", "concat", "", None))


def test_a_file_that_is_not_a_results_file_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.json: no ablation results"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "old.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(ValueError, match="old.json: not an ablation results file"):
        load_results(tmp_path / "old.json")


def _every_variant(gap: float) -> dict:
    """A document holding every variant of CLAIMS, spade `gap` above the rest, and each judge's ceiling."""
    from spade_lesson.models.variants import VARIANTS

    document = _document({model: [[0.5 + (gap if model == "spade" else 0.0) + 0.01 * seed] * 3 for seed in range(3)]
                          for model in VARIANTS})
    for judge in document["judges"]:
        judge["ceiling_accuracy"] = 0.95
    return document


def test_the_tables_hold_a_row_per_model_judge_and_claim() -> None:
    document = _every_variant(0.2)
    results = results_table(document).splitlines()
    assert len(results) == 2 + 8 + 3
    assert results[2] == "| `spade` | 0.00M | 0.0M | 0.71 ± 0.01 | 0.000 | 0.81 ± 0.01 |"
    assert results[-1] == "| real images, judge seed 2 (its ceiling) | | | 0.900 | | 0.950 |"
    claims = claims_table(document).splitlines()
    assert len(claims) == 2 + len(CLAIMS)
    row = next(line for line in claims if "`spade` − `concat`" in line)
    assert "spade higher by 0.20" in row and row.endswith("| agrees |")
    assert claims[2].endswith("| not comparable |")


def test_the_readme_shows_the_committed_results_and_claims_tables() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    document = load_results()
    assert results_table(document) in readme, "README's table is stale: paste claims.results_table(load_results())"
    assert claims_table(document) in readme, "README's claims are stale: paste claims.claims_table(load_results())"


def test_a_verdict_says_when_the_judges_disagree_on_the_sign() -> None:
    scores = {"a": [[0.90 + s, 0.60 + s, 0.90 + s] for s in (0.0, 0.01, 0.02)],
              "b": [[0.60 + s, 0.70 + s, 0.60 + s] for s in (0.0, 0.01, 0.02)]}
    m = measure(summarize(_document(scores)), Claim("a beats b", "a", "b", "", 1))
    assert m.sign == 1 and m.by_judge == pytest.approx((0.3, -0.1, 0.3))
    assert m.verdict.endswith("; the judges disagree)")
    assert measure(summarize(_document(scores)), Claim("a = b", "a", "b", "", 0)).agrees_with_paper == (
        "disagrees (a difference here, none reported there)")
    assert measure(summarize(_document(scores)), Claim("b beats a", "b", "a", "", 1)).agrees_with_paper == (
        "disagrees (the opposite direction)")


def test_summarize_is_linear_in_the_runs():
    import time

    from spade_lesson.evaluation.claims import summarize

    runs = [{"model": f"m{k % 4}", "seed": k, "judge_seed": k % 3, "miou": 0.5, "accuracy": 0.5, "params": 1,
             "norm_macs": 1} for k in range(20_000)]
    start = time.perf_counter()
    summaries = summarize({"runs": runs})
    assert time.perf_counter() - start < 1.0  # quadratic took 15 s here
    assert summaries["m0"].seeds == 5_000 and summaries["m0"].judges == 3 and summaries["m0"].miou == 0.5
