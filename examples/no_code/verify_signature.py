# Check that a delivery comes from your Signoff server (Standard Webhooks), in a
# "Code by Zapier" step (Run Python). Input Data, mapped from the "Catch Raw Hook" trigger:
#   secret             the endpoint's whsec_… secret (the answer to POST /v1/webhooks)
#   webhook_id         the webhook-id header
#   webhook_timestamp  the webhook-timestamp header
#   webhook_signature  the webhook-signature header
#   body               the raw body, exactly as received
# A delivery that fails the check raises, which stops the Zap. Otherwise `output` holds the
# fields to route on in the next steps (Paths by Zapier, Filter by Zapier).
import base64
import hashlib
import hmac
import json
import time

TOLERANCE = 300  # seconds: older or newer deliveries are refused (replays)

key = base64.b64decode(input_data["secret"].removeprefix("whsec_"))
signed = f"{input_data['webhook_id']}.{input_data['webhook_timestamp']}.{input_data['body']}"
expected = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
offered = [s.split(",", 1)[1] for s in input_data["webhook_signature"].split() if "," in s]
if not any(hmac.compare_digest(expected, s) for s in offered):
    raise Exception("not signed with the Signoff secret: ignore this delivery")
if abs(time.time() - int(input_data["webhook_timestamp"])) > TOLERANCE:
    raise Exception("webhook-timestamp too far from now: a replay, or a clock that is off")

event = json.loads(input_data["body"])
data = event["data"]
output = {
    "type": event["type"],
    "request_id": data["request_id"],
    "decision": data["decision"],
    "feedback": data["feedback"] or "",
    "content": data["content"] if isinstance(data["content"], str) else json.dumps(data["content"]),
    "ticket_id": data["metadata"].get("ticket_id", ""),
    "route": data["metadata"].get("route", ""),
}
