//! Log output: `tracing` events to stdout, one JSON object a line when Lambda's advanced logging
//! controls ask for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), at `AWS_LAMBDA_LOG_LEVEL` (else
//! `RUST_LOG`, else INFO).
//!
//! The same contract as lambda_runtime's default subscriber, with a plain level instead of an
//! `EnvFilter`: the filter's regex engine was about 0.35 MB of every binary (README, Performance).
//!
//! Only our own events and the Lambda runtime's follow a level below INFO: the HTTP and AWS SDK
//! crates log requests and responses at DEBUG and TRACE, and no debugging session should put a
//! secret or a token in the logs.

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
    Targets::new()
        .with_default(level.min(Level::INFO))
        .with_target("bookings", level)
        .with_target("lambda_runtime", level)
        .with_target("lambda_http", level)
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
