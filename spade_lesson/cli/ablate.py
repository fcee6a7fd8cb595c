"""`spade-lesson ablate`: SPADE against the BatchNorm / InstanceNorm decoders (spade_lesson.ablation), options made
from AblationConfig's fields."""

from __future__ import annotations

import sys

import torch

from spade_lesson.ablation import MODELS, AblationConfig, results_path, run_ablation, summarize
from spade_lesson.cli.parser import OneLineParser, add_settings, field_help
from spade_lesson.runtime import idle_cpu_cores, pick_device


def run(argv: list[str]) -> int:
    """Parse the options, run the ablation, print the summary; 130 (finished runs kept) on Ctrl-C."""
    defaults = AblationConfig()
    parser = OneLineParser(prog="spade-lesson ablate",
                           description="Train SPADE and the BatchNorm / InstanceNorm baselines (matched parameters, "
                                       "equal budget) for several seeds and score them with a segmenter trained on "
                                       "real images. Writes <out>/ablation_<dataset>.json and .png; runs already "
                                       "in the JSON are skipped (resume after an interruption).")
    add_settings(parser, AblationConfig, [name for name in AblationConfig.__dataclass_fields__
                                          if name not in ("seeds", "models")], defaults=defaults)
    parser.add_argument("--seeds", type=int, default=len(defaults.seeds),
                        help=f"{field_help(AblationConfig, 'seeds')} (default: {len(defaults.seeds)})")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(defaults.models),
                        help=f"{field_help(AblationConfig, 'models')} (default: all)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: pass at least 1")
    config = AblationConfig(**{**vars(args), "models": tuple(args.models), "seeds": tuple(range(args.seeds))})
    if pick_device(config.device).type == "cpu":
        torch.set_num_threads(idle_cpu_cores())
    try:
        document = run_ablation(config)
    except KeyboardInterrupt:
        print("spade-lesson ablate: interrupted; finished runs are kept (run again to resume)", file=sys.stderr)
        return 130
    for model, row in summarize(document["runs"]).items():
        print(f"{model:>12}: mIoU {row['miou_mean']:.3f} ± {row['miou_std']:.3f}, pixel accuracy "
              f"{row['pixel_acc_mean']:.3f} ± {row['pixel_acc_std']:.3f} ({row['seeds']} seeds, "
              f"{row['params'] / 1e6:.2f}M parameters)")
    print(f"{'real images':>12}: mIoU {document['ceiling']['miou']:.3f}, pixel accuracy "
          f"{document['ceiling']['pixel_acc']:.3f}")
    path = results_path(config)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0
