"""The HTTP render service end to end: a real uvicorn server on 127.0.0.1, driven with httpx.

One server (module fixture) serves most tests: 2 workers, a tiny queue, signing, a bearer token,
a disk cache, and a test render hook (``_service_tasks.render_with_hooks``) that makes renders
slow on request and records when and where they start. Every wait is bounded; the server always
stops (fixture finalizer).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import _service_tasks as hooks  # noqa: E402
from _service_server import LiveServer  # noqa: E402
from PIL import Image  # noqa: E402

from fastshare.identity import output_key  # noqa: E402
from fastshare.service import ServiceConfig, create_app, sign_url  # noqa: E402
from fastshare.service.config import default_templates_dir  # noqa: E402
from fastshare.template import load_template  # noqa: E402

SECRET = b"test-secret-0123456789abcdef"
TOKEN = b"test-token-0123456789abcdef"
CARD = {"title": "Hello, cards", "category": "News", "site": "fastshare.dev", "read_time": "1 min"}

SLOW_TEMPLATE = """
name = "slow"
targets = ["og"]
background = "#1E293B"

[[layers]]
id = "title"
type = "text"
text = "{title}"
left = 24
right = 24
top = 24
size = 32
color = "#FFFFFF"

[[layers]]
id = "delay"
type = "text"
text = "{delay}"
when = ["delay"]
left = 24
bottom = 16
size = 16
color = "#94A3B8"
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("service")
    templates = root / "templates"
    shutil.copytree(
        default_templates_dir(),
        templates,
        ignore=shutil.ignore_patterns("__init__.py", "__pycache__", "*.jsonl"),
    )
    (templates / "slow.toml").write_text(SLOW_TEMPLATE)
    (templates / "broken.toml").write_text('name = "broken"\n[[layers]]\ntype = "nope"\n')
    events = root / "events"
    events.mkdir()
    config = ServiceConfig(
        templates_dir=templates,
        workers=2,
        queue_size=2,
        render_timeout=30.0,
        queue_timeout=30.0,
        secrets=(SECRET,),
        tokens=(TOKEN,),
        cache_dir=root / "cache",
        render_function=hooks.render_with_hooks,
        pool_options={"env": {hooks.EVENTS_ENV: str(events)}, "preload": ("_service_tasks",)},
    )
    app = create_app(config)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60.0) as client:
        yield {
            "server": server,
            "client": client,
            "events": events,
            "templates": templates,
            "cache": root / "cache",
        }


def signed(path: str, params: dict[str, str] | None = None, **options: Any) -> str:
    query = urlencode(params or {})
    return sign_url(f"{path}?{query}" if query else path, SECRET, **options)


def card_url(target: str = "og", ext: str = "png", **fields: str) -> str:
    return signed(f"/v1/render/card-a/{target}.{ext}", {**CARD, **fields})


def slow_url(title: str, delay: float, target: str = "320x160") -> str:
    return signed(f"/v1/render/slow/{target}.png", {"title": title, "delay": str(delay)})


def metric(client: Any, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    text = client.get("/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        base, _, rest = sample.partition("{")
        if base == name and all(part in rest for part in want.split(",") if part):
            total += float(value)
    return total


def check_error(
    response: Any, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    return body


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("ext", "pil_format", "media"),
    [("png", "PNG", "image/png"), ("jpg", "JPEG", "image/jpeg"), ("jpeg", "JPEG", "image/jpeg"),
     ("webp", "WEBP", "image/webp")],
)  # fmt: skip
def test_each_format_decodes(env: dict[str, Any], ext: str, pil_format: str, media: str) -> None:
    client = env["client"]
    r = client.get(card_url("og", ext, title=f"Format {ext}"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    image = Image.open(io.BytesIO(r.content))
    assert image.format == pil_format
    assert image.size == (1200, 630)
    image.load()
    # a real card, not a blank frame: the gradient and text give many distinct colours
    assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50


def test_targets_and_scale(env: dict[str, Any]) -> None:
    client = env["client"]
    for target, size in [
        ("square", (1080, 1080)),
        ("600x300", (600, 300)),
        ("og@0.5x", (600, 315)),
    ]:
        r = client.get(card_url(target, "jpg"))
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == size


def test_post_render(env: dict[str, Any]) -> None:
    client = env["client"]
    body = {"template": "card-a", "target": "square", "format": "webp", "data": CARD}
    headers = {"Authorization": f"Bearer {TOKEN.decode()}"}
    r = client.post("/v1/render", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    assert r.headers["cache-control"] == "no-store"
    assert Image.open(io.BytesIO(r.content)).size == (1080, 1080)
    # typed data works through POST (numbers are formatted by the template)
    r = client.post(
        "/v1/render",
        json={**body, "format": "png", "data": {**CARD, "read_time": 7}},
        headers=headers,
    )
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- signing


def test_signatures(env: dict[str, Any]) -> None:
    client = env["client"]
    path = "/v1/render/card-a/og.png"
    good = signed(path, CARD)
    r = client.get(good)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"

    # parameter order and encoding variants do not matter
    query = good.split("?", 1)[1]
    shuffled = "&".join(reversed(query.split("&"))).replace("%20", "+")
    assert client.get(f"{path}?{shuffled}").status_code == 200

    check_error(client.get(f"{path}?{urlencode(CARD)}"), 403, "missing_signature", "sig")
    tampered = good.replace("Hello", "Hellp")
    assert tampered != good
    check_error(client.get(tampered), 403, "bad_signature")
    check_error(client.get(good + "&extra=1"), 403, "bad_signature")
    bad_sig = re.sub(r"sig=([^&]*)", lambda m: "sig=" + m.group(1)[::-1], good)
    check_error(client.get(bad_sig), 403, "bad_signature")
    other = sign_url(f"{path}?{urlencode(CARD)}", b"another-secret-0123456789")
    check_error(client.get(other), 403, "bad_signature")
    # another template under the same signature
    check_error(client.get(good.replace("card-a", "photo")), 403, "bad_signature")

    expired = signed(path, CARD, expires_at=int(time.time()) - 5)
    check_error(client.get(expired), 403, "expired_signature", "exp")
    fresh = signed(path, CARD, expires_in=600)
    r = client.get(fresh)
    assert r.status_code == 200
    max_age = int(re.search(r"max-age=(\d+)", r.headers["cache-control"]).group(1))  # type: ignore[union-attr]
    assert 0 < max_age <= 600
    # a signed expiry cannot be extended
    later = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 3600}", fresh)
    check_error(client.get(later), 403, "bad_signature")


def test_post_needs_bearer_token(env: dict[str, Any]) -> None:
    client = env["client"]
    body = {"template": "card-a", "data": CARD}
    r = client.post("/v1/render", json=body)
    check_error(r, 401, "unauthorized", "authorization")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.post("/v1/render", json=body, headers={"Authorization": "Bearer wrong-token"})
    check_error(r, 401, "bad_token")
    r = client.post("/v1/render", json=body, headers={"Authorization": f"Basic {TOKEN.decode()}"})
    check_error(r, 401)


# --------------------------------------------------------------------------- caching


def test_etag_and_304(env: dict[str, Any], tmp_path: Path) -> None:
    client = env["client"]
    url = card_url(title="ETag card")
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    # the ETag is the project's output key (same identity as backfills and the registry)
    template = load_template(env["templates"] / "card-a.toml")
    key = output_key(template, {**CARD, "title": "ETag card"}, "og", format="png")
    assert etag == f'"{key[:32]}"'

    renders = metric(client, "fastshare_renders_total", kind="request", outcome="ok")
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        r = client.get(url, headers={"If-None-Match": header})
        assert r.status_code == 304, header
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert "immutable" in r.headers["cache-control"]
    assert metric(client, "fastshare_renders_total", kind="request", outcome="ok") == renders
    r = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert r.status_code == 200
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    assert int(head.headers["content-length"]) == len(first.content)

    # other data, format or target → another ETag; a field the template does not read → same
    assert client.get(card_url(title="Other")).headers["etag"] != etag
    assert client.get(card_url(ext="jpg", title="ETag card")).headers["etag"] != etag
    assert client.get(card_url("square", title="ETag card")).headers["etag"] != etag
    assert client.get(card_url(title="ETag card", unused="x")).headers["etag"] == etag
    # jpg and jpeg are one format
    jpg = client.get(card_url(ext="jpg", title="ETag card")).headers["etag"]
    assert client.get(card_url(ext="jpeg", title="ETag card")).headers["etag"] == jpg


def test_disk_cache(env: dict[str, Any]) -> None:
    client = env["client"]
    url = card_url(title="Cached on disk")
    first = client.get(url)
    assert first.status_code == 200 and first.headers["x-cache"] == "MISS"
    key = first.headers["etag"].strip('"')
    # the worker wrote the file before answering: <cache>/<shard>/<output key>.png
    stored = [p for p in env["cache"].rglob("*.png") if p.name.startswith(key)]
    assert len(stored) == 1 and stored[0].read_bytes() == first.content
    renders = metric(client, "fastshare_renders_total", kind="request", outcome="ok")
    second = client.get(url)
    assert second.status_code == 200 and second.headers["x-cache"] == "HIT"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert metric(client, "fastshare_renders_total", kind="request", outcome="ok") == renders
    assert metric(client, "fastshare_cache_total", result="hit") >= 1


# --------------------------------------------------------------------------- bad input


def test_bad_input_answers_4xx_naming_the_field(env: dict[str, Any]) -> None:
    client = env["client"]
    check_error(client.get(card_url("og", "gif")), 400, "bad_value", "format")
    check_error(client.get(signed("/v1/render/card-a/og", CARD)), 400, field="format")
    check_error(client.get(card_url("poster", "png")), 400, "bad_value", "target")
    check_error(client.get(card_url("4000x4000", "png")), 400, "limit_exceeded", "target")
    check_error(client.get(card_url("og@9x", "png")), 400, field="target.scale")
    check_error(
        client.get(signed("/v1/render/card-a/og.png", {"title": "x"})), 400, "bad_data", "category"
    )
    long_title = "x" * 2001
    check_error(client.get(card_url(title=long_title)), 400, "limit_exceeded", "title")
    dup = signed("/v1/render/card-a/og.png", CARD).replace("title=", "title=a&title=", 1)
    dup = sign_url(dup, SECRET)
    check_error(client.get(dup), 400, "bad_data", "title")
    check_error(
        client.get(signed("/v1/render/nope/og.png", CARD)), 404, "unknown_template", "template"
    )
    check_error(client.get(signed("/v1/render/bad name!/og.png", CARD)), 400, field="template")
    huge = signed("/v1/render/card-a/og.png", {**CARD, "pad": "y" * 9000})
    check_error(client.get(huge), 400, "limit_exceeded", "query")

    # images come from the asset directories only: no URLs, no escaping paths, no server paths
    photo = "/v1/render/photo/og.png"
    body = check_error(
        client.get(signed(photo, {"title": "x", "image": "https://example.com/a.jpg"})),
        400, "bad_data", "image",
    )  # fmt: skip
    assert "URL" in body["message"]
    body = check_error(client.get(signed(photo, {"title": "x", "image": "../../etc/passwd"})), 400)
    body = check_error(client.get(signed(photo, {"title": "x", "image": "missing.jpg"})), 400)
    assert str(env["templates"]) not in json.dumps(body)

    # a template that does not load is the server's problem, and its path is not shown
    body = check_error(
        client.get(signed("/v1/render/broken/og.png", {})), 500, "template_unavailable"
    )
    assert str(env["templates"]) not in json.dumps(body)

    headers = {"Authorization": f"Bearer {TOKEN.decode()}"}
    post = client.post
    check_error(post("/v1/render", content=b"{nope", headers=headers), 400, "bad_data", "body")
    check_error(post("/v1/render", json=[1], headers=headers), 400, "bad_data", "body")
    check_error(post("/v1/render", json={"data": CARD}, headers=headers), 400, field="template")
    check_error(
        post("/v1/render", json={"template": "card-a", "colour": 1}, headers=headers),
        400,
        field="colour",
    )
    check_error(
        post("/v1/render", json={"template": "card-a", "data": "x"}, headers=headers),
        400,
        field="data",
    )
    bad_target = {"template": "card-a", "target": 5, "data": CARD}
    check_error(post("/v1/render", json=bad_target, headers=headers), 400, field="target")
    big = {"template": "card-a", "data": {**CARD, "pad": "z" * 70000}}
    check_error(post("/v1/render", json=big, headers=headers), 413, "body_too_large", "body")

    check_error(client.get("/v2/nothing"), 404, "not_found")
    check_error(client.delete("/v1/render"), 405, "method_not_allowed")


# --------------------------------------------------------------------------- information


def test_templates_targets_health_and_metrics(env: dict[str, Any]) -> None:
    client = env["client"]
    templates = {t["name"]: t for t in client.get("/v1/templates").json()["templates"]}
    assert {"card-a", "photo", "slow"} <= set(templates)
    assert "broken" not in templates
    assert templates["card-a"]["required_fields"] == ["category", "title", "site", "read_time"]
    targets = client.get("/v1/targets").json()
    assert {"name": "og", "width": 1200, "height": 630} in targets["targets"]
    assert targets["max_pixels"] == 8_388_608
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["workers"] == 2

    client.get(card_url(title="metrics"))
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE"):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            labels = r'(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})?'
            assert re.fullmatch(rf"[a-z_]+{labels} [-+0-9.eInfa]+", line), line
    for name in (
        "fastshare_http_requests_total",
        "fastshare_http_request_duration_seconds",
        "fastshare_pool_queue_depth",
        "fastshare_pool_worker_restarts_total",
        "fastshare_renders_total",
    ):
        assert name in names
    assert (
        metric(
            client,
            "fastshare_http_requests_total",
            route="/v1/render/{template}/{file}",
            status="200",
        )
        > 0
    )
    assert metric(client, "fastshare_pool_workers") == 2


# --------------------------------------------------------------------------- failures


async def _many(url: str, paths: list[str]) -> list[Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        return await asyncio.gather(*(client.get(p) for p in paths))


def test_overload_answers_503_and_recovers(env: dict[str, Any]) -> None:
    server, client = env["server"], env["client"]
    paths = [slow_url(f"overload-{i}", 0.6) for i in range(16)]
    responses = asyncio.run(asyncio.wait_for(_many(server.url, paths), 120))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    # 2 workers + a queue of 2: 4 are admitted while the first ones run, the rest answer at once
    assert statuses.count(503) >= 1 and 1 <= statuses.count(200) <= 12, statuses
    for r in responses:
        if r.status_code == 503:
            body = check_error(r, 503, "overloaded")
            assert r.headers["retry-after"] == "1"
            assert r.headers["cache-control"] == "no-store"
            assert "pid" not in body["message"]
    assert metric(client, "fastshare_renders_total", kind="request", outcome="overloaded") >= 1
    assert client.get("/readyz").status_code == 200
    assert client.get(card_url(title="after overload")).status_code == 200


def test_worker_killed_mid_request(env: dict[str, Any]) -> None:
    client, events, server = env["client"], env["events"], env["server"]
    restarts = metric(client, "fastshare_pool_worker_restarts_total")
    result: dict[str, Any] = {}

    def request() -> None:
        with httpx.Client(base_url=server.url, timeout=60.0) as c:
            result["response"] = c.get(slow_url("victim", 20))

    thread = threading.Thread(target=request)
    thread.start()
    deadline = time.monotonic() + 30
    while not (starts := [e for e in hooks.start_events(events) if e[2] == "victim"]):
        assert time.monotonic() < deadline, "the slow render never started"
        time.sleep(0.01)
    pid = starts[0][1]
    assert pid in server.service.pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    thread.join(30)
    assert not thread.is_alive()
    body = check_error(result["response"], 500, "worker_crashed")
    assert str(pid) not in body["message"] and "Traceback" not in json.dumps(body)
    # not retried: the render started once
    assert len([e for e in hooks.start_events(events) if e[2] == "victim"]) == 1
    r = client.get(card_url(title="after the crash"))
    assert r.status_code == 200
    assert metric(client, "fastshare_pool_worker_restarts_total") >= restarts + 1
    assert metric(client, "fastshare_renders_total", kind="request", outcome="crashed") >= 1


def test_render_timeout_answers_504(env: dict[str, Any]) -> None:
    client, service = env["client"], env["server"].service
    service.render_timeout = 0.5  # a plain attribute, read per request
    try:
        r = client.get(slow_url("too-slow", 20))
    finally:
        service.render_timeout = 30.0
    check_error(r, 504, "timeout")
    assert client.get(card_url(title="after the timeout")).status_code == 200


def test_queue_timeout_answers_503(env: dict[str, Any]) -> None:
    server, service = env["server"], env["server"].service
    service.queue_timeout = 0.3
    try:
        paths = [slow_url(f"busy-{i}", 1.5) for i in range(2)] + [slow_url("waiting", 0.01)]

        async def main() -> list[Any]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60.0) as c:
                busy = [asyncio.ensure_future(c.get(p)) for p in paths[:2]]
                await asyncio.sleep(0.3)  # sent first: they take both workers for 1.5 s
                waiting = await c.get(paths[2])
                return [*(await asyncio.gather(*busy)), waiting]

        responses = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        service.queue_timeout = 30.0
    assert [r.status_code for r in responses[:2]] == [200, 200]
    check_error(responses[2], 503, "overloaded")
    assert responses[2].headers["retry-after"] == "1"


def test_requests_run_ahead_of_background_warming(env: dict[str, Any]) -> None:
    client, events, service = env["client"], env["events"], env["server"].service
    headers = {"Authorization": f"Bearer {TOKEN.decode()}"}
    items = [{"title": f"warm-{i}", "delay": "1.0"} for i in range(4)]
    body = {"template": "slow", "targets": ["320x160"], "items": items}
    r = client.post("/v1/warm", json=body, headers=headers)
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    # the warm window is 2 per worker: 2 running, 2 waiting at batch priority
    deadline = time.monotonic() + 30
    while service.pool.queued < 2:
        assert time.monotonic() < deadline, "warm renders never queued"
        time.sleep(0.005)
    r = client.get(slow_url("interactive", 0.05))
    assert r.status_code == 200
    starts = hooks.start_events(events)
    order = [title for _, _, title in starts if title.startswith(("warm-", "interactive"))]
    before = order[: order.index("interactive")]
    # with priorities the request goes right after the two running warm renders; first come
    # first served would have started the two waiting ones (all 4) before it
    assert len(before) < 4, order

    deadline = time.monotonic() + 60
    while (status := client.get(f"/v1/warm/{job}", headers=headers).json())["state"] != "done":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["rendered"] == 4 and status["failed"] == 0, status
    warmed = signed("/v1/render/slow/320x160.png", {"title": "warm-3", "delay": "1.0"})
    r = client.get(warmed)
    assert r.status_code == 200 and r.headers["x-cache"] == "HIT"
    # warming the same items again renders nothing
    r = client.post("/v1/warm", json=body, headers=headers)
    job = r.json()["job"]
    deadline = time.monotonic() + 30
    while (status := client.get(f"/v1/warm/{job}", headers=headers).json())["state"] != "done":
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status["cached"] == 4 and status["rendered"] == 0

    check_error(client.post("/v1/warm", json=body), 401)
    bad = {**body, "items": [{"title": "x" * 3000}]}
    check_error(client.post("/v1/warm", json=bad, headers=headers), 400, field="items[0].title")
    check_error(client.get("/v1/warm/nope", headers=headers), 404, "not_found", "job")


# --------------------------------------------------------------------------- the command


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


def test_cli_serve_unsigned_and_graceful_stop(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [
        sys.executable, "-m", "fastshare", "serve", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "info",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while True:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "fastshare serve never became ready"
                time.sleep(0.1)
            r = client.get(f"/v1/render/card-a/og.png?{urlencode(CARD)}")
            assert r.status_code == 200
            assert r.headers["cache-control"] == "public, max-age=86400"
            assert Image.open(io.BytesIO(r.content)).size == (1200, 630)
            # no secret and no token: POST is open
            r = client.post("/v1/render", json={"template": "card-a", "data": CARD})
            assert r.status_code == 200
            # warming needs a disk cache
            warm = {"template": "card-a", "items": [CARD]}
            check_error(client.post("/v1/warm", json=warm), 409, "no_cache")
        children = _children(proc.pid)
        assert children, "the pool's template process should be a child of the server"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.returncode in (0, -signal.SIGTERM), out.decode()
        assert b"URL signing is off" in out
        assert b"render service stopped" in out, out.decode()
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in children):
            assert time.monotonic() < deadline, "pool processes outlived the server"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
