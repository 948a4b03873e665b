"""The API's error mapping: what a route's exception becomes for the client (problem+json, never a 500
for something the client can retry)."""

from __future__ import annotations

import json

from sms_consent.api import problems
from sms_consent.ports import ConcurrentUpdate
from sms_consent_local.harness import LambdaContext
from tests.conftest import api_request


def test_a_number_changed_by_others_on_every_attempt_is_a_409_to_retry() -> None:
    app = problems.resolver("*")

    @app.put("/v1/numbers/<phone>/programs/<program>")
    def busy(phone: str, program: str) -> None:
        raise ConcurrentUpdate("number changed concurrently (expected version 7)")

    event = api_request(
        "PUT",
        "/v1/numbers/+14155550123/programs/alerts",
        resource="/v1/numbers/{phone}/programs/{program}",
        path_parameters={"phone": "+14155550123", "program": "alerts"},
        body="{}",
    )
    response = app.resolve(event, LambdaContext("AdminApiFunction"))  # type: ignore[arg-type]

    assert response["statusCode"] == 409
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert "try again" in json.loads(response["body"])["detail"]
