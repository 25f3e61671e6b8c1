"""The widget speaks the shopper's language (docs/LOCALISATION.md): catalogues loaded with
the widget, the page's language or the init option, the shop's own strings, money and
times in the shopper's conventions, right-to-left layout, and a pseudo-locale that shows
any string left outside the catalogues."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.e2e.widget_harness import (
    CONVERSATION,
    INVITATION,
    INVITATION_MESSAGE,
    OFFER,
    STATIC,
    agent_message,
    hello,
    open_chat,
    push,
    scripted_shop,
    settle,
    shadow,
)

pytestmark = [pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def test_a_german_page_gets_a_german_widget_with_german_money_and_a_24_hour_clock(browser):
    with scripted_shop(browser, lang="de-AT", language="de") as page:
        # then: the page's language went to the server, which chose German
        assert page.shop.sessions[0]["language"] == "de-AT"
        open_chat(page, [INVITATION_MESSAGE, agent_message(2, "Hallo!", 1)])
        push(page, {"type": "offer", "offer": OFFER})
        expect(shadow(page, "[data-testid=chat-root]")).to_have_attribute("lang", "de")
        expect(page.get_by_role("button", name="Senden")).to_be_visible()
        expect(page.get_by_role("textbox", name="Nachricht")).to_have_attribute(
            "placeholder", "Nachricht schreiben…"
        )
        expect(page.get_by_test_id("chat-status")).to_have_text("Sie chatten mit Alex")
        # money: the shop's currency in the shopper's conventions (de-AT: "€ 48,40")
        totals = page.get_by_test_id("offer-totals")
        expect(totals).to_have_text(re.compile(r"^Gesamt vorher: €\s48,40 → jetzt: €\s38,50$"))
        # times: 10:01 UTC is 11:01 in Berlin, on a 24-hour clock
        expect(shadow(page, "li[data-seq='2'] time")).to_have_text(re.compile(r"11:01$"))


def test_an_american_page_gets_a_12_hour_clock_in_its_own_time_zone(browser):
    with scripted_shop(browser, lang="en-US", timezone_id="America/New_York") as page:
        open_chat(page, [INVITATION_MESSAGE, agent_message(2, "Hello!", 1)])
        push(page, {"type": "offer", "offer": OFFER})
        expect(shadow(page, "li[data-seq='2'] time")).to_have_text(re.compile(r"5:01\sAM$"))
        expect(page.get_by_test_id("offer-totals")).to_have_text(
            "Total before: €48.40 → now: €38.50"
        )


def test_a_language_the_site_does_not_speak_falls_back_to_the_sites_language(browser):
    # given: an Italian page; the server answers with the site's first language, German
    with scripted_shop(browser, lang="it", language="de") as page:
        push(page, hello(invitations=[INVITATION]))
        card = page.get_by_test_id("chat-invitation")
        expect(card.get_by_role("button", name="Annehmen")).to_be_visible()
        expect(card.get_by_role("button", name="Jetzt nicht")).to_be_visible()


def test_the_shop_overrides_and_adds_strings_with_the_messages_option(browser):
    options = {"launcher": True, "messages": {"launcher.start": "Talk to Maple"}}
    with scripted_shop(browser, options=options) as page:
        expect(page.get_by_role("button", name="Talk to Maple")).to_be_visible()


ARABIC = {
    "launcher.open": "افتح المحادثة",
    "launcher.start": "تحدث معنا",
    "launcher.text": "محادثة",
    "chat.title": "محادثة",
    "head.minimise": "تصغير المحادثة",
    "head.minimise_hint": "تصغير (Esc)",
    "head.end": "إنهاء المحادثة",
    "head.close": "إغلاق نافذة المحادثة",
    "composer.label": "رسالة",
    "composer.placeholder": "اكتب رسالة…",
    "composer.send": "إرسال",
    "messages.label": "الرسائل",
    "message.you": "أنت",
    "message.seen": "تمت القراءة",
    "status.with": "أنت تتحدث مع {name}",
    "invite.from": "دعوة من {name}",
    "invite.verify": "تحقق من هذه الدعوة: {code}",
    "invite.accept": "قبول",
    "invite.dismiss": "ليس الآن",
    "invite.will_answer": "{name} سيجيبك.",
    "offer.label.waive_delivery": "إلغاء رسوم التوصيل",
    "offer.description.waive_delivery": "تم إلغاء رسوم التوصيل: −{amount}",
    "offer.totals": "الإجمالي قبل: {before} ← الآن: {after}",
    "offer.valid_until": "صالح حتى {time}",
    "offer.accept": "قبول العرض",
    "offer.decline": "رفض",
    "outbox.sending": "جارٍ الإرسال…",
    "outbox.waiting": "لم يُرسل بعد",
}
ARABIC_SITE = {"display_name": "متجر الخيط", "brand_colour": "#2f5d50", "text_colour": "#ffffff",
               "logo_url": "", "languages": ["en"], "currency": "EUR",
               "timezone": "Asia/Dubai"}  # fmt: skip


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_arabic_strings_lay_the_widget_out_right_to_left(browser, size):
    options = {"language": "ar", "messages": {"ar": ARABIC}}
    with scripted_shop(browser, size, options=options, site=ARABIC_SITE) as page:
        open_chat(
            page,
            [
                {**INVITATION_MESSAGE, "meta": {**INVITATION_MESSAGE["meta"],
                 "headline": "هل لديك أسئلة حول رسوم التوصيل؟", "body": "يمكننا إلغاؤها اليوم."}},
                agent_message(2, "مرحبا! كيف يمكنني مساعدتك؟", 1),
                {**agent_message(3, "أنا هنا.", 2), "sender": "visitor", "author_name": ""},
            ],
        )  # fmt: skip
        push(page, {"type": "offer", "offer": OFFER})
        root = shadow(page, "[data-testid=chat-root]")
        expect(root).to_have_attribute("dir", "rtl")
        expect(root).to_have_attribute("lang", "ar")
        expect(page.get_by_role("button", name="إرسال")).to_be_visible()
        expect(page.get_by_test_id("chat-status")).to_have_text("أنت تتحدث مع Alex")
        panel = page.get_by_test_id("chat-panel")
        box = panel.bounding_box()
        settle(page)
        if size == "desktop":
            # mirrored: the panel sits at the left edge, the reading direction's end
            assert box["x"] == 16
        else:
            assert (box["x"], box["width"]) == (0, 390)
        # the shopper's bubble is on the left (the start of a left-to-right line is right)
        visitor = shadow(page, "li.msg.visitor").bounding_box()
        agent = shadow(page, "li.msg.agent[data-seq='2']").bounding_box()
        assert visitor["x"] < agent["x"]
        expect(shadow(page, "li.msg.visitor .text")).to_have_css("direction", "rtl")
        if os.environ.get("CARTASSIST_SCREENSHOTS") and size == "desktop":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "widget-rtl.png"))


# --- pseudo-locale: every string from the catalogue is wrapped in ⟦…⟧ -------------------

PSEUDO = {
    key: f"⟦{value}⟧"
    for key, value in json.loads((STATIC / "i18n" / "en.json").read_text()).items()
    if not key.startswith("@")
}
# Shop data, names and amounts: not the widget's strings.
DATA = [
    "Maple & Thread", "Alex", "Questions about the delivery charge?", "We can waive it today.",
    "K7QH3MZP", "Hello there", "Second line from Alex", "My own words",
]  # fmt: skip
INITIALS = ["M", "A"]  # the avatars of the shop and the agent

VISIBLE_TEXT_OUTSIDE_MARKERS = """
([data, initials]) => {
  const root = document.getElementById("cartassist-chat").shadowRoot.querySelector(".root");
  let text = root.innerText;
  text = text.replace(/⟦[^⟧]*⟧/g, " ");
  // Times and amounts (digits, separators, currency signs, AM/PM marks) are data too.
  root.querySelectorAll("time").forEach((node) => {
    text = text.split(node.textContent).join(" ");
  });
  text = text.replace(/\\b\\d{1,2}:\\d{2}(\\s?[AP]M)?\\b/g, " ");
  text = text.replace(/[€$£]?\\s?\\d[\\d.,]*\\s?[€$£]?/g, " ");
  data.sort((a, b) => b.length - a.length).forEach((d) => { text = text.split(d).join(" "); });
  const leftovers = text.split(/\\s+/)
    .filter((w) => /\\p{L}/u.test(w) && initials.indexOf(w) === -1);
  const attributes = [];
  root.querySelectorAll("[aria-label], [placeholder], [title]").forEach((node) => {
    ["aria-label", "placeholder", "title"].forEach((name) => {
      const value = node.getAttribute(name);
      const wrapped = /^⟦.*⟧$/.test(value || "");
      if (value && /\\p{L}/u.test(value) && !wrapped) attributes.push(name + "=" + value);
    });
  });
  return {leftovers, attributes};
}
"""


def assert_only_catalogue_text(page):
    found = page.evaluate(VISIBLE_TEXT_OUTSIDE_MARKERS, [DATA, INITIALS])
    assert found == {"leftovers": [], "attributes": []}


def test_every_visible_string_comes_from_the_catalogue_pseudo_locale(browser):
    options = {"language": "en", "launcher": True, "messages": PSEUDO}
    with scripted_shop(browser, options=options) as page:
        # the launcher, then an invitation
        expect(page.get_by_test_id("chat-start")).to_be_visible()
        assert_only_catalogue_text(page)
        push(page, hello(invitations=[INVITATION]))
        expect(page.get_by_test_id("chat-invitation")).to_be_visible()
        assert_only_catalogue_text(page)
        # a chat: the invitation message, grouped agent messages, an offer, a message of
        # the shopper's own that is not sent yet, the agent typing, the connection lost
        push(page, {"type": "conversation", "conversation": CONVERSATION})
        open_chat(
            page,
            [
                INVITATION_MESSAGE,
                agent_message(2, "Hello there", 1),
                agent_message(3, "Second line from Alex", 2),
            ],
        )
        push(page, {"type": "offer", "offer": OFFER})
        push(page, {"type": "typing", "conversation_id": 7, "sender": "agent"})
        page.context.set_offline(True)
        page.get_by_role("textbox").fill("My own words")
        page.get_by_role("textbox").press("Enter")
        expect(page.get_by_test_id("chat-connection")).to_be_visible()
        expect(page.get_by_test_id("chat-offer")).to_be_visible()
        assert_only_catalogue_text(page)
        # an answered offer, and the chat ended
        page.context.set_offline(False)
        push(page, {"type": "offer", "offer": {**OFFER, "status": "accepted"}})
        push(page, {"type": "conversation.closed", "conversation_id": 7, "reason": "agent"})
        expect(page.get_by_test_id("offer-status")).to_be_visible()
        assert_only_catalogue_text(page)
        # minimised: the launcher
        page.get_by_test_id("chat-messages").press("Escape")
        expect(page.get_by_test_id("chat-launcher")).to_be_visible()
        assert_only_catalogue_text(page)


def test_the_pseudo_locale_check_can_fail(browser):
    """A string left out of the catalogue is caught: here the shop's override of one key
    is plain text, which the check must report."""
    messages = {**PSEUDO, "composer.send": "Send"}
    with scripted_shop(browser, options={"language": "en", "messages": messages}) as page:
        open_chat(page)
        found = page.evaluate(VISIBLE_TEXT_OUTSIDE_MARKERS, [DATA, INITIALS])
        assert found["leftovers"] == ["Send"]
