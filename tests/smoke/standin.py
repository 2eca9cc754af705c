#!/usr/bin/env python3
"""A stand-in for the deployed HTTP API, on loopback only, answering the way we expect API
Gateway to, so the smoke test's own checks can be tested. What AWS documents
(docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html): preflights are
answered by API Gateway itself for a CORS-configured API, with no OPTIONS route; the configured
CORS headers are added to every answer to a request with an Origin; a backend's own CORS headers
are ignored. What it does not spell out, and this stand-in assumes: the status of a preflight
(204), what an unlisted origin gets (no CORS header), and that the authorizer's own 401 carries
the CORS headers too. Those are exactly what the smoke test checks against a real stack.


- a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by API
  Gateway itself from the CorsConfiguration: 204 with the origin echoed, the allowed methods and
  headers and the max age for a listed origin; 204 without any CORS header for any other origin;
- a request without a token (or with an unknown one) never reaches a function: the JWT
  authorizer answers 401 {"message":"Unauthorized"};
- with the good token the function answers: 200 with a booking list, or (--mode not-configured)
  503 application/problem+json of type not-configured.
Other modes break one behaviour each, so the smoke test's own failures can be tested:
open-cors (every origin admitted), no-auth (no authorizer: the function answers without a
token), wrong-origin (the stack lists another origin), bare-401 (the authorizer's 401 without
CORS headers), hidden-headers (no ExposeHeaders).

    standin.py --port-file FILE [--mode MODE]   # binds 127.0.0.1 on a free port, writes it to FILE
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_TOKEN = "smoke-test-token"
ALLOWED_ORIGINS = ["https://dev.example-brand.com", "http://localhost:3000"]
NOT_CONFIGURED = {
    "type": "tag:omnilab-bookings,2026:not-configured",
    "title": "Bookings are not set up yet",
    "status": 503,
}
BOOKINGS = {"bookings": [], "groups": [], "page_number": 1, "page_size": 20, "total_count": 0}


def handler(mode: str):
    allowed = ["https://other.example-brand.com"] if mode == "wrong-origin" else ALLOWED_ORIGINS

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: the smoke test prints what matters
            pass

        def answer(self, status, body=None, content_type="application/json", extra=()):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("apigw-requestid", "standin")
            if body is not None:
                self.send_header("Content-Type", content_type)
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def cors(self):
            origin = self.headers.get("Origin")
            if origin and (mode == "open-cors" or origin in allowed):
                return [("Access-Control-Allow-Origin", origin)]
            return []

        def do_OPTIONS(self):
            if self.headers.get("Origin") and self.headers.get("Access-Control-Request-Method"):
                extra = self.cors()
                if extra:
                    extra += [
                        ("Access-Control-Allow-Methods", "GET,OPTIONS,POST"),
                        ("Access-Control-Allow-Headers", "authorization,content-type"),
                        ("Access-Control-Max-Age", "600"),
                    ]
                return self.answer(204, extra=extra)
            return self.answer(404, {"message": "Not Found"})

        def do_GET(self):
            if self.path.split("?")[0] != "/bookings":
                return self.answer(404, {"message": "Not Found"})
            auth = self.headers.get("Authorization", "")
            if mode != "no-auth" and auth != f"Bearer {GOOD_TOKEN}":
                extra = [] if mode == "bare-401" else self.cors()
                return self.answer(401, {"message": "Unauthorized"}, extra=extra)
            headers = self.cors() + [("Cache-Control", "no-store")]
            if mode != "hidden-headers":
                headers.append(("Access-Control-Expose-Headers", "apigw-requestid,retry-after,www-authenticate"))
            if mode == "not-configured":
                return self.answer(503, NOT_CONFIGURED, "application/problem+json", headers)
            return self.answer(200, BOOKINGS, extra=headers)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--mode", default="ok", choices=["ok", "not-configured", "open-cors", "no-auth", "wrong-origin", "bare-401", "hidden-headers"])
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(args.mode))  # loopback only
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
