//! Log output: `tracing` events to stdout, one JSON object a line when Lambda's advanced logging
//! controls ask for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), at `AWS_LAMBDA_LOG_LEVEL` (else
//! `RUST_LOG`, a level or directives such as `bookings=debug`, else INFO).
//!
//! The same contract as lambda_runtime's default subscriber, with `Targets` directives instead
//! of an `EnvFilter`: the filter's regex engine made every binary markedly larger
//! (docs/performance.md).
//!
//! Only our own events follow any level below INFO, and the Lambda runtime's go down to DEBUG
//! but never TRACE: the HTTP and AWS SDK crates log requests and responses at DEBUG and TRACE,
//! and lambda_runtime logs the whole raw event (the customer's JWT, their cookies) at TRACE. No
//! debugging session may put a secret or a token in the logs.
//!
//! # One write per invocation
//! On classic Lambda (one request at a time, a current-thread runtime), an invocation's log
//! lines and EMF documents are held back and written to stdout together when it ends
//! ([`in_one_write`]): one `write` call instead of one per line, each a system call billed at
//! the function's fraction of a core. Lines are written whole and in order, and before the
//! response goes back, so nothing reaches CloudWatch later than it did. Outside an invocation,
//! and on a multi-threaded runtime (where a request's lines could come from any thread), every
//! line is written as it comes.

use std::cell::RefCell;
use std::io::Write;

use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let wanted = wanted(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        // The two filters below decide; the builder's own cap (INFO by default) must not.
        .with_max_level(LevelFilter::TRACE)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_writer(|| Stdout);
    // Two filters, both of which an event must pass: what was asked for, and the floor.
    // Fails only if a subscriber is already set (tests); the existing one then keeps logging.
    let _ = if json {
        builder
            .json()
            .finish()
            .with(wanted)
            .with(floor())
            .try_init()
    } else {
        builder.finish().with(wanted).with(floor()).try_init()
    };
}

thread_local! {
    /// This thread's held-back output, while an invocation runs on it.
    static HELD: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Runs `invocation` with its output held back and written in one write when it ends, however
/// it ends (a panic or a dropped future included). Only on a current-thread runtime: there,
/// whatever logs while it runs is this invocation's (or the container's own) work.
pub async fn in_one_write<F: Future>(invocation: F) -> F::Output {
    let current_thread = tokio::runtime::Handle::try_current().is_ok_and(|handle| {
        handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
    });
    let _held = current_thread.then(Held::start).flatten();
    invocation.await
}

/// Holds this thread's output back until dropped.
struct Held;

impl Held {
    /// `None` if output is already held (an invocation within an invocation).
    fn start() -> Option<Self> {
        HELD.with_borrow_mut(|held| match held {
            Some(_) => None,
            None => {
                *held = Some(Vec::with_capacity(4096));
                Some(Self)
            }
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(text) = HELD.with_borrow_mut(Option::take).filter(|t| !t.is_empty()) {
            // Logs are not worth failing a request over: a closed stdout loses them.
            let _ = std::io::stdout().lock().write_all(&text);
        }
    }
}

/// Writes `text` (whole lines) to stdout now, or adds it to the invocation's held output.
pub(crate) fn emit(text: &[u8]) {
    let held = HELD.with_borrow_mut(|held| match held {
        Some(buffer) => {
            buffer.extend_from_slice(text);
            true
        }
        None => false,
    });
    if !held {
        let _ = std::io::stdout().lock().write_all(text);
    }
}

/// The log's writer: each event is formatted whole and written with one `write_all`.
struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        emit(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the operator asked for: Lambda's plain `AWS_LAMBDA_LOG_LEVEL` first, else `RUST_LOG`
/// as a level or as directives (`bookings=debug,info`, parsed by `Targets`, with no regex
/// engine), else INFO.
fn wanted(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    if let Some(level) = lambda_level.and_then(parse_level) {
        return Targets::new().with_default(level);
    }
    match rust_log {
        Some(text) => parse_level(text)
            .map(|level| Targets::new().with_default(level))
            .or_else(|| text.parse::<Targets>().ok())
            .unwrap_or_else(|| Targets::new().with_default(Level::INFO)),
        None => Targets::new().with_default(Level::INFO),
    }
}

/// The most any crate may log, whatever was asked for: our own events at any level, the
/// Lambda runtime down to DEBUG, every other crate (HTTP, AWS SDK) down to INFO.
fn floor() -> Targets {
    Targets::new()
        .with_default(Level::INFO)
        .with_target("bookings", Level::TRACE)
        .with_target("lambda_runtime", Level::DEBUG)
        .with_target("lambda_http", Level::DEBUG)
}

fn parse_level(text: &str) -> Option<Level> {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" | "warning" => Some(Level::WARN),
        "error" | "fatal" | "critical" => Some(Level::ERROR),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Option<Vec<u8>> {
        HELD.with_borrow(Clone::clone)
    }

    #[tokio::test]
    async fn an_invocation_on_a_current_thread_runtime_is_written_at_its_end() {
        assert_eq!(held(), None);
        in_one_write(async {
            emit(b"{\"a\":1}\n");
            tokio::task::yield_now().await;
            emit(b"{\"b\":2}\n");
            // Nested: still one write, at the outer end.
            in_one_write(async { emit(b"{\"c\":3}\n") }).await;
            assert_eq!(
                held().as_deref(),
                Some(&b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"[..])
            );
        })
        .await;
        assert_eq!(held(), None, "written and released");
    }

    #[tokio::test]
    async fn a_panicking_invocation_still_writes_what_it_held() {
        let outcome = tokio::spawn(in_one_write(async {
            emit(b"before\n");
            panic!("the handler panicked");
        }))
        .await;
        assert!(outcome.is_err());
        assert_eq!(held(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_multi_threaded_runtime_nothing_is_held() {
        in_one_write(async {
            emit(b"");
            assert_eq!(held(), None);
        })
        .await;
    }

    fn enabled(wanted: &Targets, target: &str, level: Level) -> bool {
        wanted.would_enable(target, &level) && floor().would_enable(target, &level)
    }

    #[test]
    fn other_crates_never_log_below_info() {
        let trace = super::wanted(Some("TRACE"), None);
        assert!(enabled(&trace, "bookings::omnilab", Level::TRACE));
        assert!(!enabled(&trace, "aws_smithy_runtime::client", Level::DEBUG));
        assert!(!enabled(&trace, "hyper_util::client", Level::TRACE));
        assert!(enabled(&trace, "hyper_util::client", Level::INFO));
        assert!(enabled(&trace, "lambda_runtime::runtime", Level::DEBUG));
        assert!(
            !enabled(&trace, "lambda_runtime::layers::api_response", Level::TRACE),
            "lambda_runtime logs the raw event at TRACE"
        );
        assert!(!enabled(&trace, "lambda_http", Level::TRACE));
        let quiet = super::wanted(Some("WARN"), None);
        assert!(!enabled(&quiet, "bookings", Level::INFO));
        assert!(!enabled(&quiet, "reqwest", Level::INFO));
    }

    #[test]
    fn rust_log_directives_work_under_the_same_floor() {
        let wanted = super::wanted(None, Some("bookings=debug,warn"));
        assert!(enabled(&wanted, "bookings::service", Level::DEBUG));
        assert!(!enabled(&wanted, "bookings::service", Level::TRACE));
        assert!(enabled(&wanted, "lambda_runtime", Level::WARN));
        assert!(!enabled(&wanted, "lambda_runtime", Level::INFO));
        let everything = super::wanted(None, Some("trace,aws_smithy_runtime=trace,hyper=trace"));
        assert!(!enabled(
            &everything,
            "aws_smithy_runtime::client",
            Level::DEBUG
        ));
        assert!(!enabled(&everything, "hyper::proto", Level::TRACE));
        assert!(enabled(&everything, "bookings", Level::TRACE));
        // Lambda's own setting wins over RUST_LOG, as lambda_runtime's subscriber does.
        let lambda = super::wanted(Some("ERROR"), Some("bookings=trace"));
        assert!(!enabled(&lambda, "bookings", Level::WARN));
        // Nonsense is INFO, not silence.
        let nonsense = super::wanted(None, Some("=="));
        assert!(enabled(&nonsense, "bookings", Level::INFO));
        assert!(!enabled(&nonsense, "bookings", Level::DEBUG));
    }

    #[test]
    fn reads_lambdas_level_names() {
        assert_eq!(parse_level("WARN"), Some(Level::WARN));
        assert_eq!(parse_level("debug"), Some(Level::DEBUG));
        assert_eq!(parse_level("FATAL"), Some(Level::ERROR));
        assert_eq!(parse_level("loud"), None);
    }
}
