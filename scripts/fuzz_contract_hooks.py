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
    if op == "postComment" and "event_id" in body:
        # CommentCreate.event_id: "must match the event in the path"
        body["event_id"] = case.path_parameters.get("event_id")
    if op == "createConversation" and USER_IDS:
        # ConversationCreate: participants are existing users; a direct conversation has
        # exactly one other participant and no title; a group has a title.
        if body.get("conversation_type") == "direct":
            body["participant_ids"] = USER_IDS[:1]
            body["title"] = None
            body["description"] = None
        else:
            body["participant_ids"] = USER_IDS[: max(1, min(len(body.get("participant_ids") or []), len(USER_IDS)))]
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
def after_call(context, case, response):
    try:
        body = response.json()
    except Exception:
        return
    if isinstance(body, dict) and isinstance(body.get("next_cursor"), str):
        ISSUED_CURSORS.add(body["next_cursor"])
