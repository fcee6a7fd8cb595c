"""What the ablation's numbers support: each claim of the course a difference of two variants' scores, with its noise.

A results document (spade_lesson.evaluation.ablation) holds one record per (model, generator seed, judge seed). For a
model,
`summarize` averages over judges to get one score per generator seed (mean +- std over seeds: the training noise)
and over seeds to get one per judge (std over judges: the instrument's noise). `measure(document, claim)` takes the
difference of two models' means and calls it measurable only when it exceeds twice their pooled seed std
(sqrt((s_a^2 + s_b^2) / 2)); otherwise "no difference measurable at this scale". `CLAIMS` lists the course's claims
with the direction the paper (Park et al., CVPR 2019, Tables 3 and 4) or CLADE's paper (Tan et al., TPAMI 2021) reports.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_FOLDER = Path(__file__).parent / "results"  # shipped with the package, so Colab has them too
COMMITTED = RESULTS_FOLDER / "ablation_landscapes.json"  # the course's own run
NOT_MEASURABLE = "no difference measurable at this scale"


@dataclass(frozen=True)
class Summary:
    """One model's scores: mean and std over generator seeds (judges averaged), std over judges (seeds averaged)."""

    model: str
    seeds: int
    judges: int
    miou: float
    miou_seed_std: float
    miou_judge_std: float
    miou_by_judge: tuple[float, ...]  # seeds averaged, one per judge in judge-seed order
    accuracy: float
    accuracy_seed_std: float
    params: int
    norm_macs: int


def _std(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _means(runs: list[dict[str, Any]], metric: str, key: str) -> dict[int, float]:
    """{value of key (seed or judge_seed): metric averaged over the runs with that value}, in one pass."""
    groups: dict[int, list[float]] = {}
    for run in runs:
        groups.setdefault(run[key], []).append(run[metric])
    return {value: statistics.fmean(groups[value]) for value in sorted(groups)}


def summarize(document: dict[str, Any]) -> dict[str, Summary]:
    """Per model (in the order the runs first name them): its Summary (linear in the number of runs)."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for run in document["runs"]:
        by_model.setdefault(run["model"], []).append(run)
    summaries = {}
    for model, runs in by_model.items():
        per_seed = {metric: list(_means(runs, metric, "seed").values()) for metric in ("miou", "accuracy")}
        per_judge = list(_means(runs, "miou", "judge_seed").values())
        summaries[model] = Summary(model, len(per_seed["miou"]), len(per_judge), statistics.fmean(per_seed["miou"]),
                                   _std(per_seed["miou"]), _std(per_judge), tuple(per_judge),
                                   statistics.fmean(per_seed["accuracy"]), _std(per_seed["accuracy"]),
                                   runs[0]["params"], runs[0]["norm_macs"])
    return summaries


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
    """better - worse in mIoU, the pooled seed std, and what that supports (sign: +1, -1, or 0 = not measurable)."""

    claim: Claim
    difference: float
    pooled_std: float
    sign: int
    by_judge: tuple[float, ...]  # the difference under each judge (seeds averaged)

    @property
    def verdict(self) -> str:
        """'spade higher by 0.21 (2 x pooled std = 0.04; every judge agrees)', or 'no difference measurable at this
        scale (difference +0.01, 2 x pooled std = 0.04)'."""
        places = decimals(self.pooled_std)
        size = f"{abs(self.difference):.{places}f}"
        noise = f"2 x pooled std = {2 * self.pooled_std:.{places}f}"
        if self.sign == 0:
            return f"{NOT_MEASURABLE} (difference {self.difference:+.{places}f}, {noise})"
        higher = self.claim.better if self.sign > 0 else self.claim.worse
        judges = "every judge agrees" if all(d * self.sign > 0 for d in self.by_judge) else "the judges disagree"
        return f"{higher} higher by {size} ({noise}; {judges})"

    @property
    def agrees_with_paper(self) -> str:
        """'agrees'; 'not reproduced' (the paper saw a difference, this study none it can measure); 'disagrees' with
        the reason; or 'not comparable' when the paper did not test it."""
        paper = self.claim.paper_sign
        if paper is None:
            return "not comparable"
        if self.sign == paper:
            return "agrees"
        if self.sign == 0:
            return "not reproduced (no measurable difference here)"
        if paper == 0:
            return "disagrees (a difference here, none reported there)"
        return "disagrees (the opposite direction)"


def measure(summaries: dict[str, Summary], claim: Claim) -> Measurement:
    """The claim's difference of mean mIoU and whether it exceeds twice the two models' pooled seed std."""
    missing = [model for model in (claim.better, claim.worse) if model not in summaries]
    if missing:
        raise ValueError(f"the results hold no runs of {missing[0]!r}: run the ablation with that model")
    better, worse = summaries[claim.better], summaries[claim.worse]
    difference = better.miou - worse.miou
    pooled = math.sqrt((better.miou_seed_std**2 + worse.miou_seed_std**2) / 2)
    sign = 0 if abs(difference) <= 2 * pooled else (1 if difference > 0 else -1)
    by_judge = tuple(b - w for b, w in zip(better.miou_by_judge, worse.miou_by_judge))
    return Measurement(claim, difference, pooled, sign, by_judge)


def load_results(path: str | Path = COMMITTED) -> dict[str, Any]:
    """A results document (default: the committed one shipped with the package)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no ablation results there; run `spade-lesson ablate` first") from None
    except ValueError:
        raise ValueError(f"{path}: not JSON; rerun `spade-lesson ablate` to rewrite it") from None
    if not isinstance(document, dict) or "runs" not in document or "judges" not in document:
        raise ValueError(f"{path}: not an ablation results file (no 'runs' and 'judges'); rerun `spade-lesson ablate`")
    return document


def results_table(document: dict[str, Any]) -> str:
    """Markdown: one row per model (mIoU mean +- std over seeds, std over judges, pixel accuracy, size, norm cost),
    then the real-image ceiling of each judge. The README's table is this text."""
    header = ("| variant | parameters | normalization multiply-adds per image | mIoU (mean ± std over seeds) | "
              "std over judges | pixel accuracy |")
    lines = [header, "| --- | --- | --- | --- | --- | --- |"]
    for model, s in summarize(document).items():
        lines.append(f"| `{model}` | {s.params / 1e6:.2f}M | {s.norm_macs / 1e6:.1f}M | "
                     f"{mean_std(s.miou, s.miou_seed_std, s.miou_judge_std)} | {s.miou_judge_std:.3f} | "
                     f"{mean_std(s.accuracy, s.accuracy_seed_std)} |")
    for judge in document["judges"]:
        lines.append(f"| real images, judge seed {judge['seed']} (its ceiling) | | | {judge['ceiling_miou']:.3f} | | "
                     f"{judge['ceiling_accuracy']:.3f} |")
    return "\n".join(lines)


def claims_table(document: dict[str, Any]) -> str:
    """Markdown: one row per claim of CLAIMS: the pair, the measured difference and verdict, the papers' direction,
    and whether the miniature agrees. The README's table is this text."""
    summaries = summarize(document)
    lines = ["| claim | compared | measured (mIoU) | the papers | this miniature |", "| --- | --- | --- | --- | --- |"]
    for claim in CLAIMS:
        m = measure(summaries, claim)
        lines.append(f"| {claim.name} | `{claim.better}` − `{claim.worse}` | {m.verdict} | {claim.paper} | "
                     f"{m.agrees_with_paper} |")
    return "\n".join(lines)
