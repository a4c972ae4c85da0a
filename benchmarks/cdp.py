"""A minimal Chrome DevTools Protocol client: headless Chromium driven over ``--remote-debugging-pipe``.

Enough to open a page from disk, read values with JavaScript, send *trusted* mouse and key events (which,
unlike events made by a page's script, do what a person's do: drag a slider, move it with the arrow keys)
and take a screenshot. No network port is opened; messages are JSON, NUL-terminated, on file descriptors 3
(to Chromium) and 4 (from it).

  with Browser(chromium_path, flags, (1400, 1000)) as b:
      b.open("file:///.../index.html")
      b.eval("document.title")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

__all__ = ["Browser"]

KEYS = {"ArrowLeft": 37, "ArrowRight": 39, "Home": 36, "End": 35, "PageUp": 33, "PageDown": 34}


def _above_4(fd: int) -> int:
    """``fd`` moved to a number above 4, so that putting it on 3 or 4 in the child clobbers nothing."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return high


class Browser:
    """One headless Chromium with one page of ``size`` (width, height) CSS pixels at device scale 1."""

    def __init__(self, exe: str, flags, size=(1400, 1000), timeout: float = 60):
        self.timeout, self._id, self._buffer, self._events = timeout, 0, b"", []
        self._profile = tempfile.TemporaryDirectory(prefix="jaxsr-cdp-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        to_child, from_child = _above_4(to_child), _above_4(from_child)
        # bash puts the child's ends on 3 and 4 (no Python code runs between fork and exec: JAX's threads)
        shell = f'exec "$@" 3<&{to_child} 4>&{from_child} {to_child}<&- {from_child}>&-'
        self._proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", shell, "chromium", exe, *flags, "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child, from_child))
        os.close(to_child)
        os.close(from_child)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                  mobile=False, session=True)
        self.call("Page.enable", session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._profile.cleanup()

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, **params):
        """Send one command (to the page's session if ``session``) and return its result."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._events.append(self._message(deadline))

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event (images included)."""
        self._events.clear()
        self.call("Page.navigate", url=url, session=True)
        self.wait_event("Page.loadEventFired")

    def eval(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serializable)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True,
                           session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
        """Press the left button at (x0, y0), move to (x1, y1) in ``steps``, release (CSS pixels)."""
        mouse = lambda kind, x, y, **kw: self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y,  # noqa: E731
                                                   button="left", session=True, **kw)
        mouse("mouseMoved", x0, y0)
        mouse("mousePressed", x0, y0, buttons=1, clickCount=1)
        for k in range(1, steps + 1):
            mouse("mouseMoved", x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps, buttons=1)
        mouse("mouseReleased", x1, y1, buttons=0, clickCount=1)

    def key(self, name: str) -> None:
        """Press and release a key of ``KEYS`` on the focused element."""
        code = KEYS[name]
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=name, code=name, windowsVirtualKeyCode=code,
                      nativeVirtualKeyCode=code, session=True)

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", format="png", session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
