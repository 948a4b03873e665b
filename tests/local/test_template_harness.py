"""The template reader, resource creation and the sam-local-invoke-like harness, on moto in process.

The reader must give the real template's values (names, ARNs, routes, retries) so that the local
stack and the tests are wired exactly as `sam deploy` wires AWS; the harness must import handlers
with the template's environment at import time, cold or warm, and the events the local stack makes
must be what Lambda sends (checked against Powertools' parser models, which the handlers use).
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
    SnsModel,
    SqsModel,
)
from moto import mock_aws
from werkzeug.test import Client

from sms_consent_local import harness
from sms_consent_local.api_server import ApiGatewayApp
from sms_consent_local.harness import FunctionRunner, LambdaContext, function_environment
from sms_consent_local.resources import create_resources
from sms_consent_local.stack import ApiRoute, deliver_sqs_batch, route_pattern, scheduled_event, sns_event
from sms_consent_local.template import Template, TemplateError, load_template, parse_template_text
from tests.conftest import AwsStack

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def real_template(**overrides: str) -> Template:
    return load_template(ROOT / "template.yaml", region=REGION, parameter_overrides=overrides)


# ---------------------------------------------------------------------- the reader


def test_short_tags_become_long_forms_and_resolve() -> None:
    body = parse_template_text(
        textwrap.dedent(
            """
            Parameters:
              Stage: {Type: String, Default: dev}
            Conditions:
              IsProd: !Equals [!Ref Stage, prod]
            Resources: {}
            Outputs:
              Arn: {Value: !GetAtt Queue.Arn}
              Name: {Value: !Sub "app-${Stage}-${AWS::Region}-${!Literal}"}
              WithVars: {Value: !Sub ["${Prefix}/${Queue.QueueName}", {Prefix: !Ref Stage}]}
              Chosen: {Value: !If [IsProd, big, small]}
              Third: {Value: !Select [2, !Split [",", "a,b,c"]]}
              Joined: {Value: !Join ["-", [x, !Ref Stage]]}
              Mapped: {Value: !FindInMap [Sizes, !Ref Stage, Memory]}
              Dropped: {Value: {Keep: 1, Gone: !If [IsProd, 2, !Ref AWS::NoValue]}}
            Mappings:
              Sizes: {dev: {Memory: 128}}
            """
        )
    )
    assert body["Outputs"]["Arn"]["Value"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    template = Template(Path("/tmp/template.yaml"), body, region="eu-west-1")
    physical = {"Queue.Arn": "arn:aws:sqs:eu-west-1:123456789012:q", "Queue.QueueName": "q"}
    assert template.outputs(physical) == {
        "Arn": "arn:aws:sqs:eu-west-1:123456789012:q",
        "Name": "app-dev-eu-west-1-${Literal}",
        "WithVars": "dev/q",
        "Chosen": "small",
        "Third": "c",
        "Joined": "x-dev",
        "Mapped": "128",
        "Dropped": "{'Keep': 1}",
    }
    prod = Template(Path("/tmp/template.yaml"), body, parameter_overrides={"Stage": "prod"})
    assert prod.resolve(body["Outputs"]["Chosen"]["Value"], {}) == "big"


def test_unresolvable_references_raise_errors_that_name_them() -> None:
    template = real_template()
    with pytest.raises(TemplateError, match="Nowhere"):
        template.resolve({"Ref": "Nowhere"}, {})
    with pytest.raises(TemplateError, match=r"ConsentTable\.StreamArn"):
        template.resolve({"Fn::GetAtt": ["ConsentTable", "StreamArn"]}, {})
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        template.resolve({"Fn::ImportValue": "shared"}, {})
    existing = real_template(ExistingInboundTopicArn="arn:aws:sns:us-east-1:123456789012:theirs")
    with pytest.raises(TemplateError, match="Condition is false"):
        existing.resolve({"Ref": "InboundSmsTopic"}, {})


def test_parameter_overrides_are_checked_against_the_template() -> None:
    with pytest.raises(TemplateError, match="allowed values"):
        real_template(Stage="qa")
    with pytest.raises(TemplateError, match="no such parameter"):
        real_template(Stagee="prod")


def test_functions_carry_globals_retries_and_their_handler_files() -> None:
    functions = {spec.logical_id: spec for spec in real_template().functions()}
    assert set(functions) == {
        "InboundSmsFunction",
        "SendGateFunction",
        "OptinApiFunction",
        "AdminApiFunction",
        "PumpingDetectorFunction",
        "ConsentFeedFunction",
        "ProviderSyncFunction",
        "BlocklistFilesFunction",
        "ListHygieneFunction",
    }
    for spec in functions.values():
        assert spec.module_file.is_file(), spec.module_file
        # The blocklist file function streams files of millions of lines: more memory, the longest timeout.
        assert spec.memory_size == (1024 if spec.logical_id == "BlocklistFilesFunction" else 512)
        assert spec.environment["TABLE_NAME"] == {"Ref": "ConsentTable"}
    assert functions["SendGateFunction"].timeout == 60
    assert functions["AdminApiFunction"].timeout == 20
    assert functions["BlocklistFilesFunction"].timeout == 900
    assert functions["InboundSmsFunction"].maximum_retry_attempts == 2
    assert functions["PumpingDetectorFunction"].maximum_retry_attempts == 0
    assert functions["InboundSmsFunction"].dead_letter_queue == {"Fn::GetAtt": ["InboundSmsDeadLetterQueue", "Arn"]}


def test_api_routes_take_the_api_default_for_keys() -> None:
    template = real_template()
    routes = {(route.method, route.path): route for route in template.api_routes()}
    public = {key for key, route in routes.items() if not route.api_key_required}
    assert public == {("POST", "/v1/optins"), ("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}
    assert routes[("GET", "/v1/numbers/{phone}")].function_id == "AdminApiFunction"
    assert routes[("DELETE", "/v1/blocklist/{phone}")].api_key_required
    assert {route.rest_api_id for route in routes.values()} == {"ConsentApi"}
    cors = template.api_cors("ConsentApi")
    assert cors is not None
    assert cors["AllowOrigin"] == "'*'"
    assert real_template(AllowedOrigin="https://example.com").api_cors("ConsentApi") == {
        **cors,
        "AllowOrigin": "'https://example.com'",
    }


def test_the_detector_runs_every_five_minutes_and_the_provider_sync_every_fifteen() -> None:
    schedules = {schedule.function_id: schedule for schedule in real_template().schedules()}
    assert {name: schedule.rate_seconds for name, schedule in schedules.items()} == {
        "PumpingDetectorFunction": 300,
        "ProviderSyncFunction": 900,
        "ListHygieneFunction": None,  # cron: daily at 17:00 UTC in AWS; locally it runs when triggered
    }
    assert schedules["ListHygieneFunction"].expression == "cron(0 17 * * ? *)"
    assert all(schedule.enabled for schedule in schedules.values())


# ---------------------------------------------------------------------- resources on moto


def test_resources_and_environment_are_the_templates(moto_env: None, tmp_path: Path) -> None:
    template = real_template()
    created = create_resources(template, region=REGION)
    env = function_environment(template, "SendGateFunction", created.physical, outbox_path=tmp_path / "o.jsonl")

    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=env["TABLE_NAME"])["Table"]
    assert {key["AttributeName"] for key in table["KeySchema"]} == {"PK", "SK"}
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2"}
    ttl = boto3.client("dynamodb", region_name=REGION).describe_time_to_live(TableName=env["TABLE_NAME"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}

    topics = {topic["TopicArn"] for topic in boto3.client("sns", region_name=REGION).list_topics()["Topics"]}
    assert env["OUTBOUND_TOPIC_ARN"] in topics
    assert created.physical["InboundSmsTopic"] in topics
    assert env["EVENT_BUS_NAME"] == "sms-consent-dev"
    boto3.client("events", region_name=REGION).describe_event_bus(Name=env["EVENT_BUS_NAME"])

    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=env["DEFERRED_SEND_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "120"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": created.physical["SendGateDeadLetterQueue.Arn"],
        "maxReceiveCount": 5,
    }
    assert env["SCHEDULER_ROLE_ARN"].endswith(":role/DeferredSendSchedulerRole")
    # Local-only settings on top of the template's.
    assert env["SENDER_ADAPTER"] == "outbox"
    assert env["OUTBOX_PATH"] == str(tmp_path / "o.jsonl")
    assert env["CAPTCHA_PROVIDER"] == "local"
    assert env["AWS_REGION"] == REGION
    assert "AWS_ENDPOINT_URL" not in env  # in process, moto intercepts the default endpoint
    key = boto3.client("apigateway", region_name=REGION).get_api_key(
        apiKey=created.physical["ConsentApiApiKey"], includeValue=True
    )
    assert key["value"] == created.api_key_value


def test_an_existing_inbound_topic_is_used_instead_of_creating_one(moto_env: None, tmp_path: Path) -> None:
    theirs = boto3.client("sns", region_name=REGION).create_topic(Name="theirs")["TopicArn"]
    template = real_template(ExistingInboundTopicArn=theirs)
    created = create_resources(template, region=REGION)
    assert "InboundSmsTopic" not in created.physical
    (source,) = template.function("InboundSmsFunction").events_of("SNS")
    assert template.resolve(source.properties["Topic"], created.physical) == theirs
    assert template.outputs(created.physical)["InboundSmsTopicArn"] == theirs


def test_rules_with_sns_targets_get_a_relay_queue_that_receives_their_events(moto_env: None) -> None:
    template = real_template()
    created = create_resources(template, region=REGION)
    assert set(created.relays.values()) == {created.physical["AlertTopic"]}
    boto3.client("events", region_name=REGION).put_events(
        Entries=[
            {
                "Source": "sms-consent",
                "DetailType": "TrafficPumpingSuspected",
                "Detail": json.dumps({"rule": "range_sweep"}),
                "EventBusName": created.physical["ConsentEventBus"],
            }
        ]
    )
    sqs = boto3.client("sqs", region_name=REGION)
    received = [
        json.loads(message["Body"])["detail-type"]
        for url in created.relays
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert received == ["TrafficPumpingSuspected"]  # one rule matched, the misrouted-number rule did not


# ---------------------------------------------------------------------- the harness


ECHO_APP = """
import os
import uuid

import helper

IMPORTED = {"TABLE_NAME": os.environ.get("TABLE_NAME"), "GREETING": os.environ.get("GREETING")}
TOKEN = uuid.uuid4().hex


def handler(event, context):
    return {
        "imported": IMPORTED,
        "greeting_now": os.environ.get("GREETING"),
        "token": TOKEN,
        "module": __name__,
        "helper": helper.NAME,
        "event": event,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
    }
"""

TOY_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Globals:
  Function:
    Timeout: 7
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        GREETING: !Ref Greeting
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/echo/, Handler: app.handler}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/other/
      Handler: app.handler
      MemorySize: 1024
"""


@pytest.fixture
def toy(tmp_path: Path) -> Template:
    """A template whose handlers report the environment they saw at import and at invocation."""
    (tmp_path / "template.yaml").write_text(TOY_TEMPLATE)
    for name in ("echo", "other"):
        code = tmp_path / "functions" / name
        code.mkdir(parents=True)
        (code / "app.py").write_text(ECHO_APP)
        (code / "helper.py").write_text("NAME = 'next to app.py'\n")
    (tmp_path / "events" / "echo").mkdir(parents=True)
    (tmp_path / "events" / "echo" / "ping.json").write_text('{"ping": 1}')
    return load_template(tmp_path / "template.yaml")


def toy_runner(template: Template, tmp_path: Path) -> FunctionRunner:
    return FunctionRunner.for_template(template, {"Table": "toy-table"}, outbox_path=tmp_path / "outbox.jsonl")


def test_handler_sees_the_template_environment_at_import_and_call(toy: Template, tmp_path: Path) -> None:
    before = dict(os.environ)
    result = toy_runner(toy, tmp_path).invoke("EchoFunction", "echo/ping.json")
    assert result["imported"] == {"TABLE_NAME": "toy-table", "GREETING": "hello"}
    assert result["greeting_now"] == "hello"
    assert result["event"] == {"ping": 1}
    assert result["helper"] == "next to app.py"
    assert dict(os.environ) == before  # the function's environment does not leak into the caller


def test_cold_invocations_reimport_and_warm_ones_reuse(toy: Template, tmp_path: Path) -> None:
    runner = toy_runner(toy, tmp_path)
    first = runner.invoke("EchoFunction", {})
    warm = runner.invoke("EchoFunction", {}, env_overrides={"GREETING": "hi"})
    assert warm["token"] == first["token"]
    assert warm["imported"]["GREETING"] == "hello"  # import-time settings belong to the cold start
    assert warm["greeting_now"] == "hi"
    cold = runner.invoke("EchoFunction", {}, reuse=False, env_overrides={"GREETING": "hi"})
    assert cold["token"] != first["token"]
    assert cold["imported"]["GREETING"] == "hi"


def test_module_level_invoke_is_a_cold_start_each_time(toy: Template, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"template": toy, "physical": {"Table": "t"}, "outbox_path": tmp_path / "o"}
    one = harness.invoke("EchoFunction", {}, **kwargs)
    two = harness.invoke("EchoFunction", {}, **kwargs)
    assert one["token"] != two["token"]


def test_each_app_py_is_its_own_module_with_its_own_context(toy: Template, tmp_path: Path) -> None:
    runner = toy_runner(toy, tmp_path)
    echo = runner.invoke("EchoFunction", {})
    other = runner.invoke("OtherFunction", {})
    assert echo["module"] != other["module"]
    assert (echo["function_name"], echo["memory"]) == ("EchoFunction", 256)
    assert (other["function_name"], other["memory"]) == ("OtherFunction", 1024)
    assert echo["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert 0 < echo["remaining"] <= 7000
    given = LambdaContext("Custom", timeout_seconds=1)
    assert runner.invoke("EchoFunction", {}, context=given)["function_name"] == "Custom"


def test_a_missing_handler_file_is_a_clear_error(toy: Template, tmp_path: Path) -> None:
    (tmp_path / "functions" / "other" / "app.py").unlink()
    with pytest.raises(ImportError, match=r"OtherFunction.*CodeUri \+ Handler"):
        toy_runner(toy, tmp_path).invoke("OtherFunction", {})


def test_a_real_handler_runs_like_sam_local_invoke(aws_stack: AwsStack) -> None:
    response = aws_stack.invoke("AdminApiFunction", "admin_api/search_blocklist.json", reuse=False)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["items"] == []


# ---------------------------------------------------------------------- the events the local stack makes


def test_sns_event_from_a_real_envelope_parses_as_lambdas(moto_env: None) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message='{"messageBody": "HELP"}', Subject="s")
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    event = sns_event(json.loads(message["Body"]), subscription)
    parsed = parse(event=event, model=SnsModel)
    (record,) = parsed.Records
    assert record.Sns.Message == '{"messageBody": "HELP"}'
    assert str(record.Sns.TopicArn) == topic
    assert record.EventSubscriptionArn == subscription


def test_sqs_batches_delete_what_succeeded(moto_env: None) -> None:
    sqs: Any = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in ("ok", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def receive() -> list[dict[str, Any]]:
        return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"])

    seen: list[dict[str, Any]] = []

    def partial_failure(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(parse(event=event, model=SqsModel).model_dump())
        bad = [record["messageId"] for record in event["Records"] if record["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in bad]}

    messages = receive()
    failed = deliver_sqs_batch(sqs, url, arn, messages, partial_failure, report_failures=True)
    assert [m["Body"] for m in messages if m["MessageId"] in failed] == ["bad"]
    assert [m["Body"] for m in receive()] == ["bad"]
    assert seen[0]["Records"][0]["eventSourceARN"] == arn

    # Without ReportBatchItemFailures in the template, a returned list means nothing: all succeeded.
    assert deliver_sqs_batch(sqs, url, arn, receive(), partial_failure, report_failures=False) == set()
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    sqs.send_message(QueueUrl=url, MessageBody="boom")

    def crash(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    assert len(deliver_sqs_batch(sqs, url, arn, receive(), crash, report_failures=True)) == 1
    assert [m["Body"] for m in receive()] == ["boom"]  # an exception leaves the whole batch


def test_scheduled_event_is_eventbridges() -> None:
    schedule = real_template().schedules()[0]
    event = scheduled_event(schedule)
    parsed = parse(event=event, model=EventBridgeModel)
    assert parsed.detail_type == "Scheduled Event"
    assert parsed.source == "aws.events"


# ---------------------------------------------------------------------- the API Gateway emulation


def gateway(tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]) -> Client:
    def invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append((function_id, event))
        return {"statusCode": 201, "headers": {"X-From": function_id}, "body": json.dumps({"ok": True})}

    routes = [
        ApiRoute("GET", "/v1/numbers/{phone}", route_pattern("/v1/numbers/{phone}"), "Admin", True),
        ApiRoute("GET", "/v1/numbers/special", route_pattern("/v1/numbers/special"), "Special", True),
        ApiRoute("POST", "/v1/optins", route_pattern("/v1/optins"), "Optin", False),
        ApiRoute("ANY", "/files/{path+}", route_pattern("/files/{path+}"), "Files", False),
    ]
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>form</h1>")
    (tmp_path / "secret.txt").write_text("no")
    cors = {"AllowOrigin": "'*'", "AllowHeaders": "'Content-Type,X-Api-Key'", "AllowMethods": "'GET,POST'"}
    return Client(ApiGatewayApp(routes=routes, api_key="k", cors=cors, invoke=invoke, static_dir=web))


def test_gateway_routes_with_keys_and_builds_proxy_events(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    client = gateway(tmp_path, calls)
    assert client.get("/v1/numbers/%2B14155550123").status_code == 403
    assert client.get("/v1/numbers/x", headers={"x-api-key": "wrong"}).json == {"message": "Forbidden"}
    assert calls == []

    response = client.get("/v1/numbers/+14155550123?a=1&a=2&b=3", headers={"x-api-key": "k"})
    assert response.status_code == 201
    assert response.headers["X-From"] == "Admin"
    assert calls[-1][0] == "Admin"
    event = calls[-1][1]
    parsed = parse(event=event, model=APIGatewayProxyEventModel)
    assert parsed.resource == "/v1/numbers/{phone}"
    assert parsed.pathParameters == {"phone": "+14155550123"}
    assert parsed.queryStringParameters == {"a": "2", "b": "3"}
    assert parsed.multiValueQueryStringParameters == {"a": ["1", "2"], "b": ["3"]}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["requestId"]

    client.get("/v1/numbers/special", headers={"x-api-key": "k"})
    assert calls[-1][0] == "Special"  # a literal segment wins over {phone}
    client.post("/v1/optins", data=b"\xff\xfe")
    assert calls[-1][1]["isBase64Encoded"] is True
    client.delete("/files/a/b/c")
    assert calls[-1][1]["pathParameters"] == {"path": "a/b/c"}


def test_gateway_preflight_errors_and_static_files(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    client = gateway(tmp_path, calls)
    preflight = client.options("/v1/numbers/123", headers={"Origin": "http://localhost:8080"})
    assert preflight.status_code == 200  # no API key on preflight (AddApiKeyRequiredToCorsPreflight: false)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    # What API Gateway REST answers itself, without gateway responses in the template: a method no
    # route has, and a path no route or file has, are both 403 "Missing Authentication Token".
    assert client.put("/v1/optins").status_code == 403
    assert client.get("/v1/nothing").json == {"message": "Missing Authentication Token"}
    assert client.get("/").data == b"<h1>form</h1>"
    assert client.get("/../secret.txt").status_code == 403
    assert client.post("/_local/schedules/X").status_code == 404  # no scheduler wired in
    assert calls == []
