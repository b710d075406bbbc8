"""Screenshots of notebook 06 (AU explorer) live in JupyterLab, in headless Chromium (dev tool).

Not part of the package and not a test: it needs Chromium (Debian: ``apt-get install -y
chromium``) and ``websocket-client`` (already in the venv as a Jupyter dependency; not pinned
for this script). It copies a run's executed notebook 06 to its ``screenshots/`` folder
(``libreface_nb.artifacts.NB06_SCREENSHOTS``), starts JupyterLab on 127.0.0.1 (no token, root =
the run folder, the workbook first on PYTHONPATH), opens the copy in Chromium through the
DevTools protocol, runs all cells in the live kernel, moves sliders with real mouse drags and
saves PNG screenshots beside the copy, which it then deletes. Every wait is bounded; the server
and the browser are stopped at the end.

Usage::

    python benchmarks/screenshot_explorer.py outputs/runs/<run> [--port 8899] [--timeout 300]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from libreface_nb import artifacts

REPO = Path(__file__).resolve().parent.parent
NB = artifacts.executed_notebook(artifacts.NB06)
LIVE = artifacts.NB06_LIVE_SESSION


def wait_for(what: str, fn, timeout: float, every: float = 0.5):
    """Call ``fn`` until it returns a truthy value or ``timeout`` seconds pass (then raise)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = fn()
        except Exception:  # not up yet
            value = None
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class CDP:
    """The smallest Chrome DevTools Protocol client: send a command, wait for its answer."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def __call__(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr: str):
        r = self("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    def shot(self, path: Path) -> Path:
        self.js(DISMISS)
        time.sleep(0.3)
        data = self("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print("saved", path)
        return path

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def drag(self, x: float, y: float, dx: float) -> None:
        self("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left",
             clickCount=1)  # fmt: skip
        for k in range(1, 11):
            self("Input.dispatchMouseEvent", type="mouseMoved", x=x + dx * k / 10, y=y,
                 button="left", buttons=1)  # fmt: skip
            time.sleep(0.03)
        self("Input.dispatchMouseEvent", type="mouseReleased", x=x + dx, y=y, button="left",
             clickCount=1)  # fmt: skip


#: Click "No" on JupyterLab's "notified about Jupyter news?" toast, if it is showing.
DISMISS = (
    "[...document.querySelectorAll('.jp-toast-button, .Toastify button')]"
    ".filter(b => b.textContent.trim() === 'No').forEach(b => b.click())"
)

# JavaScript helpers (evaluated in the page): centre of an element found by a small query.
FIND = """(() => {{ const els = [...document.querySelectorAll({sel!r})]
  .filter(e => e.offsetParent !== null && {pred});
  if (!els.length) return null; const e = els[{index}]; if (!e) return null;
  e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""


def find(cdp: CDP, sel: str, pred: str = "true", index: int = 0) -> list[float] | None:
    return cdp.js(FIND.format(sel=sel, pred=pred, index=index))


def slider_handle(cdp: CDP, label: str) -> list[float] | None:
    pred = f"(e.querySelector('.widget-label')||{{}}).textContent?.includes({label!r})"
    box = find(cdp, ".widget-slider", pred)
    if box is None:
        return None
    return cdp.js(
        "(() => { const s = [...document.querySelectorAll('.widget-slider')].filter(e => "
        f"e.offsetParent !== null && {pred})[0]; const h = s.querySelector('.noUi-handle');"
        " const r = h.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
        " })()"
    )


def busy(cdp: CDP) -> bool:
    """True while any cell waits or runs (``[*]``) or the kernel is busy."""
    return bool(
        cdp.js(
            "[...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent"
            ".includes('*')) || !!document.querySelector('.jp-Notebook-ExecutionIndicator"
            '[data-status="busy"]\')'
        )
    )


def start_lab(run: Path, port: int, settings: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "GLOG_minloglevel": "2"}  # fmt: skip
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))  # every cell stays in the DOM
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
           f"--port={port}", "--ip=127.0.0.1", "--IdentityProvider.token=", "--allow-root",
           f"--ServerApp.root_dir={run}", "--LabApp.expose_app_in_browser=True"]  # fmt: skip
    log = open(settings / "lab.log", "w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_chromium(binary: str, port: int, profile: Path) -> subprocess.Popen:
    cmd = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--remote-debugging-port={port}", "--remote-allow-origins=*",
           f"--user-data-dir={profile}", "--window-size=1500,1200", "about:blank"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tab(cdp: CDP, title: str) -> None:
    xy = find(cdp, ".widget-tab .lm-TabBar-tab", f"e.textContent.trim() === {title!r}")
    if xy is None:
        raise RuntimeError(f"no explorer tab {title!r}")
    cdp.click(*xy)
    time.sleep(1.5)


def drag_slider(cdp: CDP, label: str, dx: float, settle: float) -> None:
    xy = wait_for(f"slider {label!r}", lambda: slider_handle(cdp, label), 20)
    time.sleep(0.5)
    xy = slider_handle(cdp, label)  # after scrolling it into view
    cdp.drag(xy[0], xy[1], dx)
    time.sleep(1.0)
    wait_for("the kernel after the drag", lambda: not busy(cdp), settle)
    time.sleep(2.0)  # the Image widget repaints


def session(cdp: CDP, lab_port: int, out: Path, timeout: float) -> list[Path]:
    cdp("Page.enable")
    cdp("Emulation.setDeviceMetricsOverride", width=1500, height=1200, deviceScaleFactor=1,
        mobile=False)  # fmt: skip
    cdp("Page.navigate", url=f"http://127.0.0.1:{lab_port}/lab/tree/{LIVE}")
    wait_for("JupyterLab", lambda: cdp.js("!!window.jupyterapp && "
             "!!document.querySelector('.jp-Notebook .jp-Cell')"), 90)  # fmt: skip
    accept = "(() => { const b = document.querySelector('.jp-Dialog .jp-mod-accept');"
    accept += " if (b) b.click(); return !!b; })()"
    try:  # "Select Kernel" dialog (the executed copy names its kernel; Lab still asks)
        wait_for("the kernel dialog", lambda: cdp.js(accept), 20)
    except TimeoutError:
        pass
    wait_for("the kernel", lambda: cdp.js("!!document.querySelector("
             "'.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')"), 90)  # fmt: skip
    cdp.js(
        "[...document.querySelectorAll('.jp-Notification-Toast button')]"
        ".filter(b => b.textContent.trim() === 'No').forEach(b => b.click())"
    )  # news toast
    cdp.js("void window.jupyterapp.commands.execute('notebook:run-all-cells'), true")  # no await
    time.sleep(3)
    wait_for("all cells to run", lambda: not busy(cdp), timeout, every=2)
    wait_for("the explorer", lambda: find(cdp, ".widget-tab"), 30)
    time.sleep(3)
    shots = [cdp.shot(out / "01_image_tab.png")]
    drag_slider(cdp, "present", 70, 60)
    shots.append(cdp.shot(out / "02_image_threshold_moved.png"))
    tab(cdp, "video")
    drag_slider(cdp, "frame", 55, 60)
    shots.append(cdp.shot(out / "03_video_frame_moved.png"))
    tab(cdp, "AU sandbox")
    drag_slider(cdp, "AU12", 150, 60)
    shots.append(cdp.shot(out / "04_sandbox_au12_moved.png"))
    tab(cdp, "saliency")
    find(cdp, ".widget-tab .widget-image", "true")
    time.sleep(1.5)
    shots.append(cdp.shot(out / "05_saliency.png"))
    return shots


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="run folder with an executed notebook 06")
    p.add_argument("--port", type=int, default=8899, help="JupyterLab port")
    p.add_argument("--cdp-port", type=int, default=9229, help="Chromium DevTools port")
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    p.add_argument("--timeout", type=float, default=300, help="seconds for Run All")
    args = p.parse_args(argv)
    run = args.run.resolve()
    out = run / artifacts.NB06_SCREENSHOTS
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / NB, run / LIVE)
    tmp = Path(tempfile.mkdtemp(prefix="lf_shots_"))
    lab = start_lab(run, args.port, tmp / "settings")
    browser = start_chromium(args.chromium, args.cdp_port, tmp / "chromium")
    try:
        wait_for("JupyterLab's server", lambda: http_json(
            f"http://127.0.0.1:{args.port}/api/status"), 90)  # fmt: skip
        pages = wait_for("Chromium", lambda: [t for t in http_json(
            f"http://127.0.0.1:{args.cdp_port}/json") if t["type"] == "page"], 30)  # fmt: skip
        cdp = CDP(pages[0]["webSocketDebuggerUrl"])
        try:
            session(cdp, args.port, out, args.timeout)
        except Exception:
            cdp.shot(tmp / "failure.png")
            shutil.copyfile(tmp / "failure.png", Path(tempfile.gettempdir()) / "lf_failure.png")
            raise
    except Exception:
        print((tmp / "settings" / "lab.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in (browser, lab):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        (run / LIVE).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
