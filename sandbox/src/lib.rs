//! A stand-in for OmniLab's Booking API, served over real HTTP, that behaves as the reference
//! page says: client-credentials tokens that expire, paging with `total_count`, the filters,
//! omitted durations, the language-map edge case, the same activity id in two campaigns, and
//! a cancel that (like OmniLab's) checks nothing about who asks.
//!
//! Used by the end-to-end tests, the fuzz target, the benchmark and the local dev server; never
//! by the Lambda binaries. Faults can be queued to test the unhappy paths: error statuses, rate
//! limiting, slow answers, dropped connections, malformed JSON.
//!
//! It speaks OmniLab's wire format with types of its own ([`wire`]) and does not depend on the
//! product crate at all, so it checks the product's model rather than echoing it.
//!
//! [`gateway`] is the other side's stand-in: the API Gateway event our functions receive.
//!
//! # Layout
//! - `state`: the [`Sandbox`] handle and the one `State` behind its one lock,
//!   with the [`Counters`] the tests read back and the data ([`Sandbox::data`]).
//! - `router`: serving over plain HTTP, and the dispatch of each request: its endpoint, the
//!   latency, the fault it meets, then the endpoint's handler.
//! - `faults`: the fault API ([`Endpoint`], [`Fault`], [`Sandbox::inject`], fault plans) and the
//!   answer each fault makes.
//! - `token`: `POST /v1/oauth:token`, the credentials it accepts and the tokens it has issued.
//! - `fetch`: `GET /v1/interactions:fetchContactBookings`: the query checked as OmniLab checks
//!   it, paging, ordering, language, and the changes made while a client pages.
//! - `cancel`: `POST /v1/interactions:cancelInteractionBooking`, and the cancels it refuses.
//! - `data`: the demo data ([`SandboxData`]).
//! - [`wire`]: OmniLab's wire format. [`tls`]: the same sandbox over HTTPS. [`gateway`]: API
//!   Gateway's events.

mod cancel;
mod data;
mod faults;
mod fetch;
pub mod gateway;
mod router;
mod state;
pub mod tls;
mod token;
pub mod wire;

use std::sync::{Mutex, MutexGuard};

pub use data::{
    CRAFT_ACTIVITY_ID, Campaign, DEMO_CUSTOMER, Localized, OTHER_CUSTOMER, SHARED_ACTIVITY_ID,
    SandboxData, StoredBooking, booking_uuid,
};
pub use faults::{Endpoint, Fault};
pub use fetch::Received;
pub use state::{Counters, Sandbox};
pub use wire::{BookingStatus, ClientCredentials, Host, TicketType};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the sandbox for the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
