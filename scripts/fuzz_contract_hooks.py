"""Schemathesis hooks of scripts/fuzz-contract: the documented rules of docs/openapi.yaml that
OpenAPI cannot state in a schema, because they tie two inputs together or depend on what the
server stored. Only requests that schemathesis generates as *valid* (positive mode) are
adjusted to follow them, so that its `positive_data_acceptance` check holds the server to
the schema and to these rules alone; invalid (negative) requests are sent as generated, and
must be refused. Each rule names where the document states it.

Loaded with SCHEMATHESIS_HOOKS=fuzz_contract_hooks (scripts/ on PYTHONPATH).
FUZZ_USER_IDS: ids of existing users (comma-separated), for the fields that must name one.
"""

from __future__ import annotations

import os
from datetime import datetime

import schemathesis

# Cursors are sealed by the server ("Cursors are opaque ... sealed with a server secret for
# one listing", info.description, Pagination): a valid one is one the server issued.
ISSUED_CURSORS: set[str] = set()

# Fields that must name existing users (ConversationCreate.participant_ids,
# ParticipantsChange.user_ids: unknown users are a 400 on the entry).
USER_IDS = [u for u in os.environ.get("FUZZ_USER_IDS", "").split(",") if u]

# Messages and comments the server answered, by conversation / event: a message id given as
# `reply_to_message_id` or as a `before`/`after` anchor must be one of its conversation
# ("no such message in this conversation"), a `parent_comment_id` one of its event.
STORED_MESSAGES: set[tuple[str, str]] = set()

# Cases whose emoji this hook replaced with a real one: the request is then valid, so a
# "schema-violating request accepted" (ST201) about it judges what schemathesis generated,
# not what was sent.
REAL_EMOJI_CASES: set[int] = set()

# Emoji of the Unicode list, with a skin tone, a ZWJ sequence, a flag and a keycap among them.
EMOJI = ["👍", "❤️", "😂", "🎉", "🔥", "👏🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", "🫶"]
STORED_COMMENTS: set[tuple[str, str]] = set()


def _schema_valid_emoji(value: str) -> bool:
    """Whether `value` meets ReactionRequest.emoji's length and character rules."""
    if not 1 <= len(value) <= 16 or value.strip() != value:
        return False
    return not any(c.isascii() and (c.isalnum() or not c.isprintable()) for c in value)


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _time(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _query(case, op: str, query: dict) -> None:
    cursor = query.get("cursor")
    if cursor is not None and cursor not in ISSUED_CURSORS:
        del query["cursor"]
    if op == "listMessages":
        conversation = case.path_parameters.get("conversation_id")
        for anchor in ("before", "after"):
            value = query.get(anchor)
            if isinstance(value, str) and "-" in value and (conversation, value) not in STORED_MESSAGES:
                del query[anchor]
        # "at most one of `before`, `after` and `cursor` may be given"
        given = [k for k in ("cursor", "before", "after") if query.get(k) not in (None, "")]
        for extra in given[1:]:
            del query[extra]
    if op == "listComments" and query.get("after") not in (None, ""):
        # "`after` ... only with `sort=oldest` (or no sort), never with `cursor`"
        sort = query.get("sort", query.get("sort_by"))
        if (sort not in (None, "", "oldest")) or query.get("cursor"):
            del query["after"]


def _body(case, op: str, body: dict) -> None:
    if op == "createEvent":
        # EventCreate.end_time: "after start_time"
        start, end = _time(body.get("start_time")), _time(body.get("end_time"))
        if start and end and end <= start:
            body.pop("end_time", None)
    if op == "postComment":
        event = case.path_parameters.get("event_id")
        if body.get("event_id") is not None:
            # CommentCreate.event_id: "must match the event in the path"
            body["event_id"] = event
        parent = body.get("parent_comment_id")
        if parent is not None and (event, parent) not in STORED_COMMENTS:
            body.pop("parent_comment_id")
    if op == "sendMessage":
        reply_to = body.get("reply_to_message_id")
        conversation = case.path_parameters.get("conversation_id")
        if reply_to is not None and (conversation, reply_to) not in STORED_MESSAGES:
            body.pop("reply_to_message_id")
    if op == "createConversation" and USER_IDS:
        # ConversationCreate: participants are existing users; a direct conversation has
        # exactly one other participant and no title; a group has a title.
        if body.get("conversation_type") == "direct":
            body["participant_ids"] = USER_IDS[:1]
            body["title"] = None
            body["description"] = None
        else:
            if not (isinstance(body.get("title"), str) and body["title"].strip()):
                body["title"] = "Fuzz group"
            body["participant_ids"] = USER_IDS[: max(1, min(len(body.get("participant_ids") or []), len(USER_IDS)))]
    emoji = body.get("emoji")
    if op == "toggleMessageReaction" and isinstance(emoji, str) and _schema_valid_emoji(emoji):
        # ReactionRequest.emoji: "One emoji of the Unicode emoji list" (a lookup, not a
        # pattern): a valid request carries one, picked from what schemathesis generated.
        # Only a value the schema accepts is replaced: a case made invalid on purpose (too
        # long, say) must stay invalid.
        body["emoji"] = EMOJI[sum(map(ord, emoji)) % len(EMOJI)]
        REAL_EMOJI_CASES.add(id(case))
    if op == "changeParticipants" and USER_IDS and isinstance(body.get("user_ids"), list):
        body["user_ids"] = USER_IDS[: max(1, min(len(body["user_ids"]), len(USER_IDS)))]


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _is_positive(case):
        return
    op = case.operation.definition.raw.get("operationId", "")
    if isinstance(case.query, dict):
        _query(case, op, case.query)
    if isinstance(case.body, dict):
        _body(case, op, case.body)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # Deleting a comment is a soft delete (deleteComment: "the comment stays in the stream"):
    # its thread keeps its replies, so listing the replies of a deleted comment answers 200.
    # use_after_free expects a 404 there; every other use_after_free failure is kept. (A
    # per-operation `enabled = false` in the config file loses to `--checks all`.)
    op = case.operation.definition.raw.get("operationId", "")
    code = getattr(failure, "code", "")
    if code == "ST201" and id(case) in REAL_EMOJI_CASES:
        return False
    return not (code == "ST301" and op == "listReplies")


@schemathesis.hook
def after_call(context, case, response):
    try:
        body = response.json()
    except Exception:
        return
    if not isinstance(body, dict):
        return
    if isinstance(body.get("next_cursor"), str):
        ISSUED_CURSORS.add(body["next_cursor"])
    for item in [body, *body.get("messages", []), *body.get("comments", [])]:
        if not isinstance(item, dict):
            continue
        if "message_id" in item and "conversation_id" in item:
            STORED_MESSAGES.add((item["conversation_id"], item["message_id"]))
        if "comment_id" in item and "event_id" in item:
            STORED_COMMENTS.add((item["event_id"], item["comment_id"]))
