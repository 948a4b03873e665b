"""Least privilege, proven: every AWS call a function's code makes is checked against that function's
policy as SAM expands it (tests/conftest.py does it at the end of every test that invokes a function);
here, the checker itself is shown able to refuse, no statement grants everything, and a life of a
number through every function reports which granted actions went unused."""

from __future__ import annotations

import json

from sms_consent_local import iam
from tests.conftest import AwsStack, api_request, load_event
from tests.integration.test_optin_api import PHONE, deliver_outbound, form, inbound, post

FUNCTIONS = {
    "InboundSmsFunction",
    "SendGateFunction",
    "OptinApiFunction",
    "AdminApiFunction",
    "PumpingDetectorFunction",
    "ConsentFeedFunction",
}


def _policies(stack: AwsStack) -> dict[str, list[iam.Statement]]:
    return iam.function_policies(stack.runner.template, stack.resources)


def test_no_statement_grants_every_action_on_every_resource(aws_stack: AwsStack) -> None:
    assert iam.wildcard_grants(aws_stack.runner.template, aws_stack.resources) == []


def test_the_checker_refuses_what_a_policy_does_not_grant(aws_stack: AwsStack) -> None:
    policies = _policies(aws_stack)
    assert set(policies) == FUNCTIONS
    table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{aws_stack.table_name}"
    allowed = iam.Call("InboundSmsFunction", "dynamodb:UpdateItem", table)
    other_table = iam.Call("InboundSmsFunction", "dynamodb:UpdateItem", table + "-other")
    not_granted = iam.Call("InboundSmsFunction", "dynamodb:DeleteTable", table)
    an_index = iam.Call("AdminApiFunction", "dynamodb:Query", table + "/index/GSI1")
    sms_to_a_phone = iam.Call("SendGateFunction", "sns:Publish", "*")  # granted with a condition
    not_for_inbound = iam.Call("InboundSmsFunction", "sns:Publish", "*")
    refused = iam.disallowed([allowed, other_table, not_granted, an_index, sms_to_a_phone, not_for_inbound], policies)
    assert refused == [other_table, not_granted, not_for_inbound]


def test_a_life_through_every_function_stays_within_each_policy(aws_stack: AwsStack) -> None:
    iam.clear()
    assert post(aws_stack, form())[0] == 202  # OptinApiFunction
    deliver_outbound(aws_stack)  # SendGateFunction sends the prompt
    for text in ("YES", "HELP", "STOP"):
        inbound(aws_stack, text)  # InboundSmsFunction
        deliver_outbound(aws_stack)
    for method, path, extra in (
        ("GET", f"/v1/numbers/{PHONE}", {"resource": "/v1/numbers/{phone}", "path_parameters": {"phone": PHONE}}),
        ("GET", "/v1/blocklist", {}),
        ("GET", "/v1/metrics", {"query": {"program": "alerts"}}),
        (
            "PUT",
            f"/v1/blocklist/{PHONE}",
            {"resource": "/v1/blocklist/{phone}", "path_parameters": {"phone": PHONE}, "body": json.dumps({"type": 2})},
        ),
    ):
        aws_stack.invoke("AdminApiFunction", api_request(method, path, **extra))
    aws_stack.invoke("PumpingDetectorFunction", load_event("pumping_detector/scheduled.json"))
    aws_stack.deliver_stream()  # ConsentFeedFunction

    calls = iam.recorded()
    policies = _policies(aws_stack)
    assert {call.function_id for call in calls} == FUNCTIONS
    assert iam.disallowed(calls, policies) == []
    unused = iam.unused_grants(calls, policies)
    # DynamoDBCrudPolicy grants more than any function uses: no function scans or deletes items.
    for function_id in FUNCTIONS:
        assert "dynamodb:Scan" in unused[function_id]
    print(iam.report(calls, policies))
    print(iam.describe(policies))
