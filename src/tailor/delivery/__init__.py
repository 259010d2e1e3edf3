"""Delivering rendered emails by SMTP, exactly as far as SMTP allows: at most once per send.

* :mod:`~tailor.delivery.message` — the record every producer hands over, and its MIME message;
* :mod:`~tailor.delivery.smtp` — the relay URL, one connection, reply codes as outcomes;
* :mod:`~tailor.delivery.journal` — the ``deliveries`` table and its at-most-once states;
* :mod:`~tailor.delivery.sender` — records in, journaled transactions out (cap, rate, retries);
* :mod:`~tailor.delivery.unsubscribe` — signed one-click unsubscribe links (RFC 8058);
* :mod:`~tailor.delivery.frequency` — the frequency cap (Smart Sending);
* :mod:`~tailor.delivery.records` — producers: a render, a batch output folder, a trigger episode;
* :mod:`~tailor.delivery.seeds` — "send a test" to the seed list (CLI and studio).

docs/delivery.md is the user's guide.

Imports are per module (``from tailor.delivery.sender import Sender``): the rules loader
reads :mod:`~tailor.delivery.frequency` and must not pull SMTP or the store with it.
"""
