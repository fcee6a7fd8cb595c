"""The setup every notebook runs first (device and seeds from spade_lesson.runtime.machine, fast mode, a widgets
check), and run folders that outlive a Colab disconnect."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch

from spade_lesson.course.source import ENV, default_source, repository_url
from spade_lesson.runtime.machine import idle_cpu_cores, pick_device, seed_everything

REPO_URL = repository_url()
DRIVE = Path("/content/drive")  # where Colab mounts Google Drive
DRIVE_RUNS = Path("MyDrive/spade-lesson/runs")  # run folders kept on Drive, under DRIVE

# The first code cell of every notebook, word for word (tests/test_notebook.py checks this). It cannot import the
# package (in Colab it installs it), so the source is written into it; scripts/set_source.py rewrites the notebooks.
SETUP_CELL = f'''# Setup: the same first cell in every notebook of the course.
import os, subprocess, sys
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:  # install the course ({ENV}=owner/name@tag installs a fork's), let Colab draw its widgets
    source = os.environ.get("{ENV}", "{default_source()}")
    pip = [sys.executable, "-m", "pip", "install", "-q", f"spade-lesson @ git+https://github.com/{{source}}"]
    if subprocess.run(pip).returncode != 0:
        raise SystemExit(f"could not install the course from github.com/{{source}}: check the runtime's internet and "
                         f"{ENV} (owner/name@tag), then run this cell again")
    from google.colab import output
    output.enable_custom_widget_manager()

from spade_lesson.course.notebook import setup
DEVICE, FAST = setup(seed=0)'''


def fast_mode() -> bool:
    """True when SPADE_LESSON_FAST=1: every notebook shrinks to run on a CPU in seconds (the tests set it)."""
    value = os.environ.get("SPADE_LESSON_FAST", "0").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"SPADE_LESSON_FAST={value!r}: set it to 1 (fast, CPU-sized) or 0 (full lesson)")


def describe_device(device: torch.device) -> str:
    """A readable name for device: the GPU's model, or the CPU's model name, torch's thread count and the cores."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type != "cpu":
        return device.type
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    return f"CPU: {model}, {threads} thread{'' if threads == 1 else 's'} ({cores} cores)"


def installed_version(distribution: str) -> str | None:
    """The version of distribution installed in this kernel's environment, or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def widgets_warning(*, ipywidgets: str | None, jupyterlab: str | None, in_colab: bool) -> str | None:
    """One line when JupyterLab 4 / Notebook 7 cannot draw this kernel's widgets (ipywidgets 7), else None.

    ipywidgets 7 brings the JupyterLab 3 widget manager (jupyterlab_widgets 1; 7.7.2 caps it below 3), and
    JupyterLab 4's manager (jupyterlab_widgets 3) does not draw ipywidgets 7 models: no widget appears at all
    (jupyterlab/jupyterlab#12977). A kernel cannot see its front end, so this reads the JupyterLab installed beside
    it; a server run from another environment goes unseen. Colab and classic Notebook 6.5 draw ipywidgets 7.
    """
    if in_colab or ipywidgets is None or jupyterlab is None:
        return None
    if int(ipywidgets.split(".")[0]) != 7 or int(jupyterlab.split(".")[0]) < 4:
        return None
    return (f"widgets: this kernel has ipywidgets {ipywidgets}, which JupyterLab {jupyterlab} and Notebook 7 cannot "
            f"draw (the painter would stay blank there): pip install \"ipywidgets>=8\" here, then restart the kernel")


def setup(seed: int = 0) -> tuple[torch.device, bool]:
    """Pick the device, size torch's CPU threads, seed everything, read fast mode; print one line saying what was
    chosen (and any warning).

    On the CPU torch gets one thread per idle core (runtime.machine.idle_cpu_cores): a thread per core while another
    process keeps a core busy makes torch's threads wait on each other (a cell ten times slower on a shared 2-core
    machine), while one fewer thread costs at most the share of the busy core.
    """
    device = pick_device()
    fast = fast_mode()
    if device.type == "cpu":
        torch.set_num_threads(idle_cpu_cores())
    seed_everything(seed)
    mode = "fast (SPADE_LESSON_FAST=1)" if fast else "full"
    print(f"device: {describe_device(device)} | mode: {mode} | seed: {seed} | torch {torch.__version__}")
    warning = widgets_warning(ipywidgets=installed_version("ipywidgets"), jupyterlab=installed_version("jupyterlab"),
                              in_colab="google.colab" in sys.modules)
    if warning is not None:
        print(warning, file=sys.stderr)
    return device, fast


def _on_drive(drive: bool | None) -> bool:
    """Whether run folders go to Google Drive: drive=None means yes in Colab, no elsewhere; True outside Colab fails."""
    in_colab = "google.colab" in sys.modules
    if drive and not in_colab:
        raise ValueError("drive=True: Google Drive can be mounted only in Colab; pass drive=False (or None) here")
    return in_colab if drive is None else drive


def _mount_drive() -> bool:
    """Mount Google Drive at DRIVE (Colab asks the user to allow it); False, with one line, if that did not happen."""
    if (DRIVE / "MyDrive").is_dir():
        return True
    from google.colab import drive

    try:
        drive.mount(str(DRIVE))
    except Exception as error:  # the user declined, or Colab could not reach Drive: carry on without it
        print(f"Google Drive is not mounted ({type(error).__name__}: {error}); run this cell again to retry")
        return False
    return (DRIVE / "MyDrive").is_dir()


def run_folder(name: str, drive: bool | None = None) -> str:
    """The folder a training run named name writes to (a string, for TrainConfig(out=...)); says where it is.

    drive=None keeps it on Google Drive in Colab, where it survives a disconnect and a new runtime finds it
    (DRIVE/MyDrive/spade-lesson/runs/<name>), and in runs/<name> elsewhere; drive=False keeps it in runs/<name>.
    """
    if _on_drive(drive) and _mount_drive():
        folder = DRIVE / DRIVE_RUNS / name
        folder.mkdir(parents=True, exist_ok=True)
        print(f"run folder: {folder} (Google Drive: kept across disconnects)")
        return str(folder)
    folder = Path("runs") / name
    print(f"run folder: {folder} (this machine{'; a disconnect loses it' if 'google.colab' in sys.modules else ''})")
    return str(folder)


def find_checkpoint(name: str, drive: bool | None = None) -> Path:
    """The checkpoint of run name: on Google Drive (as run_folder keeps it), else in runs/, else the shipped one.

    drive as in run_folder (None: look on Drive in Colab only). Prints one line saying which checkpoint it uses.
    """
    from spade_lesson.checkpoints import SHIPPED, pick_checkpoint

    candidates = [Path("runs") / name / "checkpoint.pt"]
    if _on_drive(drive) and _mount_drive():
        candidates.insert(0, DRIVE / DRIVE_RUNS / name / "checkpoint.pt")
    path = pick_checkpoint(*candidates)
    if path == SHIPPED:
        where = "shipped with the package; none at " + " or ".join(str(candidate) for candidate in candidates)
    else:
        where = "Google Drive" if DRIVE in path.parents else "this machine"
    shown = Path("spade_lesson", *SHIPPED.parts[-2:]) if path == SHIPPED else path  # not this machine's site-packages
    print(f"checkpoint: {shown} ({where})")
    return path
