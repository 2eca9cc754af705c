//! Log output: `tracing` events to stdout, one JSON object a line when Lambda's advanced logging
//! controls ask for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), at `AWS_LAMBDA_LOG_LEVEL` (else
//! `RUST_LOG`, a level or directives such as `bookings=debug`, else INFO).
//!
//! The same contract as lambda_runtime's default subscriber, with `Targets` directives instead
//! of an `EnvFilter`: the filter's regex engine was about 0.35 MB of every binary (README,
//! Performance).
//!
//! Only our own events follow any level below INFO, and the Lambda runtime's go down to DEBUG
//! but never TRACE: the HTTP and AWS SDK crates log requests and responses at DEBUG and TRACE,
//! and lambda_runtime logs the whole raw event (the customer's JWT, their cookies) at TRACE. No
//! debugging session may put a secret or a token in the logs.

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
        .with_ansi(false);
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
