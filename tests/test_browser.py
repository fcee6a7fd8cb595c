"""Notebook 07 in a real browser: run all cells, paint, undo, flood-fill and restyle with the mouse, read it back.

Two front ends: JupyterLab 4 with this environment's ipywidgets 8, and classic Notebook 6.5 with ipywidgets 7.7.1
(Colab's ipywidgets; the closest to Colab that runs here), in a virtual environment built once in build/ over this
environment's packages (torch is not installed twice). Needs Debian's chromium (/usr/bin/chromium, `.ci/system-deps`
installs it) and Playwright for Python (the dev extra); never a browser Playwright downloads. Skipped, with the reason,
where either is missing, and the classic run where its environment cannot be built (no package index). Screenshots
are saved in pytest's tmp_path and copied to test-artifacts/browser/ at the repository root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a browser and two notebook servers: minutes
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "07_interactive_gaugan.ipynb"
CHROMIUM = Path(os.environ.get("SPADE_LESSON_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PAINT_CLASS = "water"
FILL_CLASS = "sand"
VIEWPORT = {"width": 1400, "height": 1100}
CLASSIC = ROOT / "build" / "classic-ipywidgets7"  # the classic front end's virtual environment (ignored by git)
CLASSIC_REQUIREMENTS = ["notebook>=6.5,<7", "ipywidgets==7.7.1"]

if not CHROMIUM.is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}: run .ci/system-deps (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright for Python: pip install -e '.[dev]'")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Poll the server's status API until it answers; fail with its log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the notebook server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"the notebook server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class FrontEnd:
    """One front end serving notebook 07: its URL and the JavaScript that drives it."""

    name: str
    slug: str  # names its screenshot
    url: str
    ready: str  # true once the notebook is open and its kernel connected
    run_all: str
    all_ran: str  # true once every code cell has run
    run_in_kernel: str  # async (code) => what the code printed
    errors: str  # CSS selector of the outputs where a failed cell shows


LAB_RUN_IN_KERNEL = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({ code });
    let text = "";
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === "stream") text += msg.content.text;
        if (msg.header.msg_type === "error") text += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
    };
    await future.done;
    return text;
}"""

CLASSIC_RUN_IN_KERNEL = """(code) => new Promise((resolve) => {
    let text = "";
    Jupyter.notebook.kernel.execute(code, { iopub: {
        output: (msg) => {
            if (msg.msg_type === "stream") text += msg.content.text;
            if (msg.msg_type === "error") text += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
        },
        status: (msg) => { if (msg.content.execution_state === "idle") resolve(text); },
    } }, { silent: false, store_history: false });
})"""

PIXEL_AT = """([x, y]) => {
    const canvas = document.querySelector("canvas.spade-painter-canvas");
    return Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


@contextlib.contextmanager
def serve(command: list[str], root: Path, tmp_path: Path, env: dict[str, str], status_url: str) -> Iterator[None]:
    """Run a notebook server (command) in root until the caller is done; fail with its log if it does not answer."""
    log = tmp_path / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(command, cwd=root, env={**os.environ, "SPADE_LESSON_FAST": "1", **env},
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(status_url, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def notebook_root(tmp_path: Path) -> Path:
    """A folder holding a copy of notebook 07."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    return root


def classic_environment() -> Path:
    """The python of a venv with classic Notebook 6.5 and ipywidgets 7.7.1 over this environment's packages.

    Built once into CLASSIC (about 40 s with a package index) and rebuilt when its recipe changes; pytest.skip with
    one line where it cannot be built.
    """
    python = CLASSIC / "bin" / "python"
    shared = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    anywidget = f"anywidget=={metadata.version('anywidget')}"
    recipe = json.dumps({"requirements": CLASSIC_REQUIREMENTS, "over": shared, "anywidget": anywidget})
    stamp = CLASSIC / "recipe.json"
    if python.is_file() and stamp.is_file() and stamp.read_text() == recipe:
        return python
    shutil.rmtree(CLASSIC, ignore_errors=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    steps = [[sys.executable, "-m", "venv", str(CLASSIC)],
             pip + CLASSIC_REQUIREMENTS,
             pip + ["--no-deps", "--ignore-installed", anywidget]]  # its nbextension must sit in this venv's prefix
    for number, step in enumerate(steps):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"cannot build the ipywidgets 7 front end in {CLASSIC}: {' '.join(step[:5])}... "
                        f"failed: {reason}")
        if number == 0:  # this environment's packages (torch, ...) below the venv's own
            purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True).stdout.strip()
            Path(purelib, "zz_course_environment.pth").write_text(
                "".join(f"import site; site.addsitedir({folder!r})\n" for folder in shared))
    stamp.write_text(recipe)
    return python


@pytest.fixture(params=["jupyterlab", "classic"], ids=["jupyterlab4-ipywidgets8", "notebook6-ipywidgets7"])
def front_end(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FrontEnd]:
    """A notebook server on 127.0.0.1 (free port, random token) serving a copy of notebook 07."""
    port, token = free_port(), uuid.uuid4().hex
    root = notebook_root(tmp_path)
    isolated = {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
                "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    status = f"http://127.0.0.1:{port}/api/status?token={token}"
    if request.param == "jupyterlab":
        settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                              "checkForUpdates": False}))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                   f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"]
        env = {**isolated, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
        current = "window.jupyterapp.shell.currentWidget"
        served = FrontEnd(
            name="JupyterLab 4, ipywidgets 8", slug="jupyterlab",
            url=f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}",
            ready=f"() => window.jupyterapp && {current} && "
                  f"{current}.sessionContext?.session?.kernel?.status === 'idle'",
            run_all="() => window.jupyterapp.commands.execute('notebook:run-all-cells')",
            all_ran=f"() => {current}.content.widgets.filter((cell) => cell.model.type === 'code')"
                    ".every((cell) => cell.model.executionCount !== null)",
            run_in_kernel=LAB_RUN_IN_KERNEL,
            errors=".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    else:
        python = classic_environment()
        command = [str(python), "-m", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                   "--port-retries=0", f"--NotebookApp.token={token}", f"--notebook-dir={root}", "--allow-root"]
        env = isolated
        served = FrontEnd(
            name="classic Notebook 6.5, ipywidgets 7.7.1", slug="classic",
            url=f"http://127.0.0.1:{port}/notebooks/{NOTEBOOK}?token={token}",
            ready="() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel "
                  "&& Jupyter.notebook.kernel.is_connected()",
            run_all="() => Jupyter.notebook.execute_all_cells()",
            all_ran="() => Jupyter.notebook.get_cells().filter((cell) => cell.cell_type === 'code')"
                    ".every((cell) => cell.input_prompt_number != null && cell.input_prompt_number !== '*')",
            run_in_kernel=CLASSIC_RUN_IN_KERNEL,
            errors=".output_stderr, .output_error")
    with serve(command, root, tmp_path, env, status):
        yield served


DIGEST = "import hashlib; print(hashlib.sha1(painter.labels.ids.tobytes()).hexdigest())"  # the kernel's label map


def in_kernel(page, front_end: FrontEnd, code: str) -> str:
    """Run code in the notebook's kernel; what it printed, stripped."""
    printed = page.evaluate(front_end.run_in_kernel, code)
    assert not printed.startswith("ERROR"), f"{front_end.name}: the kernel failed on {code!r}: {printed}"
    return printed.strip()


def answered(page, version: int, timeout: float = 30_000) -> int:
    """Wait until Python has sent the canvas a map newer than version; the new version."""
    page.wait_for_function(f"() => Number(document.querySelector('.spade-painter').dataset.version) > {version}",
                           timeout=timeout)
    return int(page.locator(".spade-painter").get_attribute("data-version"))


def new_picture(page, src: str | None, timeout: float = 60_000) -> str:
    """Wait until the picture beside the canvas is a new one; its src."""
    page.wait_for_function(f"() => document.querySelector('img.spade-painter-picture').src !== {json.dumps(src)}",
                           timeout=timeout)
    return page.locator("img.spade-painter-picture").get_attribute("src")


def pick_class(page, name: str) -> None:
    """Click a class's palette button and wait for Python to tick it."""
    page.get_by_role("button", name=name, exact=True).click()
    page.get_by_role("button", name=f"\u2713 {name}").wait_for(timeout=15_000)


def canvas_box(page, canvas) -> dict[str, float]:
    """The canvas's box on screen, scrolled into view."""
    canvas.scroll_into_view_if_needed()  # a button click may have scrolled the notebook
    box = canvas.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], f"canvas off screen: {box}"
    return box


def test_paint_undo_fill_and_restyle_in_the_browser(front_end: FrontEnd, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(front_end.url)
            page.wait_for_function(front_end.ready, timeout=60_000)
            page.evaluate(front_end.run_all)
            canvas = page.locator("canvas.spade-painter-canvas")
            canvas.wait_for(state="visible", timeout=120_000)
            page.wait_for_function(front_end.all_ran, timeout=120_000)
            failed = " ".join(page.locator(front_end.errors).all_inner_texts())
            assert "Traceback" not in failed, f"a notebook cell failed in {front_end.name}: {failed[-2000:]}"
            picture = page.locator("img.spade-painter-picture")
            picture.wait_for(state="visible", timeout=30_000)

            def kernel(code: str) -> str:
                return in_kernel(page, front_end, code)

            def settled() -> str | None:
                """The picture's src once the kernel has no render waiting (its image update is then on screen)."""
                deadline = time.monotonic() + 60
                while kernel("print(painter.debouncer.pending)") != "False":
                    assert time.monotonic() < deadline, f"{front_end.name}: the painter never stopped rendering"
                    page.wait_for_timeout(200)
                page.wait_for_timeout(300)
                return picture.get_attribute("src")

            names, palette = json.loads(kernel("import json; print(json.dumps([dataset.class_names, "
                                               "[list(c) for c in dataset.palette]]))"))
            map_height, map_width = json.loads(kernel("print(list(painter.labels.ids.shape))"))
            width, height = page.evaluate("() => { const c = document.querySelector('canvas.spade-painter-canvas');"
                                          " return [c.width, c.height]; }")
            column, row = map_width // 2, map_height // 2  # the centre pixel of the map ...
            centre = [int((column + 0.5) * width / map_width), int((row + 0.5) * height / map_height)]  # ... on canvas
            version = int(page.locator(".spade-painter").get_attribute("data-version"))

            # paint: a horizontal stroke across the middle
            paint_id = names.index(PAINT_CLASS)
            pick_class(page, PAINT_CLASS)
            before_stroke = kernel(DIGEST)
            src = settled()
            box = canvas_box(page, canvas)
            y = box["y"] + (row + 0.5) / map_height * box["height"]
            page.mouse.move(box["x"] + 0.15 * box["width"], y)
            page.mouse.down()
            for step in range(1, 21):
                page.mouse.move(box["x"] + (0.15 + 0.7 * step / 20) * box["width"], y)
            page.mouse.up()
            try:
                version = answered(page, version)
                src = new_picture(page, src)
            except sync_api.TimeoutError:
                page.screenshot(path=str(tmp_path / "timeout.png"))
                state = kernel("print(painter.labels.version, painter.canvas.class_id, repr(painter.canvas.error), "
                               "painter.renders, painter.status.value)")
                pytest.fail(f"{front_end.name}: no answer to the painted stroke (box {box}); kernel: version, class, "
                            f"error, renders, status = {state}; page version {version} -> "
                            f"{page.locator('.spade-painter').get_attribute('data-version')}; see {tmp_path}")
            assert int(kernel(f"print(int(painter.labels.ids[{row}, {column}]))")) == paint_id, \
                f"{front_end.name}: the kernel's label map does not hold {PAINT_CLASS} where we painted"
            painted_row = set(json.loads(kernel(f"print(painter.labels.ids[{row}, {int(0.2 * map_width)}:"
                                                f"{int(0.8 * map_width)}].tolist())")))
            assert painted_row == {paint_id}, f"the painted row holds {painted_row}, not only {paint_id}"
            assert page.evaluate(PIXEL_AT, centre) == palette[paint_id], "the canvas does not draw what Python holds"

            # undo: the map before the stroke, in the kernel and on the canvas
            src = settled()
            page.get_by_role("button", name="undo").click()  # not exact: the name may start with its icon
            version = answered(page, version)
            new_picture(page, src)
            assert kernel(DIGEST) == before_stroke, f"{front_end.name}: undo did not restore the map"
            original = int(kernel(f"print(int(painter.labels.ids[{row}, {column}]))"))
            assert page.evaluate(PIXEL_AT, centre) == palette[original], "the canvas does not draw the undone map"

            # flood fill: the 4-connected region around the centre, exactly as LabelMap.fill computes it
            fill_id = next(names.index(name) for name in (FILL_CLASS, PAINT_CLASS) if names.index(name) != original)
            page.get_by_role("button", name="fill", exact=True).click()
            deadline = time.monotonic() + 15
            while kernel("print(painter.canvas.tool)") != "fill":  # the browser's canvas has it once Python has
                assert time.monotonic() < deadline, f"{front_end.name}: the fill tool never reached the canvas"
                page.wait_for_timeout(200)
            pick_class(page, names[fill_id])
            kernel("before_fill = painter.labels.ids.copy()")
            src = settled()
            box = canvas_box(page, canvas)
            page.mouse.click(box["x"] + (column + 0.5) / map_width * box["width"],
                             box["y"] + (row + 0.5) / map_height * box["height"])
            version = answered(page, version)
            same, changed = json.loads(kernel(
                "from spade_lesson.course.labelmap import LabelMap\n"
                "expected = LabelMap.from_array(before_fill, len(dataset.class_names))\n"
                f"changed = expected.fill({column} + 0.5, {row} + 0.5, class_id={fill_id})\n"
                "print(json.dumps([bool((expected.ids == painter.labels.ids).all()), changed]))"))
            assert same and changed > 1, f"{front_end.name}: the fill changed the map unlike LabelMap.fill ({changed})"
            assert page.evaluate(PIXEL_AT, centre) == palette[fill_id], "the canvas does not draw the filled region"
            new_picture(page, src)

            # style buttons: a random style (the next seed), then the style of the dataset's image
            assert kernel("print(generator.use_vae)") == "True", "the painter's checkpoint has no style encoder"
            src = settled()
            page.get_by_role("button", name="random style").click()
            new_picture(page, src)
            assert kernel("print(painter.seed.value, torch.equal(painter.z, painter.style_from_seed(1)))") == "1 True"
            src = settled()
            page.get_by_role("button", name="style from this image").click()
            new_picture(page, src)
            assert kernel("print(torch.equal(painter.z, painter.style_from_image(dataset[painter.index.value]"
                          "['image'])))") == "True", f"{front_end.name}: not the style of the dataset's image"

            page.wait_for_timeout(500)  # let the last debounced render land before the picture is taken
            screenshot = tmp_path / f"painter-{front_end.slug}.png"
            page.locator(".spade-painter").locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]") \
                .screenshot(path=str(screenshot))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, ARTIFACTS / screenshot.name)
        finally:
            browser.close()
