"""What the Edge Impulse services speak: hosts, errors, latency devices, ingestion uploads and profile results
(introduced in notebooks/08_edge_impulse.ipynb; the connection that uses them is :mod:`tinymask.edge_impulse`).

Nothing here holds a key or opens a session: :func:`ingestion_upload` is one documented ``POST`` to the ingestion
service (``urllib``), the rest turns the Studio API's answers and failures into :class:`ProfileResult`, a chosen
latency device, or an :class:`EdgeImpulseError` whose message says what to do and never shows the key.
"""

import io
import ipaddress
import json
import re
import socket
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import memory
from .errors import InputError, TinymaskError

__all__ = [
    "KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_INGESTION_HOST",
    "CATEGORIES",
    "EdgeImpulseError",
    "redact",
    "excerpt",
    "status_error",
    "network_error",
    "device_field",
    "closest_device",
    "encode_png",
    "is_loopback",
    "ingestion_upload",
    "ProfileResult",
    "read_profile_result",
]

KEY_ENV = "EI_API_KEY"
#: The Studio API (what ``edgeimpulse_api.Configuration`` uses by default).
DEFAULT_HOST = "https://studio.edgeimpulse.com/v1"
#: The ingestion service, which stores uploaded samples in a project.
DEFAULT_INGESTION_HOST = "https://ingestion.edgeimpulse.com"
#: Ingestion endpoints: ``POST /api/<category>/files`` ("validation" needs the project's explicit validation set).
CATEGORIES = ("training", "validation", "testing", "split", "anomaly")


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
def excerpt(body, limit=200):
    """The service's own error text from a response body: its JSON ``error`` field, else the start of the text
    (used in the messages of :class:`EdgeImpulseError`)."""
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


def status_error(what, status, reason, body, secret):
    """The :class:`EdgeImpulseError` for an HTTP failure while asked to ``what``, with the key redacted (used by
    :func:`ingestion_upload` and ``edge_impulse.EdgeImpulse``)."""
    said = excerpt(body)
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


def network_error(what, host, error, timeout, secret):
    """The :class:`EdgeImpulseError` for a timeout or an unreachable ``host`` (used by :func:`ingestion_upload` and
    ``edge_impulse.EdgeImpulse``)."""
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
def device_field(device, name):
    """A latency device's ``name``/``mcu``, whether it is an ``edgeimpulse_api.LatencyDevice`` or a dict."""
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
        text = f"{device_field(device, 'name') or ''} {device_field(device, 'mcu') or ''}".lower()
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


def is_loopback(url):
    """Whether ``url`` is on this machine (the tests' stand-in): such hosts bypass proxies and TINYMASK_OFFLINE."""
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
    opener = (urllib.request.build_opener(urllib.request.ProxyHandler({})) if is_loopback(url)
              else urllib.request.build_opener())
    try:
        with opener.open(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        raise status_error(what, error.code, error.reason, error.read(), api_key) from None
    except (urllib.error.URLError, OSError) as error:
        raise network_error(what, urlsplit(url).netloc, error, timeout, api_key) from None
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


def read_profile_result(job_id, response):
    """The :class:`ProfileResult` of the Studio API's answer for a finished profile job (used by
    ``edge_impulse.EdgeImpulse.profile_result``)."""
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

