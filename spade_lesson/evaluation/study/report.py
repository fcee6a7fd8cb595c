"""The study in words and tables: the lines `spade-lesson ablate` prints, and the Markdown tables the README and
notebook 08 show (each made from the results document, so the README's tables are checked against the committed file).

`results_table(document, steps)`: every variant at one budget beside the calibration rows, every metric;
`curve_table(document, metric)`: every variant at every budget; `claims_table(document, metric)`: each claim's
verdict at every budget; `progress_line(document, config)`: 'the study is incomplete: N of M runs'; `report(...)`.
"""

from __future__ import annotations

from typing import Any

from spade_lesson.evaluation.study.claims import (
    CLAIMS,
    Score,
    budgets,
    calibration,
    kid_text,
    mean_std,
    measure,
    order_changes,
    summarize,
)


def _miou(s: Score) -> str:
    return mean_std(s.mean, s.seed_std, s.judge_std)


def _cell(s: Score, seeds: int, metric: str) -> str:
    """A model's score: mean ± std over seeds, or the mean alone with one seed (no std to show)."""
    if seeds == 1:
        return f"{s.mean:.2f} (1 seed)" if metric != "kid" else f"{s.mean:.1f} (1 seed)"
    return kid_text(s.mean, s.seed_std) if metric == "kid" else mean_std(s.mean, s.seed_std, s.judge_std)


def results_table(document: dict[str, Any], steps: int) -> str:
    """Markdown: one row per variant at this budget (mIoU, std over judges, pixel accuracy, KID, size, norm cost),
    then the calibration rows scored by the same metrics (mean ± std over the judges)."""
    lines = [f"| at {steps} steps | parameters | norm multiply-adds per image | mIoU (mean ± std over seeds) | "
             "std over judges | pixel accuracy | KID x 1000 (mean ± std over seeds) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for model, s in summarize(document, steps).items():
        seeds = f"{s.seeds} seed{'s' * (s.seeds > 1)}"
        lines.append(f"| `{model}` ({seeds}) | {s.params / 1e6:.2f}M | {s.norm_macs / 1e6:.1f}M | "
                     f"{_cell(s.miou, s.seeds, 'miou')} | {s.miou.judge_std:.3f} | "
                     f"{_cell(s.accuracy, s.seeds, 'accuracy')} | {_cell(s.kid, s.seeds, 'kid')} |")
    for name, row in calibration(document).items():
        lines.append(f"| *{name}* (no training; ± over judges) | | | "
                     f"{mean_std(row['miou'].mean, row['miou'].judge_std)} "
                     f"| {row['miou'].judge_std:.3f} | {mean_std(row['accuracy'].mean, row['accuracy'].judge_std)} | "
                     f"{kid_text(row['kid'].mean, row['kid'].judge_std)} |")
    return "\n".join(lines)


def curve_table(document: dict[str, Any], metric: str = "miou") -> str:
    """Markdown: one row per variant, one column per budget (mean ± std over seeds, seeds in brackets where fewer
    than the most), then the calibration rows."""
    steps = budgets(document)
    name = "mIoU" if metric == "miou" else "KID x 1000"
    lines = [f"| {name} | " + " | ".join(f"{b} steps" for b in steps) + " |", "| --- |" + " --- |" * len(steps)]
    per_budget = {b: summarize(document, b) for b in steps}
    most = max((s.seeds for table in per_budget.values() for s in table.values()), default=0)
    for model in dict.fromkeys(run["model"] for run in document["runs"]):
        cells = []
        for b in steps:
            s = per_budget[b].get(model)
            if s is None:
                cells.append("")
                continue
            text = _cell(getattr(s, metric), s.seeds, metric)
            cells.append(text + (f" ({s.seeds} seeds)" if 1 < s.seeds < most else ""))
        lines.append(f"| `{model}` | " + " | ".join(cells) + " |")
    for row_name, row in calibration(document).items():
        value = row[metric]
        text = mean_std(value.mean, value.judge_std) if metric == "miou" else kid_text(value.mean, value.judge_std)
        lines.append(f"| *{row_name}* | " + " | ".join([text] * len(steps)) + " |")
    return "\n".join(lines)


def claims_table(document: dict[str, Any], metric: str = "miou") -> str:
    """Markdown: one row per claim, its verdict at every budget, where the order changes, the papers' direction, and
    whether the miniature agrees at the longest budget."""
    steps = budgets(document)
    lines = ["| claim | compared | " + " | ".join(f"{b} steps" for b in steps) +
             " | order changes | the papers | this miniature (longest budget) |",
             "| --- | --- |" + " --- |" * (len(steps) + 3)]
    for claim in CLAIMS:
        cells, last = [], None
        for b in steps:
            if {claim.better, claim.worse} <= summarize(document, b).keys():
                last = measure(document, claim, b, metric)
                cells.append(last.verdict)
            else:
                cells.append("not run yet")
        agrees = f"{last.agrees_with_paper} (at {last.steps} steps)" if last is not None else "not run yet"
        lines.append(f"| {claim.name} | `{claim.better}` − `{claim.worse}` | " + " | ".join(cells) +
                     f" | {order_changes(document, claim, metric) or 'none'} | {claim.paper} | {agrees} |")
    return "\n".join(lines)


def runs_done(document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...], judges: tuple[int, ...],
              last: int) -> int:
    """Runs (model, seed) whose records are complete up to the budget `last` under every judge."""
    complete = {(r["model"], r["seed"], r["judge_seed"]) for r in document["runs"] if r["steps"] == last}
    return sum(all((m, s, j) in complete for j in judges) for m in models for s in seeds)


def progress_line(document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...],
                  judges: tuple[int, ...]) -> str:
    """'the study is complete: 24 of 24 runs' or 'the study is incomplete: 10 of 24 runs (...)'."""
    last = document["settings"]["budgets"][-1]
    done, total = runs_done(document, models, seeds, judges, last), len(models) * len(seeds)
    if done == total:
        return f"the study is complete: {done} of {total} runs, each scored at {len(document['settings']['budgets'])} "\
               f"budgets up to {last} steps"
    return (f"the study is incomplete: {done} of {total} runs have reached {last} steps "
            f"({len(document['runs'])} of {total * len(judges) * len(document['settings']['budgets'])} records)")


def report(document: dict[str, Any]) -> list[str]:
    """The summary lines the command prints: each model's scores per budget, the controls, each claim's verdicts."""
    lines = []
    for name, row in calibration(document).items():
        lines.append(f"{name:>16}: mIoU {mean_std(row['miou'].mean, row['miou'].judge_std)}, KID x 1000 "
                     f"{kid_text(row['kid'].mean, row['kid'].judge_std)} (± over judges)")
    for steps in budgets(document):
        for model, s in summarize(document, steps).items():
            lines.append(f"{model:>16} at {steps:>4} steps: mIoU {_cell(s.miou, s.seeds, 'miou')}, KID x 1000 "
                         f"{_cell(s.kid, s.seeds, 'kid')}" + (f" over {s.seeds} seeds" if s.seeds > 1 else ""))
    for claim in CLAIMS:
        for steps in budgets(document):
            if {claim.better, claim.worse} <= summarize(document, steps).keys():
                lines.append(f"{claim.name}, {steps} steps: {measure(document, claim, steps).verdict}")
    return lines


def readme_tables(document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...]) -> str:
    """The README's study tables, made from the results file: how complete the study is, each score per variant and
    budget beside the controls, each claim's verdict per budget by mIoU and by KID."""
    judges = tuple(judge["seed"] for judge in document["judges"])
    return "\n\n".join([
        f"*{progress_line(document, models, seeds, judges).capitalize()}.*",
        "mIoU (layout; mean ± std over seeds, judges averaged):", curve_table(document, "miou"),
        "KID x 1000 in the judges' features (realism; lower is better):", curve_table(document, "kid"),
        "Each claim per budget, by mIoU:", claims_table(document, "miou"),
        "and by KID:", claims_table(document, "kid")])
