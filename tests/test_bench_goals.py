"""The bench's goal table reads each goal off the run's own figures (bench/goals.py)."""

from __future__ import annotations

from dataclasses import asdict

from bench.goals import goals, render_goals
from bench.ingest import IngestRow, combine_rounds


def _chat(p50_ratio: float, throughput_ratio: float) -> dict:
    return {
        "latency": {
            "product": {"p50_ms": 1.4, "p99_ms": 3.0},
            "bare": {"p50_ms": 1.0, "p99_ms": 2.0},
            "ratio_p50": p50_ratio,
            "ratio_p99": 1.5,
        },
        "throughput": {"product_msgs_s": 700, "bare_msgs_s": 1000, "ratio": throughput_ratio},
    }


def _ingest_row(endpoint: str, per_request: int, rps: float, **extra: object) -> dict:
    return {
        "server": "gunicorn",
        "processes": 1,
        "database": "PostgreSQL + Redis",
        "endpoint": endpoint,
        "events_per_request": per_request,
        "requests_per_s": rps,
        "events_per_s": rps * per_request,
        "traffic": extra.pop("traffic", ""),
        **extra,
    }


def test_goals_are_met_or_not_by_the_figures_of_the_run() -> None:
    results = {
        "chat": _chat(p50_ratio=1.4, throughput_ratio=0.4),
        "ingest": [
            _ingest_row("bare-insert", 1, 1000),
            _ingest_row("widget", 1, 850, traffic="steady", ratio_to_bare_insert=0.85),
            _ingest_row("widget", 50, 90, traffic="steady"),
        ],
        "policies": {
            "postgres": {
                "rows": [
                    {"policies": 1000, "case": "engine", "p99_ms": 0.5},
                    {"policies": 1000, "case": "remedies_for", "p99_ms": 2.5},
                ]
            }
        },
        "stall": {"postgres": {"p50_ms": 300, "p99_ms": 700, "max_ms": 900, "interval_s": 0.5}},
    }

    met = {goal.path: goal.met for goal in goals(results)}

    assert met["chat relay visitor → agent, p50"] is True
    assert met["chat relay throughput, one daphne"] is False
    single = "ingestion, one event per request (PostgreSQL + Redis, widget endpoint, steady carts)"
    assert met[single] is True
    batch = "ingestion, 50-event batches (PostgreSQL + Redis, widget endpoint, steady carts)"
    assert met[batch] is False  # 4,500 events/s
    assert met["remedies_for, 1,000 active policies (postgres), p99"] is False
    assert met["stall deadline → invitation on the shopper's socket (postgres), max"] is True
    assert "bare DRF + one durable INSERT 1,000 req/s" in "\n".join(render_goals(results))


def test_a_part_that_did_not_run_has_no_goal_row() -> None:
    assert goals({"chat": {}, "ingest": [], "policies": {}}) == []
    assert render_goals({}) == []


def _round(endpoint: str, round_index: int, events_per_s: float, ratio: float | None) -> IngestRow:
    return IngestRow(
        server="gunicorn",
        processes=1,
        database="PostgreSQL + Redis",
        endpoint=endpoint,
        events_per_request=1,
        requests=int(events_per_s * 5),
        seconds=5.0,
        requests_per_s=events_per_s,
        events_per_s=events_per_s,
        p50_ms=1.0 + round_index,
        p99_ms=2.0,
        cpu_ms_per_request=1.5,
        errors=round_index,
        acknowledged_events=int(events_per_s * 5),
        traffic="" if endpoint == "bare-insert" else "new",
        ratio_to_bare_insert=ratio,
        round_index=round_index,
        db_cpu_ms_per_request=0.5 + round_index,
    )


def test_rounds_combine_into_medians_of_their_own_ratios() -> None:
    # Round 2 ran on a slower machine: its floor and product both dropped, its ratio held.
    rows = [
        _round("bare-insert", 0, 500, None),
        _round("widget", 0, 450, 0.9),
        _round("bare-insert", 1, 300, None),
        _round("widget", 1, 210, 0.7),
        _round("bare-insert", 2, 480, None),
        _round("widget", 2, 408, 0.85),
    ]

    combined = {row.endpoint: row for row in combine_rounds(rows)}

    widget = combined["widget"]
    assert widget.rounds == 3
    assert widget.ratio_to_bare_insert == 0.85  # the median of 0.9, 0.7, 0.85
    assert widget.ratio_to_bare_insert_range == (0.7, 0.9)
    assert widget.events_per_s == 408  # the median throughput
    assert widget.events_per_s_range == (210, 450)
    assert widget.db_cpu_ms_per_request == 1.5  # the median round's database CPU
    assert widget.errors == 3  # counts add up
    assert widget.acknowledged_events == (450 + 210 + 408) * 5
    assert combined["bare-insert"].requests_per_s == 480
    assert combined["bare-insert"].ratio_to_bare_insert_range is None
    # The goal reads the median and shows the rounds' range beside it.
    results = {"ingest": [asdict(row) for row in combined.values()]}
    (goal,) = goals(results)
    assert goal.met is True
    assert goal.result == "0.85× (rounds 0.70–0.90×)"
    assert goal.floor == "bare DRF + one durable INSERT 480 req/s"
