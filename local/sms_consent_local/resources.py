"""Create the template's resources in an AWS endpoint (moto in process, or moto's server).

Returns the physical map the template resolver needs: logical id -> Ref value, and
"<logical id>.<attribute>" -> GetAtt value. Resources the emulator has no use for (alarms, policies)
are skipped; what the functions talk to (tables, topics, queues, the bus and its rules, the API key)
is created from the template's own properties.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sms_consent_local.buckets import create_buckets
from sms_consent_local.template import ACCOUNT_ID, STACK_NAME, Template, TemplateError

API_KEY_ID = "ConsentApiApiKey"  # SAM's name for the key of ConsentApi's usage plan: <Api logical id>ApiKey
SERVICES = ("dynamodb", "sns", "sqs", "events", "apigateway", "s3")

# CloudFormation queue properties that are SQS attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
)


@dataclass
class CreatedResources:
    physical: dict[str, str] = field(default_factory=dict)
    api_key_value: str = ""  # the first API's key (the template has one API)
    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # Api logical id -> (key id, key value)
    # EventBridge rules whose targets moto cannot deliver to (SNS): relay queue URL -> target ARN.
    relays: dict[str, str] = field(default_factory=dict)


def make_clients(region: str, endpoint_url: str | None = None) -> dict[str, Any]:
    """boto3 clients for the services the template's resources live in."""
    import boto3

    session: Any = boto3.session.Session()  # Any: the stubs type clients per literal service name
    return {name: session.client(name, region_name=region, endpoint_url=endpoint_url) for name in SERVICES}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _queue_arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


def create_queue(sqs: Any, name: str, attributes: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Create (or find) a queue; returns its URL and ARN."""
    url: str = sqs.create_queue(QueueName=name, Attributes=dict(attributes or {}))["QueueUrl"]
    return url, _queue_arn(sqs, url)


def _create_queues(template: Template, clients: Mapping[str, Any], physical: dict[str, str]) -> None:
    sqs = clients["sqs"]
    queues = template.resources_of("AWS::SQS::Queue")
    for logical_id, resource in queues.items():
        # Queue names and plain attributes first; redrive policies name other queues, so they come after.
        raw = resource.get("Properties", {})
        fifo = bool(template.resolve(raw.get("FifoQueue", False), physical))
        name = template.resolve(raw["QueueName"], physical) if "QueueName" in raw else f"{STACK_NAME}-{logical_id}"
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {key: _text(template.resolve(raw[key], physical)) for key in _QUEUE_ATTRIBUTES if key in raw}
        url, arn = create_queue(sqs, name, attributes)
        physical.update({logical_id: url, f"{logical_id}.Arn": arn, f"{logical_id}.QueueName": name})
        physical[f"{logical_id}.QueueUrl"] = url
    for logical_id, resource in queues.items():
        properties = template.resolve(resource.get("Properties", {}), physical)
        if "RedrivePolicy" in properties:
            sqs.set_queue_attributes(
                QueueUrl=physical[logical_id], Attributes={"RedrivePolicy": json.dumps(properties["RedrivePolicy"])}
            )


def _create_topics(template: Template, clients: Mapping[str, Any], physical: dict[str, str]) -> None:
    for logical_id, resource in template.resources_of("AWS::SNS::Topic").items():
        properties = template.resolve(resource.get("Properties", {}), physical)
        name = properties.get("TopicName", f"{STACK_NAME}-{logical_id}")
        attributes = {}
        if properties.get("FifoTopic"):
            attributes["FifoTopic"] = "true"
            name = name if name.endswith(".fifo") else name + ".fifo"
        if "DisplayName" in properties:
            attributes["DisplayName"] = str(properties["DisplayName"])
        arn = clients["sns"].create_topic(Name=name, Attributes=attributes)["TopicArn"]
        physical.update({logical_id: arn, f"{logical_id}.TopicArn": arn, f"{logical_id}.TopicName": name})


def _create_table(client: Any, name: str, properties: dict[str, Any]) -> str | None:
    """Create the table; its stream's ARN when it has one (the GetAtt StreamArn value)."""
    billing = properties.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": billing,
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(key):
            request[key] = properties[key]
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = properties.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled", False))}
    description = client.create_table(**request)["TableDescription"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled", True):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    pitr = properties.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    stream_arn: str | None = description.get("LatestStreamArn")
    return stream_arn


def _create_rules(template: Template, clients: Mapping[str, Any], created: CreatedResources, region: str) -> None:
    physical = created.physical
    for logical_id, resource in template.resources_of("AWS::Events::Rule").items():
        properties = template.resolve(resource["Properties"], physical)
        bus = properties.get("EventBusName", "default")
        name = properties.get("Name", f"{STACK_NAME}-{logical_id}")
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": properties.get("State", "ENABLED")}
        if "EventPattern" in properties:
            rule["EventPattern"] = json.dumps(properties["EventPattern"])
        if "ScheduleExpression" in properties:
            rule["ScheduleExpression"] = properties["ScheduleExpression"]
        arn = clients["events"].put_rule(**rule)["RuleArn"]
        targets = []
        for target in properties.get("Targets", []):
            delivered = {key: value for key, value in target.items() if key in ("Id", "Input", "InputPath")}
            if "InputTransformer" in target:
                delivered["InputTransformer"] = target["InputTransformer"]
            if ":sns:" in target["Arn"]:
                # moto's EventBridge delivers to SQS but not to SNS: a queue stands in, and the local
                # stack forwards what reaches it to the topic (see stack.LocalStack._relay_rules).
                url, queue_arn = create_queue(clients["sqs"], f"{STACK_NAME}-{logical_id}-{target['Id']}-relay")
                created.relays[url] = target["Arn"]
                targets.append({**delivered, "Arn": queue_arn})
            else:
                targets.append({**delivered, "Arn": target["Arn"]})
        if targets:
            clients["events"].put_targets(Rule=name, EventBusName=bus, Targets=targets)
        physical.update({logical_id: name, f"{logical_id}.Arn": arn})


def create_resources(
    template: Template,
    *,
    region: str,
    endpoint_url: str | None = None,
    clients: Mapping[str, Any] | None = None,
) -> CreatedResources:
    """Create queues, topics, tables, the bus and its rules, and the API keys; name the rest.

    `clients` (service name -> boto3 client, see SERVICES) picks the endpoint; without it, clients
    are made for `endpoint_url` (None: the default endpoint, which `moto.mock_aws` intercepts).
    """
    clients = clients or make_clients(region, endpoint_url)
    missing = [name for name in SERVICES if name not in clients]
    if missing:
        raise TemplateError(f"create_resources needs clients for {missing}")
    created = CreatedResources()
    physical = created.physical

    # Names first for what has no emulator-side existence but may be referenced.
    for logical_id in template.resources_of("AWS::IAM::Role"):
        physical.update({logical_id: logical_id, f"{logical_id}.Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}"})
    for logical_id, resource in template.resources_of("AWS::Serverless::Function").items():
        name = resource.get("Properties", {}).get("FunctionName", logical_id)
        name = name if isinstance(name, str) else logical_id
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
        physical.update({logical_id: name, f"{logical_id}.Arn": arn})
    for logical_id in template.resources_of("AWS::Serverless::LayerVersion"):
        physical[logical_id] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{logical_id}:1"

    _create_queues(template, clients, physical)
    _create_topics(template, clients, physical)

    for logical_id, resource in template.resources_of("AWS::DynamoDB::Table").items():
        properties = template.resolve(resource["Properties"], physical)
        name = properties.get("TableName", f"{STACK_NAME}-{logical_id}")
        stream_arn = _create_table(clients["dynamodb"], name, properties)
        physical.update({logical_id: name, f"{logical_id}.Arn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"})
        if stream_arn:
            physical[f"{logical_id}.StreamArn"] = stream_arn

    for logical_id, resource in template.resources_of("AWS::Events::EventBus").items():
        name = template.resolve(resource["Properties"]["Name"], physical)
        arn = clients["events"].create_event_bus(Name=name)["EventBusArn"]
        physical.update({logical_id: name, f"{logical_id}.Name": name, f"{logical_id}.Arn": arn})

    create_buckets(template, clients["s3"], physical, region)  # before the rules that name them
    _create_rules(template, clients, created, region)

    for logical_id, resource in template.resources_of("AWS::SNS::Subscription").items():
        properties = template.resolve(resource["Properties"], physical)
        if properties.get("Protocol") == "sqs":  # the only protocol the emulator can deliver to
            arn = clients["sns"].subscribe(
                TopicArn=properties["TopicArn"], Protocol="sqs", Endpoint=properties["Endpoint"]
            )["SubscriptionArn"]
            physical[logical_id] = arn

    for logical_id in template.resources_of("AWS::Serverless::Api"):
        # SAM creates <Api>ApiKey with the usage plan; moto's API Gateway makes a real key id and value.
        key = clients["apigateway"].create_api_key(name=f"{STACK_NAME}-{logical_id}", enabled=True)
        physical.update(
            {logical_id: "local", f"{logical_id}.RootResourceId": "local", f"{logical_id}ApiKey": key["id"]}
        )
        created.api_keys[logical_id] = (key["id"], key["value"])
        created.api_key_value = created.api_key_value or key["value"]
    return created
