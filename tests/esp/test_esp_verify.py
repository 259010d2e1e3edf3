"""Each provider's authentication scheme, without HTTP."""

from __future__ import annotations

import base64

import pytest
from esp_helpers import MAILGUN_KEY, dumps, mailgun_signed, new_sendgrid_keys, sample, sendgrid_headers

from tailor.esp import RequestParts, SignatureError, mailgun, postmark, sendgrid


def test_sendgrid_signature(sendgrid_keys) -> None:
    private, public_der = sendgrid_keys
    body = dumps(sample("sendgrid_events"))
    headers = sendgrid_headers(private, body, "1513299569")
    signed_at = 1513299569.0
    sendgrid.verify(RequestParts(body=body, headers=headers), public_der, now=signed_at + 299)
    # PEM works too, and header names are case-insensitive
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    sendgrid.verify(RequestParts(body=body, headers={k.lower(): v for k, v in headers.items()}), pem, now=signed_at)


@pytest.mark.parametrize("offset", [-301, 301, 3 * 365 * 86400])
def test_sendgrid_signature_outside_the_window_refused(sendgrid_keys, offset) -> None:
    """A valid signature whose signed timestamp is over 5 minutes away (a captured request replayed later)."""
    private, public_der = sendgrid_keys
    body = dumps(sample("sendgrid_events"))
    headers = sendgrid_headers(private, body, "1513299569")
    with pytest.raises(SignatureError, match="300 s"):
        sendgrid.verify(RequestParts(body=body, headers=headers), public_der, now=1513299569.0 + offset)
    headers = sendgrid_headers(private, body, "nan")  # signed, but not a time
    with pytest.raises(SignatureError):
        sendgrid.verify(RequestParts(body=body, headers=headers), public_der, now=1513299569.0)


@pytest.mark.parametrize("tamper", ["body", "timestamp", "signature", "other-key", "missing", "not-base64"])
def test_sendgrid_bad_signatures(sendgrid_keys, tamper) -> None:
    private, public_der = sendgrid_keys
    body = dumps(sample("sendgrid_events"))
    headers = sendgrid_headers(private, body, "1513299569")
    if tamper == "body":
        body = body.replace(b"example@test.com", b"exampl3@test.com", 1)
    elif tamper == "timestamp":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = "1513299570"
    elif tamper == "signature":
        raw = bytearray(base64.b64decode(headers["X-Twilio-Email-Event-Webhook-Signature"]))
        raw[-1] ^= 1
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(bytes(raw)).decode()
    elif tamper == "other-key":
        public_der = new_sendgrid_keys()[1]
    elif tamper == "missing":
        del headers["X-Twilio-Email-Event-Webhook-Signature"]
    else:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "%%%"
    with pytest.raises(SignatureError):
        sendgrid.verify(RequestParts(body=body, headers=headers), public_der)


def test_sendgrid_bad_key() -> None:
    with pytest.raises(ValueError):
        sendgrid.load_public_key("not a key!")


def test_mailgun_signature() -> None:
    payload = mailgun_signed(sample("mailgun_delivered"))
    token = mailgun.verify(RequestParts(body=dumps(payload)), MAILGUN_KEY)
    # the single-use key is the signature value (what was signed), not the token alone
    assert token.provider == "mailgun" and token.token == payload["signature"]["signature"]
    block = payload["signature"]
    # same signature, other event data: the same key with another digest (a replay)
    other = mailgun_signed(sample("mailgun_opened"), token=block["token"], timestamp=block["timestamp"])
    assert mailgun.verify(RequestParts(body=dumps(other)), MAILGUN_KEY).token == token.token
    assert mailgun.verify(RequestParts(body=dumps(other)), MAILGUN_KEY).digest != token.digest
    with pytest.raises(SignatureError):
        mailgun.verify(RequestParts(body=dumps(payload)), "another-key")
    forged = {**payload, "signature": {**payload["signature"], "token": "x" + payload["signature"]["token"]}}
    with pytest.raises(SignatureError):
        mailgun.verify(RequestParts(body=dumps(forged)), MAILGUN_KEY)
    with pytest.raises(SignatureError):  # the documented sample is signed with Mailgun's key, not ours
        mailgun.verify(RequestParts(body=dumps(sample("mailgun_delivered"))), MAILGUN_KEY)
    with pytest.raises(SignatureError):
        mailgun.verify(RequestParts(body=dumps({"event-data": {}})), MAILGUN_KEY)
    with pytest.raises(SignatureError):
        mailgun.verify(RequestParts(body=b"not json"), MAILGUN_KEY)


@pytest.mark.parametrize("offset", [-301, 301, 4 * 365 * 86400])
def test_mailgun_stale_timestamp_refused(offset) -> None:
    """Mailgun signs only timestamp + token: an old signature must not carry new event data."""
    import time

    payload = mailgun_signed(sample("mailgun_delivered"))
    signed_at = float(payload["signature"]["timestamp"])
    mailgun.verify(RequestParts(body=dumps(payload)), MAILGUN_KEY, now=signed_at + 299)
    with pytest.raises(SignatureError, match="300 s"):
        mailgun.verify(RequestParts(body=dumps(payload)), MAILGUN_KEY, now=signed_at + offset)
    old = mailgun_signed(sample("mailgun_delivered"), timestamp=str(int(time.time()) - 4 * 365 * 86400))
    with pytest.raises(SignatureError, match="300 s"):
        mailgun.verify(RequestParts(body=dumps(old)), MAILGUN_KEY)


#: spellings ``float()`` accepts for the same signed second (``1513299569``)
RESPELLED_TIMESTAMPS = ["1513299569e0", "1513299569.0", " 1513299569", "1_513_299_569", "+1513299569", "١٥١٣٢٩٩٥٦٩"]


@pytest.mark.parametrize("timestamp", RESPELLED_TIMESTAMPS)
def test_signed_timestamps_are_digits_only(sendgrid_keys, timestamp) -> None:
    """Both providers: a validly signed timestamp that is not plain digits is refused, whatever float() says."""
    private, public_der = sendgrid_keys
    body = dumps(sample("sendgrid_events"))
    headers = sendgrid_headers(private, body, timestamp)
    with pytest.raises(SignatureError, match="digits only"):
        sendgrid.verify(RequestParts(body=body, headers=headers), public_der, now=1513299569.0)
    payload = mailgun_signed(sample("mailgun_delivered"), timestamp=timestamp)
    with pytest.raises(SignatureError, match="digits only"):
        mailgun.verify(RequestParts(body=dumps(payload)), MAILGUN_KEY, now=1513299569.0)


def test_mailgun_claims_the_signature_not_the_token() -> None:
    """The single-use key is the (normalized) signature: re-splitting timestamp + token cannot make it new."""
    payload = mailgun_signed(sample("mailgun_delivered"))
    block = payload["signature"]
    shouted = {**payload, "signature": {**block, "signature": " " + block["signature"].upper() + " "}}
    signed_at = float(block["timestamp"])
    for sent in (payload, shouted):
        claimed = mailgun.verify(RequestParts(body=dumps(sent)), MAILGUN_KEY, now=signed_at)
        assert claimed.token == block["signature"] != block["token"]


def test_postmark_basic_auth() -> None:
    creds = ("hook", "pw")
    postmark.verify(RequestParts(body=b"{}", username="hook", password="pw"), creds)
    for user, password in [("hook", "nope"), ("nope", "pw"), (None, None), ("hook", None)]:
        with pytest.raises(SignatureError):
            postmark.verify(RequestParts(body=b"{}", username=user, password=password), creds)


@pytest.mark.parametrize("creds", [("hook", ""), ("", "pw"), ("", "")])
def test_postmark_incomplete_credentials_never_match(creds) -> None:
    """A user configured without a password must not accept an empty password."""
    user, password = creds
    with pytest.raises(SignatureError):
        postmark.verify(RequestParts(body=b"{}", username=user, password=password), creds)


def test_incomplete_configuration_disables_the_provider() -> None:
    from tailor.esp import EspConfig, ProviderNotConfigured, verify

    config = EspConfig(postmark_user="hook")
    assert config.missing("postmark") == ("TAILOR_POSTMARK_PASSWORD",) and config.secret("postmark") is None
    with pytest.raises(ProviderNotConfigured, match="TAILOR_POSTMARK_PASSWORD"):
        verify("postmark", RequestParts(body=b"{}", username="hook", password=""), config)
    with pytest.raises(ProviderNotConfigured, match="TAILOR_MAILGUN_SIGNING_KEY"):
        verify("mailgun", RequestParts(body=b"{}"), config)
