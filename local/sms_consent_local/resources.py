"""Create the template's resources in an AWS emulator (moto in process, or moto's server).

Returns the physical map the template resolver needs: logical id -> Ref value, and
"<logical id>.<attribute>" -> GetAtt value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sms_consent_local.template import ACCOUNT_ID, STACK_NAME, Template

API_KEY_ID = "ConsentApiApiKey"  # SAM's name for the key it creates with the API's usage plan


@dataclass
class CreatedResources:
    physical: dict[str, str] = field(default_factory=dict)
    api_key_value: str = ""
    # EventBridge rules whose targets moto cannot deliver to (SNS): queue URL -> target ARN.
    relays: dict[str, str] = field(default_factory=dict)


def _clients(region: str, endpoint_url: str | None) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session()
    return {
        name: session.client(name, region_name=region, endpoint_url=endpoint_url)
        for name in ("dynamodb", "sns", "sqs", "events", "apigateway")
    }


def _table(client: Any, name: str, properties: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    client.create_table(**request)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


def _queue(client: Any, name: str, properties: dict[str, Any]) -> tuple[str, str]:
    attributes = {}
    if "VisibilityTimeout" in properties:
        attributes["VisibilityTimeout"] = str(properties["VisibilityTimeout"])
    if "MessageRetentionPeriod" in properties:
        attributes["MessageRetentionPeriod"] = str(properties["MessageRetentionPeriod"])
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def create_resources(template: Template, *, region: str, endpoint_url: str | None = None) -> CreatedResources:
    """Create tables, topics, queues, the bus and its rules, roles (as names) and the API key."""
    clients = _clients(region, endpoint_url)
    created = CreatedResources()
    physical = created.physical

    for logical_id in template.resources_of("AWS::SQS::Queue"):
        url, arn = _queue(clients["sqs"], f"{STACK_NAME}-{logical_id}", {})
        physical.update({logical_id: url, f"{logical_id}.Arn": arn, f"{logical_id}.QueueName": arn.rsplit(":", 1)[1]})
    # Redrive and other attributes may refer to other queues: set them once every queue exists.
    for logical_id, resource in template.resources_of("AWS::SQS::Queue").items():
        properties = template.resolve(resource.get("Properties", {}), physical)
        attributes = {}
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        if "VisibilityTimeout" in properties:
            attributes["VisibilityTimeout"] = str(properties["VisibilityTimeout"])
        if attributes:
            clients["sqs"].set_queue_attributes(QueueUrl=physical[logical_id], Attributes=attributes)

    for logical_id in template.resources_of("AWS::SNS::Topic"):
        arn = clients["sns"].create_topic(Name=f"{STACK_NAME}-{logical_id}")["TopicArn"]
        physical.update(
            {logical_id: arn, f"{logical_id}.TopicArn": arn, f"{logical_id}.TopicName": arn.rsplit(":", 1)[1]}
        )

    for logical_id, resource in template.resources_of("AWS::DynamoDB::Table").items():
        name = f"{STACK_NAME}-{logical_id}"
        _table(clients["dynamodb"], name, template.resolve(resource["Properties"], physical))
        physical.update({logical_id: name, f"{logical_id}.Arn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"})

    for logical_id in template.resources_of("AWS::IAM::Role"):
        physical.update({logical_id: logical_id, f"{logical_id}.Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}"})

    for logical_id in template.resources_of("AWS::Serverless::Function"):
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{logical_id}"
        physical.update({logical_id: logical_id, f"{logical_id}.Arn": arn})

    for logical_id, resource in template.resources_of("AWS::Events::EventBus").items():
        name = template.resolve(resource["Properties"]["Name"], physical)
        arn = clients["events"].create_event_bus(Name=name)["EventBusArn"]
        physical.update({logical_id: name, f"{logical_id}.Name": name, f"{logical_id}.Arn": arn})

    for logical_id, resource in template.resources_of("AWS::Events::Rule").items():
        properties = template.resolve(resource["Properties"], physical)
        bus = properties.get("EventBusName", "default")
        clients["events"].put_rule(
            Name=logical_id, EventBusName=bus, EventPattern=json.dumps(properties["EventPattern"])
        )
        targets = []
        for target in properties.get("Targets", []):
            if ":sns:" in target["Arn"]:
                # moto's EventBridge cannot deliver to SNS: a queue stands in, and the stack relays it.
                url, arn = _queue(clients["sqs"], f"{STACK_NAME}-{logical_id}-{target['Id']}-relay", {})
                created.relays[url] = target["Arn"]
                targets.append({"Id": target["Id"], "Arn": arn})
            else:
                targets.append({"Id": target["Id"], "Arn": target["Arn"]})
        clients["events"].put_targets(Rule=logical_id, EventBusName=bus, Targets=targets)
        physical.update(
            {logical_id: logical_id, f"{logical_id}.Arn": f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{logical_id}"}
        )

    for logical_id in template.resources_of("AWS::Serverless::Api"):
        key = clients["apigateway"].create_api_key(name=f"{STACK_NAME}-{logical_id}", enabled=True)
        physical.update({logical_id: "local", f"{logical_id}ApiKey": key["id"]})
        created.api_key_value = key["value"]
    return created
