"""Edge Impulse Studio from Python: connect with an API key, pick a latency device, upload images, profile a .tflite (introduced in notebooks/07_edge_impulse.ipynb).

A thin layer over the ``edgeimpulse-api`` package (the Studio API at ``https://studio.edgeimpulse.com/v1``) and, for
uploads, the ingestion service's documented ``POST /api/<category>/files`` (not part of that package; sent here with
``urllib``). The API key comes from the ``EI_API_KEY`` environment variable or, only when asked and interactive, a
``getpass`` prompt; it stays in memory: it is never written to disk, printed, or shown by a ``repr``.

Without a key or a network (``TINYMASK_OFFLINE=1``, the tests and CI) :func:`connect` returns an :class:`Offline`
stand-in whose methods print one line saying what they would do and how to enable them, and return None.
Every host is an argument, so the tests point the module at a local server.
"""

import base64
import getpass
import io
import ipaddress
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import memory
from .errors import InputError, InputTypeError, TinymaskError

__all__ = [
    "KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_INGESTION_HOST",
    "CATEGORIES",
    "LECTURE_FIGURES",
    "ENABLE_HINT",
    "EdgeImpulseError",
    "ProfileResult",
    "EdgeImpulse",
    "Offline",
    "connect",
    "closest_device",
    "ingestion_upload",
    "encode_png",
    "redact",
]

KEY_ENV = "EI_API_KEY"
#: The Studio API (what ``edgeimpulse_api.Configuration`` uses by default).
DEFAULT_HOST = "https://studio.edgeimpulse.com/v1"
#: The ingestion service, which stores uploaded samples in a project.
DEFAULT_INGESTION_HOST = "https://ingestion.edgeimpulse.com"
#: Ingestion endpoints: ``POST /api/<category>/files`` ("validation" needs the project's explicit validation set).
CATEGORIES = ("training", "validation", "testing", "split", "anomaly")
#: What Edge Impulse Studio's transfer-learning block says its int8 MobileNetV1 96x96 models use ("around ... with
#: default settings and optimizations"), in Studio's "K", as the lecture quotes them: alpha -> (RAM K, ROM K).
LECTURE_FIGURES = {0.25: (105.9, 301.6), 0.2: (83.1, 218.3), 0.1: (53.2, 101.0)}
ENABLE_HINT = (f"To enable: create a project API key in Edge Impulse Studio (Dashboard -> Keys), set {KEY_ENV} to it "
               "and rerun (or call connect(prompt=True) in an interactive session)")

_PNG_LABEL = re.compile(r"[^A-Za-z0-9_-]+")


class EdgeImpulseError(TinymaskError, RuntimeError):
    """A call to Edge Impulse failed; the message says what failed and what to do. ``kind`` is one of
    "auth", "network", "timeout", "service", "request" or "job"."""

    def __init__(self, message, kind="request"):
        super().__init__(message)
        self.kind = kind


def redact(text, secret):
    """``text`` with every occurrence of ``secret`` (an API key) replaced by ``<API key>``."""
    text = str(text)
    return text.replace(secret, "<API key>") if secret else text


# --------------------------------------------------------------------------------------------- error messages
def _excerpt(body, limit=200):
    """The service's own error text from a response body: its JSON ``error`` field, else the start of the text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    body = (body or "").strip()
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and parsed.get("error"):
            body = str(parsed["error"])
    except ValueError:
        pass
    body = " ".join(body.split())
    return body[:limit] + ("..." if len(body) > limit else "")


def _status_error(what, status, reason, body, secret):
    said = _excerpt(body)
    said = f": {said}" if said else ""
    http = f"HTTP {status}{' ' + reason if reason else ''}"
    if status == 401:
        message, kind = (f"Edge Impulse refused the API key when asked to {what} ({http}{said}). "
                         f"Check the key: create a project API key in Studio (Dashboard -> Keys) and set {KEY_ENV} "
                         "to it"), "auth"
    elif status == 403:
        message, kind = (f"the API key may not {what} ({http}{said}); use a project key with the admin role "
                         "(Dashboard -> Keys), not a read-only or ingestion-only one"), "auth"
    elif status == 404:
        message, kind = (f"Edge Impulse has no such resource when asked to {what} ({http}{said}); check the host "
                         "and the project or job id"), "request"
    elif status is not None and 500 <= status <= 599:
        message, kind = (f"Edge Impulse service error when asked to {what} ({http}{said}); the failure is on the "
                         "service's side: try again in a few minutes"), "service"
    else:
        message, kind = f"Edge Impulse could not {what} ({http}{said})", "request"
    return EdgeImpulseError(redact(message, secret), kind)


def _is_timeout(error):
    import urllib3

    timeouts = (TimeoutError, socket.timeout, urllib3.exceptions.TimeoutError)
    for e in (error, getattr(error, "reason", None)):
        if isinstance(e, (urllib3.exceptions.NewConnectionError, ConnectionError)):
            return False  # refused or unresolvable (urllib3 2 makes NewConnectionError a ConnectTimeoutError)
        if isinstance(e, timeouts):
            return True
    return False


def _network_error(what, host, error, timeout, secret):
    if _is_timeout(error):
        return EdgeImpulseError(redact(
            f"no answer from {host} within {timeout:g} s when asked to {what}; the service may be busy: try again, "
            "or pass a longer request_timeout", secret), "timeout")
    reason = getattr(error, "reason", None) or error
    reason = re.sub(r"<[^>]*>:?\s*", "", " ".join(str(reason).split()))[:160]  # drop "<... object at 0x...>:"
    return EdgeImpulseError(redact(
        f"cannot reach {host} to {what} ({type(error).__name__}: {reason}); check the network connection and the "
        "host, or work offline (unset EI_API_KEY)", secret), "network")


# --------------------------------------------------------------------------------------------- devices
def _field(device, name):
    return device.get(name) if isinstance(device, dict) else getattr(device, name, None)


def _clock_mhz(text):
    found = re.search(r"(\d+(?:\.\d+)?)\s*mhz", text)
    return float(found.group(1)) if found else None


def closest_device(devices, board="openmv-h7"):
    """The latency device most like ``board`` (a ``memory.BOARDS`` key or ``memory.Board``) and why: ``(device,
    reason)``.

    ``devices`` are ``edgeimpulse_api.LatencyDevice`` objects (or dicts with ``mcu`` and ``name``), as the project's
    ``latencyDevices`` lists them; the list changes over time, so nothing here names a fixed id. Ranking, from best:
    a device named after the board (``OpenMV`` + ``H7``, ``Plus`` only for the Plus), then one with the board's MCU
    family (``STM32H7``), then the same core (``Cortex-M7``), then the nearest clock to the board's (480 MHz).
    """
    b = memory.board(board)
    devices = list(devices or [])
    if not devices:
        raise EdgeImpulseError("the project lists no latency devices; open the project once in Studio and retry")
    words = re.findall(r"[a-z0-9]+", b.name.lower().replace("cam", ""))  # "openmv", "h7" (+ "plus")
    family = b.mcu.lower()[:7]  # "stm32h7"
    core = re.search(r"cortex-m\d+", b.core.lower())
    core = core.group(0) if core else ""

    def rank(device):
        text = f"{_field(device, 'name') or ''} {_field(device, 'mcu') or ''}".lower()
        tokens = set(re.findall(r"[a-z0-9]+", text))
        sibling = all(w in tokens for w in words if w != "plus")  # e.g. the H7 Plus for the H7: same MCU
        named = sibling and ("plus" in tokens) == ("plus" in words)
        same_core = bool(core) and bool(re.search(core.replace("-", r"[-_ ]?") + r"(?!\d)", text))
        clock = _clock_mhz(text)
        distance = abs(clock - b.clock_mhz) if clock is not None else float("inf")
        return (named, sibling, family in text, same_core, -distance), clock, text

    scored = [(rank(d), i, d) for i, d in enumerate(devices)]
    (key, clock, text), _, best = max(scored, key=lambda s: (s[0][0], -s[1]))
    named, sibling, same_family, same_core, _ = key
    at = f" at {clock:g} MHz" if clock is not None else ""
    if named:
        reason = f"named after the {b.name}"
    elif sibling:
        reason = f"a sibling of the {b.name} with the same MCU"
    elif same_family:
        reason = f"same MCU family as the {b.name} ({family.upper()})"
    elif same_core:
        same = clock is not None and clock == b.clock_mhz
        reason = (f"same core as the {b.name} ({core}) at the same clock, {b.clock_mhz} MHz" if same else
                  f"same core as the {b.name} ({core}){at}, the nearest clock to its {b.clock_mhz} MHz")
    else:
        reason = f"no {core} in the list; nearest clock{at} to the {b.name}'s {b.clock_mhz} MHz"
    return best, reason


# --------------------------------------------------------------------------------------------- ingestion
def encode_png(image):
    """One uint8 image (H, W, 3) or (H, W, 1) as PNG bytes (lossless, so Studio sees exactly our pixels)."""
    import numpy as np
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise InputError(f"expected a uint8 image (H, W, 3) or (H, W, 1), got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def _is_loopback(url):
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ingestion_upload(files, api_key, *, category="training", label=None, host=DEFAULT_INGESTION_HOST, timeout=30.0,
                     disallow_duplicates=True):
    """Send ``files`` (``[(file_name, bytes), ...]``, at most 1000) in one ``multipart/form-data`` POST to
    ``{host}/api/{category}/files``, the ingestion service's documented files endpoint, with the headers
    ``x-api-key``, ``x-label`` (when ``label`` is given) and ``x-disallow-duplicates``. Returns the service's answer
    (parsed JSON, or its text); raises :class:`EdgeImpulseError` when it refuses the request or any file.
    """
    if category not in CATEGORIES:
        raise InputError(f"category={category!r}: use one of {', '.join(CATEGORIES)}")
    files = list(files)
    if not 1 <= len(files) <= 1000:
        raise InputError(f"send 1 to 1000 files per request (the ingestion service's limit), got {len(files)}")
    boundary = f"tinymask-{uuid.uuid4().hex}"
    parts = []
    for name, data in files:
        parts += [f"--{boundary}\r\n".encode(),
                  f'Content-Disposition: form-data; name="data"; filename="{name}"\r\n'.encode(),
                  b"Content-Type: image/png\r\n\r\n" if name.endswith(".png") else
                  b"Content-Type: application/octet-stream\r\n\r\n",
                  bytes(data), b"\r\n"]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {"x-api-key": api_key, "Content-Type": f"multipart/form-data; boundary={boundary}",
               "Accept": "application/json"}
    if label is not None:
        headers["x-label"] = str(label)
    if disallow_duplicates:
        headers["x-disallow-duplicates"] = "1"
    url = f"{host.rstrip('/')}/api/{category}/files"
    what = f"store {len(files)} files (POST /api/{category}/files)"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = (urllib.request.build_opener(urllib.request.ProxyHandler({})) if _is_loopback(url)
              else urllib.request.build_opener())
    try:
        with opener.open(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        raise _status_error(what, error.code, error.reason, error.read(), api_key) from None
    except (urllib.error.URLError, OSError) as error:
        raise _network_error(what, urlsplit(url).netloc, error, timeout, api_key) from None
    try:
        answer = json.loads(text)
    except ValueError:
        return text
    refused = [f for f in answer.get("files", []) if isinstance(f, dict) and not f.get("success", True)]
    if answer.get("success") is False or refused:
        detail = "; ".join(f"{f.get('fileName', '?')}: {f.get('error', 'refused')}" for f in refused[:3])
        raise EdgeImpulseError(redact(
            f"the ingestion service refused {len(refused) or 'the'} of {len(files)} files "
            f"({detail or answer.get('error', 'no reason given')}); fix those files or labels and upload them again",
            api_key), "request")
    return answer


# --------------------------------------------------------------------------------------------- profiling result
@dataclass(frozen=True)
class ProfileResult:
    """What Edge Impulse measured for a .tflite on one latency device: RAM, ROM and arena bytes of ``engine``
    (``"eon"`` for the EON compiler where Studio profiled it, else ``"tflite"``), the time per inference in ms,
    and every engine's ``(ram, rom, arena)`` in ``engines``."""

    job_id: int
    device: str
    variant: str
    tflite_bytes: int
    supported: bool
    engine: str | None
    ram_bytes: int | None
    rom_bytes: int | None
    arena_bytes: int | None
    latency_ms: int | None
    engines: dict = field(default_factory=dict)
    note: str = ""

    def __str__(self):
        if self.engine is None:
            return f"{self.device}: no memory figures ({self.note or 'none returned'})"
        ms = f", {self.latency_ms} ms per inference" if self.latency_ms is not None else ""
        return (f"{self.device} ({self.engine}): RAM {self.ram_bytes:,} B, ROM {self.rom_bytes:,} B, "
                f"arena {self.arena_bytes:,} B{ms}")


def _profile_result(job_id, response):
    memory_info = response.memory
    engines = {}
    for name in ("eon", "eon_ram_optimized", "tflite"):
        detail = getattr(memory_info, name, None) if memory_info is not None else None
        if detail is not None:
            engines[name] = (detail.ram, detail.rom, detail.arena_size)
    engine = next((e for e in ("eon", "tflite", "eon_ram_optimized") if e in engines), None)
    ram, rom, arena = engines.get(engine, (None, None, None))
    note = response.profiling_error or response.mcu_support_error or ""
    variant = getattr(response.variant, "value", response.variant)
    return ProfileResult(job_id, response.device, str(variant), response.tflite_file_size_bytes,
                         bool(response.is_supported_on_mcu), engine, ram, rom, arena, response.time_per_inference_ms,
                         engines, note)


# --------------------------------------------------------------------------------------------- the connection
class EdgeImpulse:
    """A connection to one Edge Impulse project (the one the API key belongs to). Build it with :func:`connect`.

    ``host`` is the Studio API base (default :data:`DEFAULT_HOST`), ``ingestion_host`` the ingestion service's;
    ``request_timeout`` bounds each HTTP request in seconds; ``retries`` is how many times a failed connection is
    retried. The key lives only inside the ``edgeimpulse_api`` configuration; ``repr`` shows ``<hidden>``.
    """

    def __init__(self, api_key, *, host=DEFAULT_HOST, ingestion_host=DEFAULT_INGESTION_HOST, request_timeout=30.0,
                 retries=1):
        import edgeimpulse_api
        import urllib3

        if not api_key or not isinstance(api_key, str):
            raise InputError(f"api_key must be a non-empty string (a project API key, see {KEY_ENV})")
        self.host = host.rstrip("/")
        self.ingestion_host = ingestion_host.rstrip("/")
        self.request_timeout = float(request_timeout)
        config = edgeimpulse_api.Configuration(host=self.host, api_key={"ApiKeyAuthentication": api_key})
        # The package's default retries a refused connection 10 times with growing back-off (minutes offline).
        config.retries = urllib3.Retry(total=retries, connect=retries, read=0, status=0, redirect=2,
                                       backoff_factor=0.2)
        self._api = edgeimpulse_api.ApiClient(config)
        self._project = None
        self._modules = edgeimpulse_api

    available = True

    def __repr__(self):
        project = f", project_id={self._project[0]}" if self._project else ""
        return f"EdgeImpulse(host={self.host!r}{project}, api_key=<hidden>)"

    def __reduce__(self):
        raise InputTypeError("an EdgeImpulse connection holds an API key and is not saved; call connect() again")

    @property
    def _key(self):
        return self._api.configuration.api_key["ApiKeyAuthentication"]

    def _call(self, what, function, *args):
        from edgeimpulse_api.exceptions import ApiException
        import urllib3

        try:
            return function(*args, _request_timeout=self.request_timeout)
        except ApiException as error:
            if not error.status:  # SSL and request-building errors carry no HTTP status
                raise _network_error(what, urlsplit(self.host).netloc, error, self.request_timeout,
                                     self._key) from None
            raise _status_error(what, error.status, error.reason, error.body, self._key) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _network_error(what, urlsplit(self.host).netloc, error, self.request_timeout, self._key) from None
        except EdgeImpulseError:
            raise
        except Exception as error:  # noqa: BLE001 - the client raises a bare Exception for {"success": false}
            raise EdgeImpulseError(redact(f"Edge Impulse could not {what}: {_excerpt(str(error))}", self._key),
                                   "request") from None

    # ---- project and devices
    def project(self):
        """``(id, name)`` of the key's project (``GET /api/projects``)."""
        if self._project is None:
            api = self._modules.ProjectsApi(self._api)
            answer = self._call("list your projects (GET /api/projects)", api.list_projects)
            if not answer.projects:
                raise EdgeImpulseError("this API key sees no project; create a project API key in Studio "
                                       "(Dashboard -> Keys)", "auth")
            self._project = (answer.projects[0].id, answer.projects[0].name)
        return self._project

    @property
    def project_id(self):
        return self.project()[0]

    def latency_devices(self):
        """The devices Studio estimates latency for (``latencyDevices`` of ``GET /api/{projectId}``), as
        ``edgeimpulse_api.LatencyDevice`` objects (``.mcu`` is the id :meth:`profile` takes, ``.name`` the label)."""
        pid = self.project_id
        api = self._modules.ProjectsApi(self._api)
        info = self._call(f"read the project (GET /api/{pid})", api.get_project_info, pid)
        return list(info.latency_devices or [])

    def pick_device(self, board="openmv-h7"):
        """``(device, reason)``: the latency device closest to ``board`` (see :func:`closest_device`)."""
        return closest_device(self.latency_devices(), board)

    # ---- data
    def upload(self, images, labels, classes, category="training", batch_size=100):
        """Upload uint8 images with integer ``labels`` (names from ``classes``) to ``category`` through the
        ingestion service, as lossless PNGs, one request per label and batch. Returns the number of files sent."""
        import numpy as np

        images, labels = np.asarray(images), np.asarray(labels)
        if len(images) != len(labels):
            raise InputError(f"{len(images)} images but {len(labels)} labels: pass one label per image")
        if not 1 <= batch_size <= 1000:
            raise InputError(f"batch_size must be 1 to 1000 (the ingestion service's limit), got {batch_size}")
        sent = 0
        for k, name in enumerate(classes):
            index = np.flatnonzero(labels == k)
            safe = _PNG_LABEL.sub("_", str(name))
            for start in range(0, len(index), batch_size):
                chunk = index[start:start + batch_size]
                files = [(f"{safe}.{i:05d}.png", encode_png(images[i])) for i in chunk]
                ingestion_upload(files, self._key, category=category, label=name, host=self.ingestion_host,
                                 timeout=self.request_timeout)
                sent += len(files)
        return sent

    # ---- profiling
    def start_profile(self, tflite_bytes, device):
        """Start Studio's profiling job for a .tflite on ``device`` (a latency device's ``mcu`` id); the job id."""
        pid = self.project_id
        request = self._modules.ProfileTfLiteRequest(
            tflite_file_base64=base64.b64encode(bytes(tflite_bytes)).decode("ascii"), device=str(device))
        api = self._modules.JobsApi(self._api)
        answer = self._call(f"start a profile job (POST /api/{pid}/jobs/profile-tflite)",
                            api.start_profile_tflite_job, pid, request)
        return answer.id

    def wait(self, job_id, timeout=120.0, poll_interval=2.0):
        """Poll ``GET /api/{projectId}/jobs/{jobId}/status`` until the job finishes; its ``edgeimpulse_api.Job``.
        Raises :class:`EdgeImpulseError` when it fails or is still running after ``timeout`` seconds."""
        pid = self.project_id
        api = self._modules.JobsApi(self._api)
        deadline = time.monotonic() + timeout
        while True:
            job = self._call(f"read job {job_id}'s status (GET /api/{pid}/jobs/{job_id}/status)",
                             api.get_job_status, pid, job_id).job
            if job.finished:
                if job.finished_successful is False:
                    raise EdgeImpulseError(f"profile job {job_id} failed; open the project's Jobs panel in Studio "
                                           "for its log", "job")
                return job
            if time.monotonic() + poll_interval > deadline:
                raise EdgeImpulseError(
                    f"profile job {job_id} did not finish in {timeout:g} s; it may still be running: read it later "
                    f"with profile_result({job_id}), or pass a longer timeout", "timeout")
            time.sleep(poll_interval)

    def profile_result(self, job_id):
        """The :class:`ProfileResult` of a finished profile job (``GET .../jobs/profile-tflite/{jobId}/result``)."""
        pid = self.project_id
        api = self._modules.JobsApi(self._api)
        answer = self._call(f"read profile job {job_id}'s result (GET /api/{pid}/jobs/profile-tflite/{job_id}/result)",
                            api.get_profile_tflite_job_result, pid, job_id)
        return _profile_result(job_id, answer)

    def profile(self, tflite_bytes, device=None, timeout=120.0, poll_interval=2.0, board="openmv-h7"):
        """Profile a .tflite on ``device`` (default: the latency device closest to ``board``): start the job, wait
        for it (at most ``timeout`` s) and return its :class:`ProfileResult`."""
        if device is None:
            device = _field(self.pick_device(board)[0], "mcu")
        job_id = self.start_profile(tflite_bytes, device)
        self.wait(job_id, timeout=timeout, poll_interval=poll_interval)
        return self.profile_result(job_id)


class Offline:
    """What :func:`connect` returns without a key or a network: the same methods as :class:`EdgeImpulse`, each
    printing one line (what it would do, and how to enable it) and returning None. It is false in an ``if``."""

    available = False

    def __init__(self, reason, hint=ENABLE_HINT, host=DEFAULT_HOST, ingestion_host=DEFAULT_INGESTION_HOST):
        self.reason, self.hint, self.host, self.ingestion_host = reason, hint, host, ingestion_host

    def __bool__(self):
        return False

    def __repr__(self):
        return f"Offline(reason={self.reason!r})"

    def _skip(self, would):
        print(f"Edge Impulse skipped ({self.reason}): would {would}.")

    def project(self):
        return self._skip(f"read the key's project (GET {self.host}/api/projects)")

    def latency_devices(self):
        return self._skip(f"list the project's latency devices (GET {self.host}/api/<project id>)")

    def pick_device(self, board="openmv-h7"):
        return self._skip(f"pick the latency device closest to the {memory.board(board).name}")

    def upload(self, images, labels, classes, category="training", batch_size=100):
        import numpy as np

        labels = np.asarray(labels)
        counts = ", ".join(f"{int((labels == k).sum()):,} {name}" for k, name in enumerate(classes))
        return self._skip(f"upload {len(labels):,} images ({counts}) as PNG to {category} "
                          f"(POST {self.ingestion_host}/api/{category}/files)")

    def start_profile(self, tflite_bytes, device):
        return self._skip(f"start a profile job for the {len(tflite_bytes):,}-byte model on {device}")

    def wait(self, job_id, timeout=120.0, poll_interval=2.0):
        return self._skip(f"wait up to {timeout:g} s for job {job_id}")

    def profile_result(self, job_id):
        return self._skip(f"read profile job {job_id}'s result")

    def profile(self, tflite_bytes, device=None, timeout=120.0, poll_interval=2.0, board="openmv-h7"):
        on = device or f"the latency device closest to the {memory.board(board).name}"
        return self._skip(f"profile the {len(tflite_bytes):,}-byte model on {on} "
                          f"(POST {self.host}/api/<project id>/jobs/profile-tflite) and read back RAM, ROM "
                          "and latency")


# --------------------------------------------------------------------------------------------- connect
def _offline_env():
    return os.environ.get("TINYMASK_OFFLINE", "") not in ("", "0", "false", "False")


def _may_prompt():
    """A prompt only where a person can answer: never under pytest/nbval or offline, and only with a terminal or a
    notebook kernel that accepts input."""
    if "PYTEST_CURRENT_TEST" in os.environ or _offline_env() or "pytest" in sys.modules:
        return False
    try:
        shell = get_ipython()  # noqa: F821 - defined inside IPython and Jupyter only
        return getattr(getattr(shell, "kernel", None), "_allow_stdin", True)
    except NameError:
        return sys.stdin is not None and sys.stdin.isatty()


def _prompt_for_key():
    if not _may_prompt():
        return None
    try:
        key = getpass.getpass("Edge Impulse API key (Studio: Dashboard -> Keys; input hidden): ").strip()
    except Exception:  # noqa: BLE001 - no stdin (StdinNotImplementedError, EOFError): stay offline
        return None
    return key or None


def connect(api_key=None, *, prompt=False, host=DEFAULT_HOST, ingestion_host=DEFAULT_INGESTION_HOST,
            request_timeout=30.0, retries=1):
    """An :class:`EdgeImpulse` connection for the key's project, or an :class:`Offline` stand-in; prints one line.

    The key is ``api_key``, else ``$EI_API_KEY``, else (only with ``prompt=True`` in an interactive session, never
    under tests) a hidden ``getpass`` prompt. Offline, with one line saying why, when there is no key, when
    ``TINYMASK_OFFLINE=1`` and ``host`` is not this machine, when ``edgeimpulse-api`` is missing, or when the host
    cannot be reached. A key the service refuses raises :class:`EdgeImpulseError` saying how to make a new one.
    """
    def offline(reason, hint=ENABLE_HINT):
        print(f"Edge Impulse: offline ({reason}). {hint}.")
        return Offline(reason, hint, host.rstrip("/"), ingestion_host.rstrip("/"))

    # The key first: without one the answer is the same whether or not TINYMASK_OFFLINE is set, so a chapter
    # prints the same line under the tests and on a student's laptop.
    key = api_key or os.environ.get(KEY_ENV, "").strip() or (_prompt_for_key() if prompt else None)
    if not key:
        return offline(f"no API key: {KEY_ENV} is not set")
    if _offline_env() and not (_is_loopback(host) and _is_loopback(ingestion_host)):
        return offline("TINYMASK_OFFLINE=1 is set",
                       f"To enable: unset TINYMASK_OFFLINE and set {KEY_ENV} to a project API key "
                       "(Studio: Dashboard -> Keys)")
    try:
        client = EdgeImpulse(key, host=host, ingestion_host=ingestion_host, request_timeout=request_timeout,
                             retries=retries)
    except ImportError:
        return offline("the edgeimpulse-api package is not installed", "To enable: pip install edgeimpulse-api")
    try:
        project_id, name = client.project()
    except EdgeImpulseError as error:
        if error.kind in ("network", "timeout"):
            return offline(str(error).split(";")[0], "To enable: connect to the internet and rerun")
        raise
    print(f"Edge Impulse: connected to project {name!r} (id {project_id}) at {client.host}")
    return client
