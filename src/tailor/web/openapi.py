"""The OpenAPI 3.1 document of the HTTP API, maintained beside the routes it describes."""

from __future__ import annotations

from typing import Any

from tailor import __version__

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problems(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON or a wrong field (see `pointer`)",
        401: "Missing or bad signature / token",
        404: "Unknown template or slot",
        413: "Body too large",
        415: "Not JSON",
        422: "Aborted or broken template",
        503: "Store unreachable",
    }
    return {
        str(c): {"description": text.get(c, "Error"), "content": {"application/problem+json": {"schema": _PROBLEM}}}
        for c in codes
    }


def _segment_endpoint(kind: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": f"Segment-compatible {kind} call",
            "description": (
                "Write key as the HTTP basic-auth user or as `writeKey` in the body; "
                "gzip bodies accepted; idempotent on `messageId`."
            ),
            "tags": ["ingestion"],
            "security": [{"writeKey": []}, {}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "$ref": "#/components/schemas/SegmentMessage"
                            if kind != "batch"
                            else "#/components/schemas/SegmentBatch"
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Stored (durably) or already stored. `warnings` (only when there are some): "
                    "a messageId already used by the same sender for another message (not stored) or by "
                    "another person's message (both stored)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "success": {"type": "boolean"},
                                    "warnings": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "code": {"type": "string"},
                                                "pointer": {"type": "string"},
                                                "detail": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                **_problems(400, 401, 413),
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    """The complete document served at ``GET /openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tailor",
            "version": __version__,
            "description": (
                "Send-time email personalization: render webhooks for ESPs, Segment-compatible ingestion, "
                "profiles, health."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "tags": [{"name": "send-time"}, {"name": "ingestion"}, {"name": "profiles"}, {"name": "operations"}],
        "paths": {
            "/v1/render": {
                "post": {
                    "summary": "Render one email for one recipient",
                    "tags": ["send-time"],
                    "security": [{"signature": []}, {"bearerToken": []}, {"basicToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RenderRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "The personalized email and the reasons behind it",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/RenderResponse"}}
                            },
                        },
                        **_problems(400, 401, 404, 413, 415, 422, 503),
                    },
                }
            },
            "/v1/content/{template}/{slot}": {
                "get": {
                    "summary": "Connected-content JSON for one slot (Braze Connected Content, Iterable data feeds)",
                    "tags": ["send-time"],
                    "security": [{"bearerToken": []}, {"basicToken": []}, {"signature": []}],
                    "parameters": [
                        {"name": "template", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "slot", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "recipient",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "Profile id, user id or email",
                        },
                        {
                            "name": "send_id",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "Repeated calls with the same send_id return the same answer and count once",
                        },
                        {
                            "name": "at",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "format": "date-time"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The chosen block, its variables and products",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SlotContent"}}},
                        },
                        **_problems(400, 401, 404, 422, 503),
                    },
                }
            },
            "/v1/track": _segment_endpoint("track"),
            "/v1/identify": _segment_endpoint("identify"),
            "/v1/page": _segment_endpoint("page"),
            "/v1/alias": _segment_endpoint("alias"),
            "/v1/screen": _segment_endpoint("screen"),
            "/v1/group": _segment_endpoint("group"),
            "/v1/batch": _segment_endpoint("batch"),
            "/v1/esp/{provider}": {
                "post": {
                    "summary": "ESP event webhook (SendGrid, Mailgun, Postmark): opens, clicks, bounces, unsubscribes",
                    "description": "Each provider's own scheme is verified: SendGrid ECDSA signature, Mailgun HMAC, "
                    "Postmark basic auth; signed timestamps within 5 minutes, Mailgun tokens single-use. A provider "
                    "without complete settings is disabled (404). Idempotent on the provider's event id; "
                    "unsubscribes, hard bounces and spam reports become suppressions.",
                    "tags": ["ingestion"],
                    "parameters": [
                        {
                            "name": "provider",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["sendgrid", "mailgun", "postmark"]},
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": {
                            "description": "Stored (or already stored)",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "403": {
                            "description": "Mailgun: the token was already used with other event data (a replay)",
                            "content": {"application/problem+json": {"schema": _PROBLEM}},
                        },
                        "406": {
                            "description": "Mailgun: permanently unacceptable payload (do not retry)",
                            "content": {"application/problem+json": {"schema": _PROBLEM}},
                        },
                        **_problems(400, 401, 404, 413),
                    },
                }
            },
            "/v1/unsubscribe/{token}": {
                "parameters": [
                    {
                        "name": "token",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                        "description": "The signed token of a List-Unsubscribe link (no personal data in it)",
                    }
                ],
                "get": {
                    "summary": "The unsubscribe confirmation page (a prefetch by a mail scanner unsubscribes nobody)",
                    "tags": ["send-time"],
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "A page with a button that POSTs the one-click body",
                            "content": {"text/html": {}},
                        },
                        **_problems(404),
                    },
                },
                "post": {
                    "summary": "RFC 8058 one-click unsubscribe: records a suppression",
                    "tags": ["send-time"],
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["List-Unsubscribe"],
                                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "Unsubscribed (again: nothing changes)", "content": {"text/html": {}}},
                        **_problems(400, 404),
                    },
                },
            },
            "/v1/profiles/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "The profile document",
                    "tags": ["profiles"],
                    "responses": {
                        "200": {
                            "description": "Profile document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_problems(401, 404, 503),
                    },
                },
                "delete": {
                    "summary": "Erase everything about the person (one transaction)",
                    "tags": ["profiles"],
                    "responses": {
                        "200": {
                            "description": "Erasure receipt",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_problems(401, 404, 503),
                    },
                },
            },
            "/v1/profiles/{id}/export": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "Data-subject access: every stored datum about the person",
                    "tags": ["profiles"],
                    "responses": {
                        "200": {
                            "description": "Export document with schema_version",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_problems(401, 404, 503),
                    },
                },
            },
            "/v1/profiles/{id}/consents": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "put": {
                    "summary": "Set consents per purpose",
                    "tags": ["profiles"],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "additionalProperties": {"type": "boolean"}}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The consents now in force",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_problems(400, 401, 404, 503),
                    },
                },
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and readiness: the status for anyone; the details when authenticated",
                    "security": [{}, {"bearerToken": []}, {"signature": []}],
                    "tags": ["operations"],
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "503": {
                            "description": "Store unreachable",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": [{"bearerToken": []}, {"basicToken": []}, {"signature": []}],
                    "tags": ["operations"],
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "tags": ["operations"],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Tailor-Signature",
                    "description": (
                        't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<METHOD>.<path?query>.<body>"> with '
                        "TAILOR_SECRET; 300 s tolerance; valid for that one method and path"
                    ),
                },
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A static token from TAILOR_API_TOKENS",
                },
                "basicToken": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "A static token from TAILOR_API_TOKENS as the user name",
                },
                "writeKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "A Segment write key from TAILOR_WRITE_KEYS as the user name",
                },
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string", "format": "uri"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "pointer": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                        "reason": {"type": "string"},
                    },
                },
                "Recipient": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "email": {"type": "string"},
                        "user_id": {"type": "string"},
                        "traits": {"type": "object"},
                    },
                },
                "RenderRequest": {
                    "type": "object",
                    "required": ["template"],
                    "additionalProperties": False,
                    "properties": {
                        "template": {"type": "string"},
                        "recipient": {"$ref": "#/components/schemas/Recipient"},
                        "profile": {
                            "type": "object",
                            "description": "A full profile document instead of a stored recipient",
                        },
                        "context": {"type": "object"},
                        "at": {"type": "string", "format": "date-time"},
                        "send_id": {
                            "type": "string",
                            "description": "The ESP's send: repeated renders answer the same; the frequency cap "
                            "counts it (422 `aborted` with a `frequency cap` reason once reached)",
                        },
                        "explain": {
                            "type": "boolean",
                            "default": False,
                            "description": "Also say why each rule that did not match failed (the failing "
                            "part of its condition and the values it read); every rule considered and the "
                            "winners are always in `decisions`",
                        },
                    },
                },
                "RenderResponse": {
                    "type": "object",
                    "required": [
                        "subject",
                        "preheader",
                        "html",
                        "text",
                        "template_version",
                        "decisions",
                        "fallbacks",
                        "experiments",
                    ],
                    "properties": {
                        "subject": {"type": "string"},
                        "preheader": {"type": "string"},
                        "html": {"type": "string"},
                        "text": {"type": "string"},
                        "template_version": {"type": "string"},
                        "decisions": {"type": "array", "items": {"type": "object"}},
                        "fallbacks": {"type": "array", "items": {"type": "object"}},
                        "experiments": {"type": "object"},
                        "blocks": {"type": "object"},
                        "headers": {
                            "type": "object",
                            "description": "Headers the ESP must set on this email: List-Unsubscribe and "
                            "List-Unsubscribe-Post (RFC 8058 one-click; when the recipient has an address and "
                            "TAILOR_PUBLIC_URL is set), Message-ID (when a send_id is given)",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
                "SlotContent": {
                    "type": "object",
                    "required": ["template", "slot", "block"],
                    "properties": {
                        "template": {"type": "string"},
                        "slot": {"type": "string"},
                        "block": {"type": "string"},
                        "template_version": {"type": "string"},
                        "variables": {"type": "object"},
                        "products": {"type": "array", "items": {"type": "object"}},
                        "decisions": {"type": "array", "items": {"type": "object"}},
                        "fallbacks": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "SegmentMessage": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "messageId": {"type": "string"},
                        "userId": {"type": "string"},
                        "anonymousId": {"type": "string"},
                        "event": {"type": "string"},
                        "properties": {"type": "object"},
                        "traits": {"type": "object"},
                        "context": {"type": "object"},
                        "timestamp": {"type": "string"},
                        "writeKey": {"type": "string"},
                    },
                },
                "SegmentBatch": {
                    "type": "object",
                    "required": ["batch"],
                    "properties": {
                        "batch": {"type": "array", "items": {"$ref": "#/components/schemas/SegmentMessage"}},
                        "writeKey": {"type": "string"},
                    },
                },
            },
        },
    }
