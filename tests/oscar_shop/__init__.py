"""An Oscar sandbox shop that uses cartassist.integrations.oscar, for the tests.

Its own Django project (settings.py, urls.py), separate from CartAssist's: tests run it
as a process (``python -m django runserver --settings tests.oscar_shop.settings``) on a
SQLite file, talking to CartAssist over HTTP only. See tests/oscar_shop/README.md.
"""
