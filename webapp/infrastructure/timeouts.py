"""Seconds per network operation of the message gateways (connect, each SMTP command,
HTTP connect and read): a send finishes well inside Policy.delivery_send_budget, so a
slow server never makes a worker hold a message past its lease
(tests/integration/delivery/test_delivery_outage.py checks this)."""

GATEWAY_TIMEOUT = 10
SMTP_TIMEOUT = 10
