"""A real HTTP server (Werkzeug, in a thread, on a free port) around a Flask app."""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

from werkzeug.serving import make_server

from tailor.web.logs import install_json_logging


class LiveServer:
    def __init__(self, app: Any, host: str = "127.0.0.1"):
        install_json_logging()  # what `tailor serve` does: the tests read the JSON log lines
        self.server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or None.

    A server bound to it and called from this machine sees a peer that is *not*
    loopback: how the tests play a caller from the network without faking the address.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # UDP: nothing is sent, the kernel only picks the interface
            address = probe.getsockname()[0]
        if ipaddress.ip_address(address).is_loopback:
            return None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as check:
            check.bind((address, 0))
        return address
    except OSError:
        return None
