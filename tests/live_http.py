"""Helpers for tests that talk to a real server on a loopback port."""

from __future__ import annotations

import http.client
import json
import time


def call(port: int, method: str, path: str, body=None, host: str | None = None, conn=None):
    """(status, decoded JSON body or None) of one request; on ``conn`` (kept open) or a new connection."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    raw = r.read()
    if conn is None:
        c.close()
    return r.status, (json.loads(raw) if raw else None)


def wait_for(fn, timeout=20.0, every=0.2):
    """``fn()``'s first truthy value within ``timeout`` seconds (else its last value)."""
    end = time.time() + timeout
    while time.time() < end:
        got = fn()
        if got:
            return got
        time.sleep(every)
    return fn()
