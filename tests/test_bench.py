"""Behaviour of ``fastshare bench``: the Pillow baseline, timing rounds, reports, compare, CLI.

No wall-clock thresholds: speed goals are reported by the harness and asserted only in
``benchmarks/``. The suite tests run a tiny configuration (a few calls per round) and check what
the report contains, not how fast anything was.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fastshare.bench import baseline
from fastshare.bench.baseline import CARD_A, PillowCard, linear_gradient, load_font, wrap_text
from fastshare.bench.machine import LoadProbe, machine_facts
from fastshare.bench.measure import MIN_BAND, Timing, measure, measure_many, sample_of
from fastshare.bench.report import (
    GOALS,
    SCHEMA,
    SINGLE_SHOT_BAND,
    Report,
    Result,
    compare,
    compute_goals,
    format_comparison,
    format_markdown,
    format_table,
    load_report,
    result_id,
    validate_report,
)
from fastshare.bench.workloads import LONG_TITLE_ITEM, bench_items, card_task, cold_start_code
from fastshare.errors import ClientError, DataError, EncodeError
from fastshare.targets import parse_target


@pytest.fixture(scope="module")
def card() -> PillowCard:
    return PillowCard()


# --------------------------------------------------------------------------- the baseline


def test_card_a_spec_matches_the_bundled_template() -> None:
    """The baseline draws the card the template describes (same values, layer by layer)."""
    from fastshare.examples import example_path
    from fastshare.template import load_template

    path = example_path("card-a")
    assert path is not None
    source = load_template(path).source
    background = source["background"]
    assert background["type"] == "linear-gradient"
    assert background["angle"] == CARD_A.gradient_angle
    assert [tuple(s) for s in background["stops"]] == [
        (c.upper(), p) for c, p in CARD_A.gradient_stops
    ]
    layers = {layer["id"]: layer for layer in source["layers"]}
    badge = layers["badge"]
    assert (badge["left"], badge["top"], badge["width"], badge["height"]) == CARD_A.badge
    assert badge["radius"] == CARD_A.badge_radius
    assert badge["fill"].upper() == CARD_A.badge_fill.upper()
    texts = [layers["badge-text"], layers["title"], layers["subtitle"]]
    assert len(texts) == len(CARD_A.texts)
    for layer, spec in zip(texts, CARD_A.texts, strict=True):
        assert layer["text"] == spec.text
        assert layer["size"] == spec.size
        assert layer["color"].upper() == spec.color.upper()
        assert ("Bold" in spec.font_file) == (layer["weight"] == 700)
        assert layer.get("line_height", 1.2) == spec.line_height
        assert layer.get("max_lines") == spec.max_lines
        assert layer.get("align", "start") in (spec.align, "start")
        assert layer.get("valign", "top") == spec.valign
        for key in ("left", "right", "top", "bottom", "width", "height"):
            assert layer.get(key) == getattr(spec, key), key


@pytest.mark.parametrize("target", ["og", "square", "story", "og@2x", "800x418"])
def test_baseline_renders_a_card_of_the_target_size_with_text(
    card: PillowCard, target: str
) -> None:
    item = bench_items()[0]
    image = card.render(item, target)
    tgt = parse_target(target)
    assert image.mode == "RGB"
    assert image.size == tgt.size
    pixels = np.asarray(image)
    plan = card.plan(target)
    plain = linear_gradient(plan.width, plan.height, CARD_A.gradient_angle, CARD_A.gradient_stops)
    s = tgt.scale
    # the title block (white text) and the subtitle line (light grey text) are drawn
    title = pixels[round(120 * s) : round(360 * s), round(80 * s) : tgt.size[0] - round(80 * s)]
    assert (title.min(axis=2) > 200).sum() > 500 * s * s
    sub_top = tgt.size[1] - round(72 * s) - round(32 * 1.2 * s)
    sub_rows = slice(sub_top, tgt.size[1] - round(72 * s))
    sub_cols = slice(round(80 * s), round(600 * s))
    changed = np.abs(pixels[sub_rows, sub_cols].astype(int) - plain[sub_rows, sub_cols])
    assert (changed.max(axis=2) > 60).sum() > 100 * s * s
    # the badge: its left cap is the badge colour
    y, x = round(82 * s), round(90 * s)
    assert tuple(pixels[y, x]) == (0x38, 0xBD, 0xF8)
    # away from every layer the background is the gradient
    y0 = round(380 * s)
    assert np.array_equal(pixels[y0 : y0 + 20, :], plain[y0 : y0 + 20, :])


def test_baseline_gradient_matches_fastshare_background() -> None:
    """Same card, fair comparison: the baseline's gradient is within 2 levels of fastshare's."""
    from fastshare.bench.cases import CardCases

    with CardCases("og", ("png",)) as cases:
        ours = cases.frames[0]
    plain = linear_gradient(1200, 630, CARD_A.gradient_angle, CARD_A.gradient_stops)
    rows = slice(380, 500)  # no text or badge there
    diff = np.abs(ours[rows].astype(int) - plain[rows].astype(int))
    assert diff.max() <= 2
    # the corners are the first and last stops (135° runs top-left → bottom-right)
    assert np.abs(plain[0, 0].astype(int) - (0x0F, 0x20, 0x27)).max() <= 1
    assert np.abs(plain[-1, -1].astype(int) - (0x2C, 0x53, 0x64)).max() <= 1


def test_baseline_breaks_lines_where_fastshare_does() -> None:
    """Both implementations draw the same lines for every benchmark item (ellipsis included)."""
    from fastshare.bench.cases import CardCases

    with CardCases("og", ("png",)) as cases:
        for dl, lay in zip(cases.display_lists, cases.base_layouts, strict=True):
            ours = [[ln.text for ln in op.layout.lines] for op in dl.ops if hasattr(op, "layout")]
            theirs = [[text for text, _, _ in block.lines] for block in lay.blocks]
            assert ours == theirs


def test_long_title_is_cut_to_three_lines_with_an_ellipsis(card: PillowCard) -> None:
    layout = card.layout(card.plan("og"), LONG_TITLE_ITEM)
    title = layout.blocks[1]
    assert len(title.lines) == 3
    assert title.lines[-1][0].endswith(baseline.ELLIPSIS)
    for text, x, _ in title.lines:
        assert x + title.font.getlength(text) <= 1120 + 1e-6
    baselines = [b for _, _, b in title.lines]
    assert np.allclose(np.diff(baselines), 64 * 1.2)


def test_wrap_text_fits_breaks_long_words_and_ellipsises() -> None:
    from fastshare.text import bundled_font_dir

    font = load_font(str(bundled_font_dir() / "Inter-Regular.otf"), 20)
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    lines = wrap_text(font, text, 150)
    assert " ".join(lines) == text
    assert all(font.getlength(line) <= 150 for line in lines)
    assert len(lines) > 2
    cut = wrap_text(font, text, 150, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…") and font.getlength(cut[-1]) <= 150
    long_word = "x" * 80
    pieces = wrap_text(font, long_word, 100)
    assert "".join(pieces) == long_word and all(font.getlength(p) <= 100 for p in pieces)


def test_baseline_missing_field_is_a_data_error(card: PillowCard) -> None:
    item = dict(bench_items()[0])
    del item["read_time"]
    with pytest.raises(DataError) as info:
        card.render(item)
    assert info.value.field == "read_time"


def test_baseline_background_cache_changes_nothing_visible() -> None:
    item = bench_items()[1]
    cached, percard = PillowCard(), PillowCard(cache_background=False)
    first = np.asarray(cached.render(item))
    second = np.asarray(cached.render(item))  # from the cached background
    assert np.array_equal(first, second)
    assert np.array_equal(first, np.asarray(percard.render(item)))


def test_baseline_encoders(card: PillowCard) -> None:
    image = card.render(bench_items()[0])
    png = card.encode(image, "png")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(image))
    jpeg = card.encode(image, "jpg")
    decoded = Image.open(io.BytesIO(jpeg))
    assert decoded.format == "JPEG" and decoded.size == image.size
    webp = card.encode(image, "webp")
    assert Image.open(io.BytesIO(webp)).format == "WEBP"
    with pytest.raises(EncodeError) as info:
        card.encode(image, "nope")
    assert info.value.field == "format"


# --------------------------------------------------------------------------- measuring


def test_measure_runs_rounds_of_calls_after_a_warm_up() -> None:
    seen: list[int] = []
    timing = Timing(rounds=4, round_seconds=0.0, min_reps=5, warmup=3, warmup_seconds=0.0)
    sample = measure(seen.append, timing)
    assert len(sample.rounds) == 4
    assert sample.reps == 5
    assert seen == list(range(3 + 4 * 5))  # call indexes count up: callables cycle their items
    assert sample.value == statistics.median(sample.rounds)


def test_measure_many_interleaves_rounds() -> None:
    order: list[str] = []
    timing = Timing(rounds=2, round_seconds=0.0, min_reps=2, warmup=1, warmup_seconds=0.0)
    samples = measure_many([lambda i: order.append("a"), lambda i: order.append("b")], timing)
    assert len(samples) == 2
    assert "".join(order) == "a" + "b" + "aa" + "bb" + "aa" + "bb"


def test_round_count_follows_the_time_budget() -> None:
    timing = Timing(rounds=1, round_seconds=0.02, min_reps=1, max_reps=50, warmup=2)
    fast = measure(lambda i: None, timing)
    assert fast.reps == 50  # a no-op call hits max_reps
    with pytest.raises(ValueError):
        Timing(rounds=0)


def test_sample_spread_is_half_the_range_over_the_median() -> None:
    sample = sample_of([1.0, 2.0, 3.0])
    assert sample.value == 2.0
    assert sample.spread == pytest.approx(0.5)
    assert sample_of([5.0]).spread is None
    with pytest.raises(ValueError):
        sample_of([])


def test_machine_facts_and_load_probe() -> None:
    facts = machine_facts()
    assert facts["versions"]["numpy"] == np.__version__
    assert facts["versions"]["pillow"] == Image.__version__
    assert facts["cpu_count"] >= 1 and 1 <= facts["cpus_usable"] <= facts["cpu_count"]
    assert facts["python"] == ".".join(map(str, sys.version_info[:3]))
    assert isinstance(facts["cpu_model"], str) and facts["cpu_model"]
    json.dumps(facts)  # serialisable
    with LoadProbe() as probe:
        sum(range(100_000))
    assert probe.other_cores is None or probe.other_cores >= 0.0


# --------------------------------------------------------------------------- reports


def _result(
    group: str = "stage",
    impl: str = "fastshare",
    name: str = "layout",
    rounds: tuple[float, ...] = (1.0, 1.0, 1.0),
    **kw: Any,
) -> Result:
    unit = kw.pop("unit", "ms")
    better = kw.pop("better", "lower")
    value = kw.pop("value", float(np.median(rounds)))
    return Result(group, impl, name, unit, better, value, rounds, **kw)


def _report(results: list[Result], created: str = "2025-01-01T00:00:00+00:00") -> Report:
    return Report(
        suite="quick",
        created=created,
        config={"targets": ["og"], "formats": ["png", "jpeg"], "rounds": 3},
        machine=machine_facts(),
        results=results,
        goals=compute_goals(results),
    )


def _goal_results(
    pixels: tuple[float, float] = (1.0, 5.0),
    png: tuple[float, float] = (4.0, 20.0),
    png_bytes: tuple[int, int] = (50_000, 70_000),
    jpeg: tuple[float, float] = (2.0, 4.0),
    workers: tuple[float, float] = (100.0, 190.0),
    cold: float = 1.0,
) -> list[Result]:
    ips: dict[str, Any] = {"unit": "images/s", "better": "higher", "target": "og", "format": "png"}
    e2e_png: dict[str, Any] = {"target": "og", "format": "png"}
    return [
        _result("pixels", "fastshare", "to_pixels", (pixels[0],), target="og"),
        _result("pixels", "pillow", "to_pixels", (pixels[1],), target="og"),
        _result("e2e", "fastshare", "end_to_end", (png[0],), bytes=png_bytes[0], **e2e_png),
        _result("e2e", "pillow", "end_to_end", (png[1],), bytes=png_bytes[1], **e2e_png),
        _result("e2e", "fastshare", "end_to_end", (jpeg[0],), target="og", format="jpeg"),
        _result("e2e", "pillow", "end_to_end", (jpeg[1],), target="og", format="jpeg"),
        _result("workers", "fastshare", "throughput", (workers[0],), workers=1, **ips),
        _result("workers", "fastshare", "throughput", (workers[1],), workers=2, **ips),
        _result("cold_start", "fastshare", "first_card", (cold,), unit="s", **e2e_png),
    ]


def test_goals_are_ratios_in_the_same_run() -> None:
    goals = {g.name: g for g in compute_goals(_goal_results())}
    assert set(goals) == {spec.name for spec in GOALS}
    assert goals["to_pixels"].value == pytest.approx(0.2) and goals["to_pixels"].met is True
    assert goals["png_end_to_end"].value == pytest.approx(0.2) and goals["png_end_to_end"].met
    assert (
        goals["jpeg_end_to_end"].value == pytest.approx(0.5)
        and goals["jpeg_end_to_end"].met is False
    )
    assert goals["two_workers"].value == pytest.approx(1.9) and goals["two_workers"].met is True
    assert goals["cold_start"].value == 1.0 and goals["cold_start"].met is True


def test_png_goal_needs_comparable_bytes() -> None:
    goals = {g.name: g for g in compute_goals(_goal_results(png_bytes=(200_000, 70_000)))}
    assert goals["png_end_to_end"].value == pytest.approx(0.2)
    assert goals["png_end_to_end"].met is False
    assert "not comparable" in goals["png_end_to_end"].detail


def test_goals_not_measured_are_not_applicable() -> None:
    results = [r for r in _goal_results() if r.group not in ("workers", "cold_start")]
    goals = {g.name: g for g in compute_goals(results)}
    assert goals["two_workers"].met is None and goals["two_workers"].value is None
    assert goals["cold_start"].met is None
    assert goals["to_pixels"].met is True


def test_report_json_round_trip(tmp_path: Path) -> None:
    report = _report(_goal_results())
    path = tmp_path / "bench.json"
    report.save(path)
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA
    assert validate_report(doc) == []
    for result in doc["results"]:
        fields = ("group", "impl", "name", "target", "format", "workers")
        assert result["id"] == result_id(*(result[f] for f in fields))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # a normal file, not mkstemp's 0600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    loaded = load_report(path)
    assert loaded.to_dict() == report.to_dict()
    assert loaded.get("pixels/fastshare/to_pixels/og") is not None


def test_report_validation_lists_every_problem() -> None:
    doc = _report(_goal_results()).to_dict()
    doc["schema"] = "something/else"
    doc["results"][0]["better"] = "faster"
    doc["results"][1]["value"] = "fast"
    doc["results"][2]["rounds"] = []
    doc["results"][3]["id"] = doc["results"][0]["id"]
    del doc["machine"]
    fields = [f for f, _ in validate_report(doc)]
    assert "schema" in fields
    assert "machine" in fields
    assert "results[0].better" in fields
    assert "results[1].value" in fields
    assert "results[2].rounds" in fields
    assert "results[3].id" in fields
    assert validate_report([1, 2]) == [("report", "must be a JSON object, got list")]
    with pytest.raises(DataError) as info:
        Report.from_dict(doc)
    assert info.value.field == "schema"


def test_load_report_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(DataError) as info:
        load_report(missing)
    assert info.value.field == "report" and str(missing) in str(info.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_report(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema": SCHEMA}))
    with pytest.raises(DataError) as info:
        load_report(wrong)
    assert str(wrong) in str(info.value)


def test_compare_flags_only_changes_outside_the_combined_band() -> None:
    ips: dict[str, Any] = {"unit": "images/s", "better": "higher", "workers": 2}
    old = _report(
        [
            _result(name="layout", rounds=(9.9, 10.0, 10.1)),  # spread 1% → band 2% (the floor)
            _result(name="paint", rounds=(9.9, 10.0, 10.1)),
            _result(name="plan", rounds=(9.9, 10.0, 10.1)),
            _result(name="noisy", rounds=(8.0, 10.0, 12.0)),  # spread 20%
            _result("workers", name="throughput", rounds=(100.0, 100.0), **ips),
            _result("cold_start", name="first_card", rounds=(1.0,), unit="s"),
        ]
    )
    new = _report(
        [
            _result(name="layout", rounds=(10.3, 10.3, 10.3)),  # +3%, inside 2% + 2%
            _result(name="paint", rounds=(11.0, 11.0, 11.0)),  # +10%: worse
            _result(name="plan", rounds=(9.0, 9.0, 9.0)),  # −10%: better
            _result(name="noisy", rounds=(12.0, 13.0, 14.0)),  # +30% but the old run spread 20%
            _result("workers", name="throughput", rounds=(110.0, 110.0), **ips),
            _result("cold_start", name="first_card", rounds=(1.15,), unit="s"),  # 1 shot: ±10%
            _result(name="new-only"),
        ]
    )
    changes = {c.id.split("/")[2]: c for c in compare(old, new)}
    assert "new-only" not in changes
    assert changes["layout"].ratio == pytest.approx(1.03)
    assert changes["layout"].band == pytest.approx(2 * MIN_BAND)
    assert changes["layout"].verdict == "same"
    assert changes["paint"].verdict == "worse"
    assert changes["plan"].verdict == "better"
    assert changes["noisy"].band == pytest.approx(0.2 + 1 / 13)
    assert changes["noisy"].verdict == "worse"  # 1.3 is outside 0.2 + 0.077
    assert changes["throughput"].verdict == "better"  # more images/s is better
    assert changes["first_card"].band == pytest.approx(2 * SINGLE_SHOT_BAND)
    assert changes["first_card"].verdict == "same"
    text = format_comparison(old, new, list(changes.values()))
    assert "WORSE" in text and "BETTER" in text
    assert "1 worse" not in text and "2 worse" in text


def test_compare_mentions_machine_differences() -> None:
    old, new = _report([_result()]), _report([_result()])
    new.machine = dict(new.machine, cpu_model="Another CPU")
    new.load = {"other_cores": 1.2}
    text = format_comparison(old, new, compare(old, new))
    assert "machines differ" in text and "Another CPU" in text
    assert "other load: old ? cores, new 1.20 cores — a busy machine" in text


def test_table_shows_stages_ratios_and_goals() -> None:
    results = [
        *_goal_results(),
        _result(name="layout", rounds=(0.5, 0.6, 0.7), target="og"),
        _result(impl="pillow", name="layout", rounds=(2.0, 2.0, 2.0), target="og"),
    ]
    text = format_table(_report(results))
    layout = next(line for line in text.splitlines() if line.strip().startswith("layout"))
    assert "0.30×" in layout  # 0.6 / 2.0
    assert "±17%" in layout  # (0.7 - 0.5) / 2 / 0.6
    assert "to pixels vs the Pillow baseline" in text
    assert "NOT met" in text  # jpeg 0.5× > 0.4×
    assert "1.90× 1 worker" in text
    markdown = format_markdown(_report(results))
    assert "| layout | 0.60 ms ±17% | 2.00 ms ±0% | 0.30× |  |  |" in markdown
    assert "| to pixels (one call) | 1.00 ms | 5.00 ms | 0.20× |  |  |" in markdown
    assert "| --- | ---: |" in markdown and "| not met |" in markdown


# --------------------------------------------------------------------------- workloads


def test_card_task_returns_encoded_cards() -> None:
    png = card_task(0, "fastshare", "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (1200, 630)
    jpeg = card_task(1, "pillow", "jpeg", "square")
    assert jpeg[:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(jpeg)).size == parse_target("square").size
    with pytest.raises(ValueError):
        card_task(0, "nope")


def test_cold_start_code_renders_a_png(tmp_path: Path) -> None:
    import subprocess

    for impl in ("fastshare", "pillow"):
        out = tmp_path / f"{impl}.png"
        code = cold_start_code(impl, out)
        subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=600)
        assert Image.open(out).size == (1200, 630)


def test_cases_cover_every_stage_and_format() -> None:
    from fastshare.bench.cases import CardCases

    with CardCases("og", ("png", "jpeg")) as cases:
        all_cases = cases.cases()
        ids = {c.id for c in all_cases}
        assert len(ids) == len(all_cases)
        for impl in ("fastshare", "pillow"):
            for stage in ("plan", "layout", "paint"):
                assert f"stage/{impl}/{stage}/og" in ids
            for fmt in ("png", "jpeg"):
                assert f"stage/{impl}/encode/og/{fmt}" in ids
                assert f"stage/{impl}/write/og/{fmt}" in ids
                assert f"e2e/{impl}/end_to_end/og/{fmt}" in ids
            assert f"pixels/{impl}/to_pixels/og" in ids
        assert "stage/fastshare/fromarray/og" in ids
        assert "stage/pillow/fromarray/og" not in ids  # the baseline works in PIL
        by_id = {c.id: c for c in all_cases}
        png = by_id["e2e/fastshare/end_to_end/og/png"].call(0)
        assert isinstance(png, bytes) and png.startswith(b"\x89PNG")
        assert by_id["e2e/pillow/end_to_end/og/jpeg"].call(1)[:2] == b"\xff\xd8"  # type: ignore[index]
        frame = by_id["pixels/fastshare/to_pixels/og"].call(2)
        assert isinstance(frame, np.ndarray) and frame.shape == (630, 1200, 3)
        image = by_id["pixels/pillow/to_pixels/og"].call(2)
        assert isinstance(image, Image.Image) and image.size == (1200, 630)
        assert (
            by_id["e2e/fastshare/end_to_end/og/png"].bytes
            == by_id["stage/fastshare/encode/og/png"].bytes
        )
        written = by_id["stage/pillow/write/og/png"].call(0)
        assert written == len(cases.base_encoded["png"][0])
        assert (cases.out_dir / "pillow.png").read_bytes() == cases.base_encoded["png"][0]
        with pytest.raises(ValueError):
            cases.stage_case("fastshare", "encode", "gif")


# --------------------------------------------------------------------------- the suite


def _tiny(**changes: Any) -> Any:
    from fastshare.bench.suite import QUICK

    timing = Timing(
        rounds=2, round_seconds=0.0, min_reps=1, max_reps=2, warmup=1, warmup_seconds=0.0
    )
    settings = {
        "timing": timing,
        "workers": 0,
        "cold_starts": 0,
        "worker_cards": 4,
        "worker_rounds": 1,
        "respawns": 1,
    }
    settings.update(changes)
    return QUICK.replace(**settings)


def test_quick_suite_in_process_produces_a_valid_report() -> None:
    from fastshare.bench.suite import run_suite

    messages: list[str] = []
    report = run_suite(_tiny(), progress=messages.append)
    assert validate_report(report.to_dict()) == []
    ids = {r.id for r in report.results}
    assert "stage/fastshare/layout/og" in ids and "e2e/pillow/end_to_end/og/jpeg" in ids
    assert "pixels/pillow-percard/to_pixels/og" in ids
    assert all(len(r.rounds) == 2 for r in report.results)
    assert all(r.value > 0 and math.isfinite(r.value) for r in report.results)
    goals = {g.name: g for g in report.goals}
    assert goals["to_pixels"].value is not None and goals["to_pixels"].met is not None
    assert goals["two_workers"].met is None  # the pool was skipped
    assert report.machine["versions"]["numpy"] == np.__version__
    assert messages and "per card at og" in messages[0]
    assert "end to end png" in format_table(report)


def test_suite_with_pool_and_cold_start() -> None:
    from fastshare.bench.suite import run_suite

    report = run_suite(_tiny(workers=2, cold_starts=1, cold_impls=("fastshare",)))
    assert validate_report(report.to_dict()) == []
    ids = {r.id for r in report.results}
    for n in (1, 2):
        assert f"workers/fastshare/throughput/og/png/workers={n}" in ids
        assert f"pool/fastshare/warm_up/workers={n}" in ids
    assert "pool/fastshare/respawn/workers=2" in ids
    assert "cold_start/fastshare/first_card/og/png" in ids
    goals = {g.name: g for g in report.goals}
    assert goals["two_workers"].value is not None
    assert goals["cold_start"].value is not None and goals["cold_start"].value > 0


def test_suite_rejects_bad_settings() -> None:
    from fastshare.bench.suite import run_suite
    from fastshare.errors import ValueRangeError

    with pytest.raises(ValueRangeError) as info:
        run_suite("medium")
    assert info.value.field == "suite"
    with pytest.raises(ValueRangeError) as info:
        run_suite("quick", workers=-1)
    assert info.value.field == "workers"
    with pytest.raises(ValueRangeError):
        run_suite(_tiny(formats=("gif",)))


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    from fastshare._cli_bench import register

    parser = argparse.ArgumentParser(prog="fastshare")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_options() -> None:
    parser = _parser()
    argv = ["bench", "--suite", "full", "--workers", "3", "--json", "out.json"]
    argv += ["--compare", "a.json", "b.json"]
    args = parser.parse_args(argv)
    assert args.suite == "full" and args.workers == 3 and args.json == Path("out.json")
    assert args.compare == [Path("a.json"), Path("b.json")]
    defaults = parser.parse_args(["bench"])
    assert defaults.suite == "quick" and defaults.workers is None and defaults.plot is None
    for bad in (
        ["bench", "--suite", "medium"],
        ["bench", "--workers", "-1"],
        ["bench", "--workers", "x"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    help_text = parser._subparsers._group_actions[0].choices["bench"].format_help()  # type: ignore[union-attr]
    assert "examples:" in help_text and "--compare" in help_text


def test_cli_compares_two_saved_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    _report([_result(name="paint", rounds=(10.0, 10.0, 10.0))]).save(old)
    _report([_result(name="paint", rounds=(13.0, 13.0, 13.0))], created="later").save(new)
    parser = _parser()
    args = parser.parse_args(["bench", "--compare", str(old), str(new)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "stage/fastshare/paint" in out and "WORSE" in out and "1.300" in out
    args = parser.parse_args(["bench", "--compare", str(old), str(new), "--fail-on-regression"])
    assert args.func(args) == 1
    args = parser.parse_args(["bench", "--compare", str(old), str(old), "--fail-on-regression"])
    assert args.func(args) == 0
    args = parser.parse_args(["bench", "--compare", str(tmp_path / "nope.json"), str(new)])
    with pytest.raises(DataError):
        args.func(args)
    args = parser.parse_args(["bench", "--compare", str(old), str(new), str(new)])
    with pytest.raises(ClientError):
        args.func(args)
    args = parser.parse_args(["bench", "--compare", str(old), str(new), "--json", "x.json"])
    with pytest.raises(ClientError) as info:
        args.func(args)
    assert info.value.field == "--json"


def test_cli_runs_a_suite_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastshare.bench import suite

    monkeypatch.setitem(suite.SUITES, "quick", _tiny())
    out = tmp_path / "run.json"
    args = _parser().parse_args(["bench", "--json", str(out), "--quiet", "--workers", "0"])
    assert args.func(args) == 0
    printed = capsys.readouterr()
    assert "per card at og" in printed.out and printed.err == ""
    assert validate_report(json.loads(out.read_text())) == []
    args = _parser().parse_args(["bench", "--json", "-", "--quiet", "--workers", "0"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["schema"] == SCHEMA


def test_plot_without_matplotlib_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    args = _parser().parse_args(["bench", "--plot", str(tmp_path / "p.png"), "--workers", "0"])
    with pytest.raises(ClientError, match=r"pip install 'fastshare\[plot\]'") as info:
        args.func(args)  # before any measurement runs
    assert info.value.field == "--plot"


def test_plot_draws_the_stage_breakdown(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from fastshare.bench.plot import plot_stages

    results = [
        _result(impl=impl, name=stage, rounds=(value,), target="og", format=fmt)
        for impl, value in (("fastshare", 1.0), ("pillow", 4.0))
        for stage, fmt in (
            ("plan", None),
            ("layout", None),
            ("paint", None),
            ("encode", "png"),
            ("write", "png"),
        )
    ]
    path = plot_stages(_report(results), tmp_path / "stages.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300
    with pytest.raises(ClientError):
        plot_stages(_report([]), tmp_path / "empty.png")
