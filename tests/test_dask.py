"""The backfill on Dask distributed: a real 2-worker LocalCluster (processes, one thread each).

Skipped, with the reason, only when the ``dask`` extra is not installed. Every test is bounded
by timeouts and shuts what it started down in ``finally`` blocks; the cluster listens on the
loopback interface only and has no dashboard.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _backfill_util as util
import pytest

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed (pip install 'fastshare[dask]')"
)

from fastshare import _cli_backfill  # noqa: E402
from fastshare.backfiller import backfill  # noqa: E402
from fastshare.dask_engine import SCHEDULER_CONFIG, local_cluster_kwargs  # noqa: E402
from fastshare.errors import ClientError, ServerError, ValueRangeError  # noqa: E402
from fastshare.registry import Registry  # noqa: E402
from fastshare.stores import DirectoryStore  # noqa: E402

TARGETS = ["120x63", "64x64"]


class HangOnceStore(DirectoryStore):
    """A directory store that, on the write of ``hang_on``, leaves its temporary file in place,
    notes its pid in ``marker`` and hangs (the test kills that worker); only the first time."""

    def __init__(self, root: Path, hang_on: str, marker: Path) -> None:
        super().__init__(root)
        self.hang_on = hang_on
        self.marker = str(marker)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "hang_on": self.hang_on, "marker": self.marker}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.hang_on = state["hang_on"]
        self.marker = state["marker"]

    def write(self, location: str, data: bytes, token: str) -> None:
        if f"{os.sep}{self.hang_on}{os.sep}" in location and not os.path.exists(self.marker):
            os.makedirs(os.path.dirname(location), exist_ok=True)
            with open(self._temp(location, token), "wb") as fh:
                fh.write(data[: len(data) // 2])  # a partial write, as a crash would leave
            with open(self.marker + ".tmp", "w") as fh:
                fh.write(str(os.getpid()))
            os.replace(self.marker + ".tmp", self.marker)
            time.sleep(60)  # killed long before
        time.sleep(0.002)  # keep the run going long enough to be in flight
        super().write(location, data, token)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A 2-worker LocalCluster shared by the tests that pass its address as ``scheduler=``."""
    import dask

    with dask.config.set(SCHEDULER_CONFIG):
        lc = distributed.LocalCluster(**local_cluster_kwargs(2))
    try:
        yield lc
    finally:
        lc.close(timeout=30)


@pytest.fixture
def control(cluster: Any) -> Iterator[Any]:
    """A synchronous client for the test itself (worker pids, plugins)."""
    client = distributed.Client(cluster, timeout=30)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close(timeout=30)


def worker_pids(client: Any) -> set[int]:
    return {int(p) for p in client.run(os.getpid).values()}


def wait_for_replacement(client: Any, killed: int, timeout: float = 60.0) -> set[int]:
    """Wait until the cluster has 2 workers again, none of them ``killed``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            pids = worker_pids(client)
            if len(pids) == 2 and killed not in pids:
                return pids
        if time.monotonic() > deadline:
            raise AssertionError(f"no replacement for worker pid {killed} in {timeout} s")
        time.sleep(0.1)


def version_rows(db: Path) -> list[tuple[Any, ...]]:
    with Registry(db, readonly=True) as reg:
        return [
            tuple(r)
            for r in reg.execute(
                "SELECT item_id, version, path, bytes, content_hash FROM images "
                "WHERE version IS NOT NULL ORDER BY item_id, version"
            )
        ]


def check_exactly_once(out: Path, db: Path, expected: set[str]) -> None:
    """Exactly the expected files, each complete, each with one row that describes it; no
    temporary files, nothing left in flight."""
    files = util.files_under(out)
    assert set(files) == expected
    assert util.temp_files(out) == []
    rows = version_rows(db)
    assert len(rows) == len(expected) == len({r[2] for r in rows})
    for _item, _version, path, size, digest in rows:
        data = Path(path).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == digest
    with Registry(db, readonly=True) as reg:
        assert reg.inflight() == []


def expected_files(items: list[dict[str, Any]], targets: list[str]) -> set[str]:
    return {f"{item['id']}/{t}.png" for item in items for t in targets}


# --------------------------------------------------------------------------- tests


def test_same_files_and_rows_as_the_local_engine(tmp_path: Path) -> None:
    """local=2 starts its own LocalCluster; outputs, rows and failures equal the local pool's."""
    template = util.write_tiny_template(tmp_path)
    items: list[dict[str, Any]] = util.tiny_items(240)
    items[7] = {"id": "no-title"}  # a data error: a failure on both engines
    items.append({"id": items[3]["id"], "title": "a duplicate id"})
    local_out, dask_out = tmp_path / "local", tmp_path / "dask"
    by_local = backfill(template, items, out=local_out, targets=TARGETS, workers=2)
    by_dask = backfill(
        template, items, out=dask_out, targets=TARGETS, engine="dask", local=2, batch_size=40
    )
    for summary in (by_local, by_dask):
        assert (summary.items, summary.rendered, summary.skipped) == (241, 478, 0)
        assert summary.failed == 3 and summary.exit_code == 1
    assert util.files_under(dask_out) == util.files_under(local_out)
    assert util.registry_rows(
        dask_out / ".fastshare" / "registry.sqlite", dask_out
    ) == util.registry_rows(local_out / ".fastshare" / "registry.sqlite", local_out)

    def failures(summary: Any) -> list[tuple[Any, ...]]:
        return sorted((f.item_id, f.target, f.code, f.field, f.source) for f in summary.failures)

    assert failures(by_dask) == failures(by_local)
    assert {f.code for f in by_dask.failures} == {"bad_data", "duplicate"}
    assert set(by_dask.phases) >= {"render", "encode", "write"}
    assert util.temp_files(dask_out) == []
    # a rerun is all skips, and needs no cluster: nothing is left to render
    again = backfill(template, items, out=dask_out, targets=TARGETS, engine="dask", local=2)
    assert (again.rendered, again.skipped) == (0, 478)


def test_worker_killed_mid_chunk_reruns_elsewhere_exactly_once(
    tmp_path: Path, cluster: Any, control: Any
) -> None:
    template = util.write_tiny_template(tmp_path)
    items = util.tiny_items(400)
    out, marker = tmp_path / "out", tmp_path / "hung.pid"
    store = HangOnceStore(out, hang_on="item-00150", marker=marker)
    db = tmp_path / "registry.sqlite"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if marker.exists():
            pid = int(marker.read_text())
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    before = worker_pids(control)
    try:
        summary = backfill(
            template,
            items,
            out=store,
            db=db,
            targets=["120x63"],
            engine="dask",
            scheduler=cluster.scheduler_address,
            batch_size=25,
        )
    finally:
        thread.join(timeout=5)
    assert killed and killed[0] in before, "the hanging write never started"
    assert summary.ok, summary.format_text()
    assert (summary.rendered, summary.failed, summary.cancelled) == (400, 0, 0)
    # the killed attempt left a half-written temporary file: the rerun's sweep removed it, and
    # the item's file is the complete one the rerun wrote elsewhere
    check_exactly_once(out, db, expected_files(items, ["120x63"]))
    hung = out / "item-00150" / "120x63.png"
    reference = tmp_path / "reference"
    backfill(template, [items[150]], out=reference, targets=["120x63"], workers=1)
    assert hung.read_bytes() == (reference / "item-00150" / "120x63.png").read_bytes()
    # the nanny restarted the worker; the cluster is whole again
    assert killed[0] not in wait_for_replacement(control, killed[0])


def test_an_output_that_kills_its_workers_fails_alone(
    tmp_path: Path, cluster: Any, control: Any
) -> None:
    """Its chunk dies twice (Dask gives up: KilledWorker); split into single outputs, only the
    poison one fails, with ``worker_crashed``; its neighbours are rendered."""
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    items = [*util.tiny_items(30), {"id": "boom", "title": "kills its worker"}]
    items += util.tiny_items(10, prefix="after")
    summary = backfill(
        template,
        items,
        out=util.CrashingStore(out, crash_on="boom"),
        db=tmp_path / "registry.sqlite",
        targets=["64x64"],
        engine="dask",
        scheduler=cluster.scheduler_address,
        batch_size=10,
    )
    assert (summary.rendered, summary.failed) == (40, 1), summary.format_text()
    (failure,) = summary.failures
    assert (failure.item_id, failure.target, failure.code) == ("boom", "64x64", "worker_crashed")
    expected = expected_files([i for i in items if i["id"] != "boom"], ["64x64"])
    check_exactly_once(out, tmp_path / "registry.sqlite", expected)
    control.wait_for_workers(2, timeout=60)


def test_ctrl_c_finishes_the_chunks_in_flight_then_resumes(tmp_path: Path) -> None:
    """SIGINT to the whole process group (a terminal's Ctrl-C) with --local 2: the workers
    ignore it, the chunks in flight finish and are recorded, exit 130; the rerun completes."""
    template = util.write_tiny_template(tmp_path)
    items = util.tiny_items(2000)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", items)
    out = tmp_path / "out"
    args = [str(template), str(input_path), "--out", str(out), "--targets", "120x63"]
    args += ["--engine", "dask", "--local", "2", "--batch-size", "50"]
    proc = subprocess.Popen(
        [*util.cli_command(), *args, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("item-*"))) < 100:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "finishing the renders in flight" in stderr and "to resume" in stderr
    assert "KeyboardInterrupt" not in stderr  # no worker died of the Ctrl-C
    db = out / ".fastshare" / "registry.sqlite"
    with Registry(db, readonly=True) as reg:
        assert reg.runs()[0]["status"] == "interrupted" and reg.inflight() == []
        first = len(list(reg.outputs()))
    assert 100 <= first < 2000
    assert sorted(util.files_under(out)) == sorted(
        r[2][len(str(out)) + 1 :] for r in version_rows(db)
    )
    resumed = util.run_cli([*args, "--json"], timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["skipped"], summary["rendered"]) == (first, 2000 - first)
    check_exactly_once(out, db, expected_files(items, ["120x63"]))


def test_restarted_worker_warms_again_before_rendering(
    tmp_path: Path, cluster: Any, control: Any
) -> None:
    import pickle

    from fastshare._dask_plugin import WarmUpPlugin, warm_state
    from fastshare.backfiller import _load
    from fastshare.dask_engine import environment_fingerprint
    from fastshare.targets import parse_targets

    template = _load(util.write_tiny_template(tmp_path), [])
    blob = pickle.dumps(template, protocol=5)
    targets = parse_targets(TARGETS, "targets")
    env = ((), "png", {}, environment_fingerprint((), "png", {}))
    name = "fastshare-test-warm-up"
    control.register_plugin(WarmUpPlugin("test-token", blob, targets, env), name=name)
    try:
        states = control.run(warm_state)
        assert all(s["warmed"] >= 1 and s["seconds"] is not None for s in states.values())
        victim = next(iter(worker_pids(control)))
        os.kill(victim, signal.SIGKILL)
        wait_for_replacement(control, victim)
        deadline = time.monotonic() + 60
        while True:  # run() can reach the new worker while its plugin is still warming
            states = control.run(warm_state)
            if all(s["warmed"] >= 1 for s in states.values()):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.1)
        assert victim not in {s["pid"] for s in states.values()}

        # the restarted worker has the template planned: its first task finds it cached
        def cached(token: str) -> bool:
            from fastshare import backfiller

            return token in backfiller._TEMPLATES

        assert all(control.run(cached, "test-token").values())
    finally:
        control.unregister_worker_plugin(name)


def test_killed_client_resumes_from_the_registry(
    tmp_path: Path, cluster: Any, control: Any
) -> None:
    """``kill -9`` of the CLI mid-run; the rerun resumes: files and rows equal a clean run."""
    template = util.write_tiny_template(tmp_path)
    items = util.tiny_items(1000)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", items)
    out = tmp_path / "out"
    args = [str(template), str(input_path), "--out", str(out), "--targets", ",".join(TARGETS)]
    dask_args = [*args, "--engine", "dask", "--scheduler", cluster.scheduler_address]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*util.cli_command(), *dask_args, "--batch-size", "50", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("item-*/*.png"))) < 200:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the first run did not get going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    db = out / ".fastshare" / "registry.sqlite"
    with Registry(db, readonly=True) as reg:
        runs = reg.runs()
        done_before = len(list(reg.outputs()))
    assert runs[0]["status"] == "running"  # killed: never finished
    assert done_before < 2000

    resumed = util.run_cli([*dask_args, "--json"], timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["ok"] and summary["rendered"] + summary["skipped"] == 2000
    assert summary["skipped"] >= done_before > 0
    # chunks the killed client had handed out may still have been finishing: wait for quiet
    deadline = time.monotonic() + 60
    while any(control.processing().values()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    check_exactly_once(out, db, expected_files(items, TARGETS))

    clean = tmp_path / "clean"
    reference = util.run_cli([*args[:3], str(clean), *args[4:], "--workers", "2", "--json"])
    assert reference.returncode == 0, reference.stderr
    assert util.files_under(out) == util.files_under(clean)
    assert util.registry_rows(db, out) == util.registry_rows(
        clean / ".fastshare" / "registry.sqlite", clean
    )


def test_usage_errors_exit_2_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    template = util.write_tiny_template(tmp_path)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(3))
    out = tmp_path / "out"
    base = [str(template), str(input_path), "--out", str(out)]
    cases = {
        ("--local", "2"): "--local: needs --engine dask",
        ("--engine", "dask"): "needs --scheduler ADDR or --local N",
        ("--engine", "dask", "--local", "2", "--scheduler", "tcp://127.0.0.1:1"): "one of them",
        ("--engine", "dask", "--local", "0"): "--local: must be >= 1",
        ("--engine", "dask", "--local", "2", "--timeout", "5"): "timeout: is not supported",
        ("--engine", "dask", "--local", "2", "--workers", "2"): "workers: is not supported",
    }
    for extra, message in cases.items():
        assert _cli_backfill.main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    with pytest.raises(ValueRangeError, match="engine"):
        backfill(template, input_path, out=out, engine="spark")  # type: ignore[arg-type]
    # without Dask installed: a usage error that names the extra to install
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert _cli_backfill.main([*base, "--engine", "dask", "--local", "2"]) == 2
    assert "pip install 'fastshare[dask]'" in capsys.readouterr().err
    with pytest.raises(ClientError, match=r"fastshare\[dask\]"):
        backfill(template, input_path, out=out, engine="dask", scheduler="tcp://127.0.0.1:1")
    assert not out.exists()


def test_default_chunk_size_follows_the_input_size() -> None:
    from fastshare.dask_engine import DEFAULT_CHUNK_ITEMS, MIN_CHUNK_ITEMS, chunk_items

    assert chunk_items(None) == DEFAULT_CHUNK_ITEMS  # streamed: size unknown
    assert chunk_items(10_000_000) == DEFAULT_CHUNK_ITEMS
    assert chunk_items(3) == MIN_CHUNK_ITEMS
    assert chunk_items(3200) == 100  # small inputs still make 32 chunks


def test_an_unreachable_scheduler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastshare import dask_engine

    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", 1.0)
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ClientError, match="cannot reach the Dask scheduler") as info:
        backfill(
            template, util.tiny_items(5), out=out, engine="dask", scheduler="tcp://127.0.0.1:1"
        )
    assert info.value.field == "scheduler" and info.value.value == "tcp://127.0.0.1:1"
    assert util.files_under(out) == {}
    # nothing was rendered; the local engine then does the whole job
    summary = backfill(template, util.tiny_items(5), out=out, targets=["64x64"], workers=1)
    assert (summary.rendered, summary.skipped) == (5, 0)


def test_losing_the_scheduler_stops_the_run_and_a_rerun_resumes(tmp_path: Path) -> None:
    import dask

    template = util.write_tiny_template(tmp_path)
    items = util.tiny_items(400)
    out, db = tmp_path / "out", tmp_path / "registry.sqlite"
    store = HangOnceStore(out, hang_on="never-matches", marker=tmp_path / "unused")
    with dask.config.set(SCHEDULER_CONFIG):
        doomed = distributed.LocalCluster(**local_cluster_kwargs(1))
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["summary"] = backfill(
                template, items, out=store, db=db, targets=["120x63"], engine="dask",
                scheduler=doomed.scheduler_address, batch_size=10,
            )  # fmt: skip
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("item-*"))) < 30 and thread.is_alive():
            assert time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.01)
    finally:
        doomed.close(timeout=30)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the run hung after its scheduler went away"
    error = outcome.get("error")
    assert isinstance(error, ServerError), outcome
    assert "lost the Dask scheduler" in str(error) and "rerun" in str(error)
    with Registry(db, readonly=True) as reg:
        assert reg.runs()[0]["status"] == "interrupted" and reg.inflight() == []
        recorded = len(list(reg.outputs()))
    assert 0 < recorded < 400
    # every recorded file is complete; a rerun (here on the local engine) does the rest
    resumed = backfill(template, items, out=out, db=db, targets=["120x63"], workers=1)
    assert resumed.ok and resumed.skipped >= recorded
    assert resumed.skipped + resumed.rendered == 400
    check_exactly_once(out, db, expected_files(items, ["120x63"]))
