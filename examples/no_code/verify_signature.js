// Check that a delivery comes from your Signoff server (Standard Webhooks), in an n8n Code
// node, a Zapier "Run JavaScript" step, or any Node.js receiver. Answers the parsed event, or
// throws when the delivery is not signed with `secret` or is older or newer than 5 minutes.
//
//   secret   the endpoint's whsec_… secret (the answer to POST /v1/webhooks)
//   headers  the delivery's headers (any case): webhook-id, webhook-timestamp, webhook-signature
//   rawBody  the body exactly as received (a string or a Buffer), not re-serialized JSON
const crypto = require("crypto");

function verifySignoff(secret, headers, rawBody, toleranceSeconds = 300) {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const id = h["webhook-id"];
  const timestamp = h["webhook-timestamp"];
  const signatures = String(h["webhook-signature"] || "");
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const body = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, "utf8");
  const expected = crypto
    .createHmac("sha256", key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, "utf8"), body]))
    .digest();
  const matches = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    const offered = Buffer.from(signature || "", "base64");
    return version === "v1" && offered.length === expected.length &&
      crypto.timingSafeEqual(offered, expected);
  });
  if (!matches) throw new Error("not signed with the Signoff secret: ignore this delivery");
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) {
    throw new Error("webhook-timestamp too far from now: a replay, or a clock that is off");
  }
  return JSON.parse(body.toString("utf8"));
}

if (typeof module !== "undefined") module.exports = { verifySignoff };
