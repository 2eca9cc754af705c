//! What the compiled `list-bookings` binary may and may not write to its logs:
//! no secret, token, JWT or cookie at any level, even at TRACE and even when a dependency
//! fails in a way that carries the secret along; and no forged log lines from caller input.
//!
//! Every check first asserts that the logs are there and hold the request's own line, so that
//! "nothing leaked" is never true of an empty log.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bookings_tests::runtime_api::{Function, Launch, RuntimeApi, problem_body};
use bookings_tests::{
    DEMO_CUSTOMER, World, demo_start, function_env, function_env_at, list_event, secrets,
};
use sandbox::{Sandbox, SandboxData};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Test secrets: long and distinctive, so any trace of them in a log is unmistakable.

/// The OmniLab client secret the fake Secrets Manager hands out.
const SECRET: &str = "Zq8vLeAk4xW9-omnilab-canary-7Hf3Kp2Rt6Ny1Bm5Qd0Sg";
/// AWS credentials the binary signs its Secrets Manager call with.
const AWS_SECRET_KEY: &str = "AwsSecretCanary9xQ2wE4rT6yU8iO0pA1sD3fG5hJ7k";
const AWS_SESSION_TOKEN: &str = "AwsSessionCanaryZ1x2C3v4B5n6M7q8W9e0R1t2Y3u4I5o6P7";

/// The caller's credentials, as API Gateway passes them through.
const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.\
                   eyJzdWIiOiJqd3QtY2FuYXJ5LTkxODI3MzY0NTUiLCJuYW1lIjoiTGVhayBDYW5hcnkifQ.\
                   SiGnAtUrE-jwtcanary-Q7w3E9r1T5yU2iO4pA6sD8fG0hJ";
const SESSION_COOKIE: &str = "cookie-canary-Xy7Pq3Lm9Vz1Wk5Hn2Jt8";
const CSRF_COOKIE: &str = "csrf-canary-Rb4Tn8Kw2Jd6Fs1Gc3";

/// Every 12-character slice of `secret`: a log holding part of a secret leaks it too.
fn slices(secret: &str) -> Vec<&str> {
    let chars: Vec<usize> = secret
        .char_indices()
        .map(|(i, _)| i)
        .chain([secret.len()])
        .collect();
    chars.windows(13).map(|w| &secret[w[0]..w[12]]).collect()
}

/// Fails naming the first log line that holds `needle` (or one of its 12-character slices).
#[track_caller]
fn assert_absent(logs: &[String], what: &str, needle: &str) {
    let mut needles = vec![needle];
    needles.extend(slices(needle));
    for line in logs {
        if let Some(found) = needles.iter().find(|n| line.contains(**n)) {
            panic!(
                "{what} ({needle}) is in the logs (as {found:?}) in the line:\n{line}\n\nall logs:\n{}",
                logs.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The function under the Runtime API, with full control of its logging environment.

#[derive(Clone, Copy, Debug)]
enum Format {
    Json,
    /// No `AWS_LAMBDA_LOG_FORMAT` at all, as on a function without advanced logging controls.
    Text,
}

#[derive(Clone, Copy, Debug)]
enum Verbosity {
    /// `AWS_LAMBDA_LOG_LEVEL=TRACE`, as Lambda's advanced logging controls set it.
    LambdaTrace,
    /// `RUST_LOG=trace`, as a developer would.
    RustLogTrace,
    /// Neither variable: the default level.
    Default,
}

/// The status of a Runtime API answer that must be an RFC 9457 problem.
#[track_caller]
fn problem_status(response: &Value, statuses: std::ops::RangeInclusive<u16>) -> u16 {
    problem_body(response, statuses)["status"]
        .as_u64()
        .expect("a status") as u16
}

/// Spawns `name` with exactly this format and verbosity, nothing inherited.
fn spawn(
    name: &str,
    runtime: &RuntimeApi,
    format: Format,
    verbosity: Verbosity,
    env: &[(&str, String)],
) -> Function {
    let mut log_env = Vec::new();
    if let Format::Json = format {
        log_env.push(("AWS_LAMBDA_LOG_FORMAT", "JSON"));
    }
    match verbosity {
        Verbosity::LambdaTrace => log_env.push(("AWS_LAMBDA_LOG_LEVEL", "TRACE")),
        Verbosity::RustLogTrace => log_env.push(("RUST_LOG", "trace")),
        Verbosity::Default => {}
    }
    Launch::of(name).logs(&log_env).under(runtime, env)
}

/// The request's own summary line (`"request"`, with its status), in either format.
fn is_request_line(line: &str, status: u16) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(json) => json["fields"]["message"] == "request" && json["fields"]["status"] == status,
        Err(_) => line.contains("request") && line.contains(&format!("status={status}")),
    }
}

/// A line logged below INFO: proof that the TRACE setting took effect at all.
fn is_verbose_line(line: &str) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(json) => json["level"] == "TRACE" || json["level"] == "DEBUG",
        Err(_) => {
            let line = line.trim_start();
            line.starts_with("TRACE") || line.starts_with("DEBUG")
        }
    }
}

/// The logs, once `count` request lines with `status` are among them (the pipes lag a little).
async fn logs_with_request_lines(function: &Function, status: u16, count: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = function.logs();
        if logs.iter().filter(|l| is_request_line(l, status)).count() >= count {
            // Whatever was logged right after the answer, too.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let logs = function.logs();
            // `LOG_SAFETY_SHOW=1 cargo test ... -- --nocapture` prints what the function logged.
            if std::env::var_os("LOG_SAFETY_SHOW").is_some() {
                eprintln!("--- logs\n{}\n---", logs.join("\n"));
            }
            return logs;
        }
        assert!(
            Instant::now() < until,
            "not {count} `request` line(s) with status {status} in the logs:\n{}",
            logs.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One test a case, each `name: verbosity, format;` running `check(verbosity, format)`: the
/// checks below are the same whatever the log settings, and each setting is a test of its own.
macro_rules! cases {
    ($check:ident { $($(#[$doc:meta])* $name:ident: $verbosity:ident, $format:ident;)* }) => {
        $(
            $(#[$doc])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $check(Verbosity::$verbosity, Format::$format).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// 1. Secrets Manager answers with something the SDK cannot parse.

/// GetSecretValue's real answer, with the client secret in it, except that `CreatedDate` (an
/// epoch-seconds timestamp) is not a timestamp: the SDK reads the secret, then fails.
fn unparsable_get_secret_value() -> String {
    let secret_string = json!({
        "client_id": "sandbox-client",
        "client_secret": SECRET,
        "audience": "https://sandbox.omnilab.test",
    })
    .to_string();
    json!({
        "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:omnilab/leak-canary-AbCdEf",
        "Name": "omnilab/leak-canary",
        "VersionId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "SecretString": secret_string,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": "not-a-timestamp",
    })
    .to_string()
}

/// The precondition of the tests below: the SDK really fails on that answer (rather than
/// ignoring the bad timestamp and handing the secret over). It fails deserializing the 200
/// answer, which the generated code reports as an unhandled service error without a code, whose
/// `Debug` (and so `DisplayErrorContext`, which appends the `Debug`) carries the raw body: the
/// secret. That is what the binary must not log.
#[tokio::test]
async fn the_fake_secrets_manager_answer_is_one_the_sdk_cannot_parse() {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

    let (endpoint, calls) =
        secrets::fake_secrets_manager(unparsable_get_secret_value(), Duration::ZERO).await;
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&endpoint)
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let error = client
        .get_secret_value()
        .secret_id("omnilab/leak-canary")
        .send()
        .await
        .expect_err("the SDK cannot parse CreatedDate \"not-a-timestamp\"");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one call, not retried");
    let context = DisplayErrorContext(&error).to_string();
    eprintln!("DisplayErrorContext: {context}");
    assert_eq!(
        error.raw_response().map(|r| r.status().as_u16()),
        Some(200),
        "{context}"
    );
    let unparsed = match &error {
        SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => service.err().code().is_none(),
        _ => false,
    };
    assert!(unparsed, "a deserialization failure, not {context}");
    assert!(
        context.contains("not-a-timestamp"),
        "the failure is the timestamp: {context}"
    );
    assert!(
        format!("{error:?}").contains(SECRET),
        "the SDK error's Debug carries the raw body, secret included (why the binary must never log it)"
    );
}

async fn unparsable_secret_does_not_leak(verbosity: Verbosity, format: Format) {
    let (endpoint, calls) =
        secrets::fake_secrets_manager(unparsable_get_secret_value(), Duration::ZERO).await;
    let sandbox = Sandbox::new(SandboxData::demo(demo_start()));
    let sandbox_addr = sandbox
        .serve("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the sandbox binds a loopback port");
    let runtime = RuntimeApi::start().await;
    let mut env = function_env_at(sandbox_addr, "omnilab/leak-canary");
    env.extend([
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLEAKCANARY".into()),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY.into()),
        ("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN.into()),
    ]);
    let function = spawn("list-bookings", &runtime, format, verbosity, &env);

    let event = list_event(DEMO_CUSTOMER).json();
    let response = runtime.invoke(event).await.response();
    let status = problem_status(&response, 500..=599);
    assert!(
        !response.to_string().contains(SECRET),
        "the answer holds the secret: {response}"
    );
    assert!(
        calls.load(Ordering::SeqCst) >= 1,
        "the function read its secret from the fake"
    );
    assert_eq!(
        sandbox.counters().token_exchanges,
        0,
        "the SDK failed: the secret was never used against OmniLab"
    );

    let logs = logs_with_request_lines(&function, status, 1).await;
    assert!(
        matches!(verbosity, Verbosity::Default) || logs.iter().any(|l| is_verbose_line(l)),
        "{verbosity:?} took effect (some DEBUG or TRACE line):\n{}",
        logs.join("\n")
    );
    assert_absent(&logs, "the OmniLab client secret", SECRET);
    assert_absent(&logs, "the AWS secret access key", AWS_SECRET_KEY);
    assert_absent(&logs, "the AWS session token", AWS_SESSION_TOKEN);
}

cases!(unparsable_secret_does_not_leak {
    /// Not only a debugging session: the failure itself is logged at ERROR, so this one matters at
    /// the level every function runs at.
    unparsable_secret_does_not_leak_at_default_level_json: Default, Json;
    unparsable_secret_does_not_leak_at_lambda_trace_json: LambdaTrace, Json;
    unparsable_secret_does_not_leak_at_lambda_trace_text: LambdaTrace, Text;
    unparsable_secret_does_not_leak_at_rust_log_trace_json: RustLogTrace, Json;
    unparsable_secret_does_not_leak_at_rust_log_trace_text: RustLogTrace, Text;
});

// ---------------------------------------------------------------------------------------------
// 2. A normal request at TRACE: the caller's JWT and cookies, OmniLab's token and the client
//    secret stay out of the logs.

async fn caller_credentials_and_tokens_do_not_leak(verbosity: Verbosity, format: Format) {
    let world = World::demo().await;
    let runtime = RuntimeApi::start().await;
    let env = function_env(&world);
    let function = spawn("list-bookings", &runtime, format, verbosity, &env);

    let event = list_event(DEMO_CUSTOMER)
        .query("page_size=5")
        .header("authorization", &format!("Bearer {JWT}"))
        .header(
            "cookie",
            &format!("session={SESSION_COOKIE}; csrf={CSRF_COOKIE}"),
        )
        .cookie(&format!("session={SESSION_COOKIE}"))
        .cookie(&format!("csrf={CSRF_COOKIE}"))
        .json();
    let response = runtime.invoke(event).await.response();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        world.sandbox.counters().token_exchanges,
        1,
        "a token was issued"
    );
    assert_eq!(world.sandbox.counters().fetches, 1);

    let logs = logs_with_request_lines(&function, 200, 1).await;
    assert!(
        logs.iter().any(|l| is_verbose_line(l)),
        "{verbosity:?} took effect (some DEBUG or TRACE line):\n{}",
        logs.join("\n")
    );
    assert_absent(&logs, "the caller's JWT", JWT);
    for (n, part) in JWT.split('.').enumerate() {
        assert_absent(&logs, &format!("part {n} of the caller's JWT"), part);
    }
    assert_absent(&logs, "the session cookie", SESSION_COOKIE);
    assert_absent(&logs, "the CSRF cookie", CSRF_COOKIE);
    // The sandbox issues `sandbox-token-{n}-{16 hex digits}`: no token of that shape, whole or
    // as its random part, may show.
    assert!(
        logs.iter().all(|l| !l.contains("sandbox-token-")),
        "an OmniLab access token is in the logs:\n{}",
        logs.join("\n")
    );
    let secret = Sandbox::default_credentials().client_secret;
    assert!(
        logs.iter().all(|l| !l.contains(&secret)),
        "the OmniLab client secret ({secret}) is in the logs:\n{}",
        logs.join("\n")
    );
    assert!(
        logs.iter().all(|l| !l.contains("Bearer ")),
        "a bearer credential is in the logs:\n{}",
        logs.join("\n")
    );
}

cases!(caller_credentials_and_tokens_do_not_leak {
    caller_credentials_and_tokens_do_not_leak_at_lambda_trace_json: LambdaTrace, Json;
    caller_credentials_and_tokens_do_not_leak_at_lambda_trace_text: LambdaTrace, Text;
    caller_credentials_and_tokens_do_not_leak_at_rust_log_trace_json: RustLogTrace, Json;
    caller_credentials_and_tokens_do_not_leak_at_rust_log_trace_text: RustLogTrace, Text;
});

// ---------------------------------------------------------------------------------------------
// 3. Log forging: a query parameter name with a newline and a fake log line in it.

/// The forged line an attacker would like to see in the logs, on a line of its own.
const FORGED: &str = "INFO forged line";

/// `GET /bookings` with a parameter named `x\nINFO forged line` (and, in a second request,
/// `y\rINFO forged cr`): percent-encoded in `rawQueryString`, which lambda_http decodes, and
/// raw in `queryStringParameters`, as API Gateway would also deliver it.
fn forging_event(name: &str, encoded: &str) -> Value {
    list_event(DEMO_CUSTOMER)
        .query(&format!("{encoded}=1"))
        .query_string_parameters(json!({ name: "1" }))
        .json()
}

async fn forged_query_names_stay_on_one_line(verbosity: Verbosity, format: Format) {
    let world = World::demo().await;
    let runtime = RuntimeApi::start().await;
    let env = function_env(&world);
    let function = spawn("list-bookings", &runtime, format, verbosity, &env);

    let newline = runtime
        .invoke(forging_event(
            "x\nINFO forged line",
            "x%0AINFO%20forged%20line",
        ))
        .await
        .response();
    assert_eq!(problem_status(&newline, 400..=400), 400);
    let body: Value = serde_json::from_str(newline["body"].as_str().unwrap()).unwrap();
    let field = body["field"].as_str().expect("the problem names the field");
    assert!(
        field.starts_with('x') && field.contains("INFO forged line"),
        "lambda_http decoded the name: {body}"
    );
    let carriage_return = runtime
        .invoke(forging_event("y\rINFO forged cr", "y%0DINFO%20forged%20cr"))
        .await
        .response();
    assert_eq!(problem_status(&carriage_return, 400..=400), 400);
    assert_eq!(
        world.sandbox.counters().fetches,
        0,
        "bad input goes nowhere"
    );

    let logs = logs_with_request_lines(&function, 400, 2).await;
    assert_eq!(
        logs.iter().filter(|l| is_request_line(l, 400)).count(),
        2,
        "one request line per request:\n{}",
        logs.join("\n")
    );
    for line in &logs {
        let start = line.trim_start();
        assert!(
            !start.starts_with(FORGED) && !start.starts_with("INFO forged cr"),
            "a forged log line:\n{line}\n\nall logs:\n{}",
            logs.join("\n")
        );
        assert!(
            !line.contains('\r'),
            "a raw carriage return in a log line: {line:?}\n\nall logs:\n{}",
            logs.join("\n")
        );
        if let Format::Json = format {
            assert!(
                serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
                "not a JSON object: {line:?}\n\nall logs:\n{}",
                logs.join("\n")
            );
        }
    }
}

cases!(forged_query_names_stay_on_one_line {
    forged_query_names_stay_on_one_line_in_text: Default, Text;
    forged_query_names_stay_on_one_line_in_text_at_trace: LambdaTrace, Text;
    forged_query_names_leave_every_json_line_parseable: Default, Json;
    forged_query_names_leave_every_json_line_parseable_at_trace: LambdaTrace, Json;
});
