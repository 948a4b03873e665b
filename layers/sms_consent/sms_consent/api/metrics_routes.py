"""Opt-in and opt-out figures per program (admin, API key)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from sms_consent import wiring

router = APIGatewayRouter()

MAX_PERIOD_DAYS = 366


class ProgramMetrics(BaseModel):
    program: str
    date_from: date
    date_to: date
    opt_ins: int
    opt_outs: int
    prompts: int
    confirmations: int
    subscribers: int
    double_opt_in_conversion: float | None


@router.get("/v1/metrics", summary="Opt-ins, opt-outs, subscribers and double opt-in conversion of a program")
def program_metrics(
    program: Annotated[str, Query(min_length=1, max_length=40)],
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> ProgramMetrics:
    if program not in wiring.admin_deps().config.programs:
        raise NotFoundError(f"unknown program '{program}'")
    last = date_to or wiring.utc_now().date()
    first = date_from or last - timedelta(days=29)
    if first > last:
        raise BadRequestError("'from' is after 'to'")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise BadRequestError(f"the period is longer than {MAX_PERIOD_DAYS} days")
    figures = wiring.admin_deps().stores.metrics.read(program, first, last)
    return ProgramMetrics(
        program=program,
        date_from=first,
        date_to=last,
        opt_ins=figures.opt_ins,
        opt_outs=figures.opt_outs,
        prompts=figures.prompts,
        confirmations=figures.confirmations,
        subscribers=figures.subscribers,
        double_opt_in_conversion=figures.double_opt_in_conversion,
    )
