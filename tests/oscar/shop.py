"""The sandbox Oscar shop (tests/oscar_shop) as a separate process, and a tiny HTTP
shopper for it (cookies, CSRF), for the integration tests and the browser journey."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHOP_SETTINGS = "tests.oscar_shop.settings"


def shop_env(database: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
        and not key.startswith(("CARTASSIST_", "SECURE_", "SESSION_", "CSRF_"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": SHOP_SETTINGS, "OSCAR_SHOP_DB": str(database)})
    env.update(extra)
    return env


def build_template_database(directory: Path) -> tuple[Path, int]:
    """Migrate a sandbox database once (Oscar's migrations take a while) and fill it."""
    database = directory / "template.sqlite3"
    env = shop_env(database)
    for args in (
        ["-m", "django", "migrate", "--noinput", "-v0"],
        ["-m", "tests.oscar_shop.setup_shop"],
    ):
        done = subprocess.run(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"sandbox set-up failed: {args}\n{done.stdout}\n{done.stderr}")
    product_id = int(done.stdout.strip().splitlines()[-1])
    return database, product_id


@dataclass
class OscarShop:
    url: str
    database: Path
    log: Path
    product_id: int

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.database, timeout=20)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def shopper(self) -> Shopper:
        return Shopper(self.url)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_shop(
    template: Path,
    product_id: int,
    directory: Path,
    *,
    cartassist_url: str,
    site_key: str,
    secret: str,
) -> tuple[OscarShop, subprocess.Popen[bytes]]:
    database = directory / "shop.sqlite3"
    shutil.copyfile(template, database)
    port = free_port()
    shop = OscarShop(f"http://127.0.0.1:{port}", database, directory / "shop.log", product_id)
    env = shop_env(
        database,
        CARTASSIST_URL=cartassist_url,
        CARTASSIST_SITE_KEY=site_key,
        CARTASSIST_SECRET=secret,
        OSCAR_SHOP_MEDIA=str(directory / "media"),
        PYTHONUNBUFFERED="1",
    )
    with shop.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(shop.url + "/basket/", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_shop(process)
            pytest.fail("the Oscar shop did not start:\n" + shop.log.read_text()[-4000:])
        time.sleep(0.2)
    return shop, process


def stop_shop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Shopper:
    """One browser session against the shop, without a browser: cookies and CSRF."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _csrf(self) -> str:
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return str(cookie.value)
        self.get("/basket/")
        return next(str(c.value) for c in self.cookies if c.name == "csrftoken")

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        token = self._csrf()
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **data}).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            headers={"Referer": self.base_url + "/basket/", "X-CSRFToken": token},
        )
        return self._open(request)

    def post_json(self, path: str, body: bytes) -> tuple[int, str]:
        token = self._csrf()
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": token,
                "Referer": self.base_url + "/basket/",
            },
        )
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()

    # -- the shop's pages ---------------------------------------------------------------

    def add_to_basket(self, product_id: int, quantity: int = 1) -> None:
        status, _ = self.post(f"/basket/add/{product_id}/", {"quantity": str(quantity)})
        assert status == 200, status

    def basket_formset(self) -> dict[str, str]:
        """The basket page's line formset, as the page would post it."""
        _, html = self.get("/basket/")
        fields = dict(re.findall(r'name="(form-[^"]+)"[^>]*value="([^"]*)"', html))
        fields.update(
            {
                name: ""
                for name in re.findall(r'name="(form-\d+-quantity)"', html)
                if name not in fields
            }
        )
        return fields

    def guest_checkout(self, email: str) -> None:
        self.get("/checkout/")
        status, _ = self.post("/checkout/", {"username": email, "options": "anonymous"})
        assert status == 200, status

    def shipping_address(self) -> None:
        status, html = self.post(
            "/checkout/shipping-address/",
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "line1": "Hauptstr. 1",
                "line4": "Berlin",
                "postcode": "10115",
                "country": "DE",
                "phone_number": "",
            },
        )
        assert status == 200 and "Shipping method" in html or "shipping" in html.lower(), status

    def choose_method(self, code: str) -> None:
        status, _ = self.post("/checkout/shipping-method/", {"method_code": code})
        assert status == 200, status

    def place_order(self) -> tuple[int, str]:
        self.get("/checkout/preview/")
        return self.post("/checkout/preview/", {"action": "place_order"})


def cart_events(chat_server: Any, cart_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT e.type, e.data, e.source FROM cartassist_cartevent e "
        "JOIN cartassist_cart c ON c.id = e.cart_id WHERE c.external_id = ?"
    )
    params: list[Any] = [cart_id]
    if kind:
        sql += " AND e.type = ?"
        params.append(kind)
    rows = chat_server.rows(sql + " ORDER BY e.id", *params)
    return [{"type": t, "data": json.loads(d), "source": src} for t, d, src in rows]
