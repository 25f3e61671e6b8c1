"""Validation cost per event, in-process and without a database: the product's
``validate_events`` next to the bare DRF serializer of bench/urls.py, on the same
events as the wrk script sends. ``python -m bench.validation`` (bench environment).

Prints one JSON line: milliseconds per event for each batch size.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import django

JOURNEY: list[tuple[str, dict[str, Any]]] = [
    (
        "cart_updated",
        {
            "currency": "EUR",
            "subtotal": "60.00",
            "lines": [
                {
                    "sku": "MUG-1",
                    "name": "Mug",
                    "quantity": 2,
                    "unit_price": "30.00",
                    "category": "kitchen",
                }
            ],
        },
    ),
    ("checkout_step", {"step": "contact"}),
    ("checkout_step", {"step": "shipping"}),
    ("shipping_quoted", {"currency": "EUR", "fee": "14.90", "method": "express"}),
    ("checkout_step", {"step": "payment"}),
]


def events(count: int, occurred_at: str) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        kind, data = JOURNEY[i % len(JOURNEY)]
        cart = i // len(JOURNEY)
        out.append(
            {
                "id": f"e-{i}",
                "type": kind,
                "occurred_at": occurred_at,
                "cart_id": f"c-{cart}",
                "visitor_id": f"v-{cart}",
                "data": data,
            }
        )
    return out


def main(batch_sizes: list[int], seconds: float) -> dict[str, Any]:
    django.setup()
    from django.utils import timezone

    from bench.urls import BareBatchSerializer
    from cartassist.api.serializers import validate_events
    from cartassist.models import Site

    now = timezone.now()
    occurred_at = now.isoformat().replace("+00:00", "Z")
    site = Site(public_key="pk_bench", secret="sk_bench")  # noqa: S106 - unsaved, no database
    rows = []
    for size in batch_sizes:
        batch = events(size, occurred_at)

        def product(batch: list[dict[str, Any]] = batch) -> None:
            validate_events(batch, site=site, trusted=False, now=now)

        def bare(batch: list[dict[str, Any]] = batch) -> None:
            serializer = BareBatchSerializer(data={"site_key": "pk_bench", "events": batch})
            serializer.is_valid(raise_exception=True)

        rows.append(
            {
                "events_per_batch": size,
                "product_ms_per_event": round(_time_per_call(product, seconds) * 1000 / size, 4),
                "bare_ms_per_event": round(_time_per_call(bare, seconds) * 1000 / size, 4),
            }
        )
    return {"rows": rows}


def _time_per_call(func: Any, seconds: float) -> float:
    """Best of five rounds of ``seconds / 5`` each: the least disturbed estimate."""
    func()  # warm-up
    best = float("inf")
    for _ in range(5):
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 5:
            func()
            calls += 1
        best = min(best, (time.perf_counter() - started) / calls)
    return best


if __name__ == "__main__":
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "1,50").split(",")]
    print(json.dumps(main(sizes, float(sys.argv[2]) if len(sys.argv) > 2 else 2.0)))
