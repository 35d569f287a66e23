"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Counters and histograms are updated on the event loop only (no locks needed); gauges are read
from callbacks when ``/metrics`` is scraped (queue depth, live workers, pool counters). Label
values are escaped as the format requires; label sets are bounded by construction (route names,
status codes, outcome names), never taken from request data.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["Counter", "Gauge", "Histogram", "Registry", "ServiceMetrics"]

#: latency buckets in seconds: 1 ms … 30 s
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Metric(abc.ABC):
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    @abc.abstractmethod
    def samples(self) -> list[str]:
        """The exposition lines of this metric's samples."""


class Counter(_Metric):
    """A monotonically increasing count, per label values."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = tuple(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, *labels: str) -> float:
        return self.values.get(tuple(labels), 0.0)

    def samples(self) -> list[str]:
        if not self.values and not self.label_names:
            return [f"{self.name} 0"]
        return [
            f"{self.name}{_labels(self.label_names, key)} {_number(value)}"
            for key, value in sorted(self.values.items())
        ]


class Gauge(_Metric):
    """A value read from ``read()`` at scrape time: a number, or ``{label values: number}``."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help_text: str,
        read: Callable[[], float | dict[tuple[str, ...], float]],
        labels: Sequence[str] = (),
        kind: str = "gauge",
    ) -> None:
        super().__init__(name, help_text, labels)
        self.read = read
        self.kind = kind

    def samples(self) -> list[str]:
        value = self.read()
        if isinstance(value, dict):
            return [
                f"{self.name}{_labels(self.label_names, key)} {_number(v)}"
                for key, v in sorted(value.items())
            ]
        return [f"{self.name} {_number(value)}"]


class Histogram(_Metric):
    """Cumulative buckets, ``_sum`` and ``_count``, per label values."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self.values: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, *labels: str) -> None:
        key = tuple(labels)
        row = self.values.get(key)
        if row is None:
            row = self.values[key] = [0.0] * (len(self.buckets) + 2)  # buckets…, sum, count
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                row[i] += 1
                break
        row[-2] += value
        row[-1] += 1

    def count(self, *labels: str) -> int:
        row = self.values.get(tuple(labels))
        return 0 if row is None else int(row[-1])

    def samples(self) -> list[str]:
        out: list[str] = []
        for key, row in sorted(self.values.items()):
            cumulative = 0.0
            for i, bound in enumerate(self.buckets):
                cumulative += row[i]
                le = f'le="{_number(bound)}"'
                out.append(
                    f"{self.name}_bucket{_labels(self.label_names, key, le)} {_number(cumulative)}"
                )
            inf = _labels(self.label_names, key, 'le="+Inf"')
            out.append(f"{self.name}_bucket{inf} {_number(row[-1])}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_number(row[-2])}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {_number(row[-1])}")
        return out


class Registry:
    """An ordered set of metrics rendered together."""

    def __init__(self) -> None:
        self.metrics: list[_Metric] = []

    def add(self, metric: _Metric) -> Any:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.metrics:
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


class ServiceMetrics:
    """The service's metrics. ``pool_stats`` returns the pool's numbers at scrape time."""

    def __init__(self, pool_stats: Callable[[], dict[str, float]]) -> None:
        self._pool_stats = pool_stats
        r = self.registry = Registry()
        self.requests: Counter = r.add(
            Counter(
                "fastshare_http_requests_total",
                "HTTP requests answered, by route, method and status code.",
                ("route", "method", "status"),
            )
        )
        self.latency: Histogram = r.add(
            Histogram(
                "fastshare_http_request_duration_seconds",
                "Time from receiving a request to having its response, by route.",
                ("route",),
            )
        )
        self.renders: Counter = r.add(
            Counter(
                "fastshare_renders_total",
                "Renders sent to the pool, by kind (request, warm) and outcome "
                "(ok, bad_input, overloaded, timeout, crashed, failed, cancelled).",
                ("kind", "outcome"),
            )
        )
        self.render_seconds: Histogram = r.add(
            Histogram(
                "fastshare_render_seconds",
                "Time a successful render ran in its worker (layout, paint, encode).",
                ("kind",),
            )
        )
        self.queue_wait: Histogram = r.add(
            Histogram(
                "fastshare_render_queue_wait_seconds",
                "Time a successful render waited for a worker.",
                ("kind",),
            )
        )
        self.cache: Counter = r.add(
            Counter(
                "fastshare_cache_total",
                "Cache outcomes: not_modified (304), hit (disk), miss, store, store_failed.",
                ("result",),
            )
        )
        for name, key, help_text, kind in self._pool_metrics():
            r.add(Gauge(name, help_text, self._reader(key), kind=kind))

    @staticmethod
    def _pool_metrics() -> Iterable[tuple[str, str, str, str]]:
        return (
            (
                "fastshare_ready",
                "ready",
                "1 when the pool's workers are warm and serving.",
                "gauge",
            ),
            ("fastshare_pool_workers", "workers", "Render workers alive right now.", "gauge"),
            (
                "fastshare_pool_workers_configured",
                "workers_configured",
                "Render workers the pool keeps.",
                "gauge",
            ),
            (
                "fastshare_pool_queue_depth",
                "queued",
                "Renders waiting for a worker (requests and background work).",
                "gauge",
            ),
            (
                "fastshare_requests_in_flight",
                "in_flight",
                "Render requests admitted and not yet answered.",
                "gauge",
            ),
            (
                "fastshare_pool_worker_restarts_total",
                "respawns",
                "Workers replaced after a crash, a timeout kill or recycling.",
                "counter",
            ),
            (
                "fastshare_pool_worker_crashes_total",
                "crashes",
                "Workers that died while running a render.",
                "counter",
            ),
            (
                "fastshare_pool_timeouts_total",
                "timeouts",
                "Renders that ran or waited past their timeout.",
                "counter",
            ),
            ("fastshare_cache_bytes", "cache_bytes", "Bytes in the disk cache.", "gauge"),
        )

    def _reader(self, key: str) -> Callable[[], float]:
        return lambda: float(self._pool_stats().get(key, 0.0))

    def render(self) -> str:
        return self.registry.render()
