"""Proof of consent: one number's whole history with all of its evidence, as a self-contained report
that a business hands a carrier or a court (GET /v1/numbers/{phone}/proof, `sms-consent audit export`).

Pure domain code: it is given the number's state (its blocklist entry included), its audit trail and
the consent texts its events point at, and lays them out. Every event keeps its own evidence as recorded; the
words a sign-up showed are resolved from their hash (an event recorded before texts were stored by
hash carries its words itself). The report ends with a SHA-256 of its own canonical JSON, so that a
reader can tell a copy that was edited from the one the platform produced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, NumberState
from sms_consent.ports import ConsentText

# Evidence fields, grouped as a reader looks for them; anything else is listed under "other".
MESSAGE_FIELDS = (
    "inbound_message_id",
    "previous_published_message_id",
    "prompt_request_id",
    "prompt_message_id",
    "prompt_never_sent",
    "message_id",
    "sender",
    "keyword",
    "match_reason",
    "text",
    "received_at",
)
WEB_FIELDS = ("client_ip", "user_agent", "page_url", "origin", "api_key_id")
SHOWN_FIELDS = frozenset({"consent_text", "consent_text_hash", "captcha"})
FORMAT_VERSION = 1


def text_hashes(events: Sequence[AuditEvent]) -> list[str]:
    """The consent texts the events point at, each once."""
    found = [event.evidence.get("consent_text_hash") for event in events]
    return list(dict.fromkeys(text_hash for text_hash in found if isinstance(text_hash, str) and text_hash))


def _consent_text(evidence: Mapping[str, Any], texts: Mapping[str, ConsentText]) -> dict[str, Any] | None:
    text_hash = evidence.get("consent_text_hash")
    stored = texts.get(text_hash) if isinstance(text_hash, str) else None
    if stored is not None:
        return {
            "hash": stored.text_hash,
            "text": stored.text,
            "first_shown": stored.first_shown,
            "last_shown": stored.last_shown,
            "times_shown": stored.times_shown,
        }
    if "consent_text" in evidence or text_hash:
        # Recorded with its words inline, or words that were never stored: say which.
        return {"hash": text_hash, "text": evidence.get("consent_text"), "stored": False}
    return None


def _picked(evidence: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: evidence[name] for name in fields if evidence.get(name) not in (None, "")}


def event_entry(event: AuditEvent, texts: Mapping[str, ConsentText]) -> dict[str, Any]:
    evidence = event.evidence
    known = {*MESSAGE_FIELDS, *WEB_FIELDS, *SHOWN_FIELDS}
    entry: dict[str, Any] = {
        "event_id": event.event_id,
        "at": iso(event.at),
        "type": event.event_type.value,
        "program": event.program,
        "old_status": event.old_status,
        "new_status": event.new_status,
        "source": event.source,
        "message": _picked(evidence, MESSAGE_FIELDS),
        "web": _picked(evidence, WEB_FIELDS),
        "consent_text": _consent_text(evidence, texts),
        "captcha": evidence.get("captcha"),
        "other": {name: value for name, value in sorted(evidence.items()) if name not in known},
    }
    return entry


def report(
    state: NumberState,
    events: Sequence[AuditEvent],
    texts: Mapping[str, ConsentText],
    *,
    generated_at: datetime,
    generated_by: str,
) -> dict[str, Any]:
    """The report as a JSON-ready dict, oldest event first, with its own digest last."""
    ordered = sorted(events, key=lambda event: (event.at, event.event_id))
    body: dict[str, Any] = {
        "format": f"sms-consent-proof/{FORMAT_VERSION}",
        "phone": state.phone,
        "generated_at": iso(generated_at),
        "generated_by": generated_by,
        "programs": {
            program: {
                "status": program_state.effective_status(generated_at).value,
                "source": program_state.source,
                "updated_at": iso(program_state.updated_at),
            }
            for program, program_state in sorted(state.programs.items())
        },
        "blocklist": {
            "type": state.block.type,
            "reason": state.block.reason,
            "text": state.block.text,
            "added_at": iso(state.block.added_at),
        }
        if state.block
        else None,
        "events": [event_entry(event, texts) for event in ordered],
    }
    body["sha256"] = digest(body)
    return body


def digest(body: Mapping[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON (sorted keys, no spaces), its own digest left out."""
    content = {key: value for key, value in body.items() if key != "sha256"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
