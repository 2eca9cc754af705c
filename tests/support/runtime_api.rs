//! A Lambda Runtime API on loopback, to run the compiled binaries through their real runtime
//! loop: the binary polls `/next`, we hand it an event, it posts the response back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// What the function posted back for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

impl Outcome {
    #[track_caller]
    pub fn response(self) -> Value {
        match self {
            Self::Response(value) => value,
            Self::Error(error) => panic!("the function reported an error: {error}"),
        }
    }
}

struct Invocation {
    id: String,
    /// Its own X-Ray trace id, as Lambda gives each invocation.
    trace: String,
    event: Value,
    deadline_ms: u64,
}

/// What the Runtime API's handlers share (axum state): the queue of invocations waiting for a
/// poll, the callers waiting for each answer, and what the tests read back.
#[derive(Clone)]
struct Shared {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    first_poll: Arc<Mutex<Option<Instant>>>,
    init_errors: Arc<Mutex<Vec<Value>>>,
    /// How many of the next `/response` posts have their connection dropped unanswered.
    dropping: Arc<AtomicU64>,
}

pub struct RuntimeApi {
    pub address: String,
    sender: mpsc::UnboundedSender<Invocation>,
    shared: Shared,
    next_id: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Shared {
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
            waiting: Arc::default(),
            first_poll: Arc::default(),
            init_errors: Arc::default(),
            dropping: Arc::default(),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("an address").to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            address,
            sender,
            shared,
            next_id: AtomicU64::new(0),
        }
    }

    /// Hands `event` to the next poll and waits for the function's answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        self.invoke_with_deadline(event, Duration::from_secs(10))
            .await
    }

    /// Hands every event in at once, as that many concurrent callers would, and returns the
    /// function's answers in the events' order.
    pub async fn invoke_all(&self, events: impl IntoIterator<Item = Value>) -> Vec<Value> {
        let answers = events
            .into_iter()
            .map(|event| async { self.invoke(event).await.response() });
        futures_util::future::join_all(answers).await
    }

    /// Like [`RuntimeApi::invoke`], with `Lambda-Runtime-Deadline-Ms` set to now + `deadline`
    /// (measured when the event is queued, as Lambda measures it from the invoke).
    pub async fn invoke_with_deadline(&self, event: Value, deadline: Duration) -> Outcome {
        let number = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("invoke-{number}");
        let trace = format!("Root=1-{:08x}-{number:024x};Sampled=0", now_ms() / 1000);
        let (tell, answer) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), tell);
        let deadline_ms = now_ms() + deadline.as_millis() as u64;
        self.sender
            .send(Invocation {
                id,
                trace,
                event,
                deadline_ms,
            })
            .expect("the runtime API is running");
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .expect("the function answers within 30 s")
            .expect("the function answers")
    }

    /// The next `n` answers the function posts lose their connection before any reply, as
    /// when the Runtime API's connection drops; the invocations they answered get no outcome.
    pub fn drop_responses(&self, n: u64) {
        self.shared.dropping.store(n, Ordering::Relaxed);
    }

    /// When the function first asked for work, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.lock().expect("not poisoned")
    }

    pub async fn wait_first_poll(&self, limit: Duration) -> Option<Instant> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(at) = self.first_poll() {
                return Some(at);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }

    pub fn init_errors(&self) -> Vec<Value> {
        self.shared
            .init_errors
            .lock()
            .expect("not poisoned")
            .clone()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

async fn next(State(shared): State<Shared>) -> impl IntoResponse {
    shared
        .first_poll
        .lock()
        .expect("not poisoned")
        .get_or_insert_with(Instant::now);
    let invocation = shared.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).expect("a header value");
    headers.insert("lambda-runtime-aws-request-id", header(&invocation.id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(&invocation.deadline_ms.to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header("arn:aws:lambda:eu-west-1:123456789012:function:bookings"),
    );
    headers.insert("lambda-runtime-trace-id", header(&invocation.trace));
    (StatusCode::OK, headers, invocation.event.to_string())
}

async fn respond(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let dropping = shared
        .dropping
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    if dropping.is_ok() {
        // Unwinding out of the handler ends hyper's connection task: the socket closes with no
        // reply. `resume_unwind`, not `panic!`: no panic message in the test's output.
        std::panic::resume_unwind(Box::new("the connection drops"));
    }
    deliver(
        &shared,
        &id,
        Outcome::Response(serde_json::from_slice(&body).unwrap_or(Value::Null)),
    )
}

async fn fail(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    deliver(
        &shared,
        &id,
        Outcome::Error(serde_json::from_slice(&body).unwrap_or(Value::Null)),
    )
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let error = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.init_errors.lock().expect("not poisoned").push(error);
    StatusCode::ACCEPTED
}

fn deliver(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().expect("not poisoned").remove(id) {
        Some(tell) => {
            let _ = tell.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// The compiled binary `name` (the test command builds the workspace's binaries first).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = std::env::var("BOOKINGS_BIN_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build --bins`, as scripts/test.sh does)",
        path.display()
    );
    path
}

/// Asserts that a Runtime API answer is an RFC 9457 problem with a status in `statuses`;
/// returns the problem document.
#[track_caller]
pub fn problem_body(response: &Value, statuses: std::ops::RangeInclusive<u16>) -> Value {
    let status = response["statusCode"].as_u64().expect("a status code") as u16;
    assert!(statuses.contains(&status), "{response}");
    assert_eq!(
        response["headers"]["content-type"], "application/problem+json",
        "{response}"
    );
    let body: Value = serde_json::from_str(response["body"].as_str().expect("a text body"))
        .expect("a JSON problem");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"].as_str().is_some_and(|t| t.starts_with("tag:"))
            && body["title"].is_string()
            && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// A function process under the runtime API, with its log lines collected.
pub struct Function {
    pub child: tokio::process::Child,
    pub started: Instant,
    pub logs: Arc<Mutex<Vec<String>>>,
}

/// How a function process starts: which build of which binary, through which wrapper, with
/// which log settings. [`Function::spawn`] is the usual case; this is for the others.
pub struct Launch<'a> {
    name: &'a str,
    path: PathBuf,
    wrapper: &'a [String],
    log_env: &'a [(&'a str, &'a str)],
}

/// JSON logs at the default level, as the template deploys the functions.
const DEPLOYED_LOGS: &[(&str, &str)] = &[("AWS_LAMBDA_LOG_FORMAT", "JSON")];

impl<'a> Launch<'a> {
    /// The build of `name` that [`binary`] finds, with the deployed log settings.
    pub fn of(name: &'a str) -> Self {
        Self {
            name,
            path: binary(name),
            wrapper: &[],
            log_env: DEPLOYED_LOGS,
        }
    }

    /// The executable at `path` instead (another build of `name`).
    pub fn build_at(mut self, path: &std::path::Path) -> Self {
        self.path = path.to_owned();
        self
    }

    /// Started through `wrapper`: a command that execs the binary it is given last, as
    /// `scripts/cpu-share.sh 128` does (the pid stays the binary's).
    pub fn through(mut self, wrapper: &'a [String]) -> Self {
        self.wrapper = wrapper;
        self
    }

    /// With its log variables exactly as `log_env` says: none of `AWS_LAMBDA_LOG_FORMAT`,
    /// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` leaks in from the test's own environment (no format
    /// variable at all is the text format).
    pub fn logs(mut self, log_env: &'a [(&'a str, &'a str)]) -> Self {
        self.log_env = log_env;
        self
    }

    /// Polling `runtime`.
    pub fn under(self, runtime: &RuntimeApi, env: &[(&str, String)]) -> Function {
        self.at(&runtime.address, env)
    }

    /// Polling another implementation of the Runtime API at `runtime_api` (what Lambda puts in
    /// `AWS_LAMBDA_RUNTIME_API`: a host and port, and there a path if that API needs one).
    pub fn at(self, runtime_api: &str, env: &[(&str, String)]) -> Function {
        Function::start(
            self.wrapper,
            &self.path,
            self.name,
            runtime_api,
            self.log_env,
            env,
        )
    }
}

impl Function {
    /// The function with JSON logs at the default level, as the template deploys it.
    pub fn spawn(name: &str, runtime: &RuntimeApi, env: &[(&str, String)]) -> Self {
        Launch::of(name).under(runtime, env)
    }

    fn start(
        wrapper: &[String],
        path: &std::path::Path,
        name: &str,
        runtime_api: &str,
        log_env: &[(&str, &str)],
        env: &[(&str, String)],
    ) -> Self {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).arg(path);
                command
            }
            None => tokio::process::Command::new(path),
        };
        command
            .env_remove("AWS_LAMBDA_LOG_FORMAT")
            .env_remove("AWS_LAMBDA_LOG_LEVEL")
            .env_remove("RUST_LOG")
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in log_env {
            command.env(key, value);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let started = Instant::now();
        let mut child = command.spawn().expect("the function starts");
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            tokio::spawn(async move {
                // Split on bytes, not UTF-8 lines: a line that is not UTF-8 must not end the
                // capture (and so hide what follows it from a test).
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut line).await {
                    if n == 0 {
                        break;
                    }
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    let text = String::from_utf8_lossy(&line).into_owned();
                    logs.lock().expect("not poisoned").push(text);
                    line.clear();
                }
            });
        }
        Self {
            child,
            started,
            logs,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("not poisoned").clone()
    }

    /// Waits until the function's runtime loop first asks `runtime` for work (so that start-up
    /// is not timed with what follows) and returns when it did; panics with its logs if it
    /// never does.
    pub async fn ready(&self, runtime: &RuntimeApi) -> Instant {
        runtime
            .wait_first_poll(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("never asked for work: {:#?}", self.logs()))
    }

    /// [`Function::spawn`], then [`Function::ready`].
    pub async fn spawn_ready(name: &str, runtime: &RuntimeApi, env: &[(&str, String)]) -> Self {
        let function = Self::spawn(name, runtime, env);
        function.ready(runtime).await;
        function
    }

    /// CPU time the process has had so far, all its threads: the first field of each
    /// `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds. What Lambda bills, in effect.
    pub fn cpu_time(&self) -> Option<Duration> {
        let pid = self.child.id()?;
        let mut total = 0u64;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(Duration::from_nanos(total))
    }

    /// The write-family system calls the process has made (all threads), from /proc: its log
    /// lines to stdout and its writes to sockets.
    pub fn write_calls(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
        io.lines()
            .find_map(|l| l.strip_prefix("syscw:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Resident memory high-water mark, from /proc (kB).
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}
