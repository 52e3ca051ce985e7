#!/usr/bin/env python3
"""token_server - a loopback OAuth2 client-credentials token endpoint.

  POST /oauth2/token   grant_type=client_credentials[&scope=a b], HTTP Basic
                       auth with the form-urlencoded client id and secret
                       (RFC 6749 2.3.1); answers {access_token, token_type,
                       expires_in} with a distinct token each time, or an
                       RFC 6749 5.2 error.
  GET  /.well-known/openid-configuration   OIDC discovery pointing at itself
  GET  /stats          request counts and the tokens issued, as JSON
  POST /control        JSON {"mode","expires_in","delay_ms"} changes behaviour

Modes: ok, invalid_client, invalid_scope, http500.  The first line on stdout
is "PORT <n>".
"""

import asyncio
import base64
import binascii
import hmac
import itertools
import json
import secrets
import sys
import urllib.parse

import httpmock


class TokenEndpoint:
    """The endpoint's configuration, counters and issued tokens."""

    def __init__(self, args):
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.scopes = set(args.scope)
        self.expires_in = args.expires_in
        self.delay_ms = args.delay_ms
        self.mode = args.mode
        self.serial = itertools.count(1)
        self.stats = {"token_requests": 0, "issued": 0, "errors": 0,
                      "discovery_requests": 0, "in_flight": 0, "max_in_flight": 0}
        self.tokens = []

    def _client_ok(self, request):
        kind, _, blob = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(blob, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user = urllib.parse.unquote_plus(user)
        password = urllib.parse.unquote_plus(password)
        return (hmac.compare_digest(user, self.client_id)
                and hmac.compare_digest(password, self.client_secret))

    async def token(self, request):
        s = self.stats
        s["token_requests"] += 1
        s["in_flight"] += 1
        s["max_in_flight"] = max(s["max_in_flight"], s["in_flight"])
        try:
            if self.delay_ms:
                await asyncio.sleep(self.delay_ms / 1000)
            await self._answer(request)
        finally:
            s["in_flight"] -= 1

    async def _answer(self, request):
        form = request.form()
        asked = set(form.get("scope", "").split())
        if self.mode == "http500":
            error = (500, "server_error")
        elif request.headers.get("content-type", "").split(";")[0].strip() != \
                "application/x-www-form-urlencoded":
            error = (400, "invalid_request")
        elif form.get("grant_type") != "client_credentials":
            error = (400, "unsupported_grant_type")
        elif self.mode == "invalid_client" or not self._client_ok(request):
            error = (401, "invalid_client")
        elif self.mode == "invalid_scope" or not asked <= self.scopes:
            error = (400, "invalid_scope")
        else:
            error = None
        if error:
            self.stats["errors"] += 1
            status, code = error
            headers = [("WWW-Authenticate", "Basic")] if status == 401 else []
            await request.respond(status, {"error": code}, headers=headers)
            return
        token = "tok-%d-%s" % (next(self.serial), secrets.token_hex(16))
        self.tokens.append(token)
        self.stats["issued"] += 1
        await request.respond(200, {"access_token": token, "token_type": "Bearer",
                                    "expires_in": self.expires_in},
                              headers=[("Cache-Control", "no-store")])

    async def __call__(self, request):
        if request.method == "POST" and request.path.endswith("/token"):
            await self.token(request)
        elif request.path == "/.well-known/openid-configuration":
            self.stats["discovery_requests"] += 1
            base = "http://%s" % request.headers.get("host", "127.0.0.1")
            await request.respond(200, {"issuer": base,
                                        "token_endpoint": base + "/oauth2/token",
                                        "grant_types_supported": ["client_credentials"]})
        elif request.path == "/stats":
            await request.respond(200, dict(self.stats, tokens=self.tokens))
        elif request.method == "POST" and request.path == "/control":
            change = request.json() or {}
            for key in ("mode", "expires_in", "delay_ms"):
                if key in change:
                    setattr(self, key, change[key])
            await request.respond(200, {"mode": self.mode, "expires_in": self.expires_in,
                                        "delay_ms": self.delay_ms})
        else:
            await request.respond(404, {"error": "not_found"})


def main():
    parser = httpmock.base_arguments(__doc__.split("\n")[0])
    parser.add_argument("--client-id", default="loomlat-test")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--client-secret")
    secret.add_argument("--client-secret-file", help="read the client secret from this file")
    parser.add_argument("--scope", action="append", default=[],
                        help="an allowed scope (repeatable)")
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--mode", default="ok",
                        choices=["ok", "invalid_client", "invalid_scope", "http500"])
    args = parser.parse_args()
    if args.client_secret_file:
        with open(args.client_secret_file, encoding="utf-8") as f:
            args.client_secret = f.read().strip()
    httpmock.serve(TokenEndpoint(args), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
