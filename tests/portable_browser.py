"""Drives the converter page (build/web, `make wasm`) in headless Chromium, for tests/test_portable.py
and bench/portable.py.

No Python browser package is needed: Debian's chromium-driver speaks the W3C WebDriver protocol
(JSON over HTTP on a local port), and the few commands used here fit in a small client. The page is
served by a static file server on 127.0.0.1 in a thread of this process; chromedriver and Chromium
are started here and stopped by `close()`.
"""
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(ROOT, "build", "web")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


class StaticServer:
    """build/web on http://127.0.0.1:PORT/ (what any static host would do: no server-side work)."""

    def __init__(self, directory=WEB):
        handler = functools.partial(_QuietHandler, directory=directory)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def find_tools():
    """(chromedriver, chromium binary) from Debian's packages, or an AssertionError saying what is missing."""
    driver = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    browser = "/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else shutil.which("chromium")
    assert os.path.exists(driver) and browser, \
        "chromium and chromium-driver are missing: `make portable-deps` (run by `make test`) installs them"
    return driver, browser


class Browser:
    """One headless Chromium session. Downloads land in `download_dir`."""

    def __init__(self, download_dir, log_path, width=1280, height=2000):
        driver, browser = find_tools()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        try:
            self._wait_ready()
            args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", f"--window-size={width},{height}"]
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser, "args": args,
                    "prefs": {"download.default_directory": download_dir,
                              "download.prompt_for_download": False,
                              "safebrowsing.enabled": False}}}}}
            r = self._call("POST", "/session", caps)
            self.session = r["sessionId"]
            # headless Chromium also needs downloads allowed through the DevTools protocol
            self._call("POST", f"/session/{self.session}/goog/cdp/execute",
                       {"cmd": "Browser.setDownloadBehavior",
                        "params": {"behavior": "allow", "downloadPath": download_dir}})
        except BaseException:
            self.close()
            raise

    # ---- protocol ----
    def _call(self, method, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                out = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise RuntimeError(f"WebDriver {method} {path}: HTTP {e.code}: {detail[:2000]}") from None
        value = out.get("value", out)
        if method == "POST" and path == "/session":
            return value if "sessionId" in value else {"sessionId": out.get("sessionId"), **value}
        return value

    def _wait_ready(self, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromedriver exited with status {self.proc.returncode}")
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        raise RuntimeError("chromedriver did not start")

    def _s(self, path):
        return f"/session/{self.session}{path}"

    # ---- commands ----
    def get(self, url):
        self._call("POST", self._s("/url"), {"url": url})

    def find(self, css):
        return self._call("POST", self._s("/element"), {"using": "css selector", "value": css})[ELEMENT]

    def send_keys(self, css, text):
        self._call("POST", self._s(f"/element/{self.find(css)}/value"), {"text": text})

    def click(self, css):
        self._call("POST", self._s(f"/element/{self.find(css)}/click"), {})

    def js(self, script, *args):
        return self._call("POST", self._s("/execute/sync"), {"script": script, "args": list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self._call("GET", self._s("/screenshot")))
        with open(path, "wb") as f:
            f.write(png)

    def wait_js(self, script, until, timeout=300, poll=0.05):
        """Polls `script` until `until(value)`; returns the value."""
        t0 = time.time()
        while True:
            v = self.js(script)
            if until(v):
                return v
            if time.time() - t0 > timeout:
                raise TimeoutError(f"waited {timeout} s; last value {v!r}")
            time.sleep(poll)

    def close(self):
        if self.session:
            try:
                self._call("DELETE", f"/session/{self.session}", timeout=30)
            except (OSError, RuntimeError):
                pass
            self.session = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# what the page shows, read from its DOM
READ_PAGE = r"""
const q = (s) => document.querySelector(s);
const rows = (s) => [...document.querySelectorAll(s + " tbody tr")].map(
    (tr) => [...tr.children].map((td) => td.textContent));
return {
  state: document.body.dataset.state,
  error: q("#error").hidden ? null : q("#error").firstChild.textContent,
  hint: q("#error .hint") ? q("#error .hint").textContent : null,
  summary: q("#summary").textContent,
  io: rows("#io"),
  onnx_ops: rows("#onnx-ops"),
  tflite_ops: rows("#tflite-ops"),
  transposes: q("#transposes") ? q("#transposes").textContent : null,
  op_summary: q("#op-summary").textContent,
  warnings: [...document.querySelectorAll("#warnings li")].map((li) => li.textContent),
  download_name: q("#download").getAttribute("download"),
  convert_ms: parseFloat(q("#timing").dataset.convertMs),
  read_ms: parseFloat(q("#timing").dataset.readMs),
  report_ms: parseFloat(q("#timing").dataset.reportMs),
  progress: JSON.parse(document.body.dataset.progress || "[]"),
  version: q("#version").textContent,
};
"""


class Page:
    """The converter page in a Browser: open it, convert a file, download the result."""

    def __init__(self, browser, url, download_dir):
        self.b, self.url, self.downloads = browser, url, download_dir
        self.b.get(url)
        self.b.wait_js("return document.body.dataset.state", lambda s: s != "loading", timeout=60)

    def convert(self, *paths, timeout=300):
        """Picks `paths` (a model, and its data files) in the file input and waits for the result;
        returns READ_PAGE's dict."""
        self.b.js("document.body.dataset.state = 'submitted'")
        self.b.send_keys("#file", "\n".join(os.path.abspath(p) for p in paths))
        self.b.wait_js("return document.body.dataset.state", lambda s: s in ("done", "error"), timeout=timeout)
        return self.b.js(READ_PAGE)

    def download(self, name, timeout=60):
        """Clicks the download link; returns the downloaded file's bytes."""
        dest = os.path.join(self.downloads, name)
        if os.path.exists(dest):
            os.unlink(dest)
        self.b.click("#download")
        t0 = time.time()
        while True:
            partial = [f for f in os.listdir(self.downloads) if f.endswith(".crdownload")]
            if os.path.exists(dest) and not partial:
                with open(dest, "rb") as f:
                    return f.read()
            if time.time() - t0 > timeout:
                raise TimeoutError(f"no download of {name} in {timeout} s: {os.listdir(self.downloads)}")
            time.sleep(0.05)
