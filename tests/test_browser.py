"""Notebook 07 in a real browser: JupyterLab + headless Chromium, run all cells, paint with the mouse, read it back.

Needs Debian's chromium (/usr/bin/chromium, `.ci/system-deps` installs it) and Playwright for Python (the dev extra);
never a browser Playwright downloads. Skipped, with the reason, where either is missing. The screenshot is saved in
pytest's tmp_path and copied to test-artifacts/browser/ at the repository root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "07_interactive_gaugan.ipynb"
CHROMIUM = Path(os.environ.get("SPADE_LESSON_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PAINT_CLASS = "water"
VIEWPORT = {"width": 1400, "height": 1100}

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
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab on 127.0.0.1 (free port, random token) serving a copy of notebook 07; yields the notebook's URL."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                          "checkForUpdates": False}))
    port, token = free_port(), uuid.uuid4().hex
    env = {**os.environ, "SPADE_LESSON_FAST": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = tmp_path / "jupyterlab.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"],
            cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", process, log)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


RUN_IN_KERNEL = """async (code) => {
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

ALL_CELLS_RAN = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter((cell) => cell.model.type === "code")
    .every((cell) => cell.model.executionCount !== null)"""

PIXEL_AT = """([x, y]) => {
    const canvas = document.querySelector("canvas.spade-painter-canvas");
    return Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def test_paint_in_jupyterlab_and_read_the_map_back_from_the_kernel(lab: str, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(lab)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel",
                                   timeout=60_000)
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                                   ".status === 'idle'", timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            canvas = page.locator("canvas.spade-painter-canvas")
            canvas.wait_for(state="visible", timeout=90_000)
            page.wait_for_function(ALL_CELLS_RAN, timeout=90_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert "Traceback" not in " ".join(errors.all_inner_texts()), "a notebook cell failed in JupyterLab"
            picture = page.locator("img.spade-painter-picture")
            picture.wait_for(state="visible", timeout=30_000)

            palette = json.loads(page.evaluate(RUN_IN_KERNEL, "import json; print(json.dumps("
                                               "[dataset.class_names, [list(c) for c in dataset.palette]]))"))
            class_id = palette[0].index(PAINT_CLASS)
            page.get_by_role("button", name=PAINT_CLASS, exact=True).click()
            page.get_by_role("button", name=f"\u2713 {PAINT_CLASS}").wait_for(timeout=15_000)  # Python ticked it

            before_src = picture.get_attribute("src")
            before_version = int(page.locator(".spade-painter").get_attribute("data-version"))
            canvas.scroll_into_view_if_needed()  # the palette click may have scrolled the notebook
            box = canvas.bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], f"canvas off screen: {box}"
            width, height = page.evaluate("() => { const c = document.querySelector('canvas.spade-painter-canvas');"
                                          " return [c.width, c.height]; }")
            y = box["y"] + 0.5 * box["height"]
            page.mouse.move(box["x"] + 0.15 * box["width"], y)
            page.mouse.down()
            for step in range(1, 21):
                page.mouse.move(box["x"] + (0.15 + 0.7 * step / 20) * box["width"], y)
            page.mouse.up()

            try:
                page.wait_for_function(f"() => Number(document.querySelector('.spade-painter').dataset.version) > "
                                       f"{before_version}", timeout=30_000)
                page.wait_for_function(f"() => document.querySelector('img.spade-painter-picture').src !== "
                                       f"{json.dumps(before_src)}", timeout=60_000)
            except sync_api.TimeoutError:
                page.screenshot(path=str(tmp_path / "timeout.png"))
                state = page.evaluate(RUN_IN_KERNEL, "print(painter.labels.version, painter.canvas.class_id, repr("
                                                     "painter.canvas.error), painter.renders, painter.status.value)")
                pytest.fail(f"no answer to the painted stroke (box {box}); kernel: version, class, error, renders, "
                            f"status = {state.strip()}; page version {before_version} -> "
                            f"{page.locator('.spade-painter').get_attribute('data-version')}; see {tmp_path}")

            map_height, map_width = json.loads(page.evaluate(RUN_IN_KERNEL, "print(list(painter.labels.ids.shape))"))
            column, row = int(0.5 * map_width), int(0.5 * map_height)
            kernel_class = int(page.evaluate(RUN_IN_KERNEL, f"print(int(painter.labels.ids[{row}, {column}]))"))
            assert kernel_class == class_id, f"the kernel's label map holds class {kernel_class} where we painted"
            row_classes = json.loads(page.evaluate(
                RUN_IN_KERNEL, f"print(painter.labels.ids[{row}, {int(0.2 * map_width)}:{int(0.8 * map_width)}]"
                               ".tolist())"))
            assert set(row_classes) == {class_id}, f"the painted row holds {set(row_classes)}, not only {class_id}"
            drawn = page.evaluate(PIXEL_AT, [width // 2, height // 2])
            assert drawn == palette[1][class_id], f"the canvas draws {drawn} where the kernel holds {PAINT_CLASS}"

            page.wait_for_timeout(500)  # let the last debounced render land before the picture is taken
            screenshot = tmp_path / "painter.png"
            page.locator(".spade-painter").locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]") \
                .screenshot(path=str(screenshot))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, ARTIFACTS / "painter.png")
        finally:
            browser.close()
