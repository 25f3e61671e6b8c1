"""parse_frame: the wire protocol's validation, pure (no database, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.frames import (
    CONSOLE_FRAMES,
    MAX_FRAME_BYTES,
    WIDGET_FRAMES,
    Frame,
    FrameError,
    parse_frame,
)

MAX_TEXT = 2000


def parse(content: Any, schema: dict[str, dict[str, str]] = WIDGET_FRAMES) -> Frame:
    text = content if isinstance(content, str) or content is None else json.dumps(content)
    return parse_frame(text, schema, max_text=MAX_TEXT)


def refusal(content: Any, schema: dict[str, dict[str, str]] = WIDGET_FRAMES) -> dict[str, Any]:
    with pytest.raises(FrameError) as caught:
        parse(content, schema)
    return caught.value.as_frame()


def test_valid_message_send_is_parsed_into_its_fields():
    # given
    content = {
        "type": "message.send",
        "conversation_id": 7,
        "client_message_id": "m-1:a_b.c",
        "text": "  Is delivery free over 50?  ",
        "extra": "ignored",
    }

    # when
    frame = parse(content)

    # then
    assert frame == Frame(
        type="message.send",
        fields={
            "conversation_id": 7,
            "client_message_id": "m-1:a_b.c",
            "text": "Is delivery free over 50?",
        },
    )


def test_ping_has_no_fields():
    assert parse({"type": "ping"}) == Frame(type="ping", fields={})


def test_sync_accepts_after_seq_zero():
    assert parse({"type": "sync", "conversation_id": 1, "after_seq": 0}).fields == {
        "conversation_id": 1,
        "after_seq": 0,
    }


def test_binary_frame_is_refused():
    assert refusal(None) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "Send JSON text frames, not binary.",
    }


@pytest.mark.parametrize("text", ["not json", "{", "", "{'type': 'ping'}", "[1, 2"])
def test_non_json_is_refused(text):
    assert refusal(text) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "The frame is not valid JSON.",
    }


def test_deeply_nested_json_is_refused_not_crashing():
    # given: nesting deep enough to exhaust the JSON parser's recursion, under the size cap
    text = "[" * (MAX_FRAME_BYTES - 1)

    # then
    assert refusal(text)["message"] == "The frame is not valid JSON."


@pytest.mark.parametrize("content", [[{"type": "ping"}], "ping", 42, None, True])
def test_json_that_is_not_an_object_is_refused(content):
    assert refusal(json.dumps(content)) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "A frame is a JSON object with a 'type'.",
    }


def test_huge_frame_is_refused_before_parsing():
    # given
    text = json.dumps({"type": "ping", "padding": "x" * MAX_FRAME_BYTES})

    # then
    assert refusal(text) == {
        "type": "error",
        "code": "invalid_frame",
        "message": f"Frames are limited to {MAX_FRAME_BYTES} bytes.",
    }


@pytest.mark.parametrize(
    ("frame_type", "shown"),
    [("launch.missiles", "'launch.missiles'"), (None, "'None'"), (7, "'7'"), ("x" * 100, None)],
)
def test_unknown_type_is_refused_with_field_type(frame_type, shown):
    # when
    error = refusal({"type": frame_type})

    # then
    assert error["code"] == "invalid_frame"
    assert error["field"] == "type"
    assert error["message"] == f"Unknown frame type {shown or repr('x' * 40)}."


def test_missing_type_is_refused():
    assert refusal({"conversation_id": 1})["message"] == "Unknown frame type 'None'."


def test_console_only_frame_is_unknown_to_the_widget():
    # given: a shopper trying an agent action
    content = {"type": "queue.claim", "conversation_id": 1}

    # then
    assert refusal(content)["message"] == "Unknown frame type 'queue.claim'."
    assert parse(content, CONSOLE_FRAMES).fields == {"conversation_id": 1}


def test_missing_field_is_named_and_refers_to_the_frame_type():
    assert refusal({"type": "sync", "conversation_id": 3}) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "'after_seq' is required.",
        "field": "after_seq",
        "ref": "sync",
    }


def test_missing_field_of_a_message_refers_to_its_client_message_id():
    assert refusal({"type": "message.send", "client_message_id": "m-9", "text": "hi"}) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "'conversation_id' is required.",
        "field": "conversation_id",
        "ref": "m-9",
    }


@pytest.mark.parametrize("value", ["1", 1.5, True, False, 0, -1, [1], {"id": 1}, 2**53 + 1])
def test_ids_must_be_positive_integers(value):
    # when
    error = refusal({"type": "typing", "conversation_id": value})

    # then
    assert error["code"] == "invalid_frame"
    assert error["field"] == "conversation_id"


def test_id_beyond_json_safe_integers_is_out_of_range():
    error = refusal({"type": "typing", "conversation_id": 2**53 + 1})
    assert (error["message"], error["field"]) == (
        "'conversation_id' is out of range.",
        "conversation_id",
    )


@pytest.mark.parametrize("value", [None, ""])
def test_optional_amount_left_out_is_none(value):
    # when
    frame = parse(
        {"type": "offer.create", "conversation_id": 1, "kind": "discount", "amount": value},
        CONSOLE_FRAMES,
    )

    # then
    assert frame.fields == {"conversation_id": 1, "kind": "discount", "amount": None}


@pytest.mark.parametrize(("value", "parsed"), [("12.50", "12.50"), (12, "12")])
def test_amount_is_kept_as_a_decimal_string(value, parsed):
    frame = parse(
        {"type": "offer.create", "conversation_id": 1, "kind": "discount", "amount": value},
        CONSOLE_FRAMES,
    )
    assert frame["amount"] == parsed


@pytest.mark.parametrize("value", [True, 12.5, [1], "1" * 33])
def test_amount_must_be_a_short_decimal_string(value):
    # when
    error = refusal(
        {"type": "offer.create", "conversation_id": 1, "kind": "discount", "amount": value},
        CONSOLE_FRAMES,
    )

    # then
    assert (error["code"], error["message"], error["field"]) == (
        "invalid_frame",
        "'amount' must be a decimal string such as \"12.50\".",
        "amount",
    )


@pytest.mark.parametrize("value", [-1, "0", 0.0, None])
def test_seq_must_be_a_non_negative_integer(value):
    error = refusal({"type": "read", "conversation_id": 1, "seq": value})
    assert (error["code"], error["field"]) == ("invalid_frame", "seq")


@pytest.mark.parametrize("value", ["", "has space", "ünïcode", "x" * 65, "a/b", 12])
def test_client_message_id_must_be_1_to_64_id_characters(value):
    # when
    error = refusal(
        {"type": "message.send", "conversation_id": 1, "client_message_id": value, "text": "hi"}
    )

    # then
    assert (error["code"], error["field"]) == ("invalid_frame", "client_message_id")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text):
    error = refusal(
        {"type": "message.send", "conversation_id": 1, "client_message_id": "m-1", "text": text}
    )
    assert error == {
        "type": "error",
        "code": "invalid_frame",
        "message": "The message is empty.",
        "field": "text",
        "ref": "m-1",
    }


def test_text_over_the_limit_is_too_long_and_refers_to_the_client_message_id():
    # given
    content = {
        "type": "message.send",
        "conversation_id": 1,
        "client_message_id": "m-long",
        "text": "x" * (MAX_TEXT + 1),
    }

    # then
    assert refusal(content) == {
        "type": "error",
        "code": "too_long",
        "message": f"Messages are limited to {MAX_TEXT} characters.",
        "field": "text",
        "ref": "m-long",
    }


def test_text_at_the_limit_is_accepted():
    content = {"type": "message.send", "conversation_id": 1, "client_message_id": "m", "text": ""}
    content["text"] = "x" * MAX_TEXT
    assert parse(content)["text"] == "x" * MAX_TEXT


def test_text_must_be_a_string():
    error = refusal(
        {"type": "message.send", "conversation_id": 1, "client_message_id": "m-1", "text": 5}
    )
    assert (error["message"], error["field"]) == ("'text' must be a string.", "text")


def test_short_string_fields_are_bounded():
    error = refusal({"type": "status.set", "status": "x" * 65}, CONSOLE_FRAMES)
    assert (error["message"], error["field"]) == ("'status' is too long.", "status")


def test_ref_is_cut_to_64_characters():
    # given: an over-long client_message_id is refused, and the ref echoing it is bounded
    content = {"type": "message.send", "conversation_id": 1, "client_message_id": "c" * 500}

    # then
    assert refusal(content)["ref"] == "c" * 64


def test_html_in_text_is_kept_verbatim():
    content = {
        "type": "message.send",
        "conversation_id": 1,
        "client_message_id": "m-1",
        "text": "<img src=x onerror=alert(1)> & <b>",
    }
    assert parse(content)["text"] == "<img src=x onerror=alert(1)> & <b>"
