"""Two delivery methods with a charge: the stall the browser test is about."""

from decimal import Decimal

from oscar.apps.shipping import methods
from oscar.apps.shipping.repository import Repository as CoreRepository


class Standard(methods.FixedPrice):
    code = "standard"
    name = "Standard delivery"
    charge_excl_tax = Decimal("9.90")
    charge_incl_tax = Decimal("9.90")


class Express(methods.FixedPrice):
    code = "express"
    name = "Express delivery"
    charge_excl_tax = Decimal("14.90")
    charge_incl_tax = Decimal("14.90")


class Repository(CoreRepository):
    methods = (Standard(), Express())
