"""Adapters behind the ports in `sms_consent.ports`: the only modules here that talk to AWS."""
