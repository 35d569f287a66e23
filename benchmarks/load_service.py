"""Load benchmark of ``fastshare serve`` (a script, not a test: pytest does not collect it).

Starts ``fastshare serve`` in a subprocess on 127.0.0.1 (signed URLs, a disk cache in a temporary
directory), then drives it from this process over ``--connections`` concurrent keep-alive
connections, one bounded phase after another:

* ``uncached``: every request has a new title, so every request is rendered (layout, paint,
  encode in a worker) and stored in the disk cache;
* ``disk-hit``: a fixed set of cards rendered beforehand, served from the disk cache;
* ``not-modified``: the same set with ``If-None-Match``, answered 304 without rendering.

The load generator is a minimal HTTP/1.1 keep-alive client (``--client raw``, the default; far
cheaper per request than ``--client httpx``). It reports requests/s and p50/p90/p99 latency per
phase (``--json`` for a machine-readable summary), with the machine and versions. Loopback only;
each phase runs ``--seconds`` (default 10 s, so about 30 s in all plus start-up); the server is
always stopped.

    python benchmarks/load_service.py --workers 2 --connections 8 --seconds 10
    python benchmarks/load_service.py --format jpg --json

The client shares the machine with the server: on 2 cores the client's own CPU use lowers the
numbers, so they are a floor for what the server does with a dedicated load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from fastshare.service.signing import sign_url

SECRET = "load-benchmark-secret-0123456789"
HOST = "127.0.0.1"
BASE = {"category": "Engineering", "site": "fastshare.dev", "read_time": "8 min read"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(workers: int, cache_dir: Path, queue_size: int) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, FASTSHARE_SECRET=SECRET)
    cmd = [
        sys.executable, "-m", "fastshare", "serve", "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--cache-dir", str(cache_dir), "--secret-env",
        "FASTSHARE_SECRET", "--queue-size", str(queue_size), "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=url, timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"fastshare serve exited with {proc.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("fastshare serve did not become ready in 180 s")
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def card_path(title: str, fmt: str, target: str) -> str:
    query = urlencode({**BASE, "title": title})
    return sign_url(f"/v1/render/card-a/{target}.{fmt}?{query}", SECRET.encode())


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client: far less CPU per request than httpx, so on a small
    machine the numbers measure the server rather than the load generator."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname == HOST, "loopback only"
        self.host, self.port = HOST, int(parts.port or 80)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def phase(
    url: str,
    connections: int,
    seconds: float,
    next_request: Callable[[int], tuple[str, dict[str, str]]],
    expect: int,
    client_kind: str = "raw",
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            raw = RawConnection(url) if client_kind == "raw" else None
            try:
                while time.perf_counter() < stop_at:
                    path, headers = next_request(next(counter))
                    start = time.perf_counter()
                    try:
                        if raw is not None:
                            status = str(await asyncio.wait_for(raw.get(path, headers), 30))
                        else:
                            status = str((await client.get(path, headers=headers)).status_code)
                    except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as exc:
                        status = type(exc).__name__
                    if status == str(expect):
                        latencies.append(time.perf_counter() - start)
                    else:
                        errors[status] = errors.get(status, 0) + 1
            finally:
                if raw is not None:
                    await raw.close()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(0.50), 2) if latencies else None,
        "p90_ms": round(pct(0.90), 2) if latencies else None,
        "p99_ms": round(pct(0.99), 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    fmt, target = args.format, args.target
    results: dict[str, Any] = {}
    # warm every worker (first render of a target per worker) before timing anything
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(
            *(client.get(card_path(f"warm {i}", fmt, target)) for i in range(4 * args.workers))
        )
        hot = [card_path(f"Hot card number {i}", fmt, target) for i in range(50)]
        etags = {}
        for path in hot:
            r = await client.get(path)
            r.raise_for_status()
            etags[path] = r.headers["etag"]
        await asyncio.sleep(0.5)  # let the disk cache commits land

    run_id = os.getpid()

    def uncached(i: int) -> tuple[str, dict[str, str]]:
        return card_path(f"Uncached card {run_id}-{i}: rendering share cards", fmt, target), {}

    def disk_hit(i: int) -> tuple[str, dict[str, str]]:
        return hot[i % len(hot)], {}

    def not_modified(i: int) -> tuple[str, dict[str, str]]:
        path = hot[i % len(hot)]
        return path, {"If-None-Match": etags[path]}

    for name, make, status in (
        ("uncached", uncached, 200),
        ("disk-hit", disk_hit, 200),
        ("not-modified", not_modified, 304),
    ):
        results[name] = await phase(url, args.connections, args.seconds, make, status, args.client)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        metrics = (await client.get("/metrics")).text
    results["server_render_seconds"] = _render_mean(metrics)
    return results


def _render_mean(metrics: str) -> float | None:
    total = count = 0.0
    for line in metrics.splitlines():
        if line.startswith('fastshare_render_seconds_sum{kind="request"}'):
            total = float(line.split()[-1])
        elif line.startswith('fastshare_render_seconds_count{kind="request"}'):
            count = float(line.split()[-1])
    return round(total / count * 1000, 2) if count else None


def machine() -> dict[str, Any]:
    import numpy
    import starlette
    import uvicorn

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "starlette": starlette.__version__,
        "uvicorn": uvicorn.__version__,
        "httpx": httpx.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="render workers (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per phase (10)")
    parser.add_argument("--format", default="png", choices=["png", "jpg", "webp"])
    parser.add_argument("--target", default="og", help="target (default og)")
    parser.add_argument(
        "--client",
        default="raw",
        choices=["raw", "httpx"],
        help="load generator: a minimal HTTP/1.1 client (default) or httpx",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120 or not 0 < args.connections <= 256:
        parser.error("--seconds must be in (0, 120] and --connections in (0, 256]")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fastshare-load-") as tmp:
        cache = Path(tmp) / "cache"
        with server(args.workers, cache, queue_size=4 * args.connections) as url:
            results = asyncio.run(run(args, url))
    load_after = os.getloadavg()[0]
    summary = {
        "machine": {**machine(), "loadavg_1m": [round(load_before, 2), round(load_after, 2)]},
        "settings": {
            "workers": args.workers,
            "connections": args.connections,
            "seconds_per_phase": args.seconds,
            "format": args.format,
            "target": args.target,
            "template": "card-a",
            "client": args.client,
        },
        "results": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    m = summary["machine"]
    print(f"{m['cpu']} ({m['cores']} cores), Python {m['python']}, uvicorn {m['uvicorn']}")
    print(f"load average (1 min) before/after: {m['loadavg_1m'][0]} / {m['loadavg_1m'][1]}")
    print(
        f"card-a {args.target} {args.format}, {args.workers} workers, "
        f"{args.connections} connections ({args.client} client), {args.seconds:g} s per phase"
    )
    print(
        f"{'phase':<14}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'requests':>10}  errors"
    )
    for name in ("uncached", "disk-hit", "not-modified"):
        r = results[name]
        print(
            f"{name:<14}{r['rps']:>9}{r['p50_ms']:>9}{r['p90_ms']:>9}{r['p99_ms']:>9}"
            f"{r['requests']:>10}  {r['errors'] or '-'}"
        )
    print(f"mean render time in the workers: {results['server_render_seconds']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
