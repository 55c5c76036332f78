"""tinymask.edge_impulse against a local stand-in for Edge Impulse (no network, no key): what the client sends, what
it makes of the answers, clear errors for timeouts and HTTP failures, and no API key in any output."""

import base64
import contextlib
import io
import json
import pathlib
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import edgeimpulse_api as eia
import numpy as np
import pytest

from tinymask import edge_impulse as ei

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAKE_KEY = "ei_" + "5eed0c0ffee" * 6  # 66 hex digits after "ei_", shaped like a real project key
PID, JOB = 4321, 12
MODEL = b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 4  # any bytes: the service is what reads them

DEVICES = [
    {"mcu": "cortex-m0plus-48mhz", "name": "Low-end MCU (Cortex-M0+ 48MHz)"},
    {"mcu": "cortex-m4f-80mhz", "name": "Cortex-M4F 80MHz"},
    {"mcu": "cortex-m7-216mhz", "name": "Cortex-M7 216MHz"},
    {"mcu": "nicla-vision", "name": "Arduino Nicla Vision (Cortex-M7 480MHz)"},
    {"mcu": "openmv-h7-plus", "name": "OpenMV Cam H7 Plus (Cortex-M7 480MHz)"},
    {"mcu": "openmv-h7", "name": "OpenMV Cam H7 (Cortex-M7 480MHz)"},
    {"mcu": "esp32-240mhz", "name": "Espressif ESP-EYE (ESP32 240MHz)"},
]


def latency_device(d, selected=False):
    return {**d, "selected": selected, "int8Latency": 1.5, "int8ConvLatency": 0.5, "float32Latency": 9.0,
            "float32ConvLatency": 3.0, "helpText": ""}


PROJECT = {
    "id": PID, "name": "tinymask masks", "description": "", "created": "2026-01-02T03:04:05.000Z", "owner": "student",
    "ownerIsDeveloperProfile": False, "collaborators": [], "labelingMethod": "single_label", "metadata": {},
    "isEnterpriseProject": False, "whitelabelId": None, "tier": "free", "hasPublicVersion": False, "isPublic": False,
    "allowsLivePublicAccess": False, "indPauseProcessingSamples": False, "publicProjectListed": False,
}


def job(finished, ok=True):
    j = {"id": JOB, "category": "Profiling", "categoryKey": "profile-tflite", "key": f"profile-{JOB}",
         "created": "2026-01-02T03:04:05.000Z", "started": "2026-01-02T03:04:06.000Z", "jobNotificationUids": []}
    if finished:
        j.update(finished="2026-01-02T03:04:09.000Z", finishedSuccessful=ok)
    return {"success": True, "job": j}


PROFILE = {
    "success": True, "variant": "int8", "device": "openmv-h7", "tfliteFileSizeBytes": len(MODEL),
    "isSupportedOnMcu": True, "timePerInferenceMs": 37, "customMetrics": [], "hasPerformance": True,
    "memory": {"tflite": {"ram": 120_000, "rom": 340_000, "arenaSize": 110_000},
               "eon": {"ram": 104_000, "rom": 290_000, "arenaSize": 100_000}},
}


class StandIn:
    """A local HTTP server that answers like Edge Impulse's Studio API (under /v1) and ingestion service, and records
    every request: method, path, headers (lower-case names) and body."""

    def __init__(self):
        self.requests = []
        self.status_polls = 0
        self.polls_until_done = 2
        self.routes = {
            ("GET", "/v1/api/projects"): lambda r: (200, {"success": True, "projects": [PROJECT]}),
            ("GET", f"/v1/api/{PID}"): lambda r: (200, {
                "success": True, "project": PROJECT, "devices": [], "studioUrl": "http://studio.local",
                "latencyDevices": [latency_device(d, i == 0) for i, d in enumerate(DEVICES)]}),
            ("POST", f"/v1/api/{PID}/jobs/profile-tflite"): lambda r: (200, {"success": True, "id": JOB}),
            ("GET", f"/v1/api/{PID}/jobs/{JOB}/status"): self._status,
            ("GET", f"/v1/api/{PID}/jobs/profile-tflite/{JOB}/result"): lambda r: (200, PROFILE),
            ("POST", "/api/training/files"): self._ingest,
            ("POST", "/api/testing/files"): self._ingest,
        }

    def _status(self, request):
        self.status_polls += 1
        return 200, job(self.status_polls >= self.polls_until_done)

    @staticmethod
    def _ingest(request):
        names = [name for _, name, _ in multipart(request)]
        return 200, {"success": True, "files": [{"success": True, "fileName": n, "sampleId": i, "projectId": PID}
                                                for i, n in enumerate(names)]}

    def find(self, method, path):
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def multipart(request):
    """``[(field name, file name, bytes), ...]`` of a multipart/form-data body, split on its boundary."""
    boundary = re.search(r"boundary=([^;\s]+)", request["headers"]["content-type"]).group(1).encode()
    body = request["body"]
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head).group(1).decode()
        filename = re.search(rb'filename="([^"]*)"', head).group(1).decode()
        assert data.endswith(b"\r\n")
        parts.append((name, filename, data[:-2]))
    return parts


@pytest.fixture
def stand_in():
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            request = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": self.rfile.read(length) if length else b""}
            state.requests.append(request)
            route = state.routes.get((self.command, self.path))
            status, payload = route(request) if route else (404, {"success": False, "error": "no such route"})
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout test)
                pass

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    state.api = state.url + "/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(stand_in, monkeypatch):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    with contextlib.redirect_stdout(io.StringIO()):
        c = ei.connect(host=stand_in.api, ingestion_host=stand_in.url, request_timeout=5, retries=0)
    assert isinstance(c, ei.EdgeImpulse)
    return c


def no_chained_traceback(error):
    """The error shows as one message: no "During handling of the above exception" chain from the client library."""
    return error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def check_headers(request):
    assert request["headers"]["x-api-key"] == FAKE_KEY
    assert request["headers"]["accept"] == "application/json"


# --------------------------------------------------------------------------------------------- the stand-in is faithful
def test_stand_in_answers_validate_against_the_package_models():
    # from_dict (what the client uses) does not validate; parse_obj does, so a shape the package would not accept
    # from the real service fails here rather than passing silently.
    eia.ListProjectsResponse.parse_obj({"success": True, "projects": [PROJECT]})
    for d in DEVICES:
        eia.LatencyDevice.parse_obj(latency_device(d))
    eia.StartJobResponse.parse_obj({"success": True, "id": JOB})
    eia.GetJobResponse.parse_obj(job(False))
    assert eia.GetJobResponse.parse_obj(job(True)).job.finished_successful is True
    parsed = eia.ProfileTfLiteResponse.parse_obj(PROFILE)
    assert parsed.memory.eon.arena_size == 100_000 and parsed.variant == "int8"


# --------------------------------------------------------------------------------------------- offline
def test_no_key_gives_offline_stand_in_with_one_line_per_call(stand_in, monkeypatch, capsys):
    monkeypatch.delenv("EI_API_KEY", raising=False)
    off = ei.connect(host=stand_in.api, ingestion_host=stand_in.url)
    assert isinstance(off, ei.Offline) and not off and off.available is False
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "EI_API_KEY is not set" in lines[0] and "Dashboard -> Keys" in lines[0]
    calls = [
        lambda: off.project(), lambda: off.latency_devices(), lambda: off.pick_device(),
        lambda: off.upload(np.zeros((3, 4, 4, 3), np.uint8), [0, 1, 1], ("mask", "no_mask")),
        lambda: off.profile(MODEL), lambda: off.start_profile(MODEL, "cortex-m7"), lambda: off.wait(JOB),
        lambda: off.profile_result(JOB),
    ]
    for call in calls:
        assert call() is None
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 and out[0].startswith("Edge Impulse skipped (no API key") and "would " in out[0]
    assert stand_in.requests == []  # nothing was sent


def test_offline_upload_and_profile_lines_say_what_would_happen(capsys):
    off = ei.Offline("no API key")
    off.upload(np.zeros((3, 4, 4, 3), np.uint8), [0, 1, 1], ("mask", "no_mask"), category="testing")
    off.profile(MODEL)
    upload, profile = capsys.readouterr().out.splitlines()
    assert "upload 3 images (1 mask, 2 no_mask) as PNG to testing" in upload
    assert "POST https://ingestion.edgeimpulse.com/api/testing/files" in upload
    assert f"{len(MODEL):,}-byte model on the latency device closest to the OpenMV Cam H7" in profile
    assert "RAM, ROM and latency" in profile


def test_offline_env_wins_over_a_key_for_the_public_host(monkeypatch, capsys):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("TINYMASK_OFFLINE", "1")
    off = ei.connect()
    out = capsys.readouterr().out
    assert isinstance(off, ei.Offline) and "TINYMASK_OFFLINE=1" in out and "unset TINYMASK_OFFLINE" in out
    assert FAKE_KEY not in out


def test_prompt_never_runs_under_tests(monkeypatch, capsys):
    monkeypatch.delenv("EI_API_KEY", raising=False)
    monkeypatch.delenv("TINYMASK_OFFLINE", raising=False)
    asked = []
    monkeypatch.setattr(ei.getpass, "getpass", lambda *a, **k: asked.append(a) or FAKE_KEY)
    off = ei.connect(prompt=True, host="http://127.0.0.1:9/v1", ingestion_host="http://127.0.0.1:9")
    assert isinstance(off, ei.Offline) and asked == []
    assert "EI_API_KEY is not set" in capsys.readouterr().out


def test_unreachable_host_gives_offline_with_the_reason(monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    start = time.monotonic()
    off = ei.connect(host=f"http://127.0.0.1:{port}/v1", ingestion_host=f"http://127.0.0.1:{port}", retries=0)
    out = capsys.readouterr().out
    assert isinstance(off, ei.Offline) and time.monotonic() - start < 10
    assert out.count("\n") == 1 and f"cannot reach 127.0.0.1:{port}" in out and "connect to the internet" in out
    assert FAKE_KEY not in out and "0x" not in out


# --------------------------------------------------------------------------------------------- what the client sends
def test_connect_reads_the_project_with_the_key_header(stand_in, monkeypatch, capsys):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    c = ei.connect(host=stand_in.api, ingestion_host=stand_in.url, retries=0)
    out = capsys.readouterr().out
    assert out == f"Edge Impulse: connected to project 'tinymask masks' (id {PID}) at {stand_in.api}\n"
    (request,) = stand_in.requests
    assert (request["method"], request["path"]) == ("GET", "/v1/api/projects")
    check_headers(request)
    assert request["headers"]["user-agent"].startswith("edgeimpulse-api/")
    assert c.project() == (PID, "tinymask masks") and len(stand_in.requests) == 1  # cached


def test_latency_devices_are_package_models_and_the_pick_is_the_h7(client, stand_in):
    devices = client.latency_devices()
    (request,) = stand_in.find("GET", f"/v1/api/{PID}")
    check_headers(request)
    assert all(isinstance(d, eia.LatencyDevice) for d in devices)
    assert [d.mcu for d in devices] == [d["mcu"] for d in DEVICES] and devices[0].int8_latency == 1.5
    device, reason = client.pick_device()
    assert device.mcu == "openmv-h7" and reason == "named after the OpenMV Cam H7"


@pytest.mark.parametrize("keep, expected, reason", [
    (["openmv-h7-plus", "nicla-vision", "cortex-m7-216mhz"], "openmv-h7-plus", "a sibling of the OpenMV Cam H7"),
    (["cortex-m4f-80mhz", "nicla-vision", "cortex-m7-216mhz"], "nicla-vision", "same core as the OpenMV Cam H7 "
                                                                              "(cortex-m7) at the same clock, 480 MHz"),
    (["cortex-m4f-80mhz", "cortex-m7-216mhz", "esp32-240mhz"], "cortex-m7-216mhz", "(cortex-m7) at 216 MHz, the "
                                                                                   "nearest clock to its 480 MHz"),
    (["cortex-m0plus-48mhz", "cortex-m4f-80mhz", "esp32-240mhz"], "esp32-240mhz", "no cortex-m7 in the list"),
])
def test_closest_device_ranks_name_then_core_then_clock(keep, expected, reason):
    devices = [d for d in DEVICES if d["mcu"] in keep]
    device, why = ei.closest_device(devices)
    assert device["mcu"] == expected and reason in why


def test_closest_device_for_the_plus_and_for_an_mcu_family():
    assert ei.closest_device(DEVICES, "openmv-h7-plus")[0]["mcu"] == "openmv-h7-plus"
    family = [{"mcu": "cortex-m7-216mhz", "name": "Cortex-M7 216MHz"}, {"mcu": "stm32h743", "name": "STM32H743"}]
    device, why = ei.closest_device(family)
    assert device["mcu"] == "stm32h743" and "MCU family" in why
    with pytest.raises(ei.EdgeImpulseError, match="no latency devices"):
        ei.closest_device([])


def test_profile_round_trip(client, stand_in):
    result = client.profile(MODEL, poll_interval=0.01)
    (start,) = stand_in.find("POST", f"/v1/api/{PID}/jobs/profile-tflite")
    check_headers(start)
    assert start["headers"]["content-type"] == "application/json"
    sent = json.loads(start["body"])
    assert set(sent) == {"tfliteFileBase64", "device"} and sent["device"] == "openmv-h7"
    assert base64.b64decode(sent["tfliteFileBase64"]) == MODEL
    polls = stand_in.find("GET", f"/v1/api/{PID}/jobs/{JOB}/status")
    assert len(polls) == stand_in.polls_until_done
    (read,) = stand_in.find("GET", f"/v1/api/{PID}/jobs/profile-tflite/{JOB}/result")
    for r in (*polls, read):
        check_headers(r)
    assert isinstance(result, ei.ProfileResult)
    assert (result.job_id, result.device, result.variant, result.tflite_bytes) == (JOB, "openmv-h7", "int8", len(MODEL))
    assert (result.engine, result.ram_bytes, result.rom_bytes, result.arena_bytes, result.latency_ms) == (
        "eon", 104_000, 290_000, 100_000, 37)
    assert result.engines == {"eon": (104_000, 290_000, 100_000), "tflite": (120_000, 340_000, 110_000)}
    assert str(result) == "openmv-h7 (eon): RAM 104,000 B, ROM 290,000 B, arena 100,000 B, 37 ms per inference"


def test_profile_on_a_named_device_skips_the_device_list(client, stand_in):
    client.profile(MODEL, device="cortex-m7-216mhz", poll_interval=0.01)
    assert stand_in.find("GET", f"/v1/api/{PID}") == []
    assert json.loads(stand_in.find("POST", f"/v1/api/{PID}/jobs/profile-tflite")[0]["body"])["device"] == \
        "cortex-m7-216mhz"


def test_upload_sends_labelled_png_batches_to_ingestion(client, stand_in):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    labels = np.array([0, 1, 1, 0, 1])
    assert client.upload(images, labels, ("mask", "no_mask"), batch_size=2) == 5
    posts = stand_in.find("POST", "/api/training/files")
    assert [p["headers"]["x-label"] for p in posts] == ["mask", "no_mask", "no_mask"]  # per label, 2 per batch
    from PIL import Image

    seen = []
    for post in posts:
        check_headers(post)
        assert post["headers"]["x-disallow-duplicates"] == "1"
        assert post["headers"]["content-type"].startswith("multipart/form-data; boundary=")
        for field_name, filename, data in multipart(post):
            assert field_name == "data" and filename.endswith(".png")
            index = int(filename.split(".")[1])
            assert filename.startswith(post["headers"]["x-label"] + ".")
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), images[index])  # lossless
            seen.append(index)
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_ingestion_upload_to_testing_returns_the_answer(stand_in):
    answer = ei.ingestion_upload([("x.png", ei.encode_png(np.zeros((2, 2, 1), np.uint8)))], FAKE_KEY,
                                 category="testing", host=stand_in.url)
    assert answer["files"][0]["fileName"] == "x.png"
    (post,) = stand_in.find("POST", "/api/testing/files")
    assert "x-label" not in post["headers"] and post["headers"]["x-api-key"] == FAKE_KEY
    with pytest.raises(ValueError, match="category='train'"):
        ei.ingestion_upload([("x.png", b"")], FAKE_KEY, category="train", host=stand_in.url)


# ------------------------------------------------------------------------------- failures: one clear message
def test_job_that_never_finishes_times_out_clearly(client, stand_in):
    stand_in.polls_until_done = 10**9
    start = time.monotonic()
    with pytest.raises(ei.EdgeImpulseError) as raised:
        client.profile(MODEL, device="openmv-h7", timeout=0.3, poll_interval=0.05)
    assert time.monotonic() - start < 3
    message = str(raised.value)
    assert message.startswith(f"profile job {JOB} did not finish in 0.3 s;") and f"profile_result({JOB})" in message
    assert raised.value.kind == "timeout" and no_chained_traceback(raised.value)


def test_failed_job_names_where_to_look(client, stand_in):
    stand_in.routes[("GET", f"/v1/api/{PID}/jobs/{JOB}/status")] = lambda r: (200, job(True, ok=False))
    with pytest.raises(ei.EdgeImpulseError, match=f"profile job {JOB} failed; open the project's Jobs panel"):
        client.profile(MODEL, device="openmv-h7")


def test_server_that_sleeps_gives_a_timeout_message(stand_in, monkeypatch, capsys):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    stand_in.routes[("GET", "/v1/api/projects")] = lambda r: (time.sleep(1.5), (200, {"success": True}))[1]
    port = stand_in.url.rsplit(":", 1)[1]
    start = time.monotonic()
    off = ei.connect(host=stand_in.api, ingestion_host=stand_in.url, request_timeout=0.3, retries=0)
    assert isinstance(off, ei.Offline) and time.monotonic() - start < 1.4
    assert f"offline (no answer from 127.0.0.1:{port} within 0.3 s" in capsys.readouterr().out
    c = ei.EdgeImpulse(FAKE_KEY, host=stand_in.api, ingestion_host=stand_in.url, request_timeout=0.3, retries=0)
    with pytest.raises(ei.EdgeImpulseError) as raised:
        c.project()
    assert raised.value.kind == "timeout"
    assert str(raised.value).startswith(f"no answer from 127.0.0.1:{port} within 0.3 s "
                                        "when asked to list your projects (GET /api/projects)")


@pytest.mark.parametrize("status, kind, advice", [
    (401, "auth", "create a project API key in Studio (Dashboard -> Keys) and set EI_API_KEY"),
    (403, "auth", "use a project key with the admin role"),
    (500, "service", "the failure is on the service's side: try again in a few minutes"),
    (503, "service", "try again in a few minutes"),
])
def test_http_errors_become_one_clear_message(client, stand_in, status, kind, advice):
    # A careless service might echo the key it got: the message must not pass it on.
    def echo(r):
        return status, {"success": False, "error": f"bad request with key {r['headers']['x-api-key']}"}

    stand_in.routes[("POST", f"/v1/api/{PID}/jobs/profile-tflite")] = echo
    with pytest.raises(ei.EdgeImpulseError) as raised:
        client.profile(MODEL, device="openmv-h7")
    message = str(raised.value)
    assert raised.value.kind == kind and advice in message and f"HTTP {status}" in message
    assert f"POST /api/{PID}/jobs/profile-tflite" in message and "bad request with key <API key>" in message
    assert len(stand_in.find("POST", f"/v1/api/{PID}/jobs/profile-tflite")) == 1  # an HTTP error is not retried
    assert FAKE_KEY not in message and "\n" not in message and no_chained_traceback(raised.value)


def test_401_at_connect_raises_instead_of_going_offline(stand_in, monkeypatch):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    stand_in.routes[("GET", "/v1/api/projects")] = lambda r: (401, {"success": False, "error": "Invalid API key"})
    expected = r"refused the API key .*HTTP 401.*Invalid API key.*Dashboard -> Keys"
    with pytest.raises(ei.EdgeImpulseError, match=expected):
        ei.connect(host=stand_in.api, ingestion_host=stand_in.url, retries=0)


def test_success_false_in_a_200_answer_is_reported(client, stand_in):
    stand_in.routes[("POST", f"/v1/api/{PID}/jobs/profile-tflite")] = lambda r: (
        200, {"success": False, "error": "Model file is not a valid TFLite file"})
    with pytest.raises(ei.EdgeImpulseError, match="could not start a profile job .*not a valid TFLite file"):
        client.start_profile(MODEL, "openmv-h7")


@pytest.mark.parametrize("status, advice", [(401, "Dashboard -> Keys"), (500, "try again in a few minutes")])
def test_ingestion_errors_become_one_clear_message(client, stand_in, status, advice):
    stand_in.routes[("POST", "/api/training/files")] = lambda r: (status, f"key {r['headers']['x-api-key']}".encode())
    with pytest.raises(ei.EdgeImpulseError) as raised:
        client.upload(np.zeros((1, 4, 4, 3), np.uint8), [0], ("mask",))
    message = str(raised.value)
    assert f"HTTP {status}" in message and advice in message and "POST /api/training/files" in message
    assert FAKE_KEY not in message and "<API key>" in message


def test_ingestion_refused_files_are_named(client, stand_in):
    stand_in.routes[("POST", "/api/training/files")] = lambda r: (200, {"success": False, "files": [
        {"success": False, "fileName": "mask.00000.png", "error": "Duplicate file"}]})
    with pytest.raises(ei.EdgeImpulseError, match=r"refused 1 of 1 files \(mask.00000.png: Duplicate file\)"):
        client.upload(np.zeros((1, 4, 4, 3), np.uint8), [0], ("mask",))


# --------------------------------------------------------------------------------------------- the key stays secret
KEY_LIKE = re.compile(r"ei_[0-9a-fA-F]{20,}|(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])")
KEY_IN_SOURCE = re.compile(r"ei_[0-9a-fA-F]{20,}|(api_key|EI_API_KEY)[\"']?\]?\s*=\s*[\"'][^\"']{8,}[\"']")


def _texts(output):
    if "text" in output:
        yield "".join(output["text"])
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/"):  # not widget views: their model_id is a random 32-hex uuid
            yield value if isinstance(value, str) else json.dumps(value)
    if output.get("output_type") == "error":
        yield "\n".join(output.get("traceback", [])) + output.get("evalue", "")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_no_key_like_string_in_committed_notebooks(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        assert not KEY_IN_SOURCE.search(source), f"{path.name}: cell {i} has an API key in its source"
        for output in cell.get("outputs", []):
            for text in _texts(output):
                for found in KEY_LIKE.finditer(text):
                    # a hash the cell computes and prints on purpose is not a key
                    assert "hexdigest()" in source and not found.group().startswith("ei_"), (
                        f"{path.name}: cell {i} output shows a key-like string {found.group()[:8]}...")


def test_key_like_pattern_catches_keys():
    assert KEY_LIKE.search(f"token {FAKE_KEY}") and KEY_LIKE.search("a" * 40)
    assert not KEY_LIKE.search("318,080 B and 0x7f3a and abc123")
    assert KEY_IN_SOURCE.search('os.environ["EI_API_KEY"] = "my-secret-key"')
    assert not KEY_IN_SOURCE.search('key = os.environ.get("EI_API_KEY")')


def test_the_key_never_reaches_outputs_or_reprs(stand_in, monkeypatch):
    monkeypatch.setenv("EI_API_KEY", FAKE_KEY)
    out, err = io.StringIO(), io.StringIO()
    texts = []
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        c = ei.connect(host=stand_in.api, ingestion_host=stand_in.url, retries=0)
        result = c.profile(MODEL, poll_interval=0.01)
        c.upload(np.zeros((2, 4, 4, 3), np.uint8), [0, 1], ("mask", "no_mask"))
        texts += [repr(c), str(c), repr(result), str(result), repr(c.latency_devices()), repr(c.pick_device())]
        stand_in.routes[("GET", f"/v1/api/{PID}")] = lambda r: (500, {"error": r["headers"]["x-api-key"]})
        try:
            c.latency_devices()
        except ei.EdgeImpulseError as error:
            texts += [str(error), repr(error)]
        off = ei.Offline("no API key")
        off.profile(MODEL)
        off.upload(np.zeros((1, 4, 4, 3), np.uint8), [0], ("mask",))
        texts.append(repr(off))
    texts += [out.getvalue(), err.getvalue()]
    assert len(texts) == 11 and "connected to project" in out.getvalue() and "<hidden>" in repr(c)
    for text in texts:
        assert FAKE_KEY not in text and FAKE_KEY[3:20] not in text
    with pytest.raises(TypeError, match="not saved"):
        pickle.dumps(c)
    assert ei.redact(f"x {FAKE_KEY} y", FAKE_KEY) == "x <API key> y" and ei.redact("x", None) == "x"


def test_import_touches_no_network_client_or_tensorflow():
    code = ("import sys, tinymask.edge_impulse as m; "
            "print(sorted(k for k in ('tensorflow', 'edgeimpulse_api', 'urllib3') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_without_a_key_the_line_does_not_depend_on_the_offline_flag(monkeypatch, capsys):
    monkeypatch.delenv("EI_API_KEY", raising=False)
    lines = []
    for flag in ("1", None):
        if flag:
            monkeypatch.setenv("TINYMASK_OFFLINE", flag)
        else:
            monkeypatch.delenv("TINYMASK_OFFLINE", raising=False)
        off = ei.connect()
        lines.append(capsys.readouterr().out)
        assert isinstance(off, ei.Offline) and off.reason == "no API key: EI_API_KEY is not set"
    assert lines[0] == lines[1] and "EI_API_KEY is not set" in lines[0]
