"""`spade-lesson train`: a preset with any setting overridden; one option per TrainConfig field, made from it."""

from __future__ import annotations

from pathlib import Path

import torch

from spade_lesson.cli.parser import OneLineParser, add_settings
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME, resumable_state, resume_config
from spade_lesson.training.config import TrainConfig, course_config, cpu_config
from spade_lesson.training.dataset_defaults import with_dataset_defaults
from spade_lesson.training.loop import train

PRESETS = {"course": course_config, "cpu": cpu_config}


def run(argv: list[str]) -> int:
    """Train SPADE with the course's presets and any option overridden; --resume continues a run exactly."""
    parser = OneLineParser(prog="spade-lesson train", description="Train SPADE (Ctrl-C saves a checkpoint; "
                                                                  "multi-GPU: torchrun --nproc_per_node N -m "
                                                                  "spade_lesson.cli train ...).")
    parser.add_argument("--preset", choices=tuple(PRESETS), default=None,
                        help="starting settings: course (GPU, 128 px) or cpu (64 px); default: course on CUDA")
    add_settings(parser, TrainConfig)
    args = parser.parse_args(argv)
    overrides = {key: value for key, value in vars(args).items() if value is not None and key != "preset"}
    preset = PRESETS[args.preset or ("course" if torch.cuda.is_available() else "cpu")]
    if args.resume:  # the checkpoint's settings, with what this command line changes
        out = Path(overrides.get("out", preset().out))
        path = out / CHECKPOINT_NAME
        checkpoint = resumable_state(path)
        config = resume_config(checkpoint, overrides, path)
    else:  # an official dataset's own options under the flags given, over the preset's
        settings, taken = with_dataset_defaults(overrides, overrides.get("data_root", TrainConfig.data_root))
        if taken is not None:
            print(taken)
        config, checkpoint = preset(**settings), None
    result = train(config, checkpoint=checkpoint)
    if result.rank != 0:  # under torchrun only the first process reports
        return 0
    print(f"trained to step {result.step} in {result.seconds:.0f} s; checkpoint {result.checkpoint}, "
          f"losses {result.log}" + (f", samples {result.samples[-1]}" if result.samples else ""))
    return 0
