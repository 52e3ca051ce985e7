#!/usr/bin/env python3
"""secrets_server - a loopback AWS Secrets Manager (GetSecretValue only).

  POST /  X-Amz-Target: secretsmanager.GetSecretValue, body {"SecretId": ARN}
          requires "Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/
          <region>/secretsmanager/aws4_request, SignedHeaders=..., Signature=..."
          (the signature itself cannot be checked without the key, but its
          shape, the access key id and the region are) and answers
          {"ARN","Name","SecretString","VersionId"}.
  GET /stats  request counts, as JSON

Secrets are given as --secret ARN=VALUE.  The first line on stdout is
"PORT <n>".
"""

import re
import sys

import httpmock

SIGV4 = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/"
                   r"(?P<region>[a-z0-9-]+)/secretsmanager/aws4_request,\s*"
                   r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=[0-9a-f]{64}$")


class SecretStore:
    """The stored secrets and what was asked of them."""

    def __init__(self, args):
        self.secrets = dict(item.split("=", 1) for item in args.secret)
        self.access_key = args.access_key
        self.region = args.region
        self.stats = {"requests": 0, "served": 0, "denied": 0, "not_found": 0}

    async def _error(self, request, status, kind, message, counter):
        self.stats[counter] += 1
        await request.respond(status, {"__type": kind, "message": message},
                              content_type="application/x-amz-json-1.1")

    async def get_secret_value(self, request):
        self.stats["requests"] += 1
        sig = SIGV4.match(request.headers.get("authorization", ""))
        if not sig or "x-amz-date" not in request.headers:
            await self._error(request, 400, "IncompleteSignature",
                              "missing or malformed SigV4 Authorization", "denied")
            return
        if sig["key"] != self.access_key or (self.region and sig["region"] != self.region):
            await self._error(request, 403, "UnrecognizedClientException",
                              "unknown access key or wrong region", "denied")
            return
        body = request.json() or {}
        arn = body.get("SecretId") if isinstance(body, dict) else None
        if arn not in self.secrets:
            await self._error(request, 400, "ResourceNotFoundException",
                              "Secrets Manager can't find the specified secret.", "not_found")
            return
        self.stats["served"] += 1
        await request.respond(200, {"ARN": arn, "Name": arn.rsplit(":", 1)[-1],
                                    "SecretString": self.secrets[arn],
                                    "VersionId": "00000000-0000-4000-8000-000000000001",
                                    "VersionStages": ["AWSCURRENT"]},
                              content_type="application/x-amz-json-1.1")

    async def __call__(self, request):
        target = request.headers.get("x-amz-target", "")
        if request.method == "POST" and request.path == "/":
            if target == "secretsmanager.GetSecretValue":
                await self.get_secret_value(request)
            else:
                await self._error(request, 400, "UnknownOperationException",
                                  "unsupported X-Amz-Target", "denied")
        elif request.path == "/stats":
            await request.respond(200, self.stats)
        else:
            await request.respond(404, {"message": "not found"})


def main():
    parser = httpmock.base_arguments(__doc__.split("\n")[0])
    parser.add_argument("--secret", action="append", default=[], metavar="ARN=VALUE")
    parser.add_argument("--access-key", default="AKIDLOOMLATTEST")
    parser.add_argument("--region", default="", help="require this region (default: any)")
    args = parser.parse_args()
    if any("=" not in s for s in args.secret):
        parser.error("--secret takes ARN=VALUE")
    httpmock.serve(SecretStore(args), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
