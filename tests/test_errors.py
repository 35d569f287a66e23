"""The error hierarchy (fastshare.errors): families, fields and values in messages, JSON form."""

from __future__ import annotations

import pickle

import pytest

from fastshare import errors
from fastshare.errors import (
    CancelledError,
    ClientError,
    ColorError,
    DataError,
    EncodeError,
    FastshareError,
    FontError,
    LimitError,
    MissingGlyphError,
    Problem,
    RenderError,
    ServerError,
    ShareImageBounceError,
    TaskTimeout,
    TemplateError,
    TextError,
    ValueRangeError,
    WorkerCrashed,
)

CLIENT = [
    ValueRangeError,
    ColorError,
    LimitError,
    DataError,
    FontError,
    TextError,
    EncodeError,
    TemplateError,
]
SERVER = [RenderError, WorkerCrashed, TaskTimeout, CancelledError, ShareImageBounceError]


@pytest.mark.parametrize("cls", CLIENT)
def test_client_errors_are_value_errors(cls: type[ClientError]) -> None:
    err = cls("bad thing", field="layers[0].size", value=-3)
    assert isinstance(err, ClientError) and isinstance(err, FastshareError)
    assert isinstance(err, ValueError) and not isinstance(err, ServerError)
    assert str(err) == "layers[0].size: bad thing (got -3)"
    assert (err.field, err.value, err.reason) == ("layers[0].size", -3, "bad thing")


@pytest.mark.parametrize("cls", SERVER)
def test_server_errors_are_runtime_errors(cls: type[ServerError]) -> None:
    err = cls("it broke")
    assert isinstance(err, ServerError) and isinstance(err, RuntimeError)
    assert not isinstance(err, ClientError)
    assert str(err) == "it broke" and err.field is None and err.value is None


def test_timeout_is_also_a_builtin_timeout() -> None:
    assert isinstance(TaskTimeout("slow"), TimeoutError)


def test_missing_glyph_is_a_text_error_listing_code_points() -> None:
    err = MissingGlyphError("no font covers", field="title", chars=["\u0915", "😀"])
    assert isinstance(err, TextError)
    assert err.chars == ("\u0915", "😀")
    assert str(err) == "title: no font covers: U+0915 U+1F600"
    assert str(MissingGlyphError("none")) == "none"
    many = MissingGlyphError("x", chars=[chr(0x4E00 + i) for i in range(15)])
    assert str(many).count("U+") == 10


def test_message_forms() -> None:
    assert str(FastshareError("plain")) == "plain"
    assert str(ValueRangeError("must be positive", field="width")) == "width: must be positive"
    assert str(ValueRangeError("m", field="f", value="abc")) == "f: m (got 'abc')"
    long = "x" * 500
    text = str(ColorError("bad", field="fill", value=long))
    assert len(text) < 120 and text.endswith("…)")


def test_to_dict_is_json_ready() -> None:
    d = LimitError("too many pixels", field="target", value=(10000, 10000)).to_dict()
    assert d == {
        "code": "limit_exceeded",
        "message": "target: too many pixels (got (10000, 10000))",
        "field": "target",
        "value": "(10000, 10000)",
    }
    assert FastshareError("x").to_dict()["value"] is None


def test_codes() -> None:
    assert ColorError.code == "bad_color"
    assert ValueRangeError.code == "bad_value"
    assert TemplateError.code == "bad_template"
    assert TaskTimeout.code == "timeout" and WorkerCrashed.code == "worker_crashed"
    codes = {cls.code for cls in CLIENT}
    assert len(codes) == len(CLIENT)  # every client error has its own code


def test_template_error_collects_every_problem() -> None:
    problems = [
        Problem("layers[0].color", "not a colour", "#12345"),
        Problem("layers[3].width", "must not be negative", -5),
    ]
    err = TemplateError("invalid template", problems=problems)
    assert err.problems == tuple(problems)
    text = str(err)
    assert "2 problems" in text
    assert "layers[0].color: not a colour (got '#12345')" in text
    assert "layers[3].width: must not be negative (got -5)" in text
    single = TemplateError("unknown key", field="layers[1].colour", value="red")
    assert single.problems == (single.problems[0],)
    assert single.problems[0].field == "layers[1].colour"
    assert str(single) == "layers[1].colour: unknown key (got 'red')"
    assert repr(problems[0]) == "Problem('layers[0].color', 'not a colour', '#12345')"


def test_render_error_carries_the_worker_side_details() -> None:
    err = RenderError("boom", type_name="ZeroDivisionError", traceback_text="tb", attempt=2)
    assert (err.type_name, err.traceback_text, err.attempt) == ("ZeroDivisionError", "tb", 2)


def test_every_public_name_is_exported() -> None:
    for name in errors.__all__:
        assert hasattr(errors, name)
    assert set(errors.__all__) >= {c.__name__ for c in CLIENT + SERVER}


@pytest.mark.parametrize("cls", [ValueRangeError, ColorError, LimitError, DataError])
def test_client_errors_survive_pickling(cls: type[ClientError]) -> None:
    """Workers send errors back to the orchestrator through pickle."""
    err = cls("bad", field="f", value=3)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err)
    assert (back.field, back.value) == ("f", 3)
