"""The template playground's server side, end to end over HTTP (no browser).

One preview app (module fixture) runs under a real uvicorn server on 127.0.0.1 with one render
worker and a fast file poll; tests drive its JSON API with httpx and edit the template file on
disk. Browser tests of the page itself are in ``test_preview_browser.py``. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from _preview_util import (  # noqa: E402
    ITEM,
    LAYERS,
    SIZES,
    TEMPLATE,
    TEMPLATE_BROKEN,
    TEMPLATE_EDITED,
    wait_for,
    write,
)
from _service_server import LiveServer  # noqa: E402
from PIL import Image  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from fastshare import _cli_preview  # noqa: E402
from fastshare.errors import ValueRangeError  # noqa: E402
from fastshare.planner import plan  # noqa: E402
from fastshare.preview import PreviewGuard, check_host, create_preview_app  # noqa: E402
from fastshare.preview.routes import is_loopback  # noqa: E402
from fastshare.preview.state import default_value, field_kind, template_name  # noqa: E402
from fastshare.renderer import Renderer  # noqa: E402
from fastshare.service import ServiceConfig  # noqa: E402
from fastshare.targets import parse_target  # noqa: E402
from fastshare.template import load_template  # noqa: E402

#: the item as the page sends it: flat field names, typed values
FORM = {"title": ITEM["title"], "tag": "new", "author.name": "Ada", "count": 12345}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("preview")
    path = root / "my card.toml"  # a name the service would refuse: the preview links it
    path.write_text(TEMPLATE, encoding="utf-8")
    app = create_preview_app(path, data=ITEM, config=ServiceConfig(workers=1), poll_interval=0.05)
    state = app.state.preview
    link_dir = state.link_dir
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield {"server": server, "client": client, "path": path, "state": state}
        write(path, TEMPLATE)
    assert link_dir is not None and not link_dir.exists(), "the link directory was not removed"


def get_state(client: Any, since: int | None = None) -> dict[str, Any]:
    r = client.get("/preview/api/state", params={} if since is None else {"since": since})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def wait_state(client: Any, check: Any, what: str, timeout: float = 15.0) -> dict[str, Any]:
    """Long-poll the state until ``check(state)`` holds."""
    box: dict[str, Any] = {"revision": get_state(client)["revision"] - 1}

    def look() -> dict[str, Any] | None:
        state = get_state(client, box["revision"])
        box["revision"] = state["revision"]
        return state if check(state) else None

    return wait_for(look, timeout, what)


def render(client: Any, target: str, ext: str = "png", data: Any = None, v: int = 1) -> Any:
    body = {"data": FORM if data is None else data}
    return client.post(f"/preview/api/image/{target}.{ext}", params={"v": v}, json=body)


# --------------------------------------------------------------------------- state and page


def test_page_and_static_files(env: dict[str, Any]) -> None:
    client = env["client"]
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/preview/"
    page = client.get("/preview/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    # the page loads only its own files: no CDN, nothing from the internet
    assert "http://" not in page.text and "https://" not in page.text
    for name, kind in [("preview.js", "text/javascript"), ("preview.css", "text/css")]:
        assert f"static/{name}" in page.text
        r = client.get(f"/preview/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        assert "http://" not in r.text and "https://" not in r.text
    assert client.get("/preview/static/../app.py").status_code == 404
    assert client.get("/preview/static/state.py").status_code == 404


def test_state_lists_targets_and_prefilled_fields(env: dict[str, Any]) -> None:
    state = get_state(env["client"])
    assert state["ready"] is True and state["problems"] == []
    assert state["version"] >= 1
    template = state["template"]
    assert template["file"] == str(env["path"])
    assert [(t["spec"], (t["width"], t["height"])) for t in template["targets"]] == list(
        SIZES.items()
    )
    fields = {f["name"]: f for f in template["fields"]}
    assert list(fields) == ["title", "tag", "author.name", "count"]
    assert fields["title"] == {
        "name": "title",
        "required": True,
        "kind": "text",
        "value": ITEM["title"],
        "image": False,
    }
    assert fields["tag"]["required"] is False  # read by `when` only
    assert fields["author.name"]["value"] == "Ada"  # nested data, flat field name
    assert fields["author.name"]["required"] is False  # it has a default
    assert (fields["count"]["kind"], fields["count"]["value"]) == ("number", 12345)
    # presets the template does not list are offered separately
    presets = {p["spec"] for p in state["presets"]}
    assert "x" in presets and "og" not in presets


def test_state_waits_for_a_change_but_not_forever(env: dict[str, Any]) -> None:
    client = env["client"]
    revision = get_state(client)["revision"]
    state = get_state(client, since=revision)  # nothing changes: answers after about a second
    assert state["revision"] == revision
    assert get_state(client, since=revision - 1)["revision"] == revision  # at once


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(("ext", "pil"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")])
def test_images_at_every_target_and_format(env: dict[str, Any], ext: str, pil: str) -> None:
    for target, size in SIZES.items():
        r = render(env["client"], target, ext)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert float(r.headers["x-render-ms"]) > 0
        assert r.headers["server-timing"].startswith("render;dur=")
        assert r.headers["x-image-size"] == f"{size[0]}x{size[1]}"
        image = Image.open(io.BytesIO(r.content))
        assert (image.format, image.size) == (pil, size)


def test_field_edits_change_the_image_and_match_a_direct_render(env: dict[str, Any]) -> None:
    client = env["client"]
    first = render(client, "og").content
    other = render(client, "og", data={**FORM, "title": "Another title"}).content
    assert first != other
    assert render(client, "og").content == first  # same data, same bytes
    # the pixels are those of a direct render of the same template and item
    template = load_template(env["path"])
    expected = Renderer().render(template, FORM, "og")
    got = Image.open(io.BytesIO(first)).convert("RGB")
    assert got.tobytes() == expected.tobytes()


def test_render_errors_name_the_field(env: dict[str, Any]) -> None:
    client = env["client"]
    data = {k: v for k, v in FORM.items() if k != "count"}
    r = render(client, "og", data=data)
    assert r.status_code == 400
    body = r.json()
    assert (body["code"], body["field"]) == ("bad_data", "count")
    assert "count" in body["message"]
    r = render(client, "og", data={**FORM, "count": "many"})  # a format spec needs a number
    assert r.status_code == 400 and r.json()["field"] == "count"
    r = render(client, "nope", data=FORM)
    assert r.status_code == 400 and r.json()["field"] == "target"
    r = client.post("/preview/api/image/og.gif", json={"data": FORM})
    assert r.status_code == 400 and r.json()["field"] == "format"
    r = client.post("/preview/api/image/og.png", content=b"{not json")
    assert r.status_code == 400 and r.json()["field"] == "body"


# --------------------------------------------------------------------------- boxes


def test_boxes_follow_the_plan_and_the_measured_layout(env: dict[str, Any]) -> None:
    client = env["client"]
    r = client.post("/preview/api/boxes", json={"targets": list(SIZES), "data": FORM})
    assert r.status_code == 200, r.text
    doc = r.json()
    template = load_template(env["path"])
    renderer = Renderer()
    for spec, (width, height) in SIZES.items():
        got = doc["targets"][spec]
        assert (got["width"], got["height"]) == (width, height)
        layers = {layer["id"]: layer for layer in got["layers"]}
        assert tuple(layers) == LAYERS
        assert not any(layer["dropped"] for layer in layers.values())
        target_plan = plan(template, parse_target(spec))
        measured = renderer.layout(target_plan, FORM).boxes
        title, tag, footer = layers["title"], layers["tag"], layers["footer"]
        # auto-height title: the planned width, the measured lines
        assert title["box"][0] == 64 and title["box"][2] == width - 64
        assert title["box"][1] == pytest.approx(64, abs=12)
        assert title["text_box"] == pytest.approx(list(measured["title"]), abs=0.06)
        # the tag sits 24 px under the title's measured box, 160 × 40
        x0, y0, x1, y1 = tag["box"]
        assert (x0, x1 - x0, y1 - y0) == (64, 160, 40)
        assert y0 == pytest.approx(title["text_box"][3] + 24, abs=0.06)
        # the footer's last line sits 48 px above the bottom edge at every size
        assert footer["mode"] == "up"
        assert footer["box"][3] == pytest.approx(height - 48, abs=0.06)
        assert footer["text_box"] == pytest.approx(list(measured["footer"]), abs=0.06)
    # without the `when` field the tag is dropped
    data = {k: v for k, v in FORM.items() if k != "tag"}
    r = client.post("/preview/api/boxes", json={"targets": ["og"], "data": data})
    layers = {layer["id"]: layer for layer in r.json()["targets"]["og"]["layers"]}
    assert layers["tag"]["dropped"] is True and layers["title"]["dropped"] is False
    # a data error is reported per target; bad requests name the field
    r = client.post("/preview/api/boxes", json={"targets": ["og"], "data": {"title": "x"}})
    assert r.json()["targets"]["og"]["error"]["field"] == "count"
    r = client.post("/preview/api/boxes", json={"targets": [], "data": FORM})
    assert r.status_code == 400 and r.json()["field"] == "targets"


# --------------------------------------------------------------------------- watching the file


def test_saving_the_file_reloads_and_errors_keep_the_last_good_template(
    env: dict[str, Any],
) -> None:
    client, path = env["client"], env["path"]
    before = get_state(client)
    version = before["version"]
    old = render(client, "og").content
    try:
        write(path, TEMPLATE_EDITED)
        edited = wait_state(client, lambda s: s["version"] > version, "the edited template")
        assert edited["problems"] == []
        new = render(client, "og", v=edited["version"]).content
        assert new != old
        assert Image.open(io.BytesIO(new)).convert("RGB").getpixel((1190, 10)) == (124, 45, 18)

        write(path, TEMPLATE_BROKEN)
        broken = wait_state(client, lambda s: s["problems"], "the template's problems")
        assert broken["version"] == edited["version"]  # the last good template stays
        problems = {p["field"]: p for p in broken["problems"]}
        assert set(problems) == {"layers[0].color", "layers[2].size"}
        assert "CSS colour" in problems["layers[0].color"]["message"]
        assert problems["layers[0].color"]["value"] == "blue-ish"
        assert problems["layers[2].size"]["message"] == "expected a number"
        assert broken["template"] is not None  # the form and targets stay too
        # renders go on with the last good template
        assert render(client, "og").content == new

        write(path, TEMPLATE + "\n[[layers]\n")  # not even TOML
        syntax = wait_state(client, lambda s: "TOML" in str(s["problems"]), "the TOML syntax error")
        assert syntax["problems"][0]["field"] == "template"
        assert "line" in syntax["problems"][0]["message"]

        write(path, TEMPLATE)
        fixed = wait_state(client, lambda s: not s["problems"], "the fixed template")
        assert fixed["version"] == edited["version"] + 1
        assert render(client, "og").content == old
    finally:
        write(path, TEMPLATE)


def test_two_saves_in_one_tick_are_both_seen(env: dict[str, Any]) -> None:
    client, path = env["client"], env["path"]
    version = get_state(client)["version"]
    size = lambda: env["state"].info.template.layers[0].size  # noqa: E731
    try:
        path.write_text(TEMPLATE.replace("size = 56", "size = 40"), encoding="utf-8")
        first = wait_state(client, lambda s: s["version"] > version, "the first save")
        assert size() == 40
        stamp = path.stat()
        # a second save with the same size, inode and modification time: only the content
        # differs (what a coarse file-system clock gives two quick saves)
        path.write_text(TEMPLATE.replace("size = 56", "size = 48"), encoding="utf-8")
        os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert path.stat().st_mtime_ns == stamp.st_mtime_ns and path.stat().st_ino == stamp.st_ino
        wait_state(client, lambda s: s["version"] > first["version"], "the second save")
        assert size() == 48
    finally:
        write(path, TEMPLATE)
        wait_state(client, lambda s: size() == 56, "the restored template")


def test_a_template_broken_from_the_start_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text('{"layers": [{"id": "t", "type": "text", "text": "{title}"}]}', "utf-8")
    app = create_preview_app(path, config=ServiceConfig(workers=1), poll_interval=0.05)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as client:
        state = get_state(client)
        assert state["template"] is None and state["version"] == 0
        assert state["problems"] and all(p["field"] for p in state["problems"])
        assert any(p["field"].startswith("layers[0]") for p in state["problems"])
        r = render(client, "og", data={"title": "x"})
        assert r.status_code == 400 and r.json()["code"] == "bad_template"
        fixed = {"layers": [{"id": "t", "type": "text", "text": "{title}", "left": 10, "top": 10}]}
        write(path, json.dumps(fixed))
        state = wait_state(client, lambda s: s["version"] == 1, "the first good load")
        assert state["problems"] == [] and state["template"]["fields"][0]["value"] == "Title"
        assert render(client, "og", data={"title": "x"}).status_code == 200


# --------------------------------------------------------------------------- guard and host


def test_only_loopback_host_names_are_answered(env: dict[str, Any]) -> None:
    client = env["client"]
    r = client.get("/preview/api/state", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 403 and r.json()["code"] == "bad_host"
    r = client.get("/preview/api/state", headers={"Host": f"localhost:{env['server'].port}"})
    assert r.status_code == 200


def test_is_loopback_and_check_host() -> None:
    for host in ("127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:80", "[::1]:8000", "::1"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "10.0.0.1", "example.com", "[::]:80", "localhost.example.com"):
        assert not is_loopback(host), host
    for host in ("127.0.0.1", "::1", "localhost"):
        check_host(host)
    with pytest.raises(ValueRangeError) as info:
        check_host("0.0.0.0")
    assert info.value.field == "host" and "--token-env" in str(info.value)
    check_host("0.0.0.0", (b"0123456789abcdef",))  # a token allows it


def test_guard_with_a_token() -> None:
    token = "preview-token-0123456789"

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/preview/", hello), Route("/healthz", hello)])
    app.add_middleware(PreviewGuard, tokens=(token.encode(),))

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://192.0.2.10:8000") as c:
            r = await c.get("/preview/")
            assert r.status_code == 401 and r.json()["code"] == "unauthorized"
            assert "www-authenticate" in r.headers
            assert (await c.get("/healthz")).status_code == 200  # health checks need no token
            r = await c.get("/preview/", headers={"Authorization": f"Bearer {token}"})
            assert r.text == "hello"
            r = await c.get("/preview/", headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401
            assert (await c.get("/preview/?token=wrong")).status_code == 401
            # ?token= sets a cookie and drops the token from the address
            r = await c.get(f"/preview/?a=1&token={token}")
            assert r.status_code == 303 and r.headers["location"] == "/preview/?a=1"
            cookie = r.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert (await c.get("/preview/")).text == "hello"  # the cookie carries on

    asyncio.run(run())


def test_small_helpers() -> None:
    assert template_name(Path("my card.toml")) == "my-card"
    assert template_name(Path("..toml")) == "template"
    assert template_name(Path("ok_1-a.json")) == "ok_1-a"
    assert [field_kind(v) for v in ("a", 1, 2.5, True, [1], {"a": 1})] == [
        "text", "number", "number", "boolean", "json", "json",
    ]  # fmt: skip
    assert default_value("read_time") == "Read time"
    assert default_value("author.name") == "Name"


# --------------------------------------------------------------------------- command line


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fastshare")
    _cli_preview.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_arguments_and_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "card.toml"
    path.write_text(TEMPLATE, encoding="utf-8")
    args = parse(["preview", str(path), "--data", "item.json"])
    assert (args.host, args.port, args.data) == ("127.0.0.1", 8000, Path("item.json"))
    # another interface without a token: refused before anything starts, exit code 2
    assert _cli_preview.main(["preview", str(path), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and "--token-env" in err
    # a missing template, a missing token variable, unreadable data: exit code 2, named
    assert _cli_preview.main(["preview", str(tmp_path / "nope.toml")]) == 2
    assert "template" in capsys.readouterr().err
    assert _cli_preview.main(["preview", str(path), "--token-env", "FASTSHARE_NO_SUCH_VAR"]) == 2
    assert "FASTSHARE_NO_SUCH_VAR" in capsys.readouterr().err
    monkeypatch.setenv("FASTSHARE_TEST_SHORT_TOKEN", "short")
    argv = ["preview", str(path), "--token-env", "FASTSHARE_TEST_SHORT_TOKEN"]
    assert _cli_preview.main(argv) == 2
    assert "too short" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert _cli_preview.main(["preview", str(path), "--data", str(bad)]) == 2
    assert "--data" in capsys.readouterr().err


def test_cli_data_file_forms(tmp_path: Path) -> None:
    obj = tmp_path / "item.json"
    obj.write_text('{"title": "One"}', encoding="utf-8")
    lines = tmp_path / "items.jsonl"
    lines.write_text('{"title": "First"}\n{"title": "Second"}\n', encoding="utf-8")
    assert _cli_preview.load_data(obj) == {"title": "One"}
    assert _cli_preview.load_data(lines) == {"title": "First"}
    assert _cli_preview.load_data(None) == {}
    assert _cli_preview.template_path("card-a").name == "card-a.toml"  # a bundled example


def test_cli_serves_and_stops(tmp_path: Path) -> None:
    """The real command: prints the URL, serves the page, stops cleanly on SIGINT."""
    path = tmp_path / "card.toml"
    path.write_text(TEMPLATE, encoding="utf-8")
    cmd = [sys.executable, "-m", "fastshare._cli_preview", "preview", str(path)]
    cmd += ["--port", "0", "--workers", "1", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fastshare preview: "), line
        url = line.rsplit(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/preview/")
        with httpx.Client(timeout=10.0) as client:
            state = wait_for(
                lambda: _ready_state(client, url), 120.0, "the preview server to be ready"
            )
            assert [t["spec"] for t in state["template"]["targets"]] == list(SIZES)
            r = client.post(url + "api/image/og.png", json={"data": FORM})
            assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode in (0, 130, -2), proc.returncode


def _ready_state(client: Any, url: str) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = client.get(url + "api/state").json()
    except httpx.TransportError:
        return None
    return state if state["ready"] and state["template"] else None
