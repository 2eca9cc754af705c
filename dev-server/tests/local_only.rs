//! The dev server answers only its own user (dev-server/src/local_only.rs), over real HTTP.
//!
//! Each test starts the compiled dev server (Cargo builds it for these tests) on 127.0.0.1 with
//! PORT=0 and the embedded sandbox, then speaks raw HTTP/1.1 over a TCP socket, so every header,
//! `Host` first, is exactly what the test wrote (or left out). The last test starts it with
//! `--tls`: the same routes, with the sandbox reached over HTTPS under a tenant host.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo customer's first booking (docs/local.md, "The API, with curl").
const BOOKING: &str = "00000001-0000-4000-8000-000000000001";

struct DevServer {
    port: u16,
    /// The embedded sandbox's port, from the server's third line.
    sandbox_port: u16,
    /// That third line, `upstream: …`.
    upstream: String,
    child: Child,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// Asserts the status, showing the whole answer when it is another.
    #[track_caller]
    fn assert_status(&self, status: u16) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
    }
}

impl DevServer {
    /// As a developer starts it: plain HTTP to the embedded sandbox, no allowed origins.
    fn start() -> Self {
        Self::launch(&[], &[])
    }

    /// With `--tls`: the embedded sandbox over HTTPS under a tenant host.
    fn with_tls() -> Self {
        Self::launch(&["--tls"], &[])
    }

    /// With `site` in `ALLOWED_ORIGINS`: a brand's site that may call it across origins.
    fn allowing_origin(site: &str) -> Self {
        Self::launch(&[], &[("ALLOWED_ORIGINS", site)])
    }

    fn launch(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dev-server"))
            .args(args)
            .envs(env.iter().copied())
            .env("PORT", "0")
            // The embedded sandbox, whatever the developer's shell points at.
            .env_remove("OMNILAB_API_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the dev server");
        let stdout = child.stdout.take().expect("stdout");
        let (first_line, first) = mpsc::channel();
        // The first line says where it listens; the rest (the logs) is drained so the server
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut lines = String::new();
            for _ in 0..3 {
                let _ = reader.read_line(&mut lines);
            }
            let _ = first_line.send(lines);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        // Owned from here, so a failed start still kills it.
        let mut server = Self {
            port: 0,
            sandbox_port: 0,
            upstream: String::new(),
            child,
        };
        let lines = first
            .recv_timeout(Duration::from_secs(60))
            .expect("the dev server printed no first lines within 60 s");
        let mut lines = lines.lines();
        let line = lines.next().unwrap_or_default();
        let port = line
            .trim()
            .strip_prefix("OmniLab Bookings dev server: open http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the dev server: {line:?}"));
        let upstream = lines.nth(1).unwrap_or_default().trim().to_owned();
        // Plain: `… at http://127.0.0.1:PORT (…)`; with --tls: `… (demo data; HTTPS on
        // 127.0.0.1:PORT, …)`.
        let sandbox_port = ["at http://127.0.0.1:", "HTTPS on 127.0.0.1:"]
            .iter()
            .find_map(|marker| upstream.split_once(marker))
            .and_then(|(_, rest)| rest.split([' ', ',']).next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| {
                panic!("unexpected upstream line from the dev server: {upstream:?}")
            });
        server.port = port;
        server.sandbox_port = sandbox_port;
        server.upstream = upstream;
        server
    }

    /// `method path` with exactly these headers (plus `Connection: close` and, with a body,
    /// `Content-Length`): no `Host` unless the caller gives one.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        send_to(self.port, method, path, headers, body)
    }

    /// `GET path` with exactly these headers, like [`DevServer::send`].
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, headers, "")
    }

    /// Our own `host:port` as the given loopback name.
    fn authority(&self, host: &str) -> String {
        format!("{host}:{}", self.port)
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The demo customer's confirmed bookings, asked the legitimate way.
    fn confirmed(&self) -> Answer {
        let host = self.authority("127.0.0.1");
        self.get(
            "/bookings?booking_status=CONFIRMED&all=true",
            &[("Host", &host)],
        )
    }

    fn cancel(&self, headers: &[(&str, &str)]) -> Answer {
        self.send("POST", &format!("/bookings/{BOOKING}/cancel"), headers, "")
    }
}

/// `method path` to 127.0.0.1:`port` with exactly these headers (plus `Connection: close` and,
/// with a body, `Content-Length`): no `Host` unless the caller gives one.
fn send_to(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// A port nobody is bound to right now, and certainly not the dev server's.
fn other_port(ours: u16) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        if port != ours {
            return port;
        }
    }
}

fn assert_misdirected(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status, 421,
        "{what}: expected 421, got {}\n{}",
        answer.head, answer.body
    );
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{what}: {}",
        answer.head
    );
    assert!(
        answer.body.contains("\"status\":421"),
        "{what}: {}",
        answer.body
    );
}

#[test]
fn a_foreign_host_is_misdirected_on_every_route() {
    let server = DevServer::start();
    let evil = format!("evil.example:{}", server.port);
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/app.js"),
        ("GET", "/style.css"),
        ("GET", "/bookings"),
        (
            "POST",
            "/bookings/00000001-0000-4000-8000-000000000001/cancel",
        ),
        ("DELETE", "/_sandbox/faults"),
        ("GET", "/no-such-page"),
    ] {
        let answer = server.send(method, path, &[("Host", &evil)], "");
        assert_misdirected(&answer, &format!("{method} {path} as {evil}"));
        assert!(
            !answer.body.contains("<html"),
            "the page leaked: {}",
            answer.body
        );
    }
    // Nor without a port, nor with no Host at all.
    assert_misdirected(
        &server.get("/bookings", &[("Host", "evil.example")]),
        "Host: evil.example",
    );
    assert_misdirected(&server.get("/bookings", &[]), "no Host");
}

#[test]
fn a_loopback_host_with_another_port_is_misdirected() {
    let server = DevServer::start();
    let other = other_port(server.port);
    for host in [
        format!("127.0.0.1:{other}"),
        format!("localhost:{other}"),
        "localhost".to_owned(),
        format!("[::1]:{other}"),
    ] {
        assert_misdirected(
            &server.get("/bookings", &[("Host", &host)]),
            &format!("Host: {host}"),
        );
    }
}

#[test]
fn loopback_hosts_with_our_port_are_served() {
    let server = DevServer::start();
    for name in ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"] {
        let host = server.authority(name);
        let page = server.get("/", &[("Host", &host)]);
        assert_eq!(page.status, 200, "GET / as {host}: {}", page.head);
        assert!(
            page.body.contains("<html"),
            "GET / as {host}: {}",
            page.body
        );
        let list = server.get("/bookings", &[("Host", &host)]);
        assert_eq!(list.status, 200, "GET /bookings as {host}: {}", list.head);
        assert!(list.body.contains(BOOKING), "{}", list.body);
    }
    // A link from another site to the page still opens it: reads are not origin-checked.
    let host = server.authority("localhost");
    let followed = server.get(
        "/",
        &[
            ("Host", &host),
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    );
    followed.assert_status(200);
}

#[test]
fn a_cross_site_cancel_is_refused_and_cancels_nothing() {
    let server = DevServer::start();
    let host = server.authority("127.0.0.1");
    assert!(server.confirmed().body.contains(BOOKING));

    for headers in [
        vec![("Host", host.as_str()), ("Origin", "https://evil.example")],
        vec![("Host", host.as_str()), ("Origin", "null")],
        vec![("Host", host.as_str()), ("Sec-Fetch-Site", "cross-site")],
        // The page a browser would send it from, form-encoded as a cross-site form would be.
        vec![
            ("Host", host.as_str()),
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
    ] {
        let refused = server.cancel(&headers);
        assert_eq!(
            refused.status, 403,
            "{headers:?}: expected 403, got {}\n{}",
            refused.head, refused.body
        );
        assert!(refused.body.contains("\"status\":403"), "{}", refused.body);
        assert!(!refused.body.contains("CANCELLED"), "{}", refused.body);
    }

    let still = server.confirmed();
    still.assert_status(200);
    assert!(
        still.body.contains(BOOKING),
        "a refused cancel cancelled the booking: {}",
        still.body
    );

    // The same cancel from the server's own page goes through, and the booking is gone.
    let origin = server.origin();
    let done = server.cancel(&[
        ("Host", &host),
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-origin"),
    ]);
    done.assert_status(200);
    assert!(done.body.contains("CANCELLED"), "{}", done.body);
    let after = server.confirmed();
    after.assert_status(200);
    assert!(!after.body.contains(BOOKING), "{}", after.body);
}

/// The brand's site on its own dev server, calling ours across origins as it will call the
/// deployed API: its preflight answered as API Gateway answers it, its cancel let through.
#[test]
fn the_brands_site_in_allowed_origins_calls_across_origins_and_no_other_does() {
    const SITE: &str = "http://localhost:5173";
    let server = DevServer::allowing_origin(SITE);
    let host = server.authority("127.0.0.1");
    let cancel = format!("/bookings/{BOOKING}/cancel");
    let preflight = |origin: &str| {
        server.send(
            "OPTIONS",
            &cancel,
            &[
                ("Host", &host),
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
            "",
        )
    };
    let answered = preflight(SITE);
    answered.assert_status(204);
    let head = answered.head.to_lowercase();
    for line in [
        "access-control-allow-origin: http://localhost:5173",
        "access-control-allow-methods: get,post,options",
        "access-control-allow-headers: authorization,content-type",
        "access-control-max-age: 600",
        "apigw-requestid: ",
    ] {
        assert!(head.contains(line), "{line}\n{head}");
    }
    for foreign in ["http://localhost:5174", "https://localhost:5173", "null"] {
        let bare = preflight(foreign);
        assert_eq!(bare.status, 204, "{foreign}: {}", bare.head);
        assert!(
            !bare.head.to_lowercase().contains("access-control-"),
            "{foreign}: {}",
            bare.head
        );
    }

    // Another port of this machine is `same-site` to the browser: refused for any other
    // origin, let through for the listed one.
    let other = server.cancel(&[
        ("Host", &host),
        ("Origin", "http://localhost:5174"),
        ("Sec-Fetch-Site", "same-site"),
    ]);
    other.assert_status(403);
    assert!(server.confirmed().body.contains(BOOKING));
    let done = server.cancel(&[
        ("Host", &host),
        ("Origin", SITE),
        ("Sec-Fetch-Site", "same-site"),
        ("Accept-Language", "fr"),
    ]);
    done.assert_status(200);
    let head = done.head.to_lowercase();
    assert!(
        head.contains("access-control-allow-origin: http://localhost:5173"),
        "{head}"
    );
    assert!(
        head.contains(
            "access-control-expose-headers: apigw-requestid,retry-after,www-authenticate"
        ),
        "{head}"
    );
    assert!(!server.confirmed().body.contains(BOOKING));

    // Loopback-only stands whatever the origin: a rebound name is still misdirected.
    let rebound = server.cancel(&[("Host", "evil.example"), ("Origin", SITE)]);
    rebound.assert_status(421);
}

#[test]
fn a_cancel_without_origin_is_allowed_like_curl() {
    let server = DevServer::start();
    let host = server.authority("localhost");
    let done = server.cancel(&[("Host", &host)]);
    done.assert_status(200);
    assert!(!server.confirmed().body.contains(BOOKING));
}

#[test]
fn refused_requests_never_reach_the_sandbox_faults() {
    let server = DevServer::start();
    let host = server.authority("127.0.0.1");
    let evil_host = format!("evil.example:{}", server.port);
    // Three failures of fetch: enough to fail the next list (reads are tried 3 times).
    let fault = r#"{"endpoint":"fetch","fault":"500","count":3}"#;
    let json = ("Content-Type", "application/json");

    let misdirected = server.send(
        "POST",
        "/_sandbox/faults",
        &[("Host", &evil_host), json],
        fault,
    );
    assert_misdirected(&misdirected, "POST /_sandbox/faults as evil.example");
    let cross_site = server.send(
        "POST",
        "/_sandbox/faults",
        &[("Host", &host), ("Origin", "https://evil.example"), json],
        fault,
    );
    cross_site.assert_status(403);
    let list = server.confirmed();
    assert_eq!(
        list.status, 200,
        "a refused fault was injected: {}",
        list.head
    );

    // The check is what stopped them: the same order from our own origin is obeyed.
    let origin = server.origin();
    let injected = server.send(
        "POST",
        "/_sandbox/faults",
        &[("Host", &host), ("Origin", &origin), json],
        fault,
    );
    injected.assert_status(204);
    assert_eq!(server.confirmed().status, 502);
}

#[test]
fn the_embedded_sandbox_answers_only_its_own_loopback_authority() {
    let server = DevServer::start();
    let sandbox = server.sandbox_port;
    let fetch = "/v1/interactions:fetchContactBookings?external_id=x&page_size=1&page_number=1";
    // What a page on a rebound name would send to the sandbox: refused before any route.
    for host in [
        format!("evil.example:{sandbox}"),
        format!("127.0.0.1:{}", server.port),
        "127.0.0.1".to_owned(),
    ] {
        let answer = send_to(sandbox, "GET", fetch, &[("Host", &host)], "");
        assert_eq!(answer.status, 421, "Host {host}: {}", answer.head);
    }
    // Its own authority reaches it (401: no token), and the product through it still works.
    let own = send_to(
        sandbox,
        "GET",
        fetch,
        &[("Host", &format!("127.0.0.1:{sandbox}"))],
        "",
    );
    own.assert_status(401);
    assert_eq!(server.confirmed().status, 200);
}

#[test]
fn with_tls_the_product_reaches_its_sandbox_over_https_under_a_tenant_host() {
    let server = DevServer::with_tls();
    assert!(
        server.upstream.starts_with(
            "upstream: the OmniLab sandbox at https://demo.api.omnilab-dev.21-digital.com "
        ),
        "{}",
        server.upstream
    );
    let listed = server.confirmed();
    listed.assert_status(200);
    assert!(listed.body.contains("\"bookings\":[{"), "{}", listed.body);
    let host = server.authority("127.0.0.1");
    let cancelled = server.cancel(&[("Host", &host)]);
    cancelled.assert_status(200);
    assert!(cancelled.body.contains("CANCELLED"), "{}", cancelled.body);
    // The sandbox's port speaks TLS only: plain HTTP gets no HTTP answer.
    let mut stream = TcpStream::connect(("127.0.0.1", server.sandbox_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /v1/interactions:fetchContactBookings HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
