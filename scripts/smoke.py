#!/usr/bin/env python3
"""Smoke test of a deployed stack: what only API Gateway in front of the functions can show.

    scripts/smoke.sh <stack-name>                  # reads ApiUrl and AllowedOrigins from the stack
    scripts/smoke.sh --api-url URL --origin ORIGIN # any endpoint (the local test: a stand-in)

Checks, in order:
  1. GET /bookings without a token, from the allowed origin, answers 401 (the JWT authorizer
     runs before any function) with Access-Control-Allow-Origin for that origin.
  2. CORS preflights from the allowed origin (GET on the list, POST on a cancel) answer with
     that origin and the method and authorization header allowed; one from an origin the stack
     does not list gets no CORS headers at all.
  3. With a test customer's JWT (SMOKE_TEST_JWT, or the output of SMOKE_TEST_JWT_COMMAND):
     GET /bookings answers 200 with a booking list. 503 `not-configured` means the stack works but
     its OmniLab secret still holds placeholders: the fix is named, and it fails only with
     --require-configured (the pipeline passes it for uat and prod).
Without a token, check 3 fails unless --no-token says to skip it (then it says so).

Only the standard library, plus boto3 (the SAM CLI's, in .venv) when a stack name is given.
Exit status: 0 all checks passed, 1 a check failed, 2 usage or the stack could not be read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

NOT_CONFIGURED = "tag:omnilab-bookings,2026:not-configured"
# An origin no stack lists: a preflight from it must get no CORS headers.
FOREIGN_ORIGIN = "https://smoke-test.invalid"
TIMEOUT_S = 15


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer to check, not to follow
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=TIMEOUT_S) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def stack_outputs(stack: str, region: str | None) -> tuple[str, list[str], str | None]:
    """ApiUrl, the AllowedOrigins parameter and SecretArn of a deployed stack."""
    try:
        import boto3  # noqa: PLC0415 - only needed for a stack name
    except ImportError:
        sys.exit("smoke: reading a stack needs boto3 (the project venv has it): run via scripts/smoke.sh")
    # boto3 reads AWS_DEFAULT_REGION; the SDKs and GitHub's AWS action also set AWS_REGION.
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    cfn = boto3.client("cloudformation", region_name=region) if region else boto3.client("cloudformation")
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as err:  # noqa: BLE001 - any failure here is a usage problem, reported as such
        print(f"smoke: cannot describe stack {stack}: {err}", file=sys.stderr)
        sys.exit(2)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    if "ApiUrl" not in outputs:
        print(f"smoke: stack {stack} has no ApiUrl output (status {found.get('StackStatus')})", file=sys.stderr)
        sys.exit(2)
    origins = [o.strip() for o in params.get("AllowedOrigins", "").split(",") if o.strip()]
    return outputs["ApiUrl"], origins, outputs.get("SecretArn")


def test_token() -> str | None:
    token = os.environ.get("SMOKE_TEST_JWT", "").strip()
    command = os.environ.get("SMOKE_TEST_JWT_COMMAND", "").strip()
    if not token and command:
        # A brand's own way to mint a fresh test customer's token (e.g. a client-credentials call
        # to its identity provider): its standard output is the token.
        token = subprocess.run(command, shell=True, check=True, capture_output=True, text=True).stdout.strip()
    return token or None


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"  ok    {what}")

    def fail(self, what: str) -> None:
        self.failed += 1
        print(f"  FAIL  {what}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stack", nargs="?", help="CloudFormation stack name (reads its ApiUrl output)")
    ap.add_argument("--api-url", help="base URL of the API, instead of a stack's output")
    ap.add_argument("--origin", help="an allowed CORS origin (default: the stack's first AllowedOrigins)")
    ap.add_argument("--region", help="AWS region of the stack (default: the environment's)")
    ap.add_argument("--no-token", action="store_true", help="skip the authenticated check, saying so")
    ap.add_argument(
        "--require-configured", action="store_true", help="503 not-configured fails (uat, prod) instead of warning"
    )
    args = ap.parse_args()

    secret_arn = None
    if args.api_url:
        base, origins = args.api_url, []
    elif args.stack:
        base, origins, secret_arn = stack_outputs(args.stack, args.region)
    else:
        ap.error("give a stack name or --api-url")
    origin = args.origin or next((o for o in origins if o != "*"), None)
    if not origin:
        ap.error("no allowed origin: give --origin (the stack lists none but '*')")
    if not base.endswith("/"):
        base += "/"
    url = base + "bookings"
    print(f"smoke: {url} (allowed origin {origin})")
    checks = Checks()

    # 1. No token: the authorizer answers 401 before any function runs, with CORS headers for
    #    the site (else the page cannot read it and never offers "Sign in again").
    status, headers, body = request("GET", url, {"Origin": origin})
    if status == 401:
        checks.ok("GET /bookings without a token -> 401")
    else:
        checks.fail(f"GET /bookings without a token -> {status}, expected 401 (is the JWT authorizer on the route?) {body[:200]!r}")
    if headers.get("access-control-allow-origin") == origin:
        checks.ok(f"the 401 is readable by {origin} (Access-Control-Allow-Origin)")
    else:
        checks.fail(f"the 401 carries Access-Control-Allow-Origin {headers.get('access-control-allow-origin')!r}, not {origin}: the page cannot read it")

    # 2. CORS preflights, answered by API Gateway from the stack's CorsConfiguration.
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    status, headers, _ = request("OPTIONS", url, {"Origin": origin, **preflight})
    allow_origin = headers.get("access-control-allow-origin")
    allow_methods = {m.strip().upper() for m in headers.get("access-control-allow-methods", "").split(",")}
    allow_headers = {h.strip().lower() for h in headers.get("access-control-allow-headers", "").split(",")}
    if status in (200, 204) and allow_origin == origin and "GET" in allow_methods and "authorization" in allow_headers:
        checks.ok(f"preflight from {origin} -> {status}, origin, GET and authorization allowed")
    else:
        checks.fail(
            f"preflight from {origin} -> {status}, allow-origin {allow_origin!r}, methods {sorted(allow_methods)}, "
            f"headers {sorted(allow_headers)} (is AllowedOrigins in samconfig.toml the site's exact origin?)"
        )
    # The cancel's preflight: POST, from the same origin.
    cancel_url = base + "bookings/00000000-0000-4000-8000-000000000000/cancel"
    post = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    status, headers, _ = request("OPTIONS", cancel_url, {"Origin": origin, **post})
    allow_methods = {m.strip().upper() for m in headers.get("access-control-allow-methods", "").split(",")}
    if status in (200, 204) and headers.get("access-control-allow-origin") == origin and "POST" in allow_methods:
        checks.ok(f"cancel preflight from {origin} -> {status}, POST allowed")
    else:
        checks.fail(f"cancel preflight from {origin} -> {status}, allow-origin {headers.get('access-control-allow-origin')!r}, methods {sorted(allow_methods)}")
    status, headers, _ = request("OPTIONS", url, {"Origin": FOREIGN_ORIGIN, **preflight})
    cors = sorted(k for k in headers if k.startswith("access-control-"))
    if not cors:
        checks.ok(f"preflight from {FOREIGN_ORIGIN} -> {status}, no CORS headers")
    else:
        checks.fail(f"preflight from {FOREIGN_ORIGIN} -> {status} with {cors}: the API admits any origin")

    # 3. A test customer's token: the whole path (authorizer, claim, secret, OmniLab).
    token = None if args.no_token else test_token()
    if token is None and args.no_token:
        print("  SKIP  GET /bookings with a test customer's token (--no-token): JWT issuer, audience and OmniLab untested")
    elif token is None:
        checks.fail("no test token: set SMOKE_TEST_JWT or SMOKE_TEST_JWT_COMMAND, or pass --no-token to skip this check")
    else:
        status, headers, body = request("GET", url, {"Authorization": f"Bearer {token}", "Origin": origin})
        if headers.get("access-control-allow-origin") != origin:
            checks.fail(f"GET /bookings with the test token from {origin}: no Access-Control-Allow-Origin for it")
        exposed = {h.strip().lower() for h in headers.get("access-control-expose-headers", "").split(",")}
        if not {"apigw-requestid", "retry-after"} <= exposed:
            checks.fail(f"GET /bookings exposes {sorted(exposed)}: the page cannot read apigw-requestid and Retry-After")
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            doc = None
        if status == 200 and isinstance(doc, dict) and isinstance(doc.get("bookings"), list):
            checks.ok(f"GET /bookings with the test token -> 200, {len(doc['bookings'])} booking(s)")
        elif status == 503 and isinstance(doc, dict) and doc.get("type") == NOT_CONFIGURED:
            fix = (
                "put the brand's OmniLab client_id, client_secret and audience into the secret: "
                f"aws secretsmanager put-secret-value --secret-id {secret_arn or '<the stack output SecretArn>'} "
                "--secret-string file://omnilab-credentials.json (no redeploy needed)"
            )
            if args.require_configured:
                checks.fail(f"GET /bookings with the test token -> 503 not-configured: {fix}")
            else:
                checks.ok(f"GET /bookings with the test token -> 503 not-configured (the stack works; {fix})")
        elif status == 401:
            checks.fail(
                "GET /bookings with the test token -> 401: the authorizer refused it (expired? "
                "JwtIssuer and JwtAudience in samconfig.toml must match the token's iss and aud)"
            )
        else:
            problem = doc.get("type") if isinstance(doc, dict) else None
            checks.fail(f"GET /bookings with the test token -> {status} {problem or body[:200]!r}")

    print(f"smoke: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
