"""What the console's remedies panel is decided on (``PanelFacts``), read in one round
trip on PostgreSQL (ADR 0026).

``panel_facts`` reads, for a chat the agent may see: the chat, its cart's facts and
status, the stall reason of its invitation, the site's time zone and policy-set token,
the shopper (what ``shopper_facts`` aggregates), and the chat's offers with the cart's
live ones. On PostgreSQL that is one hand-written statement (identifiers from the models'
metadata, every value a parameter; the aggregates as JSON), with no ORM compilation and
no model instantiated but the chat's offers (their payload is ``offer_payload``'s). On
SQLite (embedded mode) it is the ORM's three queries (``console_conversation``,
``shopper_facts``, ``chat_offers_snapshot``). Both give equal facts:
``tests/policies/test_panel_facts.py`` compares them on random data.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.translation import gettext_lazy as _

from agents.errors import NotFound
from agents.models import AgentProfile, Conversation, Invitation
from agents.selectors import console_conversation
from cartassist.carts.models import Cart, CartStatus, Intervention, Site
from cartassist.core.sql import PreparedStatement, sql_column, sql_table
from policies.engine import ExistingRemedy, RemedyKind
from policies.models import Grant, Offer, PolicySetVersion, PolicyVersion
from policies.services.context import (
    FARMING_WINDOW,
    LIVE_OFFER_STATUSES,
    cart_facts,
    chat_offers_snapshot,
    conversation_stall_reason,
    shopper_facts,
    shopper_facts_of,
    stored_cart_facts,
)
from policies.services.remedies import PanelFacts

# The offer columns the panel needs (``offer_payload``, stacking), in this order.
_OFFER_FIELDS = (
    "id",
    "conversation_id",
    "cart_id",
    "kind",
    "amount",
    "currency",
    "gift_sku",
    "hold_hours",
    "exclusive",
    "total_before",
    "total_after",
    "status",
    "refusal_reason",
    "refusal_code",
    "expires_at",
)
_DECIMALS = {"amount", "total_before", "total_after"}
_UTC_TEXT = 'YYYY-MM-DD"T"HH24:MI:SS.US'


def panel_facts(*, agent: AgentProfile, conversation_id: int, now: datetime) -> PanelFacts:
    """The facts of the chat's remedies panel: one statement on PostgreSQL, the ORM's
    three queries elsewhere. Raises ``NotFound`` for a chat the agent may not see (their
    own; any of their site's for a supervisor) or one without a cart."""
    if connection.vendor == "postgresql":
        return panel_facts_postgresql(agent=agent, conversation_id=conversation_id, now=now)
    return panel_facts_orm(agent=agent, conversation_id=conversation_id, now=now)


def _no_cart() -> NotFound:
    return NotFound("cart", message=_("This conversation has no cart."))


def panel_facts_orm(*, agent: AgentProfile, conversation_id: int, now: datetime) -> PanelFacts:
    """``panel_facts`` through the ORM: the chat with its cart, site, invitation and the
    site's policy-set token; the shopper; the offers."""
    conversation = console_conversation(
        agent=agent,
        conversation_id=conversation_id,
        also_related=("cart__site__policy_set_version",),
    )
    cart = conversation.cart
    if cart is None:
        raise _no_cart()
    stamp = getattr(cart.site, "policy_set_version", None)  # None: no row yet (token 0)
    offers = chat_offers_snapshot(conversation_id=conversation.pk, cart_id=cart.pk)
    converted = cart.status == CartStatus.CONVERTED
    return PanelFacts(
        conversation_id=conversation.pk,
        site_id=cart.site_id,
        timezone=cart.site.timezone,
        policy_set_token=stamp.token if stamp is not None else 0,
        cart=cart_facts(cart),
        converted=converted,
        order_id=cart.order_id,
        stall_reason=conversation_stall_reason(conversation),
        # a converted cart's panel shows no shopper: not read
        shopper=_NO_SHOPPER if converted else shopper_facts(cart, now),
        existing=offers.existing,
        offers=offers.conversation,
    )


_NO_SHOPPER = shopper_facts_of(vip=False, converted_other=False, last_granted={}, stalled_carts=0)


@functools.cache
def _panel_sql() -> str:
    """The panel's statement (built once). Parameters, in order (``_PANEL_TYPES``): the
    conversation's id, the agent's site, whether the agent is a supervisor, the agent's
    id, the converted status, the start of the farming window, and the live offer
    statuses (an array)."""
    chat, inv, cart, site = Conversation, Invitation, Cart, Site
    c = functools.partial(sql_column, cart)
    # The shopper's carts (``shopper_carts_q``): same visitor, or same verified customer.
    shopper_carts = (
        f"SELECT sc.{c('id')}, sc.{c('status')} FROM chat "  # noqa: S608
        f"JOIN {sql_table(cart)} kc ON kc.{c('id')} = chat.cart_id "
        f"JOIN {sql_table(cart)} sc ON sc.{c('site')} = kc.{c('site')} "
        f"AND (sc.{c('visitor_id')} = kc.{c('visitor_id')} "
        f"OR (kc.{c('customer_id')} <> '' AND kc.{c('customer_verified')} "
        f"AND sc.{c('customer_id')} = kc.{c('customer_id')} AND sc.{c('customer_verified')}))"
    )
    offer_values = ", ".join(
        f"to_char(o.{sql_column(Offer, 'expires_at')} AT TIME ZONE 'UTC', '{_UTC_TEXT}')"
        if name == "expires_at"
        else f"o.{sql_column(Offer, name)}::text"
        if name in _DECIMALS
        else f"o.{sql_column(Offer, name)}"
        for name in _OFFER_FIELDS
    )
    grant, version, intervention = Grant, PolicyVersion, Intervention
    # Identifiers from the models' metadata; every value is a parameter.
    return (
        f"WITH chat AS (SELECT ch.{sql_column(chat, 'id')} AS id, "  # noqa: S608
        f"ch.{sql_column(chat, 'cart')} AS cart_id, ch.{sql_column(chat, 'invitation')} AS inv_id "
        f"FROM {sql_table(chat)} ch WHERE ch.{sql_column(chat, 'id')} = %s "
        f"AND ch.{sql_column(chat, 'site')} = %s AND (%s OR ch.{sql_column(chat, 'agent')} = %s)), "
        f"shopper AS ({shopper_carts}) "
        f"SELECT chat.id, chat.cart_id, i.{sql_column(inv, 'stall_reason')}, "
        f"k.{c('site')}, s.{sql_column(site, 'timezone')}, "
        f"(SELECT t.{sql_column(PolicySetVersion, 'token')} FROM {sql_table(PolicySetVersion)} t "
        f"WHERE t.{sql_column(PolicySetVersion, 'site')} = k.{c('site')}), "
        f"k.{c('subtotal')}, k.{c('currency')}, k.{c('stage')}, k.{c('shipping_fee')}, "
        f"k.{c('lines')}, k.{c('shipping_country')}, k.{c('status')}, k.{c('order_id')}, "
        f"k.{c('customer_segment')}, "
        f"(SELECT count(*) FROM shopper sh WHERE sh.{c('status')} = %s "
        f"AND sh.{c('id')} <> chat.cart_id), "
        f"(SELECT count(*) FROM shopper sh WHERE EXISTS (SELECT 1 FROM {sql_table(intervention)} n "
        f"WHERE n.{sql_column(intervention, 'cart')} = sh.{c('id')} "
        f"AND n.{sql_column(intervention, 'decided_at')} >= %s)), "
        f"(SELECT json_agg(json_build_array(g.policy_id, "
        f"to_char(g.at AT TIME ZONE 'UTC', '{_UTC_TEXT}'))) "
        f"FROM (SELECT v.{sql_column(version, 'policy')} AS policy_id, "
        f"max(r.{sql_column(grant, 'issued_at')}) AS at "
        f"FROM shopper sh JOIN {sql_table(grant)} r "
        f"ON r.{sql_column(grant, 'cart')} = sh.{c('id')} "
        f"JOIN {sql_table(version)} v ON v.{sql_column(version, 'id')} = "
        f"r.{sql_column(grant, 'policy_version')} GROUP BY 1) g), "
        f"(SELECT json_agg(json_build_array({offer_values}) "
        f"ORDER BY o.{sql_column(Offer, 'created_at')}, o.{sql_column(Offer, 'id')}) "
        f"FROM {sql_table(Offer)} o WHERE o.{sql_column(Offer, 'conversation')} = chat.id "
        f"OR (o.{sql_column(Offer, 'cart')} = chat.cart_id "
        f"AND o.{sql_column(Offer, 'status')} = ANY(%s))) "
        f"FROM chat LEFT JOIN {sql_table(inv)} i ON i.{sql_column(inv, 'id')} = chat.inv_id "
        f"LEFT JOIN {sql_table(cart)} k ON k.{c('id')} = chat.cart_id "
        f"LEFT JOIN {sql_table(site)} s ON s.{sql_column(site, 'id')} = k.{c('site')}"
    )


def _json(value: Any) -> Any:
    """A JSON value as the driver hands it over (Django loads ``jsonb`` as text)."""
    return json.loads(value) if isinstance(value, str) else value


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _offer(row: list[Any]) -> Offer:
    values = dict(zip(_OFFER_FIELDS, row, strict=True))
    for name in _DECIMALS:
        if values[name] is not None:
            values[name] = Decimal(values[name])
    values["expires_at"] = _utc(values["expires_at"])
    values["pk"] = values.pop("id")
    return Offer(**values)


# The statement's parameters' types, for PREPARE (in ``_panel_sql``'s order).
_PANEL_TYPES = ("bigint", "bigint", "boolean", "bigint", "text", "timestamptz", "text[]")


@functools.cache
def _panel_statement() -> PreparedStatement:
    """The panel's statement, prepared once per session (PostgreSQL plans it once;
    planning took most of the statement's server time)."""
    return PreparedStatement.of("cartassist_remedies_panel", _panel_sql(), _PANEL_TYPES)


def _panel_execute(cursor: Any, params: list[Any]) -> None:
    cursor.execute(*_panel_statement().call(params))


def panel_facts_postgresql(
    *, agent: AgentProfile, conversation_id: int, now: datetime
) -> PanelFacts:
    """``panel_facts`` in one statement (PostgreSQL; ``_panel_sql``, prepared once per
    connection: ``_panel_execute``)."""
    with connection.cursor() as cursor:
        _panel_execute(
            cursor,
            [
                conversation_id,
                agent.site_id,
                agent.is_supervisor,
                agent.pk,
                CartStatus.CONVERTED.value,
                now - FARMING_WINDOW,
                [status.value for status in LIVE_OFFER_STATUSES],
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound("conversation")
    (chat_id, cart_id, stall_reason, site_id, tz, token, *cart_values) = row[:15]
    converted_other, stalled, grants, offer_rows = row[15:]
    if cart_id is None:
        raise _no_cart()
    subtotal, currency, stage, fee, lines, country, status, order_id, segment = cart_values
    offers = tuple(_offer(values) for values in _json(offer_rows) or [])
    live = sorted(
        (o for o in offers if o.cart_id == cart_id and o.status in LIVE_OFFER_STATUSES),
        key=lambda o: o.pk,
    )
    return PanelFacts(
        conversation_id=chat_id,
        site_id=site_id,
        timezone=tz,
        policy_set_token=token or 0,
        cart=stored_cart_facts(
            subtotal=subtotal,
            currency=currency,
            stage=stage,
            shipping_fee=fee,
            lines=_json(lines),
            country=country,
        ),
        converted=status == CartStatus.CONVERTED,
        order_id=order_id,
        stall_reason=stall_reason or "",
        shopper=(
            _NO_SHOPPER
            if status == CartStatus.CONVERTED
            else shopper_facts_of(
                vip=segment == "vip",
                converted_other=converted_other > 0,
                last_granted={policy: _utc(at) for policy, at in _json(grants) or []},
                stalled_carts=stalled,
            )
        ),
        existing=tuple(ExistingRemedy(RemedyKind(o.kind), o.exclusive) for o in live),
        offers=tuple(o for o in offers if o.conversation_id == chat_id),
    )
