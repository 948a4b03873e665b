"""Opt-in and opt-out figures per program (admin, API key), from the counters the consent feed keeps."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from sms_consent import program_metrics, wiring
from sms_consent.api.problems import PROBLEM_TYPE, Problem
from sms_consent.subscriptions import Rejection

router = APIGatewayRouter()

MAX_PERIOD_DAYS = 366


class TimerView(BaseModel):
    median_seconds: int | None = Field(
        description="half were within this many seconds (the upper bound of the median's bucket); "
        "null when none were measured or the median is past the last bucket"
    )
    within_limit: int
    over_limit: int


class RevocationTimer(BaseModel):
    within_10_business_days: int
    later: int


class ListHygieneView(BaseModel):
    reminders_sent: int = Field(description="reminders the daily runs handed to the send gate in the period")
    removals: int = Field(description="subscribers removed after unanswered reminders (source list_hygiene)")
    audited: int = Field(description="subscribers whose reminder came due in the period")
    engaged: int = Field(description="of those, subscribers skipped because they texted recently")
    engaged_share: float | None = Field(description="engaged / audited; null when none came due")


class ProgramMetrics(BaseModel):
    program: str
    date_from: date
    date_to: date
    opt_ins: int
    opt_outs: int
    opt_ins_by_source: dict[str, int]
    opt_outs_by_source: dict[str, int]
    opt_ins_by_keyword: dict[str, int]
    opt_outs_by_keyword: dict[str, int]
    prompts: int
    confirmations: int
    subscribers: int = Field(description="subscribed now, whatever the period")
    double_opt_in_conversion: float | None
    time_to_confirm: TimerView = Field(description="double opt-in: from the prompt's request to the YES")
    opt_out_confirmation: TimerView = Field(
        description="opt-outs by text: from the consumer's message to the recorded opt-out and its "
        "confirmation (the FCC expects the confirmation within 300 seconds)"
    )
    revocations: RevocationTimer = Field(
        description="unsubscribes entered with requested_at: honoured within 10 US business days or later"
    )
    list_hygiene: ListHygieneView = Field(description="list audits and engagement (seed 001)")


def _timer(timer: program_metrics.Timer) -> TimerView:
    return TimerView(median_seconds=timer.median_seconds, within_limit=timer.within_limit, over_limit=timer.over_limit)


@router.get("/v1/metrics", summary="Opt-ins, opt-outs, subscribers, double opt-in conversion and FCC timers")
def program_metrics_route(
    program: Annotated[str, Query(min_length=1, max_length=40)],
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> ProgramMetrics:
    if program not in wiring.admin_deps().config.programs:
        raise Problem(
            404,
            f"unknown program '{program[:40]}': the configuration has no program with this id",
            type_=PROBLEM_TYPE + Rejection.UNKNOWN_PROGRAM.value,
        )
    last = date_to or wiring.utc_now().date()
    first = date_from or last - timedelta(days=29)
    if first > last:
        raise Problem(400, "'from' is after 'to'")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise Problem(400, f"the period is longer than {MAX_PERIOD_DAYS} days")
    figures = wiring.admin_deps().stores.metrics.read(program, first, last)
    on_time, late = figures.revocations
    return ProgramMetrics(
        program=program,
        date_from=first,
        date_to=last,
        opt_ins=figures.opt_ins,
        opt_outs=figures.opt_outs,
        opt_ins_by_source=figures.by_source("opt_ins"),
        opt_outs_by_source=figures.by_source("opt_outs"),
        opt_ins_by_keyword=figures.by_keyword("opt_ins"),
        opt_outs_by_keyword=figures.by_keyword("opt_outs"),
        prompts=figures.prompts,
        confirmations=figures.confirmations,
        subscribers=figures.subscribers,
        double_opt_in_conversion=figures.double_opt_in_conversion,
        time_to_confirm=_timer(figures.time_to_confirm),
        opt_out_confirmation=_timer(figures.opt_out_confirmation),
        revocations=RevocationTimer(within_10_business_days=on_time, later=late),
        list_hygiene=ListHygieneView(
            reminders_sent=figures.hygiene_reminders,
            removals=figures.hygiene_removals,
            audited=int(figures.counts.get("hygiene_audited", 0)),
            engaged=int(figures.counts.get("hygiene_engaged", 0)),
            engaged_share=figures.engaged_share,
        ),
    )
