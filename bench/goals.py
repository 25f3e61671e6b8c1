"""Issue 13's goals, each read off the figures of the same run next to its floor.

``python -m bench`` prints this table first. A goal whose part did not run (``--parts``,
``--dbs``) is left out rather than guessed; ``met`` is computed from the figures, never
assumed. The floors are measured in the same run and on the same machine, so the ratios
hold however loaded the machine was; the absolute figures do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    path: str
    product: str  # CartAssist's figure, with its unit
    floor: str  # what it is compared with, measured in the same run
    result: str  # the ratio, or the figure for absolute goals
    target: str
    met: bool


def goals(results: dict[str, Any]) -> list[Goal]:
    return [
        *_relay(results.get("chat") or {}),
        *_ingest(results.get("ingest") or []),
        *_policies(results.get("policies") or {}),
        *_analytics(results.get("analytics") or {}),
        *_stall(results.get("stall") or {}),
    ]


def _relay(chat: dict[str, Any]) -> Iterator[Goal]:
    latency, throughput = chat.get("latency"), chat.get("throughput")
    if latency:
        product, bare = latency["product"], latency["bare"]
        for quantile, target in (("p50", 1.5), ("p99", 2.0)):
            ratio = latency[f"ratio_{quantile}"]
            yield Goal(
                f"chat relay visitor → agent, {quantile}",
                f"{product[f'{quantile}_ms']} ms",
                f"bare Channels relay {bare[f'{quantile}_ms']} ms",
                f"{ratio:.2f}×",
                f"≤ {target}×",
                ratio <= target,
            )
    if throughput:
        ratio = throughput["ratio"]
        yield Goal(
            "chat relay throughput, one daphne",
            f"{throughput['product_msgs_s']:,} msgs/s",
            f"bare Channels relay {throughput['bare_msgs_s']:,} msgs/s",
            f"{ratio:.2f}×",
            "≥ 0.5×",
            ratio >= 0.5,
        )


def _ingest(rows: list[dict[str, Any]]) -> Iterator[Goal]:
    """Single events against the bare DRF endpoint plus one durable INSERT, and 50-event
    batches in events/s, per gunicorn process (the HTTP server production runs)."""
    for row in rows:
        if row["server"] != "gunicorn" or row["processes"] != 1 or not row.get("traffic"):
            continue
        where = f"{row['database']}, {row['endpoint']} endpoint, {row['traffic']} carts"
        rounds = row.get("rounds", 1)
        if row["events_per_request"] == 1 and row.get("ratio_to_bare_insert") is not None:
            floor = _floor(rows, row, "bare-insert")
            ratio = row["ratio_to_bare_insert"]
            spread = row.get("ratio_to_bare_insert_range")
            yield Goal(
                f"ingestion, one event per request ({where})",
                f"{row['requests_per_s']:,.0f} req/s",
                f"bare DRF + one durable INSERT {floor:,.0f} req/s" if floor else "bare + INSERT",
                f"{ratio:.2f}×"
                + (f" (rounds {spread[0]:.2f}–{spread[1]:.2f}×)" if spread and rounds > 1 else ""),
                "≥ 0.8×",
                ratio >= 0.8,
            )
        if row["events_per_request"] == 50 and row["database"].startswith("PostgreSQL"):
            spread = row.get("events_per_s_range")
            floor = _floor(rows, row, "bare-insert")
            yield Goal(
                f"ingestion, 50-event batches ({where})",
                f"{row['events_per_s']:,.0f} events/s",
                f"per process; bare DRF + one durable INSERT {50 * floor:,.0f} events/s"
                if floor
                else "per process",
                f"{row['events_per_s']:,.0f} events/s"
                + (f" (rounds {spread[0]:,.0f}–{spread[1]:,.0f})" if spread and rounds > 1 else ""),
                "≥ 5,000 events/s",
                row["events_per_s"] >= 5000,
            )


def _floor(rows: list[dict[str, Any]], like: dict[str, Any], endpoint: str) -> float | None:
    """The floor's requests/s (its median over the rounds) for the row ``like``."""
    for row in rows:
        if (
            row["endpoint"] == endpoint
            and row["server"] == like["server"]
            and row["processes"] == like["processes"]
            and row["database"] == like["database"]
            and row["events_per_request"] == like["events_per_request"]
        ):
            return float(row["requests_per_s"])
    return None


def _policies(by_database: dict[str, Any]) -> Iterator[Goal]:
    for kind, part in by_database.items():
        rows = part.get("rows", [])
        engine = {r["policies"]: r for r in rows if r["case"] == "engine"}
        for row in rows:
            if row["case"] != "remedies_for":
                continue
            floor = engine.get(row["policies"])
            yield Goal(
                f"remedies_for, {row['policies']:,} active policies ({kind}), p99",
                f"{row['p99_ms']} ms",
                f"pure engine alone (indexed) {floor['p99_ms']} ms" if floor else "",
                f"{row['p99_ms']} ms",
                "≤ 2 ms",
                row["p99_ms"] <= 2.0,
            )


def _analytics(by_database: dict[str, Any]) -> Iterator[Goal]:
    for kind, part in by_database.items():
        for row in part.get("rows", []):
            if row.get("interventions") != 1_000_000 or "after a write" in row["case"]:
                continue
            reference = row.get("reference_ms_median")
            yield Goal(
                f"analytics at 1M interventions, {row['case']} ({kind})",
                f"{row['compute_ms_median']} ms",
                f"the raw-row queries {reference} ms" if reference else "",
                f"{row['compute_ms_median']} ms",
                "≤ 300 ms",
                row["compute_ms_median"] <= 300,
            )


def _stall(by_database: dict[str, Any]) -> Iterator[Goal]:
    for kind, part in by_database.items():
        yield Goal(
            f"stall deadline → invitation on the shopper's socket ({kind}), max",
            f"p50 {part['p50_ms']} ms, p99 {part['p99_ms']} ms, max {part['max_ms']} ms",
            f"sweep every {part['interval_s']} s",
            f"{part['max_ms']} ms",
            "≤ 1,000 ms",
            part["max_ms"] <= 1000,
        )


def render_goals(results: dict[str, Any]) -> list[str]:
    rows = goals(results)
    if not rows:
        return []
    out = ["", "## Goals (issue 13): CartAssist against its floor, same run", ""]
    out.append("| path | CartAssist | floor | result | goal | met |")
    out.append("|---|---|---|---|---|---|")
    for goal in rows:
        met = "yes" if goal.met else "**no**"
        out.append(
            f"| {goal.path} | {goal.product} | {goal.floor} | {goal.result} "
            f"| {goal.target} | {met} |"
        )
    return out
