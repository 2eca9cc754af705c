//! One request's budget upstream: the time it has left, and what its calls have cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tally::{Recorder, Tally};

/// One request's budget for OmniLab, Secrets Manager and DynamoDB: its deadline, and the tally
/// every call it makes is counted in. Narrower budgets made from it (`within`, `outliving`)
/// share its tally.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    // Shared with the narrower budgets made from this one, so their costs count here too.
    tally: Arc<Recorder>,
}

impl Budget {
    pub fn new(time: Duration) -> Self {
        Self {
            deadline: Instant::now() + time,
            tally: Arc::default(),
        }
    }

    /// The same request with at most `at_most` left: for work it may give up on (refreshing a
    /// token that still serves) without giving up the request.
    pub(crate) fn within(&self, at_most: Duration) -> Self {
        Self {
            deadline: self.deadline.min(Instant::now() + at_most),
            tally: self.tally.clone(),
        }
    }

    /// The same request's tally, with a deadline of its own: at least `at_least` from now,
    /// and never earlier than this one's. For work shared by several requests, which must not
    /// end with the first of them.
    pub(crate) fn outliving(&self, at_least: Duration) -> Self {
        Self {
            deadline: self.deadline.max(Instant::now() + at_least),
            tally: self.tally.clone(),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether this request's own time is up: a timeout then says nothing about the upstream.
    pub(crate) fn spent(&self) -> bool {
        self.remaining().is_zero()
    }

    /// What this request's upstream calls came to, by endpoint and outcome.
    pub fn tally(&self) -> Tally {
        self.tally.snapshot()
    }

    pub(crate) fn record(&self) -> &Recorder {
        &self.tally
    }

    /// Upstream round trips so far (Secrets Manager reads, DynamoDB and OmniLab calls alike).
    pub fn upstream_calls(&self) -> u32 {
        self.tally.with(|tally| tally.upstream_calls)
    }

    pub(crate) fn count(&self) {
        self.tally.with(|tally| tally.upstream_calls += 1);
    }
}
