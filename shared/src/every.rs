//! A warning at most once per interval: a fault that repeats on every request (a table that
//! refuses writes, a Runtime API that refuses connections) is one log line per interval, not a
//! flood that costs more than the fault.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A gate that opens at most once per interval, per container.
pub(crate) struct Every {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Every {
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(None),
        }
    }

    /// Whether the interval has passed since the gate last opened (it then opens now).
    pub(crate) fn due(&self, now: Instant) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_some_and(|at| now < at + self.interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_once_per_interval() {
        let every = Every::new(Duration::from_secs(30));
        let start = Instant::now();
        assert!(every.due(start));
        assert!(!every.due(start + Duration::from_secs(29)));
        assert!(every.due(start + Duration::from_secs(30)));
        assert!(!every.due(start + Duration::from_secs(31)));
    }
}
