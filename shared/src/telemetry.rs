//! Log output: `tracing` events to stdout, one JSON object a line when Lambda's advanced logging
//! controls ask for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), at `AWS_LAMBDA_LOG_LEVEL` (else
//! `RUST_LOG`, else INFO).
//!
//! The same contract as lambda_runtime's default subscriber, with a plain level instead of an
//! `EnvFilter`: the filter's regex engine was about 0.35 MB of every binary (README, Performance).
//!
//! Only our own events follow any level below INFO, and the Lambda runtime's go down to DEBUG
//! but never TRACE: the HTTP and AWS SDK crates log requests and responses at DEBUG and TRACE,
//! and lambda_runtime logs the whole raw event (the customer's JWT, their cookies) at TRACE. No
//! debugging session may put a secret or a token in the logs.

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .and_then(|text| parse_level(&text))
        .unwrap_or(Level::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let filter = filter(level);
    // Fails only if a subscriber is already set (tests); the existing one then keeps logging.
    let _ = if json {
        builder.json().finish().with(filter).try_init()
    } else {
        builder.finish().with(filter).try_init()
    };
}

fn filter(level: Level) -> Targets {
    // `Level`'s order runs from ERROR (least verbose) up to TRACE: `min` caps verbosity.
    let runtime = level.min(Level::DEBUG);
    Targets::new()
        .with_default(level.min(Level::INFO))
        .with_target("bookings", level)
        .with_target("lambda_runtime", runtime)
        .with_target("lambda_http", runtime)
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

    #[test]
    fn other_crates_never_log_below_info() {
        let filter = filter(Level::TRACE);
        assert!(filter.would_enable("bookings::omnilab", &Level::TRACE));
        assert!(!filter.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!filter.would_enable("hyper_util::client", &Level::TRACE));
        assert!(filter.would_enable("hyper_util::client", &Level::INFO));
        assert!(filter.would_enable("lambda_runtime::runtime", &Level::DEBUG));
        assert!(
            !filter.would_enable("lambda_runtime::layers::api_response", &Level::TRACE),
            "lambda_runtime logs the raw event at TRACE"
        );
        assert!(!filter.would_enable("lambda_http", &Level::TRACE));
        let quiet = super::filter(Level::WARN);
        assert!(!quiet.would_enable("bookings", &Level::INFO));
        assert!(!quiet.would_enable("reqwest", &Level::INFO));
    }

    #[test]
    fn reads_lambdas_level_names() {
        assert_eq!(parse_level("WARN"), Some(Level::WARN));
        assert_eq!(parse_level("debug"), Some(Level::DEBUG));
        assert_eq!(parse_level("FATAL"), Some(Level::ERROR));
        assert_eq!(parse_level("loud"), None);
    }
}
