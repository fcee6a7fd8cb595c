"""`spade-lesson ablate`: the ablation's variants through the one training loop, scored by several judges
(spade_lesson.evaluation.ablation), options made from AblationConfig's fields; `--verify` recomputes a results file
instead."""

from __future__ import annotations

import sys

import torch

from spade_lesson.cli.parser import OneLineParser, add_settings, field_help
from spade_lesson.evaluation.ablation import (
    COMMITTED,
    JUDGES,
    MODELS,
    AblationConfig,
    report,
    results_path,
    run_ablation,
    verify,
)
from spade_lesson.runtime.machine import env_int, idle_cpu_cores, pick_device

MAX_COUNT = 1000  # seeds or judges: more would train for years, and the tuple alone can exhaust memory


def cpu_threads() -> int:
    """Torch threads on the CPU: OMP_NUM_THREADS when set (1 makes the numbers reproducible), else the idle cores."""
    return env_int("OMP_NUM_THREADS", 0, 1, "set it to the torch threads to use (1 reproduces the committed "
                                            "numbers), or unset it") or idle_cpu_cores()


def parse_reruns(values: list[str]) -> tuple[tuple[str, int], ...]:
    """['spade:0', ...] -> (('spade', 0), ...), with a one-line error naming a bad value."""
    reruns = []
    for value in values:
        model, _, seed = value.partition(":")
        if model not in MODELS or not (seed.isascii() and seed.isdigit()):
            raise ValueError(f"--rerun {value!r}: write MODEL:SEED, e.g. spade:0, with a model from "
                             f"{', '.join(MODELS)}")
        reruns.append((model, int(seed)))
    return tuple(reruns)


def run(argv: list[str]) -> int:
    """Parse the options, run the ablation (or verify one), print the summary; 130 (finished runs kept) on Ctrl-C."""
    defaults = AblationConfig()
    parser = OneLineParser(prog="spade-lesson ablate",
                           description="Train the ablation's variants (spade_lesson.models.variants) through the one "
                                       "training loop for several seeds and score each with several segmenters "
                                       "trained on real images (the judges). Writes <out>/ablation_<dataset>.json "
                                       "and .png and <out>/judges/; finished runs are skipped (resume after an "
                                       "interruption). --verify recomputes a results file instead.")
    add_settings(parser, AblationConfig, [name for name in AblationConfig.__dataclass_fields__
                                          if name not in ("seeds", "judges", "models")], defaults=defaults)
    for name in ("seeds", "judges"):
        parser.add_argument(f"--{name}", type=int, default=len(getattr(defaults, name)),
                            help=f"{field_help(AblationConfig, name)} (default: {len(getattr(defaults, name))})")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(defaults.models),
                        help=f"{field_help(AblationConfig, 'models')} (default: all)")
    parser.add_argument("--verify", nargs="?", const=str(COMMITTED / "ablation_landscapes.json"), default=None,
                        metavar="JSON", help="recompute a results file (default: the committed one) from its shipped "
                                             "judges, and rerun --rerun's runs, instead of training")
    parser.add_argument("--rerun", nargs="*", default=["spade:0"], metavar="MODEL:SEED",
                        help="with --verify: runs to train again and compare (default: spade:0; none: judges only)")
    args = parser.parse_args(argv)
    for name in ("seeds", "judges"):  # checked before a tuple of that many is made
        if not 1 <= getattr(args, name) <= MAX_COUNT:
            raise ValueError(f"--{name} {getattr(args, name)}: pass at least 1 and at most {MAX_COUNT} (each one "
                             f"trains {'every model' if name == 'seeds' else 'a segmenter'} once more)")
    if args.verify is not None:
        reruns = parse_reruns(args.rerun)
        torch.set_num_threads(cpu_threads())
        agree = verify(args.verify, reruns, data_root=args.data_root, work=args.work)
        print("verify: every recomputed score agrees" if agree else "verify: some scores DISAGREE (see above)")
        return 0 if agree else 1
    options = {key: value for key, value in vars(args).items() if key not in ("verify", "rerun")}
    config = AblationConfig(**{**options, "models": tuple(args.models), "seeds": tuple(range(args.seeds)),
                               "judges": tuple(range(args.judges))})
    if pick_device(config.device).type == "cpu":
        torch.set_num_threads(cpu_threads())
    try:
        document = run_ablation(config)
    except KeyboardInterrupt:
        print("spade-lesson ablate: interrupted; finished runs are kept (run again to resume)", file=sys.stderr)
        return 130
    print("\n".join(report(document)))
    path = results_path(config)
    print(f"wrote {path}, {path.with_suffix('.png')} and {path.parent / JUDGES}/")
    return 0
