"""Integrations of CartAssist into shop platforms, each an optional extra.

Each integration runs in the *shop's* process, not in CartAssist's: it talks to CartAssist
only over HTTP, through the stdlib-only :mod:`cartassist.client`. Importing this package
imports no Django app of CartAssist.
"""
