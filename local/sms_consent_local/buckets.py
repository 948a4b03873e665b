"""The template's S3 buckets in the emulator, with their EventBridge notifications.

A bucket with `NotificationConfiguration.EventBridgeConfiguration` sends its object-created events
to the default bus, where the template's rules (created after the buckets, since their patterns name
them) route them: moto does this as S3 does, so a presigned upload to the local stack starts an
import end to end. Conditional buckets (the console's) are left out by `resources_of`.
"""

from __future__ import annotations

from typing import Any

from sms_consent_local.template import ACCOUNT_ID, STACK_NAME, Template


def create_buckets(template: Template, s3: Any, physical: dict[str, str], region: str) -> None:
    for logical_id, resource in template.resources_of("AWS::S3::Bucket").items():
        properties = template.resolve(resource.get("Properties", {}), physical)
        name = properties.get("BucketName") or f"{STACK_NAME}-{logical_id}-{ACCOUNT_ID}".lower()
        request: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**request)
        notifications = properties.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        physical.update({logical_id: name, f"{logical_id}.Arn": f"arn:aws:s3:::{name}"})
