//! `check-credentials`, the command an operator runs on candidate credentials before putting
//! them into the secret: the compiled binary as a real process, the candidate on its standard
//! input, against the sandbox OmniLab over HTTP on loopback. What it must never do is as much
//! the point as what it does: more than one exchange, any booking call, or a secret or token in
//! what it prints.

use std::process::Stdio;

use bookings_tests::runtime_api::binary;
use bookings_tests::secrets;
use sandbox::{ClientCredentials, Counters, Sandbox, SandboxData};
use tokio::io::AsyncWriteExt;

/// What the process printed and how it exited.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Every line it printed, both streams: the command prints exactly one.
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().chain(self.stderr.lines()).collect()
    }

    #[track_caller]
    fn assert_never_shows(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(!secret.is_empty());
            for (stream, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
                assert!(!text.contains(secret), "{stream} shows a secret: {text}");
            }
        }
    }
}

/// Runs the binary with `args`, `stdin` written to it and closed.
async fn check(args: &[&str], stdin: &str) -> Ran {
    let mut child = tokio::process::Command::new(binary("check-credentials"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("check-credentials starts");
    let mut input = child.stdin.take().expect("a stdin pipe");
    // A usage error exits before reading: its closed pipe is no failure of the test's.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("check-credentials ends within 30 s")
        .expect("check-credentials runs");
    Ran {
        code: output.status.code().expect("an exit status, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 on stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 on stderr"),
    }
}

/// A sandbox OmniLab of its own, and its base URL.
async fn omnilab() -> (Sandbox, String) {
    let sandbox = Sandbox::new(SandboxData::default());
    let addr = sandbox
        .serve("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the sandbox binds a loopback port");
    (sandbox, format!("http://{addr}"))
}

fn client_b() -> ClientCredentials {
    ClientCredentials {
        client_id: "client-b".into(),
        client_secret: "client-b-secret-7f3a9c".into(),
        audience: "https://b.omnilab.test".into(),
    }
}

/// Token requests, booking calls: what the command cost OmniLab.
fn cost(counters: Counters) -> (u64, u64) {
    (counters.token_requests, counters.fetches + counters.cancels)
}

#[tokio::test]
async fn accepted_credentials_exit_0_after_one_exchange_and_show_no_secret() {
    let (sandbox, host) = omnilab().await;
    sandbox.set_credentials(client_b());
    sandbox.set_token_lifetime(1800);

    let ran = check(&["--api-host", &host], &secrets::secret_string(&client_b())).await;

    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        ran.lines(),
        [format!(
            "credentials accepted by {host}: token for audience https://b.omnilab.test valid 1800 s"
        )],
        "one line on stdout, nothing on stderr"
    );
    assert_eq!(
        cost(sandbox.counters()),
        (1, 0),
        "one exchange, no booking call"
    );
    let tokens = sandbox.issued_tokens();
    assert_eq!(tokens.len(), 1, "the exchange issued one token");
    ran.assert_never_shows(&[&client_b().client_secret, &tokens[0]]);
}

#[tokio::test]
async fn refused_credentials_exit_1_after_one_exchange() {
    let (sandbox, host) = omnilab().await;
    // OmniLab knows client B under another secret: the candidate's is wrong.
    sandbox.set_credentials(client_b());
    let candidate = ClientCredentials {
        client_secret: "a-mistyped-secret-0c41e2".into(),
        ..client_b()
    };

    let ran = check(&["--api-host", &host], &secrets::secret_string(&candidate)).await;

    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        ran.lines(),
        [format!(
            "credentials refused by {host}: invalid_client (OmniLab refused this client_id, client_secret and audience)"
        )]
    );
    assert_eq!(
        cost(sandbox.counters()),
        (1, 0),
        "no second try, no booking call"
    );
    assert!(sandbox.issued_tokens().is_empty());
    ran.assert_never_shows(&[&candidate.client_secret, &client_b().client_secret]);
}

#[tokio::test]
async fn a_malformed_candidate_exits_2_naming_what_is_wrong_and_nothing_is_sent() {
    let (sandbox, host) = omnilab().await;
    let secret = client_b().client_secret;
    let cases = [
        (
            format!(r#"{{"client_id": "client-b", "client_secret": "{secret}"}}"#),
            "missing field audience",
        ),
        (
            format!(r#"{{"client_id": "client-b", "client_secret": "{secret}", "audience": 7}}"#),
            "field audience is not a string",
        ),
        (
            format!(r#"{{"client_id": "client-b", "client_secret": "{secret}", "#),
            "not JSON",
        ),
        (
            format!(r#"{{"client_id": " ", "client_secret": "{secret}", "audience": "a"}}"#),
            "empty field client_id",
        ),
    ];
    for (candidate, names) in cases {
        let ran = check(&["--api-host", &host], &candidate).await;

        assert_eq!(ran.code, 2, "{candidate}: {}{}", ran.stdout, ran.stderr);
        assert!(ran.stdout.is_empty(), "{}", ran.stdout);
        assert_eq!(ran.lines().len(), 1, "{}", ran.stderr);
        assert!(ran.stderr.contains(names), "{candidate}: {}", ran.stderr);
        ran.assert_never_shows(&[&secret]);
    }
    assert_eq!(cost(sandbox.counters()), (0, 0), "no exchange at all");
}

#[tokio::test]
async fn usage_errors_exit_2_and_plain_http_is_refused_off_loopback() {
    let candidate = secrets::secret_string(&client_b());
    for (args, says) in [
        (&[][..], "say which OmniLab"),
        (
            &["--api-host", "http://omnilab.example.com"][..],
            "http:// is accepted only for loopback",
        ),
        (
            &["--tenant", "acme", "--environment", "staging"][..],
            "--environment is invalid",
        ),
    ] {
        let ran = check(args, &candidate).await;
        assert_eq!(ran.code, 2, "{args:?}: {}{}", ran.stdout, ran.stderr);
        assert_eq!(ran.lines().len(), 1, "{}", ran.stderr);
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
    }
}

#[tokio::test]
async fn an_unreachable_omnilab_exits_1_and_says_so() {
    let host = bookings_tests::dynamodb::unreachable_endpoint();

    let ran = check(&["--api-host", &host], &secrets::secret_string(&client_b())).await;

    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.lines().len(), 1);
    assert!(
        ran.stdout
            .starts_with(&format!("credentials not checked by {host}: unreachable")),
        "{}",
        ran.stdout
    );
    ran.assert_never_shows(&[&client_b().client_secret]);
}
