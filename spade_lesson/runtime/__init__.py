"""Where and how a run executes: the device, seeding and threads (machine), mixed precision (amp), atomic writes,
progress lines, and the pretrained weights some losses and metrics need."""

from spade_lesson.runtime.amp import autocast_dtype, resolve_amp
from spade_lesson.runtime.atomic import atomic_write, check_folder, write_text
from spade_lesson.runtime.machine import idle_cpu_cores, init_distributed, pick_device, seed_everything
from spade_lesson.runtime.pretrained import load_pretrained
from spade_lesson.runtime.progress import progress_bar

__all__ = ["atomic_write", "autocast_dtype", "check_folder", "idle_cpu_cores", "init_distributed", "load_pretrained",
           "pick_device", "progress_bar", "resolve_amp", "seed_everything", "write_text"]
