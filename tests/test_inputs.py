"""Streaming item readers: JSON Lines, CSV, directories of JSON, iterables; bad records as data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fastshare.errors import DataError, LimitError
from fastshare.inputs import (
    InputRecord,
    count_records,
    detect_format,
    iter_mappings,
    read_items,
)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_records_errors_and_positions(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "items.jsonl",
        [
            json.dumps({"id": "a", "title": "A"}),
            "",
            "{not json",
            json.dumps([1, 2]),
            json.dumps({"title": "no id"}),
            json.dumps({"id": 7, "title": "int id"}),
            json.dumps({"id": True}),
            json.dumps({"id": "  "}),
            json.dumps({"id": "z", "title": "ü ✓ مرحبا"}),
        ],
    )
    records = list(read_items(path))
    assert [r.position for r in records] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r.source for r in records][:3] == ["items.jsonl:1", "items.jsonl:3", "items.jsonl:4"]
    ok = [r for r in records if r.ok]
    assert [(r.item_id, r.item and r.item["title"]) for r in ok] == [
        ("a", "A"),
        ("7", "int id"),
        ("z", "ü ✓ مرحبا"),
    ]
    bad = {r.position: r.error for r in records if not r.ok}
    assert isinstance(bad[2], DataError) and "items.jsonl:3" in str(bad[2])
    assert "not valid JSON" in str(bad[2])
    assert "must be a JSON object" in str(bad[3]) and "array" in str(bad[3])
    assert "has no 'id' field" in str(bad[4]) and "--id-field" in str(bad[4])
    assert "string or an integer" in str(bad[6])
    assert "is empty" in str(bad[7])


def test_jsonl_id_field_nested_and_custom(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "items.ndjson",
        [json.dumps({"meta": {"slug": "post-1"}, "title": "x"}), json.dumps({"title": "y"})],
    )
    records = list(read_items(path, id_field="meta.slug"))
    assert records[0].item_id == "post-1"
    assert records[1].error is not None and "'meta.slug'" in str(records[1].error)


def test_jsonl_oversized_line_is_skipped_and_reading_continues(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    huge = json.dumps({"id": "huge", "title": "x" * 5000})
    write_lines(path, [json.dumps({"id": "a"}), huge, json.dumps({"id": "b"})])
    records = list(read_items(path, max_record_bytes=1000))
    assert [r.item_id for r in records] == ["a", None, "b"]
    assert isinstance(records[1].error, LimitError)
    assert "big.jsonl:2" in str(records[1].error) and "1,000 bytes" in str(records[1].error)
    # a 1 MB line is fine under the default cap: the reader is not where long text fails
    write_lines(path, [json.dumps({"id": "m", "title": "x" * 1_000_000})])
    (record,) = list(read_items(path))
    assert record.ok and record.item is not None and len(record.item["title"]) == 1_000_000


def test_jsonl_gzip_and_no_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}))
    assert [r.item_id for r in read_items(path)] == ["a", "b"]
    plain = tmp_path / "x.jsonl"
    plain.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}), encoding="utf-8")
    assert [r.item_id for r in read_items(plain)] == ["a", "b"]
    assert count_records(plain) == 2
    assert count_records(path) is None  # compressed: not counted


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_readers_stream_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    import tracemalloc

    n = 50_000
    if kind == "jsonl":
        path = write_lines(
            tmp_path / "many.jsonl",
            [json.dumps({"id": f"item-{i}", "title": f"Title number {i}" * 3}) for i in range(n)],
        )
    else:
        path = write_lines(
            tmp_path / "many.csv",
            ["id,title"] + [f"item-{i},Title number {i}" for i in range(n)],
        )
    assert path.stat().st_size > 1_000_000
    tracemalloc.start()
    try:
        count = 0
        for record in read_items(path):
            assert record.ok
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    # a few records and the file buffer, never the file: far below its size
    assert peak < 256 * 1024, peak


def test_csv_rows_bom_quotes_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(
        "\ufeffid,title,category\n"
        'a,"Hello, world",News\n'
        "\n"
        'b,"two\nlines",Tech\n'
        "c,only two\n"
        ",no id,X\n"
        "d,Ünïcode,\n".encode()
    )
    records = list(read_items(path))
    assert [r.position for r in records] == [1, 2, 3, 4, 5]
    assert records[0].item == {"id": "a", "title": "Hello, world", "category": "News"}
    assert records[1].item is not None and records[1].item["title"] == "two\nlines"
    assert records[2].error is not None and "2 cells, the header has 3" in str(records[2].error)
    assert records[3].error is not None and "is empty" in str(records[3].error)
    assert records[4].item == {"id": "d", "title": "Ünïcode", "category": ""}
    assert count_records(path) is not None


def test_csv_large_cells(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,title\na," + "x" * 1_000_000 + "\nb,short\n", encoding="utf-8")
    records = list(read_items(path))
    assert [r.item_id for r in records] == ["a", "b"]
    capped = list(read_items(path, max_record_bytes=200_000))
    assert isinstance(capped[0].error, LimitError)
    assert capped[-1].item_id == "b"


def test_csv_empty_and_headerless(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert list(read_items(empty)) == []
    blank_header = tmp_path / "blank.csv"
    blank_header.write_text(",,\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="name the columns"):
        list(read_items(blank_header))


def test_directory_of_json_files(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    (folder / "first.json").write_text(json.dumps({"title": "from the stem"}), encoding="utf-8")
    (folder / "second.json").write_text(json.dumps({"id": "own", "title": "t"}), encoding="utf-8")
    (folder / "broken.json").write_text("{", encoding="utf-8")
    (folder / "list.json").write_text("[]", encoding="utf-8")
    (folder / ".hidden.json").write_text("{}", encoding="utf-8")
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    (folder / "sub.json").mkdir()
    assert detect_format(folder) == "dir"
    records = list(read_items(folder))
    assert len(records) == 4
    by_id = {r.item_id: r for r in records if r.ok}
    assert set(by_id) == {"first", "own"}
    errors = sorted(str(r.error) for r in records if not r.ok)
    assert any("broken.json" in e and "not valid JSON" in e for e in errors)
    assert any("list.json" in e and "must be a JSON object" in e for e in errors)
    assert count_records(folder) == 4


def test_detect_format_and_missing_inputs(tmp_path: Path) -> None:
    assert detect_format("-") == "jsonl"
    assert detect_format(tmp_path / "a.csv") == "csv"
    assert detect_format(tmp_path / "a.CSV.gz") == "csv"
    assert detect_format(tmp_path / "a.ndjson") == "jsonl"
    with pytest.raises(DataError, match="cannot tell the input format"):
        detect_format(tmp_path / "a.xlsx")
    with pytest.raises(DataError, match="tab-separated"):
        detect_format(tmp_path / "a.tsv")
    with pytest.raises(DataError, match="no such input file"):
        read_items(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="not a directory"):
        read_items(tmp_path / "a.jsonl", format="dir")
    # an explicit format overrides the name
    odd = write_lines(tmp_path / "items.txt", [json.dumps({"id": "x"})])
    assert [r.item_id for r in read_items(odd, format="jsonl")] == ["x"]


def test_iterables_of_mappings() -> None:
    from types import MappingProxyType

    records = list(iter_mappings([{"id": "a"}, MappingProxyType({"id": 2}), "nope", {"x": 1}]))
    assert [r.item_id for r in records] == ["a", "2", None, None]
    assert isinstance(records[0], InputRecord) and records[1].item == {"id": 2}
    assert records[2].error is not None and "must be a JSON object" in str(records[2].error)
    assert records[3].source == "items[3]"


def test_json_files_holding_an_array_or_lines(tmp_path: Path) -> None:
    array = tmp_path / "items.json"
    array.write_text(
        json.dumps([{"id": "a", "title": "A"}, {"id": "b"}, "oops"], indent=2), encoding="utf-8"
    )
    records = list(read_items(array))
    assert [r.item_id for r in records] == ["a", "b", None]
    assert records[2].source == "items.json[2]" and records[2].error is not None
    assert count_records(array) is None  # lines say nothing about an array's length
    lines = write_lines(tmp_path / "lines.json", [json.dumps({"id": "x"}), json.dumps({"id": "y"})])
    assert [r.item_id for r in read_items(lines)] == ["x", "y"]
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        read_items(broken)  # at once, before any record is used
