"""Training: the settings (config), the losses, building the networks, one G/D step (trainer), the loop (loop) and
the checkpoint file it writes and resumes from (checkpoint_file)."""

from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from spade_lesson.training.config import TrainConfig, course_config, cpu_config, fast_config
from spade_lesson.training.loop import LOG_NAME, TrainResult, train
from spade_lesson.training.networks import build_networks
from spade_lesson.training.trainer import SPADETrainer

__all__ = ["CHECKPOINT_NAME", "LOG_NAME", "SPADETrainer", "TrainConfig", "TrainResult", "build_networks",
           "course_config", "cpu_config", "fast_config", "load_checkpoint", "save_checkpoint", "train"]
