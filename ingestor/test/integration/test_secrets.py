#!/usr/bin/env python3
"""Client secrets from a file, LOOMLAT_CLIENT_SECRET and AWS Secrets Manager;
no secret, key or token ever shows in the output or in the database."""

import json
import os
import tempfile

import harness

CLIENT_ID = "loomlat-test"
SECRET = "cs-" + "d41e8a0b97c3f526"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:loomlat-client-AbCdEf"
JSON_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:loomlat-json-GhIjKl"
AWS_KEY_ID = "AKIDLOOMLATTEST"
AWS_SECRET_KEY = "aws-sk-" + "5c0ffee5ecre7k3y"
AWS_SESSION = "aws-st-" + "0a1b2c3d4e5f"
AWS_ENV = {"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET_KEY,
           "AWS_SESSION_TOKEN": AWS_SESSION}


class World:
    """The mocks and the database every case shares, and everything printed."""

    def __init__(self, tmp):
        self.token = harness.start_mock("token_server", "--client-id", CLIENT_ID,
                                        "--client-secret", SECRET, "--scope", "invoke")
        self.store = harness.start_mock(
            "secrets_server", "--access-key", AWS_KEY_ID, "--region", "us-east-1",
            "--secret", ARN + "=" + SECRET,
            "--secret", JSON_ARN + "=" + json.dumps({"client_secret": SECRET}))
        self.agent = harness.start_mock("agent_server", "--ttft-ms", "5", "--tokens", "2",
                                        "--gap-ms", "1", "--cold", "0")
        self.db = harness.Database("secrets")
        self.tmp = tmp
        self.outputs = []

    def run(self, *args, env=None, unset=("LOOMLAT_CLIENT_SECRET",)):
        res = harness.loomlat("invoke", "--url", self.agent.url + "/v1/messages",
                              "--format", "anthropic", "--agent-id", "7", "--agent-name", "mock",
                              "--db", self.db.conninfo, "--allow-http", "--json", "-v",
                              "--token-url", self.token.url + "/oauth2/token",
                              "--client-id", CLIENT_ID, "--scope", "invoke", *args,
                              env=env, unset=unset)
        self.outputs.append(res.stdout + res.stderr)
        return res


def from_file(tap, w):
    path = harness.secret_file(w.tmp, "client-secret", SECRET + "\n")
    res = w.run("-n", "3", "--client-secret-file", path)
    tap.eq(res.rc, 0, "secret file: 3 invocations exit 0") or tap.diag("\n".join(res.explain()))
    missing = w.run("-n", "1", "--client-secret-file", os.path.join(w.tmp, "absent"))
    tap.eq(missing.rc, 66, "secret file missing: exit 66") or tap.diag(
        "\n".join(missing.explain()))


def from_env(tap, w):
    res = w.run("-n", "3", env={"LOOMLAT_CLIENT_SECRET": SECRET}, unset=())
    tap.eq(res.rc, 0, "LOOMLAT_CLIENT_SECRET: 3 invocations exit 0") or tap.diag(
        "\n".join(res.explain()))


def from_secrets_manager(tap, w):
    before = w.token.get("/stats")["token_requests"]
    res = w.run("-n", "200", "-c", "20", "--secret-arn", ARN, "--aws-endpoint", w.store.url,
                "--aws-region", "us-east-1", env=AWS_ENV)
    tap.eq(res.rc, 0, "Secrets Manager: 200 invocations exit 0") or tap.diag(
        "\n".join(res.explain()))
    stats = w.store.get("/stats")
    tap.eq((stats["requests"], stats["served"]), (1, 1),
           "Secrets Manager: one signed GetSecretValue for 200 invocations")
    tap.eq(w.token.get("/stats")["token_requests"] - before, 1,
           "Secrets Manager: one token request for 200 invocations")
    res = w.run("-n", "2", "--secret-arn", JSON_ARN, "--aws-endpoint", w.store.url, env=AWS_ENV)
    tap.eq(res.rc, 0, "Secrets Manager: a JSON SecretString's client_secret is used, region "
           "from the ARN") or tap.diag("\n".join(res.explain()))
    bad = w.run("-n", "2", "--secret-arn", ARN, "--aws-endpoint", w.store.url,
                env=dict(AWS_ENV, AWS_ACCESS_KEY_ID="AKIDUNKNOWN"))
    said = bad.stdout + bad.stderr
    tap.ok(bad.rc in (2, 69) and "403" in said and "UnrecognizedClient" in said,
           "Secrets Manager: a refused request is reported (exit 2 or 69, status in the message)",
           *bad.explain())


def wrong_secret(tap, w):
    path = harness.secret_file(w.tmp, "wrong-secret", "not-" + SECRET)
    res = w.run("-n", "2", "--client-secret-file", path)
    tap.ok(res.rc in (2, 69) and "invalid_client" in res.stdout + res.stderr,
           "wrong secret: the token endpoint's invalid_client is reported", *res.explain())


def no_leaks(tap, w):
    tokens = w.token.get("/stats")["tokens"]
    secrets = [SECRET, AWS_SECRET_KEY, AWS_SESSION] + tokens
    tap.ok(len(tokens) >= 3, "leak check: %d issued tokens to look for" % len(tokens))
    printed = "\n".join(w.outputs)
    leaked = [s for s in secrets if s in printed]
    tap.eq(leaked, [], "leak check: no secret or token in any stdout/stderr (-v)")
    stored = w.db.dump()
    tap.ok(stored.count("\n") >= 200, "leak check: the database holds the runs' rows")
    tap.eq([s for s in secrets if s in stored], [],
           "leak check: no secret or token in any loomlat table column")


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    with tempfile.TemporaryDirectory() as tmp:
        w = World(tmp)
        from_file(tap, w)
        from_env(tap, w)
        from_secrets_manager(tap, w)
        wrong_secret(tap, w)
        no_leaks(tap, w)


if __name__ == "__main__":
    main()
