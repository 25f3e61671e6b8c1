"""The empowerment policy engine: pure Python, standard library only (docs/adr/0001).

evaluate(ctx, specs) -> Evaluation      which remedies may be offered, and why (not)
validate_spec(raw) -> PolicySpec | list[SpecError]
PolicyIndex(specs).evaluate(ctx)        the same answer, from a set compiled once (ADR 0022)
"""

from .evaluate import condition_failures, evaluate, spend_needed
from .index import PolicyIndex
from .money import Money, MoneyError
from .spec import SpecError, validate_spec
from .types import (
    AgentFacts,
    Allowed,
    CartFacts,
    CartLine,
    Conditions,
    Evaluation,
    EvaluationContext,
    ExistingRemedy,
    Limits,
    NotAllowed,
    PolicySpec,
    PolicySpend,
    Reason,
    RemedyDecision,
    RemedyKind,
    RemedySpec,
    Segment,
    ShopperFacts,
    Stacking,
)

__all__ = [
    "AgentFacts",
    "Allowed",
    "CartFacts",
    "CartLine",
    "Conditions",
    "Evaluation",
    "EvaluationContext",
    "ExistingRemedy",
    "Limits",
    "Money",
    "MoneyError",
    "NotAllowed",
    "PolicyIndex",
    "PolicySpec",
    "PolicySpend",
    "Reason",
    "RemedyDecision",
    "RemedyKind",
    "RemedySpec",
    "Segment",
    "ShopperFacts",
    "SpecError",
    "Stacking",
    "condition_failures",
    "evaluate",
    "spend_needed",
    "validate_spec",
]
