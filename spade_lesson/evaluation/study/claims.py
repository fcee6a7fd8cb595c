"""What the study's numbers support, budget by budget: each claim of the course a difference of two variants' scores,
with its noise and the instrument's limits.

A results document (spade_lesson.evaluation.study.results) holds one record per (model, seed, steps, judge seed).
`summarize(document, steps)` averages a model's records at one budget over judges (one score per generator seed: mean
+- std over seeds, the training noise) and over seeds (one per judge: std over judges, the instrument's noise).
`calibration(document)` gives the controls' rows (real images: mIoU's ceiling and KID's floor; the painters).

A claim's verdict at a budget, for mIoU (higher is better): "the instrument cannot tell" when either variant scores
within the judges' noise of the real images' mIoU (the ceiling: at or above it the judge cannot rank them); else a
difference counts only beyond twice the two variants' pooled seed std, sqrt((s_a^2 + s_b^2) / 2). For KID (lower is
better) the same rule, with "the instrument cannot tell" when both are within the noise of KID's real-vs-real floor.
`CLAIMS` lists the course's claims with the direction the paper (Park et al., CVPR 2019, Tables 3 and 4) or CLADE's
(Tan et al., TPAMI 2021) reports.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

NOT_MEASURABLE = "no difference measurable"
CANNOT_TELL = "the instrument cannot tell"
ONE_SEED = "no verdict from one seed: its noise is not measured yet"
METRICS = ("miou", "kid")  # the study's two scores: layout (higher is better) and realism (KID x 1000, lower)


@dataclass(frozen=True)
class Score:
    """One metric of one model (or control) at one budget: mean, std over seeds, std over judges, per judge."""

    mean: float
    seed_std: float
    judge_std: float
    by_judge: tuple[float, ...]  # seeds averaged, one per judge in judge-seed order


@dataclass(frozen=True)
class Summary:
    """One model at one budget: its seeds and judges, a Score per metric, pixel accuracy, size and norm cost."""

    model: str
    steps: int
    seeds: int
    judges: int
    miou: Score
    kid: Score
    accuracy: Score
    params: int
    norm_macs: int


def _std(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def score(records: list[dict[str, Any]], metric: str) -> Score:
    """The metric over records: per seed (judges averaged) for the mean and seed std, per judge for the judge std."""
    seeds = sorted({r.get("seed", 0) for r in records})
    judges = sorted({r["judge_seed"] for r in records})
    per_seed = [statistics.fmean(r[metric] for r in records if r.get("seed", 0) == s) for s in seeds]
    per_judge = [statistics.fmean(r[metric] for r in records if r["judge_seed"] == j) for j in judges]
    return Score(statistics.fmean(per_seed), _std(per_seed), _std(per_judge), tuple(per_judge))


def budgets(document: dict[str, Any]) -> list[int]:
    """The budgets (steps) the document holds records at, in order."""
    return sorted({run["steps"] for run in document["runs"]})


def summarize(document: dict[str, Any], steps: int) -> dict[str, Summary]:
    """Per model with records at this budget (in the order the runs first name them): its Summary."""
    summaries = {}
    for model in dict.fromkeys(run["model"] for run in document["runs"]):
        runs = [run for run in document["runs"] if run["model"] == model and run["steps"] == steps]
        if not runs:
            continue
        summaries[model] = Summary(model, steps, len({r["seed"] for r in runs}), len({r["judge_seed"] for r in runs}),
                                   score(runs, "miou"), score(runs, "kid"), score(runs, "accuracy"),
                                   runs[0]["params"], runs[0]["norm_macs"])
    return summaries


def calibration(document: dict[str, Any]) -> dict[str, dict[str, Score]]:
    """Each control's row ('real images', 'flat painter', 'blurred painter') -> metric -> Score over judges."""
    rows = dict.fromkeys(row["row"] for row in document["calibration"])
    return {name: {metric: score([r for r in document["calibration"] if r["row"] == name], metric)
                   for metric in (*METRICS, "accuracy")} for name in rows}


def decimals(std: float) -> int:
    """Decimals a value with this std supports: down to the std's first significant digit, 2 at least, 3 at most
    (three seeds or judges estimate a std too roughly to support a fourth)."""
    if std <= 0:
        return 3
    return min(3, max(2, -math.floor(math.log10(std))))


def mean_std(mean: float, std: float, noise: float = 0.0) -> str:
    """'0.73 ± 0.03': mean and std to the digit the larger of std and another noise (the judges') supports."""
    places = decimals(max(std, noise))
    return f"{mean:.{places}f} ± {std:.{places}f}"


def kid_text(mean: float, std: float) -> str:
    """KID x 1000 to one decimal ("12.3 ± 0.4"): its real-vs-real noise at 256 images is 0.1-0.2."""
    return f"{mean:.1f} ± {std:.1f}"


@dataclass(frozen=True)
class Claim:
    """A claim of the course: `better` scores higher than `worse`; `paper` is what the papers report (+1 / 0 / None)."""

    name: str
    better: str
    worse: str
    paper: str  # the papers' finding, in words
    paper_sign: int | None  # +1: better higher, 0: no consistent difference, None: not tested there


CLAIMS = (
    Claim("normalization washes the label map out (removing it helps)", "input_nonorm", "input_bn",
          "not tested: no variant without normalization", None),
    Claim("the label map must reach every layer", "concat", "input_bn",
          "not stated: Table 3 has pix2pixHD++ with and without Concat, the text draws no conclusion", None),
    Claim("SPADE beats the label map at the input only (decoder w/ SPADE vs pix2pixHD++)", "spade", "input_bn",
          "SPADE higher (Table 3)", 1),
    Claim("SPADE beats concatenating the map to every block (decoder w/ SPADE vs w/ Concat)", "spade", "concat",
          "SPADE higher: concatenation 'does not achieve the same performance' (Table 3)", 1),
    Claim("SPADE's 3x3 kernels beat 1x1 kernels", "spade", "spade_1x1",
          "3x3 higher: '1x1 hurts performance' (Table 4)", 1),
    Claim("BatchNorm and InstanceNorm under SPADE do equally well", "spade", "spade_instance",
          "no consistent difference: 'SPADE works reliably across different normalization methods' (Table 4)", 0),
    Claim("CLADE matches SPADE at a fraction of the cost", "spade", "clade",
          "comparable quality at lower cost (Tan et al.)", 0),
)


@dataclass(frozen=True)
class Measurement:
    """better - worse in one metric at one budget (for KID: worse - better, so + favours `better`), the pooled seed
    std, and what that supports (sign: +1, -1, 0 = not measurable, None = the instrument cannot tell)."""

    claim: Claim
    metric: str
    steps: int
    difference: float
    pooled_std: float
    sign: int | None
    by_judge: tuple[float, ...]  # the difference under each judge (seeds averaged)
    limit: str  # why the instrument cannot tell, '' when it can
    seeds: int  # the fewer seeds of the two variants: with one, no seed noise is measured and nothing is called

    @property
    def verdict(self) -> str:
        """'spade higher by 0.21 (2 x pooled std = 0.04; every judge agrees)', 'no difference measurable (...)', or
        'the instrument cannot tell (concat within the judges' noise of real images)'."""
        if self.sign is None:
            return f"{CANNOT_TELL} ({self.limit})"
        if self.seeds < 2:
            return f"{ONE_SEED} (difference {self.difference:+.{1 if self.metric == 'kid' else 2}f})"
        if self.metric == "kid":
            size, noise = f"{abs(self.difference):.1f}", f"2 x pooled std = {2 * self.pooled_std:.1f}"
        else:
            places = decimals(self.pooled_std)
            size, noise = f"{abs(self.difference):.{places}f}", f"2 x pooled std = {2 * self.pooled_std:.{places}f}"
        if self.sign == 0:
            return f"{NOT_MEASURABLE} ({'+' if self.difference >= 0 else '-'}{size}, {noise})"
        winner = self.claim.better if self.sign > 0 else self.claim.worse
        judges = "every judge agrees" if all(d * self.sign > 0 for d in self.by_judge) else "the judges disagree"
        what = "higher mIoU" if self.metric == "miou" else "lower KID"
        return f"{winner}: {what} by {size} ({noise}; {judges})"

    @property
    def agrees_with_paper(self) -> str:
        """'agrees'; 'not reproduced'; 'disagrees' with the reason; 'the instrument cannot tell'; or 'not comparable'
        when the paper did not test it."""
        paper = self.claim.paper_sign
        if paper is None:
            return "not comparable"
        if self.sign is None:
            return CANNOT_TELL
        if self.seeds < 2:
            return ONE_SEED
        if self.sign == paper:
            return "agrees"
        if self.sign == 0:
            return "not reproduced (no measurable difference here)"
        if paper == 0:
            return "disagrees (a difference here, none reported there)"
        return "disagrees (the opposite direction)"


def measure(document: dict[str, Any], claim: Claim, steps: int, metric: str = "miou") -> Measurement:
    """The claim's difference at this budget in this metric, with the verdict the instrument and the noise allow."""
    summaries = summarize(document, steps)
    missing = [model for model in (claim.better, claim.worse) if model not in summaries]
    if missing:
        raise ValueError(f"the results hold no runs of {missing[0]!r} at {steps} steps: run the study with that model")
    better, worse = getattr(summaries[claim.better], metric), getattr(summaries[claim.worse], metric)
    direction = 1 if metric == "miou" else -1  # KID: lower is better
    difference = direction * (better.mean - worse.mean)
    pooled = math.sqrt((better.seed_std**2 + worse.seed_std**2) / 2)
    by_judge = tuple(direction * (b - w) for b, w in zip(better.by_judge, worse.by_judge))
    limit = instrument_limit(document, {claim.better: better, claim.worse: worse}, metric)
    seeds = min(summaries[claim.better].seeds, summaries[claim.worse].seeds)
    if limit:
        sign = None
    elif seeds < 2 or abs(difference) <= 2 * pooled:
        sign = 0
    else:
        sign = 1 if difference > 0 else -1
    return Measurement(claim, metric, steps, difference, pooled, sign, by_judge, limit, seeds)


def instrument_limit(document: dict[str, Any], scores: dict[str, Score], metric: str) -> str:
    """Why the instrument cannot rank these scores ('' when it can): for mIoU a model within the judges' noise of
    the real images' mIoU (or above it); for KID both models within the noise of the real-vs-real floor."""
    real = calibration(document)["real images"][metric]
    if metric == "miou":
        at_ceiling = [model for model, s in scores.items() if s.mean >= real.mean - max(real.judge_std, s.judge_std)]
        return f"{' and '.join(at_ceiling)} within the judges' noise of real images" if at_ceiling else ""
    at_floor = [model for model, s in scores.items() if s.mean <= real.mean + 2 * max(s.seed_std, s.judge_std)]
    return "both within the noise of real images" if len(at_floor) == len(scores) else ""


def order_changes(document: dict[str, Any], claim: Claim, metric: str = "miou") -> str:
    """Where the claim's measurable direction changes across budgets, in words ('' when it never does)."""
    signs = [(steps, measure(document, claim, steps, metric).sign) for steps in budgets(document)
             if {claim.better, claim.worse} <= summarize(document, steps).keys()]
    changes = [f"{a[0]} -> {b[0]} steps" for a, b in zip(signs, signs[1:]) if a[1] and b[1] and a[1] != b[1]]
    return "; ".join(changes)
