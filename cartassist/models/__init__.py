from .carts import Cart, CartStatus, Stage, StallSignal
from .events import CartEvent, EventSource, EventType
from .interventions import (
    Decision,
    Intervention,
    InterventionTrigger,
    StallReason,
    SuppressionReason,
)
from .sites import Site
from .stall_rules import StallRule
from .visitors import Visitor

__all__ = [
    "Cart",
    "CartEvent",
    "CartStatus",
    "Decision",
    "EventSource",
    "EventType",
    "Intervention",
    "InterventionTrigger",
    "Site",
    "Stage",
    "StallReason",
    "StallRule",
    "StallSignal",
    "SuppressionReason",
    "Visitor",
]
