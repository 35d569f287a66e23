"""The service's parts without a server: signing, caching headers, limits, metrics, config, CLI."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastshare.errors import DataError, LimitError, ValueRangeError
from fastshare.service import ServiceConfig, SignatureError, sign_url, verify
from fastshare.service.caching import DiskCache, cache_control, etag_for, etag_matches
from fastshare.service.config import default_templates_dir
from fastshare.service.errors import TemplateUnavailable, UnknownTemplate
from fastshare.service.limits import json_item, parse_format, parse_render_target, query_item
from fastshare.service.metrics import Counter, Histogram, Registry
from fastshare.service.signing import canonical_request, parse_query, signature
from fastshare.service.templates import TemplateStore

SECRET = b"unit-secret-0123456789abcdef"


def _verify_url(url: str, secrets: tuple[bytes, ...] = (SECRET,), now: float | None = None) -> Any:
    from urllib.parse import unquote

    parts = urlsplit(url)
    return verify(secrets, unquote(parts.path), parse_query(parts.query), now=now)


# --------------------------------------------------------------------------- signing


def test_sign_and_verify_round_trip() -> None:
    url = sign_url(
        "https://cards.example.com/v1/render/card-a/og@2x.png?title=Hi there&a=1", SECRET
    )
    assert url.startswith("https://cards.example.com/v1/render/card-a/og@2x.png?")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["title"] == "Hi there" and len(params["sig"]) == 43
    assert _verify_url(url) is None
    # re-signing replaces the old signature
    assert sign_url(url, SECRET) == url


def test_signature_ignores_order_and_encoding_variants() -> None:
    path = "/v1/render/card-a/og@2x.png"
    base = signature(SECRET, path, [("b", "2 3"), ("a", "é&x")])
    assert signature(SECRET, path, [("a", "é&x"), ("b", "2 3")]) == base
    # what the server decodes from differently encoded URLs is the same
    for query in ("a=%C3%A9%26x&b=2+3", "b=2%203&a=%c3%a9%26x"):
        assert signature(SECRET, path, parse_query(query)) == base
    assert (
        signature(
            SECRET,
            "/v1/render/card-a/og%402x.png".replace("%40", "@"),
            [("a", "é&x"), ("b", "2 3")],
        )
        == base
    )
    # but every name, value and the path count
    assert signature(SECRET, path, [("b", "2 3"), ("a", "é&y")]) != base
    assert signature(SECRET, path, [("b", "2 3"), ("a", "é&x"), ("c", "")]) != base
    assert signature(SECRET, path.replace("og", "x"), [("b", "2 3"), ("a", "é&x")]) != base
    assert signature(b"another-secret-0123456789", path, [("b", "2 3"), ("a", "é&x")]) != base
    # no ambiguity between a path and a query
    assert canonical_request("/a\nb", []) != canonical_request("/a", [("b", "")])


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=12)), max_size=6),
    st.text(min_size=1, max_size=12),
)
def test_signed_urls_verify_and_tampering_fails(pairs: list[tuple[str, str]], extra: str) -> None:
    from urllib.parse import quote, urlencode

    pairs = [(k, v) for k, v in pairs if k not in ("sig", "exp")]
    query = urlencode(pairs, quote_via=quote, safe="")
    url = sign_url(f"/v1/render/t/og.png?{query}", SECRET)
    assert _verify_url(url) is None
    tampered = url + "&" + urlencode([("zz" + extra, "1")], quote_via=quote, safe="")
    with pytest.raises(SignatureError) as info:
        _verify_url(tampered)
    assert info.value.code == "bad_signature"


def test_verify_errors_and_expiry() -> None:
    path = "/v1/render/card-a/og.png"
    with pytest.raises(SignatureError) as info:
        verify((SECRET,), path, [("title", "x")])
    assert info.value.code == "missing_signature" and info.value.field == "sig"
    with pytest.raises(SignatureError) as info:
        verify((SECRET,), path, [("title", "x"), ("sig", "short")])
    assert info.value.code == "bad_signature"
    with pytest.raises(SignatureError):
        verify((SECRET,), path, [("sig", "a" * 43), ("sig", "a" * 43)])

    now = 1_800_000_000.0
    url = sign_url(f"{path}?title=x", SECRET, expires_in=60, now=now)
    assert "exp=1800000060" in url
    assert _verify_url(url, now=now + 59) == 1_800_000_060
    with pytest.raises(SignatureError) as info:
        _verify_url(url, now=now + 61)
    assert info.value.code == "expired_signature" and info.value.field == "exp"
    assert sign_url(f"{path}?title=x", SECRET, expires_at=5).count("exp=5") == 1
    with pytest.raises(ValueRangeError):
        sign_url(f"{path}?title=x", SECRET, expires_at=5, expires_in=5)
    with pytest.raises(ValueRangeError):
        sign_url("no-path", SECRET)
    with pytest.raises(ValueRangeError):
        parse_query(b"title=%FF")


def test_secret_rotation() -> None:
    old, new = b"old-secret-0123456789abcdef", b"new-secret-0123456789abcdef"
    url_old = sign_url("/v1/render/a/og.png?t=1", old)
    url_new = sign_url("/v1/render/a/og.png?t=1", new)
    assert _verify_url(url_old, (new, old)) is None
    assert _verify_url(url_new, (new, old)) is None
    with pytest.raises(SignatureError):
        _verify_url(url_old, (new,))


# --------------------------------------------------------------------------- caching


def test_etag_matching() -> None:
    etag = etag_for("ab" * 32)
    assert etag == '"' + "ab" * 16 + '"'
    assert etag_matches(etag, etag)
    assert etag_matches(f"W/{etag}", etag)
    assert etag_matches(f'"x", {etag} , "y"', etag)
    assert etag_matches("*", etag)
    assert not etag_matches('"x"', etag)
    assert not etag_matches(None, etag)
    assert not etag_matches("", etag)
    assert not etag_matches(etag.strip('"'), etag)


def test_cache_control_capped_by_expiry() -> None:
    base = "public, max-age=31536000, s-maxage=31536000, immutable"
    assert cache_control(base) == base
    assert (
        cache_control(base, expires=1000, now=900) == "public, max-age=100, s-maxage=100, immutable"
    )
    assert cache_control(base, expires=1000, now=2000) == "public, max-age=0, s-maxage=0, immutable"
    assert cache_control("public, max-age=60", expires=10_000, now=0) == "public, max-age=60"


def test_disk_cache(tmp_path: Path) -> None:
    from fastshare.targets import parse_target

    cache = DiskCache(tmp_path / "cache", max_bytes=2500)
    target = parse_target("og")
    keys = [f"{i:064x}" for i in range(4)]
    for i, key in enumerate(keys):
        location = cache.location(key, target, "png")
        assert location.startswith(str(cache.root)) and location.endswith(f"{key}-og.png")
        assert cache.get(location) is None and not cache.has(location)
        cache.store.write(location, bytes([i]) * 1000, f"t{i}")  # what a worker does
        os.utime(location, (1000 + i, 1000 + i))  # creation order, made explicit
        assert cache.get(location) == bytes([i]) * 1000 and cache.has(location)
        if cache.added(1000):
            cache.prune()
    # over budget: the oldest files were removed, the newest kept
    assert cache.size_bytes <= 2500
    assert cache.has(cache.location(keys[-1], target, "png"))
    assert not cache.has(cache.location(keys[0], target, "png"))
    assert cache.measure() == cache.size_bytes
    # a killed writer's temporary file is removed
    location = cache.location("f" * 64, target, "png")
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    temp = Path(location).with_name(f".{Path(location).name}.tok.123.tmp")
    temp.write_bytes(b"partial")
    assert cache.get(location) is None
    cache.abort(location)
    assert not temp.exists()


# --------------------------------------------------------------------------- limits


def _store(tmp_path: Path) -> TemplateStore:
    import shutil

    shutil.copy(default_templates_dir() / "card-a.toml", tmp_path / "card-a.toml")
    shutil.copy(default_templates_dir() / "photo.toml", tmp_path / "photo.toml")
    shutil.copytree(default_templates_dir() / "assets", tmp_path / "assets")
    return TemplateStore(tmp_path)


def test_formats_and_targets() -> None:
    config = ServiceConfig().checked()
    assert [parse_format(x) for x in ("png", "JPG", "jpeg", "webp")] == [
        "png",
        "jpeg",
        "jpeg",
        "webp",
    ]
    for bad in ("gif", "", None, "png "):
        with pytest.raises(ValueRangeError) as info:
            parse_format(bad)
        assert info.value.field == "format"
    assert parse_render_target("og", config).size == (1200, 630)
    assert parse_render_target("800x400@2x", config).size == (1600, 800)
    assert parse_render_target("story@2x", config).size == (2160, 3840)  # 8.3 MP: under the cap
    with pytest.raises(LimitError) as info:
        parse_render_target("4000x4000", config)
    assert info.value.field == "target"
    presets = ServiceConfig(allow_custom_sizes=False).checked()
    assert parse_render_target("square", presets).size == (1080, 1080)
    for spec in ("800x400", "og@2x"):
        with pytest.raises(ValueRangeError):
            parse_render_target(spec, presets)
    with pytest.raises(ValueRangeError):
        parse_render_target("x" * 40, config)


def test_query_and_json_items(tmp_path: Path) -> None:
    store = _store(tmp_path)
    card = store.get("card-a")
    config = ServiceConfig(max_field_chars=20, max_fields=6).checked()
    params = [("title", "Hi"), ("sig", "s"), ("exp", "1"), ("v", "3"), ("other", "x"), ("site", "")]
    assert query_item(card, params, config) == {"title": "Hi", "site": ""}
    with pytest.raises(DataError) as info:
        query_item(card, [("title", "a"), ("title", "b")], config)
    assert info.value.field == "title"
    with pytest.raises(LimitError) as info:
        query_item(card, [("title", "x" * 21)], config)
    assert info.value.field == "title"
    with pytest.raises(LimitError) as info:
        query_item(card, [(f"f{i}", "x") for i in range(7)], config)
    assert info.value.field == "query"

    photo = store.get("photo")
    assert photo.image_fields == {"image"} and photo.has_images
    for url in (
        "https://x/y.jpg",
        "data:image/png;base64,xx",
        "//host/a.png",
        "file:///etc/passwd",
    ):
        with pytest.raises(DataError) as info:
            query_item(photo, [("image", url)], ServiceConfig().checked())
        assert info.value.field == "image"
    assert query_item(photo, [("image", "mountains.jpg")], config) == {"image": "mountains.jpg"}

    data = {"title": "Hi", "read_time": 3, "unused": {"deep": "x"}, "site": None}
    assert json_item(card, data, config) == {"title": "Hi", "read_time": 3, "site": None}
    for bad, field in (
        ("text", "data"),
        ({"title": "x" * 21}, "data.title"),
        ({"title": float("nan")}, "data.title"),
        ({"title": object()}, "data.title"),
        ({"title": [[[[[[[[["deep"]]]]]]]]]}, None),
    ):
        with pytest.raises((DataError, LimitError)) as excinfo:
            json_item(card, bad, config)
        if field is not None:
            assert excinfo.value.field == field


def test_template_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (tmp_path / "bad name.toml").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert store.names() == ["card-a", "photo"]
    info = store.get("card-a")
    assert store.get("card-a") is info  # cached
    for name in ("nope", "../card-a"):
        with pytest.raises((UnknownTemplate, ValueRangeError)):
            store.get(name)
    # an edited file is reloaded
    path = tmp_path / "card-a.toml"
    path.write_text(path.read_text().replace("size = 64", "size = 60"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    edited = store.get("card-a")
    assert edited is not info and edited.template.config_hash() != info.template.config_hash()
    (tmp_path / "broken.toml").write_text("layers = 3")
    with pytest.raises(TemplateUnavailable) as excinfo:
        store.get("broken")
    assert str(tmp_path) not in str(excinfo.value)
    assert [i.name for i in store.load_all()] == ["card-a", "photo"]


# --------------------------------------------------------------------------- metrics


def test_metrics_text_format() -> None:
    registry = Registry()
    counter = registry.add(Counter("x_total", "Things.", ("route", "status")))
    histogram = registry.add(Histogram("x_seconds", "Times.", ("route",), buckets=(0.1, 1.0)))
    counter.inc('/a"b\\c\nd', "200")
    counter.inc('/a"b\\c\nd', "200")
    histogram.observe(0.05, "r")
    histogram.observe(0.5, "r")
    histogram.observe(5.0, "r")
    text = registry.render()
    assert "# TYPE x_total counter" in text
    assert 'x_total{route="/a\\"b\\\\c\\nd",status="200"} 2' in text
    assert 'x_seconds_bucket{route="r",le="0.1"} 1' in text
    assert 'x_seconds_bucket{route="r",le="1"} 2' in text
    assert 'x_seconds_bucket{route="r",le="+Inf"} 3' in text
    assert 'x_seconds_count{route="r"} 3' in text
    assert 'x_seconds_sum{route="r"} 5.55' in text
    assert text.endswith("\n")


# --------------------------------------------------------------------------- config


def test_config_validation(tmp_path: Path) -> None:
    config = ServiceConfig(secrets=(b"s" * 32,), tokens=(b"t" * 32,), cache_dir=tmp_path / "c")
    checked = config.checked()
    assert checked.cache_dir is not None and checked.cache_dir.is_dir()
    assert checked.signing
    assert b"s" * 32 not in repr(checked).encode() and "sss" not in repr(checked)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"templates_dir": tmp_path / "missing"}, "templates_dir"),
        ({"workers": 0}, "workers"),
        ({"queue_size": -1}, "queue_size"),
        ({"render_timeout": 0}, "render_timeout"),
        ({"secrets": (b"short",)}, "secrets[0]"),
        ({"max_pixels": 10**9}, "max_pixels"),
        ({"cache_control_signed": "a\r\nb"}, "cache_control_signed"),
        ({"encode_options": {"gif": {}}}, "encode_options.gif"),
    ]
    for options, field in bad:
        with pytest.raises(ValueRangeError) as info:
            ServiceConfig(**options).checked()
        assert info.value.field == field


# --------------------------------------------------------------------------- command line


def test_cli_sign(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from fastshare._cli_serve import main

    monkeypatch.setenv("FASTSHARE_SECRET", SECRET.decode())
    assert (
        main(["sign", "https://h.example/v1/render/card-a/og.png?title=Hi", "--expires-in", "60"])
        == 0
    )
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://h.example/v1/render/card-a/og.png?title=Hi&exp=")
    expires = _verify_url(url)
    assert expires is not None and 0 < expires - time.time() <= 61
    monkeypatch.delenv("FASTSHARE_SECRET")
    assert main(["sign", "/v1/render/card-a/og.png"]) == 2
    assert "FASTSHARE_SECRET" in capsys.readouterr().err


def test_cli_serve_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastshare._cli_serve import main

    # a None entry makes `import starlette` raise ImportError, as if it were not installed
    for module in [m for m in sys.modules if m.split(".")[0] in ("starlette", "uvicorn")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "starlette", None)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", "--port", "1"]) == 2
    assert "pip install 'fastshare[serve]'" in capsys.readouterr().err
    from fastshare.service.app import MissingExtraError, create_app

    with pytest.raises(MissingExtraError, match=r"pip install 'fastshare\[serve\]'"):
        create_app(ServiceConfig())
    import fastshare.service as service

    assert callable(service.sign_url)  # signing needs no web stack


def test_cli_serve_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import argparse

    from fastshare._cli_serve import build_config, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    monkeypatch.setenv("S1", "x" * 20)
    monkeypatch.setenv("S2", "y" * 20)
    monkeypatch.setenv("TOK", "z" * 20)
    args = parser.parse_args(
        ["serve", "--secret-env", "S1", "--secret-env", "S2", "--token-env", "TOK",
         "--workers", "3", "--cache-dir", str(tmp_path / "c"), "--presets-only",
         "--cache-control", "public, max-age=600"]
    )  # fmt: skip
    config = build_config(args)
    assert config.secrets == (b"x" * 20, b"y" * 20) and config.tokens == (b"z" * 20,)
    assert config.workers == 3 and not config.allow_custom_sizes
    assert config.cache_control_signed == "public, max-age=600"
    assert config.templates_dir == default_templates_dir()
    with pytest.raises(ValueRangeError) as info:
        build_config(parser.parse_args(["serve", "--secret-env", "UNSET_VARIABLE_X"]))
    assert info.value.field == "--secret-env"


def test_service_not_started_answers_not_ready(tmp_path: Path) -> None:
    import asyncio

    from fastshare.service import RenderService
    from fastshare.service.errors import NotReady
    from fastshare.service.routes import error_response
    from fastshare.targets import parse_target

    service = RenderService(ServiceConfig(workers=1))
    info = service.templates.get("card-a")
    with pytest.raises(NotReady):
        asyncio.run(service.image(info, parse_target("og"), "png", {"title": "x"}))
    response = error_response(NotReady("pool not started"), "rid", service)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert b"pool not started" not in bytes(response.body)


def test_app_is_composable() -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from fastshare.service import RenderService, create_app, endpoint, get_service

    async def extra(request: Request, service: RenderService) -> Response:
        assert get_service(request) is service
        if request.query_params.get("fail"):
            raise DataError("bad thing", field="thing", value="x")
        return JSONResponse({"state": service.state, "templates": service.templates.names()})

    import asyncio

    import httpx

    app = create_app(ServiceConfig(workers=1), routes=[Route("/extra", endpoint("/extra")(extra))])

    async def main() -> None:
        # ASGITransport runs no lifespan: the pool is not started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/extra")
            assert r.status_code == 200 and "card-a" in r.json()["templates"]
            assert r.json()["state"] == "new"
            r = await client.get("/extra?fail=1")
            assert r.status_code == 400 and r.json()["field"] == "thing"
            assert (await client.get("/readyz")).status_code == 503
            metrics = (await client.get("/metrics")).text
            line = 'fastshare_http_requests_total{route="/extra",method="GET",status="400"} 1'
            assert line in metrics

    asyncio.run(asyncio.wait_for(main(), 30))
