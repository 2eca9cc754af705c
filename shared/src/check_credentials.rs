//! `check-credentials`: candidate OmniLab credentials tried before they go into the secret.
//!
//! ```text
//! cargo run -q -p bookings --bin check-credentials -- --tenant <tenant> --environment <dev|uat|prod> < candidate.json
//! cargo run -q -p bookings --bin check-credentials -- --api-host <url> < candidate.json
//! ```
//!
//! The candidate is the secret's whole value, `{"client_id", "client_secret", "audience"}`, on
//! standard input: never an argument, which `ps` and the shell's history would show. It is
//! checked with the functions' own shape check, then tried with their own exchange code, once
//! ([`try_credentials`]); nothing is stored. The host comes from the flags by the functions'
//! rule for `OMNILAB_TENANT`, `OMNILAB_ENVIRONMENT` and `OMNILAB_API_HOST` (`http://` only on
//! loopback).
//!
//! It prints one line and nothing secret (no token, no client secret, nothing OmniLab's answer
//! held): on standard output whether OmniLab accepted the credentials, on standard error why
//! the input was not usable. Exit status: 0 accepted; 1 not accepted (refused, or OmniLab could
//! not judge them: unreachable, too slow, an error); 2 a usage or input error, with no exchange.
//!
//! Why the command lives in the `bookings` package: it must apply the very shape check and
//! exchange the functions apply, and those stay private to the crate; a package of its own
//! would need them public. The Lambda builds name their binaries (`--bin list-bookings`,
//! `--bin cancel-booking`), so this one never reaches a function.

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use crate::config::{self, ConfigError, UpstreamPolicy};
use crate::omnilab::{
    Accepted, Credentials, CredentialsError, TransportError, UpstreamError, try_credentials,
};

pub const USAGE: &str = "check-credentials (--tenant <tenant> --environment <dev|uat|prod> | --api-host <url>) < candidate.json";

/// Secrets Manager's own limit on a secret's value: anything longer cannot be the secret.
const MAX_CANDIDATE_BYTES: u64 = 65_536;

/// What the command says and how it exits.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub line: String,
    pub stream: Stream,
    pub code: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Report {
    fn out(line: String, code: u8) -> Self {
        Self {
            line,
            stream: Stream::Stdout,
            code,
        }
    }
}

/// Why the command did not try the credentials: exit status 2, and no exchange.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}; usage: {USAGE}")]
    Usage(String),
    #[error("could not read the candidate from standard input")]
    Unreadable,
    #[error(
        "the candidate on standard input is longer than a secret may be ({MAX_CANDIDATE_BYTES} bytes)"
    )]
    TooLong,
    #[error("the candidate on standard input is not UTF-8 text")]
    NotText,
    #[error("the candidate was not sent: {0}")]
    Candidate(CredentialsError),
}

/// Where to try the credentials, from the flags.
#[derive(Debug, Default, PartialEq, Eq)]
struct Flags {
    tenant: Option<String>,
    environment: Option<String>,
    api_host: Option<String>,
    help: bool,
}

/// The command: the flags in `args` (the program's name left out), the candidate on `stdin`.
pub fn main() -> ExitCode {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading the candidate secret's JSON from standard input; end it with Ctrl-D");
    }
    let report = run(std::env::args_os().skip(1), stdin.lock());
    match report.stream {
        Stream::Stdout => println!("{}", report.line),
        Stream::Stderr => eprintln!("{}", report.line),
    }
    ExitCode::from(report.code)
}

/// Everything but the printing: testable without a process.
pub fn run(args: impl IntoIterator<Item = OsString>, stdin: impl Read) -> Report {
    let prepared = flags(args).and_then(|flags| {
        if flags.help {
            return Ok(None);
        }
        let host = host(&flags)?;
        let candidate = candidate(stdin)?;
        Ok(Some((host, candidate)))
    });
    let (host, candidate) = match prepared {
        Ok(Some(ready)) => ready,
        Ok(None) => return Report::out(format!("usage: {USAGE}"), 0),
        Err(error) => {
            return Report {
                line: format!("check-credentials: {error}"),
                stream: Stream::Stderr,
                code: 2,
            };
        }
    };
    let timeout = UpstreamPolicy::default().attempt_timeout;
    let audience = candidate.audience.clone();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| UpstreamError::Transport(TransportError::Client))
        .and_then(|runtime| runtime.block_on(try_credentials(&host, candidate, timeout)));
    verdict(&host, &audience, timeout.as_secs(), outcome)
}

fn flags(args: impl IntoIterator<Item = OsString>) -> Result<Flags, InputError> {
    let usage = |what: String| InputError::Usage(what);
    let mut flags = Flags::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|_| usage("an argument is not UTF-8".into()))?;
        if arg == "-h" || arg == "--help" {
            flags.help = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let slot = match name.as_str() {
            "--tenant" => &mut flags.tenant,
            "--environment" => &mut flags.environment,
            "--api-host" => &mut flags.api_host,
            // Not echoed: a secret pasted in the wrong place must not be printed back.
            _ => return Err(usage("unknown argument".into())),
        };
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .and_then(|value| value.into_string().ok())
                .ok_or_else(|| usage(format!("{name} needs a value")))?,
        };
        if slot.replace(value).is_some() {
            return Err(usage(format!("{name} is given twice")));
        }
    }
    Ok(flags)
}

/// OmniLab's base URL, by the functions' own rule.
fn host(flags: &Flags) -> Result<String, InputError> {
    let naming = flags.tenant.is_some() || flags.environment.is_some();
    match (&flags.api_host, naming) {
        (Some(_), true) => {
            return Err(InputError::Usage(
                "--api-host replaces --tenant and --environment: give one or the other".into(),
            ));
        }
        (None, false) => {
            return Err(InputError::Usage(
                "say which OmniLab: --tenant and --environment, or --api-host".into(),
            ));
        }
        _ => {}
    }
    let get = |var: &str| {
        match var {
            "OMNILAB_API_HOST" => flags.api_host.clone(),
            "OMNILAB_TENANT" => flags.tenant.clone(),
            "OMNILAB_ENVIRONMENT" => flags.environment.clone(),
            _ => None,
        }
        .filter(|value| !value.trim().is_empty())
    };
    config::api_base(&get).map_err(|error| {
        InputError::Usage(match error {
            ConfigError::Missing { var } => format!("{} is missing", flag_of(var)),
            ConfigError::Invalid { var, reason } => {
                format!("{} is invalid: {reason}", flag_of(var))
            }
        })
    })
}

/// The flag that stands for a function's variable.
fn flag_of(var: &str) -> &str {
    match var {
        "OMNILAB_API_HOST" => "--api-host",
        "OMNILAB_TENANT" => "--tenant",
        "OMNILAB_ENVIRONMENT" => "--environment",
        other => other,
    }
}

/// The candidate from `stdin`, through the functions' own shape check.
fn candidate(stdin: impl Read) -> Result<Credentials, InputError> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_CANDIDATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| InputError::Unreadable)?;
    if bytes.len() as u64 > MAX_CANDIDATE_BYTES {
        return Err(InputError::TooLong);
    }
    let text = String::from_utf8(bytes).map_err(|_| InputError::NotText)?;
    Credentials::from_secret_string(&text).map_err(InputError::Candidate)
}

/// The line for OmniLab's answer. Only what we classified is said: OmniLab's body never is.
fn verdict(
    host: &str,
    audience: &str,
    timeout_s: u64,
    outcome: Result<Accepted, UpstreamError>,
) -> Report {
    let not_checked =
        |kind: String| Report::out(format!("credentials not checked by {host}: {kind}"), 1);
    match outcome {
        Ok(Accepted { lifetime }) if lifetime.is_zero() => Report::out(
            format!(
                "credentials accepted by {host}, but the token for audience {audience} is valid 0 s: the functions could not use it"
            ),
            1,
        ),
        Ok(Accepted { lifetime }) => Report::out(
            format!(
                "credentials accepted by {host}: token for audience {audience} valid {} s",
                lifetime.as_secs()
            ),
            0,
        ),
        Err(UpstreamError::CredentialsRejected) => Report::out(
            format!(
                "credentials refused by {host}: invalid_client (OmniLab refused this client_id, client_secret and audience)"
            ),
            1,
        ),
        Err(UpstreamError::Timeout) => {
            not_checked(format!("timeout (no answer within {timeout_s} s)"))
        }
        Err(UpstreamError::Transport(TransportError::Connect)) => {
            not_checked("unreachable (no connection: the host name, the network, a proxy?)".into())
        }
        Err(UpstreamError::Transport(TransportError::Tls(failure))) => {
            not_checked(format!("tls ({failure})"))
        }
        Err(UpstreamError::Transport(failure)) => not_checked(format!("transport ({failure})")),
        Err(UpstreamError::RateLimited { .. }) => {
            not_checked("rate_limited (HTTP 429: try again later)".into())
        }
        Err(UpstreamError::Status(status)) => not_checked(format!("HTTP {status}")),
        Err(UpstreamError::Malformed(malformed)) => {
            not_checked(format!("malformed answer ({malformed})"))
        }
        Err(other) => not_checked(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn usage_of(list: &[&str]) -> String {
        let report = run(args(list), &b"{}"[..]);
        assert_eq!(
            (report.code, report.stream),
            (2, Stream::Stderr),
            "{report:?}"
        );
        report.line
    }

    #[test]
    fn the_host_follows_the_functions_rule() {
        let of = |list: &[&str]| host(&flags(args(list)).unwrap());
        assert_eq!(
            of(&["--tenant", "acme", "--environment", "uat"]).unwrap(),
            "https://acme.api.omnilab-uat.21-digital.com"
        );
        assert_eq!(
            of(&["--api-host=http://127.0.0.1:9/"]).unwrap(),
            "http://127.0.0.1:9"
        );
        for (list, says) in [
            (
                &["--api-host", "http://10.0.0.1"][..],
                "--api-host is invalid: http:// is accepted only for loopback addresses",
            ),
            (&["--tenant", "acme"][..], "--environment is missing"),
            (
                &["--tenant", "acme", "--environment", "staging"][..],
                "--environment is invalid",
            ),
            (
                &["--tenant", "Acme Inc", "--environment", "dev"][..],
                "--tenant is invalid",
            ),
        ] {
            let error = of(list).unwrap_err().to_string();
            assert!(error.starts_with(says), "{list:?}: {error}");
        }
    }

    #[test]
    fn usage_errors_exit_2_before_reading_anything() {
        assert!(usage_of(&[]).contains("say which OmniLab"));
        assert!(
            usage_of(&["--api-host", "https://a.example", "--tenant", "acme"])
                .contains("give one or the other")
        );
        assert!(usage_of(&["--tenant"]).contains("--tenant needs a value"));
        assert!(usage_of(&["--tenant", "a", "--tenant", "b"]).contains("given twice"));
        let pasted = usage_of(&["--client-secret=s3cr3t"]);
        assert!(
            pasted.contains("unknown argument") && !pasted.contains("s3cr3t"),
            "{pasted}"
        );
        assert!(usage_of(&["--tenant", "acme"]).contains(USAGE));
        let help = run(args(&["--help"]), &b""[..]);
        assert_eq!((help.code, help.stream), (0, Stream::Stdout));
    }

    #[test]
    fn a_candidate_of_the_wrong_shape_is_named_and_never_sent() {
        // A port that refuses: had anything been sent, the answer would be "not checked", 1.
        let at = ["--api-host", "http://127.0.0.1:9"];
        for (input, says) in [
            (
                &br#"{"client_id":"id","audience":"aud"}"#[..],
                "missing field client_secret",
            ),
            (&b"not json"[..], "not JSON"),
            (&b"\xff\xfe"[..], "not UTF-8"),
            (
                &br#"{"client_id":"REPLACE_ME","client_secret":"s3cr3t","audience":"a"}"#[..],
                "REPLACE_ME",
            ),
        ] {
            let report = run(args(&at), input);
            assert_eq!(
                (report.code, report.stream),
                (2, Stream::Stderr),
                "{report:?}"
            );
            assert!(report.line.contains(says), "{}", report.line);
            assert!(!report.line.contains("s3cr3t"), "{}", report.line);
        }
        let long = vec![b' '; MAX_CANDIDATE_BYTES as usize + 1];
        assert!(
            run(args(&at), &long[..])
                .line
                .contains("longer than a secret")
        );
    }

    #[test]
    fn each_answer_is_one_line_with_its_exit_status() {
        let host = "https://acme.api.omnilab-uat.21-digital.com";
        let line = |outcome| verdict(host, "https://aud", 5, outcome);
        let accepted = line(Ok(Accepted {
            lifetime: Duration::from_secs(3600),
        }));
        assert_eq!(
            accepted,
            Report::out(
                format!(
                    "credentials accepted by {host}: token for audience https://aud valid 3600 s"
                ),
                0
            )
        );
        for (outcome, starts) in [
            (
                Err(UpstreamError::CredentialsRejected),
                format!("credentials refused by {host}: invalid_client"),
            ),
            (
                Err(UpstreamError::Transport(TransportError::Connect)),
                format!("credentials not checked by {host}: unreachable"),
            ),
            (
                Err(UpstreamError::Timeout),
                format!("credentials not checked by {host}: timeout (no answer within 5 s)"),
            ),
            (
                Err(UpstreamError::Status(503)),
                format!("credentials not checked by {host}: HTTP 503"),
            ),
            (
                Ok(Accepted {
                    lifetime: Duration::ZERO,
                }),
                format!("credentials accepted by {host}, but"),
            ),
        ] {
            let report = line(outcome);
            assert_eq!((report.code, report.stream), (1, Stream::Stdout));
            assert!(report.line.starts_with(&starts), "{}", report.line);
            assert!(!report.line.contains('\n'));
        }
    }
}
