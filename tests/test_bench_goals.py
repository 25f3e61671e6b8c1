"""The bench's goal table reads each goal off the run's own figures (bench/goals.py)."""

from __future__ import annotations

from bench.goals import goals, render_goals


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
