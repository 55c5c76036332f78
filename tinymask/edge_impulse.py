"""Edge Impulse Studio from Python: connect with an API key, pick a latency device, upload images, profile a .tflite
(introduced in notebooks/08_edge_impulse.ipynb).

A thin layer over the ``edgeimpulse-api`` package (the Studio API at ``https://studio.edgeimpulse.com/v1``) and, for
uploads, the ingestion service's documented ``POST /api/<category>/files`` (not part of that package; sent with
``urllib`` by :mod:`tinymask.edge_impulse_service`, whose names are re-exported here). The API key comes from the
``EI_API_KEY`` environment variable or, only when asked and interactive, a ``getpass`` prompt; it stays in memory:
it is never written to disk, printed, or shown by a ``repr``.

Without a key or a network (``TINYMASK_OFFLINE=1``, the tests and CI) :func:`connect` returns an :class:`Offline`
stand-in whose methods print one line saying what they would do and how to enable them, and return None.
Every host is an argument, so the tests point the module at a local server.
"""

import base64
import getpass
import os
import re
import sys
import time
from urllib.parse import urlsplit

from . import memory
from ._setup import offline_mode
from .edge_impulse_service import (
    CATEGORIES,
    DEFAULT_HOST,
    DEFAULT_INGESTION_HOST,
    KEY_ENV,
    EdgeImpulseError,
    ProfileResult,
    closest_device,
    device_field,
    encode_png,
    excerpt,
    ingestion_upload,
    is_loopback,
    network_error,
    read_profile_result,
    redact,
    status_error,
)
from .errors import InputError, InputTypeError

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

#: What Edge Impulse Studio's transfer-learning block says its int8 MobileNetV1 96x96 models use ("around ... with
#: default settings and optimizations"), in Studio's "K", as the lecture quotes them: alpha -> (RAM K, ROM K).
LECTURE_FIGURES = {0.25: (105.9, 301.6), 0.2: (83.1, 218.3), 0.1: (53.2, 101.0)}
ENABLE_HINT = (f"To enable: create a project API key in Edge Impulse Studio (Dashboard -> Keys), set {KEY_ENV} to it "
               "and rerun (or call connect(prompt=True) in an interactive session)")

_PNG_LABEL = re.compile(r"[^A-Za-z0-9_-]+")


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
        import urllib3
        from edgeimpulse_api.exceptions import ApiException

        try:
            return function(*args, _request_timeout=self.request_timeout)
        except ApiException as error:
            if not error.status:  # SSL and request-building errors carry no HTTP status
                raise network_error(what, urlsplit(self.host).netloc, error, self.request_timeout,
                                     self._key) from None
            raise status_error(what, error.status, error.reason, error.body, self._key) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise network_error(what, urlsplit(self.host).netloc, error, self.request_timeout, self._key) from None
        except EdgeImpulseError:
            raise
        except Exception as error:  # noqa: BLE001 - the client raises a bare Exception for {"success": false}
            raise EdgeImpulseError(redact(f"Edge Impulse could not {what}: {excerpt(str(error))}", self._key),
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
        return read_profile_result(job_id, answer)

    def profile(self, tflite_bytes, device=None, timeout=120.0, poll_interval=2.0, board="openmv-h7"):
        """Profile a .tflite on ``device`` (default: the latency device closest to ``board``): start the job, wait
        for it (at most ``timeout`` s) and return its :class:`ProfileResult`."""
        if device is None:
            device = device_field(self.pick_device(board)[0], "mcu")
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
def _may_prompt():
    """A prompt only where a person can answer: never under pytest/nbval or offline, and only with a terminal or a
    notebook kernel that accepts input."""
    if "PYTEST_CURRENT_TEST" in os.environ or offline_mode() or "pytest" in sys.modules:
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
    if offline_mode() and not (is_loopback(host) and is_loopback(ingestion_host)):
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
