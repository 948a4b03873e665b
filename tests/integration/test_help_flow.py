"""The first real flow through the choke point, the way `sam local invoke` runs each function:
inbound HELP -> compliance_reply on OutboundRequestsTopic -> send gate -> sender -> outbox."""

from __future__ import annotations

from tests.conftest import AwsStack


def test_help_reaches_the_outbox_through_the_gate(aws_stack: AwsStack) -> None:
    result = aws_stack.invoke("InboundSmsFunction", "inbound_sms/help.json")
    assert result["processed"] == 1

    envelopes = aws_stack.outbound_envelopes()
    assert len(envelopes) == 1
    assert envelopes[0]["MessageAttributes"]["sms_consent_origin"]["Value"] == "platform"
    assert aws_stack.outbox_lines() == [], "nothing reaches a handset without the gate"

    aws_stack.invoke("SendGateFunction", aws_stack.sns_event_for(envelopes[0]))
    (line,) = aws_stack.outbox_lines()
    assert line["to"] == "+14155550123"
    assert line["from"] == "+18005550100"
    assert line["category"] == "compliance_reply"
    assert "support@example.com" in line["body"]
    decided = [event for event in aws_stack.bus_events() if event["detail-type"] == "SendDecided"]
    assert [event["detail"]["reason"] for event in decided] == ["ALLOWED"]


def test_a_redelivered_message_sends_nothing_twice(aws_stack: AwsStack) -> None:
    aws_stack.invoke("InboundSmsFunction", "inbound_sms/help.json")
    aws_stack.invoke("InboundSmsFunction", "inbound_sms/help.json")
    assert len(aws_stack.outbound_envelopes()) == 1


def test_a_cold_start_reads_the_template_environment(aws_stack: AwsStack) -> None:
    aws_stack.invoke("InboundSmsFunction", "inbound_sms/help.json", reuse=False)
    (request,) = aws_stack.outbound_requests()
    assert request["category"] == "compliance_reply"
    assert request["sender"] == "+18005550100"
