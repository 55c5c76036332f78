"""The built book in a real browser: headless Chromium opens every page, served from 127.0.0.1, fully offline.

The module builds the book strictly (`jupyter-book build -W -n --keep-going`) into a temporary folder, serves it
with `http.server` on a free port, and drives Chromium over the DevTools protocol (`websocket-client`, no driver
binary). Each page is visited once; the tests then check what was recorded: no console error, no request to any
other host, every image loaded, every internal link and anchor resolved, the mathematics typeset, the search page
finding a chapter, a Colab launch button on every chapter. Screenshots of the introduction and of a chapter are saved
to `_build/screenshots/` (git-ignored) for a person to look at.

Skipped only where no Chromium is installed (`apt-get install chromium`; `.ci/run` installs it). Set
TINYMASK_CHROMIUM to use a particular browser binary.
"""

import base64
import collections
import functools
import html.parser
import http.server
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websocket
import yaml

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chromium-headless-shell")
SEARCH_WORD, SEARCH_CHAPTER = "depthwise", "notebooks/03_mobilenet_alpha.html"
SCREENSHOT_PAGES = {"book/intro.html": "intro.png", SEARCH_CHAPTER: "03_mobilenet_alpha.png"}
VIEWPORT = (1280, 900)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Run in each page once it has loaded: wait for MathJax's first typesetting and for every image, then report.
PAGE_REPORT_JS = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = await Promise.all([...document.images].map(async (img) => {
    img.loading = "eager";
    try { await img.decode(); } catch (e) { /* reported below by naturalWidth */ }
    return {src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0};
  }));
  const math = [...document.querySelectorAll("span.math, div.math")];
  const launch = document.querySelector(".dropdown-launch-buttons button");
  return {
    url: location.href,
    title: document.title,
    text: document.body ? document.body.innerText.length : 0,
    stylesheets: document.styleSheets.length,
    images: images,
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    math: math.length,
    mathTypeset: math.filter((e) => e.querySelector("mjx-container")).length,
    mathErrors: document.querySelectorAll("mjx-merror").length,
    launchButtonVisible: !!launch && launch.getBoundingClientRect().width > 0,
    launchLinks: [...document.querySelectorAll(".dropdown-launch-buttons a[href]")].map((a) => a.href),
  };
})()
"""

# On search.html: the result links once Sphinx's search has finished (it then fills in the summary), else null.
SEARCH_RESULTS_JS = """
(() => {
  const summary = document.querySelector("#search-results .search-summary");
  if (!summary || !summary.innerText.trim()) { return null; }
  return [...document.querySelectorAll("#search-results ul.search a")].map((a) => a.href);
})()
"""


def find_browser():
    if os.environ.get("TINYMASK_CHROMIUM"):
        return os.environ["TINYMASK_CHROMIUM"]
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page target's websocket."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = collections.deque()

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        call_id = self.next_id
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, f"the reply to {method}")
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event, timeout=30):
        seen = [m for m in self.events if m["method"] == event]
        deadline = time.monotonic() + timeout
        while not seen:
            message = self._receive(deadline, f"the event {event}")
            if "method" in message:
                self.events.append(message)
                seen = [message] if message["method"] == event else []
        return seen[0]["params"]

    def drain(self, seconds):
        """Collect the events that arrive in the next `seconds` (late console messages, fonts)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                message = self._receive(deadline, None)
            except TimeoutError:
                return
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression, timeout=30):
        result = self.call(
            "Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _receive(self, deadline, what):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {what} from Chromium in time" if what else "drained")
        self.ws.settimeout(remaining)
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise TimeoutError(f"no {what} from Chromium in time" if what else "drained") from None

    def close(self):
        self.ws.close()


def launch_chromium(binary, profile):
    """Start headless Chromium with a DevTools port; return (process, DevTools client of its page)."""
    log = open(profile / "chromium.log", "wb")
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
        "--hide-scrollbars", f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_chromium(process)
            pytest.fail(f"Chromium did not start:\n{(profile / 'chromium.log').read_text()[-3000:]}")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    targets = json.load(NO_PROXY.open(f"http://127.0.0.1:{port}/json/list", timeout=30))
    page = next(t for t in targets if t["type"] == "page")
    return process, DevTools(page["webSocketDebuggerUrl"])


def stop_chromium(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the browser and the helpers it started, nothing else
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser hung up mid-file: not a failure
            super().handle_error(request, client_address)


def build_book(out):
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book if jupyter_book.exists() else shutil.which("jupyter-book")), "build", str(ROOT)]
    command += ["-W", "-n", "--keep-going", "--path-output", str(out)]
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"the strict book build failed:\n{(run.stdout + run.stderr)[-4000:]}"
    return out / "_build" / "html", time.monotonic() - start


class IdCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


def event_problems(events, base):
    """Console errors, exceptions, failed loads and requests to other hosts, from one page's DevTools events."""
    errors, foreign, requests = [], [], {}
    favicon = base + "favicon.ico"  # the browser asks for it by itself; the book declares no icon
    for message in events:
        method, params = message["method"], message["params"]
        urls = [params.get(key, {}).get("url") for key in ("request", "response", "entry")]
        if favicon in urls:
            continue
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            requests[params["requestId"]] = url
            if not (url.startswith(base) or url.split(":", 1)[0] in ("data", "blob", "about")):
                foreign.append(url)
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"failed to load {requests.get(params['requestId'], '?')}: {params['errorText']}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            errors.append(f"HTTP {params['response']['status']} for {params['response']['url']}")
    return errors, foreign


@pytest.fixture(scope="module")
def visit_all(tmp_path_factory):
    """Build, serve and visit every page once; return everything the tests check."""
    binary = find_browser()
    if not binary:
        pytest.skip(
            "no Chromium installed (looked for " + ", ".join(BROWSERS) + "): `apt-get install chromium` to run "
            "the browser check; .ci/run installs it"
        )
    html_dir, build_seconds = build_book(tmp_path_factory.mktemp("book"))
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(html_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    profile = tmp_path_factory.mktemp("chromium")
    process, tab = launch_chromium(binary, profile)
    start = time.monotonic()
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            tab.call(f"{domain}.enable")
        tab.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1,
                 mobile=False)  # fmt: skip
        tab.call("Network.setCacheDisabled", cacheDisabled=True)  # every page loads its own resources

        def visit(path):
            tab.events.clear()
            navigation = tab.call("Page.navigate", url=base + path)
            assert "errorText" not in navigation, f"{path}: {navigation['errorText']}"
            tab.wait_for("Page.loadEventFired")
            report = tab.evaluate(PAGE_REPORT_JS)
            tab.drain(0.3)
            report["errors"], report["foreign"] = event_problems(tab.events, base)
            return report

        pages = sorted(
            p.relative_to(html_dir).as_posix()
            for p in html_dir.rglob("*.html")
            if not p.relative_to(html_dir).parts[0].startswith("_")
        )
        reports, screenshots = {}, {}
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in pages:
            if path == "index.html":
                continue  # a redirect, checked below
            reports[path] = visit(path)
            if path in SCREENSHOT_PAGES:
                shot = base64.b64decode(tab.call("Page.captureScreenshot", format="png")["data"])
                screenshots[path] = SCREENSHOTS / SCREENSHOT_PAGES[path]
                screenshots[path].write_bytes(shot)

        # The front page redirects to the introduction.
        tab.call("Page.navigate", url=base + "index.html")
        deadline = time.monotonic() + 15
        landed = ""
        while time.monotonic() < deadline and not landed.endswith("book/intro.html"):
            time.sleep(0.1)
            try:
                landed = tab.evaluate("location.href") or ""
            except RuntimeError:
                pass  # the page was navigating
        # The search page, with a query in its URL.
        tab.events.clear()
        tab.call("Page.navigate", url=f"{base}search.html?q={SEARCH_WORD}")
        tab.wait_for("Page.loadEventFired")
        deadline, found = time.monotonic() + 20, None
        while time.monotonic() < deadline and found is None:
            try:
                found = tab.evaluate(SEARCH_RESULTS_JS)
            except RuntimeError:
                pass  # the page was still navigating
            time.sleep(0.1)
        browser_seconds = time.monotonic() - start
    finally:
        try:
            tab.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - the browser may already be gone; stop it below
            pass
        tab.close()
        stop_chromium(process)

    # Fetch every same-origin link (without its #fragment) once, and collect the ids of the HTML pages.
    statuses, ids = {}, {}
    for report in reports.values():
        for link in report["links"]:
            target = urllib.parse.urldefrag(link).url
            if target.startswith(base) and target not in statuses:
                try:
                    with NO_PROXY.open(target, timeout=30) as response:
                        statuses[target] = response.status
                        if response.headers.get_content_type() == "text/html":
                            collector = IdCollector()
                            collector.feed(response.read().decode("utf-8", "replace"))
                            ids[target] = collector.ids
                except urllib.error.HTTPError as error:
                    statuses[target] = error.code
    server.shutdown()
    server.server_close()
    return {
        "base": base, "html": html_dir, "pages": pages, "reports": reports, "screenshots": screenshots,
        "landed": landed, "search": found or [], "statuses": statuses, "ids": ids,
        "build_seconds": build_seconds, "browser_seconds": browser_seconds,
    }  # fmt: skip


def test_every_toc_entry_is_a_built_page(visit_all):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    missing = [f for f in files if f"{f}.html" not in visit_all["pages"]]
    assert not missing, f"in _toc.yml but not built: {missing}"
    print(
        f"\nbook: {len(visit_all['pages'])} pages built in {visit_all['build_seconds']:.1f} s, "
        f"visited in Chromium in {visit_all['browser_seconds']:.1f} s"
    )


def test_every_page_renders(visit_all):
    for path, report in visit_all["reports"].items():
        assert report["url"] == visit_all["base"] + path, f"{path}: landed on {report['url']}"
        assert report["title"] and report["text"] > 200, f"{path}: the page is blank ({report['text']} characters)"
        assert report["stylesheets"] > 0, f"{path}: no stylesheet loaded"


def test_no_console_errors_and_no_failed_loads(visit_all):
    problems = {path: r["errors"] for path, r in visit_all["reports"].items() if r["errors"]}
    assert not problems, f"console errors or failed loads: {json.dumps(problems, indent=1)}"


def test_nothing_is_loaded_from_another_host(visit_all):
    foreign = {path: r["foreign"] for path, r in visit_all["reports"].items() if r["foreign"]}
    assert not foreign, f"the book must work offline; these pages load from elsewhere: {json.dumps(foreign, indent=1)}"


def test_every_image_loads(visit_all):
    images = [(path, i) for path, r in visit_all["reports"].items() for i in r["images"]]
    assert any(path.startswith("notebooks/") for path, _ in images), "expected figures on the chapter pages"
    broken = [f"{path}: {i['src']}" for path, i in images if not i["ok"]]
    assert not broken, "images that did not load:\n" + "\n".join(broken)


def test_internal_links_and_anchors_resolve(visit_all):
    base, statuses, ids = visit_all["base"], visit_all["statuses"], visit_all["ids"]
    bad = []
    for path, report in visit_all["reports"].items():
        for link in report["links"]:
            target, fragment = urllib.parse.urldefrag(link)
            if not target.startswith(base):
                continue
            if statuses[target] != 200:
                bad.append(f"{path}: {link} -> HTTP {statuses[target]}")
            elif fragment and target in ids and urllib.parse.unquote(fragment) not in ids[target]:
                bad.append(f"{path}: {link} -> no element with id '{fragment}'")
    assert len(statuses) > len(visit_all["reports"]), "too few internal links found to be a real check"
    assert not bad, "broken internal links:\n" + "\n".join(bad)


def test_math_is_typeset(visit_all):
    with_math = {path: r for path, r in visit_all["reports"].items() if r["math"]}
    assert with_math, "no page with mathematics found: the MathJax check would prove nothing"
    for path, report in with_math.items():
        assert report["mathTypeset"] == report["math"], (
            f"{path}: MathJax typeset {report['mathTypeset']} of {report['math']} formulas"
        )
        assert report["mathErrors"] == 0, f"{path}: {report['mathErrors']} MathJax errors"


def test_search_finds_a_chapter_by_a_word_in_it(visit_all):
    chapter_text = (visit_all["html"] / SEARCH_CHAPTER).read_text().lower()
    assert SEARCH_WORD in chapter_text, f"the search word '{SEARCH_WORD}' is no longer in {SEARCH_CHAPTER}"
    hits = [urllib.parse.urlsplit(h).path.lstrip("/") for h in visit_all["search"]]
    assert SEARCH_CHAPTER in hits, f"search.html?q={SEARCH_WORD} listed {hits}, not {SEARCH_CHAPTER}"


def test_every_chapter_has_a_colab_launch_button(visit_all):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repository = urllib.parse.urlsplit(config["repository"]["url"]).path.strip("/")
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    chapters = [p for p in visit_all["reports"] if p.startswith("notebooks/")]
    assert chapters, "no chapter pages were built"
    for path in chapters:
        report = visit_all["reports"][path]
        notebook = path.removesuffix(".html") + ".ipynb"
        expected = f"{colab}/github/{repository}/blob/{config['repository']['branch']}/{notebook}"
        assert report["launchButtonVisible"], f"{path}: the launch (rocket) button is not shown"
        assert expected in report["launchLinks"], f"{path}: no Colab launch link {expected}"


def test_front_page_opens_the_introduction(visit_all):
    assert visit_all["landed"] == visit_all["base"] + "book/intro.html", f"index.html led to {visit_all['landed']}"


def test_screenshots_are_saved_for_people(visit_all):
    for file in visit_all["screenshots"].values():
        data = file.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{file} is not a PNG"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == VIEWPORT, f"{file} is {width}x{height}, not {VIEWPORT}"
    assert set(visit_all["screenshots"]) == set(SCREENSHOT_PAGES), "a page to screenshot was not built"
