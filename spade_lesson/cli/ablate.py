"""`spade-lesson ablate`: the study (spade_lesson.evaluation.study): every variant through the one training loop,
one run per seed scored at every budget by several judges, options made from AblationConfig's fields; `--verify`
recomputes a results file instead."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from spade_lesson.cli.parser import OneLineParser, add_settings, field_help
from spade_lesson.evaluation.study.config import COMMITTED, MODELS, AblationConfig
from spade_lesson.evaluation.study.figure import write_figure
from spade_lesson.evaluation.study.report import progress_line, report
from spade_lesson.evaluation.study.runner import run_ablation, splits
from spade_lesson.evaluation.study.verify import verify
from spade_lesson.runtime.machine import env_int, idle_cpu_cores, pick_device

MAX_COUNT = 1000  # seeds or judges: more would train for years, and the tuple alone can exhaust memory


def cpu_threads() -> int:
    """Torch threads on the CPU: OMP_NUM_THREADS when set (1 makes the numbers reproducible), else the idle cores."""
    return env_int("OMP_NUM_THREADS", 0, 1, "set it to the torch threads to use (1 reproduces the committed "
                                            "numbers), or unset it") or idle_cpu_cores()


def parse_reruns(values: list[str], smallest: int) -> tuple[tuple[str, int, int], ...]:
    """['spade:0', 'concat:1:600', ...] -> (('spade', 0, smallest), ('concat', 1, 600), ...), one-line errors."""
    reruns = []
    for value in values:
        parts = value.split(":")
        model, seed, steps = (parts + [str(smallest)])[:3] if len(parts) == 2 else (parts + ["", "", ""])[:3]
        numbers = all(text.isascii() and text.isdigit() for text in (seed, steps))
        if len(parts) > 3 or model not in MODELS or not numbers:
            raise ValueError(f"--rerun {value!r}: write MODEL:SEED or MODEL:SEED:STEPS, e.g. spade:0 or spade:0:300, "
                             f"with a model from {', '.join(MODELS)}")
        reruns.append((model, int(seed), int(steps)))
    return tuple(reruns)


def run(argv: list[str]) -> int:
    """Parse the options, run the study (or verify one), print the summary; 130 (finished records kept) on Ctrl-C."""
    defaults = AblationConfig()
    parser = OneLineParser(prog="spade-lesson ablate",
                           description="Train the study's variants (spade_lesson.models.variants) through the one "
                                       "training loop, one run per seed scored at every budget by several segmenters "
                                       "trained on real images (the judges): mIoU and KID, beside the calibration "
                                       "rows. Writes the results JSON (each record at once; a stopped study resumes "
                                       "from it), its figure, samples and judges. --verify recomputes a results file "
                                       "instead.")
    add_settings(parser, AblationConfig, [name for name in AblationConfig.__dataclass_fields__
                                          if name not in ("seeds", "judges", "models", "budgets")], defaults=defaults)
    for name in ("seeds", "judges"):
        parser.add_argument(f"--{name}", type=int, default=len(getattr(defaults, name)),
                            help=f"{field_help(AblationConfig, name)} (default: {len(getattr(defaults, name))})")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(defaults.budgets),
                        help=f"{field_help(AblationConfig, 'budgets')} (default: "
                             f"{' '.join(map(str, defaults.budgets))})")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(defaults.models),
                        help=f"{field_help(AblationConfig, 'models')} (default: all)")
    parser.add_argument("--verify", nargs="?", const=str(COMMITTED), default=None, metavar="JSON",
                        help="recompute a results file (default: the committed one) from its shipped judges, and "
                             "rerun --rerun's runs, instead of training")
    parser.add_argument("--rerun", nargs="*", default=["spade:0"], metavar="MODEL:SEED[:STEPS]",
                        help="with --verify: runs to train again to STEPS (default: the smallest budget) and compare "
                             "at every budget up to it (default: spade:0; none: the calibration rows only)")
    args = parser.parse_args(argv)
    for name in ("seeds", "judges"):  # checked before a tuple of that many is made
        if not 1 <= getattr(args, name) <= MAX_COUNT:
            raise ValueError(f"--{name} {getattr(args, name)}: pass at least 1 and at most {MAX_COUNT} (each one "
                             f"trains {'every model' if name == 'seeds' else 'a segmenter'} once more)")
    if args.verify is not None:
        reruns = parse_reruns(args.rerun, min(args.budgets))
        torch.set_num_threads(cpu_threads())
        agree = verify(args.verify, reruns, data_root=args.data_root, work=args.work)
        print("verify: every recomputed score agrees" if agree else "verify: some scores DISAGREE (see above)")
        return 0 if agree else 1
    options = {key: value for key, value in vars(args).items() if key not in ("verify", "rerun")}
    config = AblationConfig(**{**options, "models": tuple(args.models), "seeds": tuple(range(args.seeds)),
                               "judges": tuple(range(args.judges)), "budgets": tuple(args.budgets)})
    if pick_device(config.device).type == "cpu":
        torch.set_num_threads(cpu_threads())
    try:
        document = run_ablation(config)
    except KeyboardInterrupt:
        print("spade-lesson ablate: interrupted; finished records are kept (run again to resume)", file=sys.stderr)
        return 130
    path = Path(config.results)
    write_figure(document, path, splits(config)[1], path.with_suffix(".png"))
    print("\n".join(report(document)))
    print(progress_line(document, config.models, config.seeds, config.judges))
    print(f"wrote {path}, {path.with_suffix('.png')} and the judges and samples beside it")
    return 0
