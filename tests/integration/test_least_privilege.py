"""Least privilege, proven: every AWS call a function's code makes is checked against that function's
policy as SAM expands it (tests/conftest.py does it at the end of every test that invokes a function,
see sms_consent_local.iam_calls.settle). Here: no statement grants `*` on `*`; the checker is shown
able to refuse, on real SAM-expanded statements; and a life of a number through every function stays
within each policy and reports what each function is allowed but never used."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from sms_consent_local import iam_calls
from sms_consent_local.iam_policies import (
    Call,
    FunctionPolicy,
    Statement,
    conditions_hold,
    describe,
    disallowed,
    function_policies,
    report,
    unused_grants,
    wildcard_grants,
)
from sms_consent_local.stack import sqs_record
from sms_consent_local.template import load_template
from tests.conftest import ROOT, AwsStack, api_request, load_event
from tests.integration import test_blocklist_files as blocklist_files
from tests.integration.test_optin_api import PHONE, deliver_outbound, form, inbound, post

ACCOUNT = "123456789012"


def _policies(stack: AwsStack) -> dict[str, FunctionPolicy]:
    return function_policies(stack.runner.template, stack.resources)


def test_no_statement_grants_every_action_on_every_resource(aws_stack: AwsStack) -> None:
    assert wildcard_grants(aws_stack.runner.template, aws_stack.resources) == []


def test_the_wildcard_check_finds_a_star_on_star_statement(aws_stack: AwsStack) -> None:
    template = load_template(ROOT / "template.yaml")
    role = template.resources["DeferredSendSchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    function = template.resources["PumpingDetectorFunction"]["Properties"]["Policies"]
    function.append({"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": "*"}]})
    found = wildcard_grants(template, aws_stack.resources)
    assert [entry.split(":")[0] for entry in found] == ["DeferredSendSchedulerRole", "PumpingDetectorFunctionRole"]


def test_every_function_in_the_template_has_its_role_checked(aws_stack: AwsStack) -> None:
    functions = set(aws_stack.runner.template.resources_of("AWS::Serverless::Function"))
    policies = _policies(aws_stack)
    assert set(policies) == functions
    assert all(policy.statements for policy in policies.values())


def test_the_checker_refuses_what_a_policy_does_not_grant(aws_stack: AwsStack) -> None:
    policies = _policies(aws_stack)
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{aws_stack.table_name}"
    allowed = Call("InboundSmsFunction", "dynamodb:UpdateItem", table)
    an_index = Call("AdminApiFunction", "dynamodb:Query", table + "/index/GSI1")  # granted by table/x/index/*
    other_table = Call("InboundSmsFunction", "dynamodb:UpdateItem", table + "-other")
    not_granted = Call("InboundSmsFunction", "dynamodb:DeleteTable", table)
    other_topic = Call("OptinApiFunction", "sns:Publish", aws_stack.resources["AlertTopic"])
    deferral = Call(
        "SendGateFunction", "sqs:SendMessage", aws_stack.resources["DeferredSendQueue.Arn"]
    )  # sqs:SendMessage*
    no_queue_for_feed = Call("ConsentFeedFunction", "sqs:SendMessage", aws_stack.resources["DeferredSendQueue.Arn"])
    sms_to_a_phone = Call("SendGateFunction", "sns:Publish", "*")  # the default sender is not SNS
    not_for_inbound = Call("InboundSmsFunction", "sns:Publish", "*")
    schedule = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/"
    our_schedule = Call("SendGateFunction", "scheduler:CreateSchedule", schedule + "sms-consent-1")
    other_schedule = Call("SendGateFunction", "scheduler:CreateSchedule", schedule + "someone-else")
    unknown_function = Call("NoSuchFunction", "dynamodb:GetItem", table)
    calls = [allowed, an_index, other_table, not_granted, other_topic, deferral, no_queue_for_feed]
    calls += [sms_to_a_phone, not_for_inbound, our_schedule, other_schedule, unknown_function]
    refused = disallowed(calls, policies)
    assert refused == sorted(
        [
            other_table,
            not_granted,
            other_topic,
            no_queue_for_feed,
            sms_to_a_phone,
            not_for_inbound,
            other_schedule,
            unknown_function,
        ]
    )


def test_the_gate_may_publish_to_phone_numbers_only_with_the_sns_sender(aws_stack: AwsStack) -> None:
    to_a_phone = Call("SendGateFunction", "sns:Publish", "*")
    topics = [
        Call("SendGateFunction", "sns:Publish", aws_stack.resources["OutboundRequestsTopic"]),  # a loop
        Call("SendGateFunction", "sns:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:anyone"),
        Call("SendGateFunction", "sns:Publish", "arn:aws:sns:eu-west-1:999999999999:someone-else"),
    ]
    with_eum = _policies(aws_stack)
    with_sns = function_policies(
        load_template(ROOT / "template.yaml", parameter_overrides={"SenderAdapter": "sns"}), aws_stack.resources
    )

    assert disallowed([to_a_phone, *topics], with_eum) == sorted([to_a_phone, *topics])
    assert disallowed([to_a_phone, *topics], with_sns) == sorted(topics)


def test_a_conditional_policy_counts_only_when_its_condition_holds(aws_stack: AwsStack) -> None:
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:captcha-AbCdEf"
    read = Call("OptinApiFunction", "secretsmanager:GetSecretValue", secret)
    assert disallowed([read], _policies(aws_stack)) == [read]  # default: the SSM parameter instead
    in_secrets_manager = load_template(ROOT / "template.yaml", parameter_overrides={"CaptchaSecretArn": secret})
    policies = function_policies(in_secrets_manager, aws_stack.resources)
    assert disallowed([read], policies) == []
    assert disallowed([Call("OptinApiFunction", "secretsmanager:GetSecretValue", secret + "-other")], policies) != []


def test_conditions_and_denies_are_evaluated_not_assumed() -> None:
    assert conditions_hold({"Null": {"sns:Protocol": "true"}}, {})
    assert not conditions_hold({"Null": {"sns:Protocol": "true"}}, {"sns:Protocol": "sms"})
    assert not conditions_hold({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {})
    assert conditions_hold({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, {})
    assert conditions_hold({"StringLike": {"k": "sms-*"}}, {"k": "sms-consent"})
    with pytest.raises(ValueError):
        conditions_hold({"ForAnyValue:StringEquals": {"k": "v"}}, {"k": "v"})
    allow = Statement("p", "", "Allow", ("sns:Publish",), ("*",))
    deny_topics = Statement("p", "", "Deny", ("sns:Publish",), ("arn:aws:sns:*:*:*",))
    policy = FunctionPolicy("F", "FRole", (allow, deny_topics), (), [])
    assert policy.allows(Call("F", "SNS:publish", "*"))  # actions are case-insensitive
    assert not policy.allows(Call("F", "sns:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:t"))


def test_requests_map_to_the_authorizations_aws_checks() -> None:
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"
    transact = {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "u"}}]}
    assert iam_calls.authorizations("dynamodb", "TransactWriteItems", transact, "us-east-1", {}) == [
        ("dynamodb:PutItem", table),
        ("dynamodb:ConditionCheckItem", table[:-1] + "u"),
    ]
    query = {"TableName": "t", "IndexName": "GSI1"}
    assert iam_calls.authorizations("dynamodb", "Query", query, "us-east-1", {}) == [
        ("dynamodb:Query", table + "/index/GSI1")
    ]
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/q"
    assert iam_calls.authorizations("sqs", "SendMessageBatch", {"QueueUrl": url}, "us-east-1", {}) == [
        ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    ]
    assert iam_calls.authorizations("s3", "HeadObject", {"Bucket": "b", "Key": "k.jpg"}, "us-east-1", {}) == [
        ("s3:GetObject", "arn:aws:s3:::b/k.jpg")
    ]
    assert iam_calls.authorizations("sns", "Publish", {"PhoneNumber": "+15555550100"}, "us-east-1", {}) == [
        ("sns:Publish", "*")
    ]
    events = {"Entries": [{"EventBusName": "bus"}, {}]}
    assert iam_calls.authorizations("events", "PutEvents", events, "us-east-1", {}) == [
        ("events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/bus"),
        ("events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"),
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    schedule = {"Name": "sms-consent-1", "Target": {"RoleArn": role}}
    assert iam_calls.authorizations("scheduler", "CreateSchedule", schedule, "us-east-1", {}) == [
        ("scheduler:CreateSchedule", f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/sms-consent-1"),
        ("iam:PassRole", role),
    ]
    ssm = {"Name": "/sms-consent/captcha-secret"}
    assert iam_calls.authorizations("ssm", "GetParameter", ssm, "us-east-1", {}) == [
        ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sms-consent/captcha-secret")
    ]
    sms = {"OriginationIdentity": "pool-1", "ConfigurationSetName": "cs"}
    assert iam_calls.authorizations("pinpoint-sms-voice-v2", "SendTextMessage", sms, "us-east-1", {}) == [
        ("sms-voice:SendTextMessage", f"arn:aws:sms-voice:us-east-1:{ACCOUNT}:pool/pool-1"),
        ("sms-voice:SendTextMessage", f"arn:aws:sms-voice:us-east-1:{ACCOUNT}:configuration-set/cs"),
    ]
    stream = f"{table}/stream/2026"
    assert iam_calls.authorizations("dynamodbstreams", "GetShardIterator", {"StreamArn": stream}, "us-east-1", {}) == [
        ("dynamodb:GetShardIterator", stream)
    ]


def _deliver_blocklist_files(stack: AwsStack) -> None:
    sqs: Any = boto3.client("sqs", region_name=stack.region)
    url, arn = stack.resources["BlocklistFilesQueue"], stack.resources["BlocklistFilesQueue.Arn"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    assert messages, "the upload or the export never reached the queue"
    stack.invoke("BlocklistFilesFunction", {"Records": [sqs_record(messages[0], arn)]})
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_a_life_through_every_function_stays_within_each_policy(aws_stack: AwsStack) -> None:
    iam_calls.clear()
    assert post(aws_stack, form())[0] == 202  # OptinApiFunction
    deliver_outbound(aws_stack)  # SendGateFunction sends the prompt
    for text in ("YES", "HELP", "STOP", "START"):
        inbound(aws_stack, text)  # InboundSmsFunction
        deliver_outbound(aws_stack)
    for method, path, extra in (
        ("GET", f"/v1/numbers/{PHONE}", {"resource": "/v1/numbers/{phone}", "path_parameters": {"phone": PHONE}}),
        (
            "GET",
            f"/v1/numbers/{PHONE}/history",
            {"resource": "/v1/numbers/{phone}/history", "path_parameters": {"phone": PHONE}},
        ),
        ("GET", "/v1/blocklist", {}),
        ("GET", "/v1/blocklist/export", {}),
        ("GET", "/v1/metrics", {"query": {"program": "alerts"}}),
        (
            "PUT",
            f"/v1/blocklist/{PHONE}",
            {"resource": "/v1/blocklist/{phone}", "path_parameters": {"phone": PHONE}, "body": json.dumps({"type": 2})},
        ),
    ):
        aws_stack.invoke("AdminApiFunction", api_request(method, path, **extra))
    import_id = blocklist_files._start(aws_stack)  # BlocklistFilesFunction imports an upload and exports
    blocklist_files._upload(aws_stack, import_id, blocklist_files._csv(3))
    _deliver_blocklist_files(aws_stack)
    assert blocklist_files._api(aws_stack, "POST", "/v1/blocklist/exports")[0] == 202
    _deliver_blocklist_files(aws_stack)
    aws_stack.invoke("PumpingDetectorFunction", load_event("pumping_detector/scheduled.json"))
    aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/scheduled.json"))
    aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/consumer_stop.json"))
    aws_stack.invoke("ListHygieneFunction", load_event("list_hygiene/scheduled.json"))
    aws_stack.deliver_stream()  # the stream's consumers (ConsentFeedFunction, and any added later)

    calls = iam_calls.recorded()
    policies = _policies(aws_stack)
    assert iam_calls.invoked() == set(policies), "drive every function in the template here"
    assert disallowed(calls, policies) == []
    unused = unused_grants(calls, policies)
    # DynamoDBCrudPolicy grants more than any function uses: no function scans the table.
    assert all(any("dynamodb:Scan" in entry for entry in unused[function_id]) for function_id in policies)
    print(report(calls, policies))
    print(describe(policies))
