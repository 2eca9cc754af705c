//! The sandbox's handle and everything it remembers, as one `State` behind one lock.
//!
//! Each concept's module owns its part of the state (`token::TokenState`, `fetch::FetchState`,
//! `cancel::CancelState`, `faults::FaultState`); one lock over all of them means a request sees
//! and changes them together, and no order of locks can deadlock.
//!
//! The lock is a std `Mutex`, never held across an `.await`: every lock is taken in a
//! synchronous function or a block that ends before the next await. The request handler would
//! not compile otherwise, since axum needs its future to be `Send` and a std guard is not.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::cancel::CancelState;
use crate::data::SandboxData;
use crate::faults::FaultState;
use crate::fetch::FetchState;
use crate::token::TokenState;
use crate::wire::BookingStatus;

/// Requests that reached each endpoint (those answered by an injected fault are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub token_exchanges: u64,
    pub fetches: u64,
    pub cancels: u64,
    /// Every request to the token endpoint, those answered by an injected fault included: what
    /// an outage costs OmniLab.
    pub token_requests: u64,
}

/// A handle on one sandbox: clones share it.
#[derive(Clone)]
pub struct Sandbox {
    state: Arc<Mutex<State>>,
}

/// All the sandbox remembers.
pub(crate) struct State {
    pub(crate) data: SandboxData,
    pub(crate) token: TokenState,
    pub(crate) fetch: FetchState,
    pub(crate) cancel: CancelState,
    pub(crate) faults: FaultState,
    /// How long every request waits before anything else happens.
    pub(crate) latency: Duration,
    pub(crate) counters: Counters,
}

impl Sandbox {
    pub fn new(data: SandboxData) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                data,
                token: TokenState::new(Self::default_credentials()),
                fetch: FetchState::default(),
                cancel: CancelState::default(),
                faults: FaultState::default(),
                latency: Duration::ZERO,
                counters: Counters::default(),
            })),
        }
    }

    /// The state, locked: for one short synchronous step, never across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        crate::lock(&self.state)
    }

    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    pub fn status_of(&self, booking: &str) -> Option<BookingStatus> {
        self.lock()
            .data
            .bookings
            .iter()
            .find(|b| b.booking == booking)
            .map(|b| b.booking_status)
    }

    pub fn data(&self) -> SandboxData {
        self.lock().data.clone()
    }
}
