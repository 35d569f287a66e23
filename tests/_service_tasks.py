"""Worker-side hooks for the service tests (imported by reference in pool workers).

``render_with_hooks`` is the service's ``render_function`` in the tests: when the item has a
``delay`` field it records a start event (a file named ``<monotonic ns>-<pid>-<title>`` in the
directory named by ``FASTSHARE_TEST_EVENTS``) and sleeps that many seconds before rendering, so
a test can find the worker running a request, kill it, or watch the order renders start in.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from fastshare.service.worker import RenderJob, RenderOutput, render_job

EVENTS_ENV = "FASTSHARE_TEST_EVENTS"


def render_with_hooks(job: RenderJob) -> RenderOutput:
    delay = float(job.item.get("delay") or 0)
    events = os.environ.get(EVENTS_ENV)
    if delay > 0 and events:
        title = re.sub(r"[^A-Za-z0-9_-]", "_", str(job.item.get("title", "")))[:40]
        name = f"{time.monotonic_ns()}-{os.getpid()}-{title}"
        (Path(events) / name).write_text("")
    if delay > 0:
        time.sleep(delay)
    return render_job(job)


def start_events(events: Path) -> list[tuple[int, int, str]]:
    """(monotonic ns, pid, title) of every recorded render start, in start order."""
    out = []
    for path in events.iterdir():
        ns, pid, title = path.name.split("-", 2)
        out.append((int(ns), int(pid), title))
    return sorted(out)
