"""httpmock - the minimal asyncio HTTP/1.1 server the loopback mocks share.

Contract: serve(handler) binds 127.0.0.1 on a kernel-chosen port, prints
"PORT <n>" (and writes <n> to --port-file when given) once it listens, and
runs until SIGTERM/SIGINT.  handler(request) is a coroutine that answers with
request.respond(...) or by streaming through request.start()/send()/end().
Keep-alive, Content-Length request bodies and chunked request bodies are
supported; that is all libcurl sends.  Standard library only.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import urllib.parse

REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.1 we understand."""


class Request:
    """One parsed request and the means to answer it on its connection."""

    def __init__(self, method, target, headers, body, writer):
        self.method = method
        self.target = target
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        self.headers = headers          # lower-case name -> value
        self.body = body
        self.arrival = time.time()      # wall clock once the whole request was read
        self.writer = writer
        self.keep_alive = headers.get("connection", "").lower() != "close"
        self.chunked = False
        self.started = False

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self):
        return {k: v[-1] for k, v in urllib.parse.parse_qs(self.body.decode("latin-1"),
                                                           keep_blank_values=True).items()}

    def _head(self, status, headers):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        lines += ["%s: %s" % kv for kv in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def respond(self, status, body=b"", content_type="application/json", headers=()):
        """A complete response with Content-Length."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        hdrs = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        hdrs += list(headers)
        if not self.keep_alive:
            hdrs.append(("Connection", "close"))
        self.started = True
        self.writer.write(self._head(status, hdrs) + body)
        await self.writer.drain()

    async def start(self, status=200, content_type="text/event-stream", chunked=True,
                    headers=()):
        """Send the head of a streamed body: chunked, or delimited by close."""
        self.chunked = chunked
        hdrs = [("Content-Type", content_type), ("Cache-Control", "no-cache")]
        hdrs += list(headers)
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        else:
            hdrs.append(("Connection", "close"))
            self.keep_alive = False
        self.started = True
        self.writer.write(self._head(status, hdrs))
        await self.writer.drain()

    def send(self, data):
        """Queue body bytes; asyncio writes them to the socket at once when it can."""
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.writer.write(data)

    async def flush(self):
        await self.writer.drain()

    async def end(self):
        if self.chunked:
            self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    def cut(self):
        """Drop the connection mid-body, without any terminating chunk."""
        self.keep_alive = False
        self.writer.transport.abort()


async def _read_body(reader, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise BadRequest("body too large")
            body += await reader.readexactly(size)
            await reader.readline()
    length = int(headers.get("content-length", "0") or "0")
    if length < 0 or length > MAX_BODY_BYTES:
        raise BadRequest("bad Content-Length")
    return await reader.readexactly(length) if length else b""


async def _read_request(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER_BYTES:
        raise BadRequest("header too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise BadRequest("bad request line") from exc
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(reader, headers)
    return Request(method, target, headers, body, writer)


def _connection_handler(handler):
    async def on_connect(reader, writer):
        try:
            while True:
                try:
                    request = await _read_request(reader, writer)
                except (asyncio.IncompleteReadError, ConnectionError,
                        asyncio.LimitOverrunError):
                    return
                except BadRequest as exc:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n%s" % (len(str(exc)), str(exc).encode()))
                    return
                try:
                    await handler(request)
                except (ConnectionError, asyncio.CancelledError):
                    return
                if not request.started:
                    await request.respond(500, {"error": "mock handler sent nothing"})
                if not request.keep_alive or writer.transport.is_closing():
                    return
        finally:
            try:
                if not writer.transport.is_closing():
                    await writer.drain()
                writer.close()
            except (ConnectionError, RuntimeError):
                pass
    return on_connect


def base_arguments(description):
    """An ArgumentParser with the options every mock takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port-file", help="also write the chosen port to this file")
    return parser


def serve(handler, port_file=None, backlog=4096):
    """Run handler on 127.0.0.1:<ephemeral> until SIGTERM or SIGINT."""
    async def main():
        server = await asyncio.start_server(_connection_handler(handler), "127.0.0.1", 0,
                                            backlog=backlog, limit=MAX_HEADER_BYTES)
        port = server.sockets[0].getsockname()[1]
        if port_file:
            with open(port_file + ".tmp", "w", encoding="ascii") as f:
                f.write("%d\n" % port)
            os.replace(port_file + ".tmp", port_file)
        print("PORT %d" % port, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(main())
    sys.exit(0)
