"""Profiles (admin, API key): link a user's profile to a number; a new number inherits the user's statuses."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import profiles, wiring
from sms_consent.api.number_routes import API_KEY, NumberView, number_view
from sms_consent.api.problems import phone_param

router = APIGatewayRouter()
USER_ID = r"^[A-Za-z0-9._:@|+-]{1,128}$"


class PhoneLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=1, max_length=64, description="any format phonenumbers parses")


class ProfileView(BaseModel):
    user_id: str
    previous_phone: str | None
    carried: dict[str, str] = Field(description="per program, what the user's previous number passed on")
    number: NumberView = Field(description="the number's consent: shared by every profile linked to it")


@router.put(
    "/v1/users/<user_id>/phone", summary="Link a profile to a number (it takes its statuses along)", security=API_KEY
)
def put_user_phone(user_id: Annotated[str, Path(pattern=USER_ID)], link: PhoneLink) -> ProfileView:
    e164 = phone_param(link.phone, wiring.admin_deps().config.default_region).e164
    result = profiles.link_profile(user_id, e164, wiring.admin_deps().profiles)
    return ProfileView(
        user_id=result.user_id,
        previous_phone=result.previous_phone,
        carried={program: outcome.value for program, outcome in result.carried.items()},
        number=number_view(result.state, result.users, wiring.utc_now()),
    )
