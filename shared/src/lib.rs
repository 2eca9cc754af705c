//! The shared core of the OmniLab Bookings backend.
//!
//! The two Lambda binaries (`list-bookings`, `cancel-booking`) are thin: each builds an [`App`]
//! from the environment and hands every API Gateway request to it. Everything else lives here,
//! one module per concern:
//!
//! - [`config`]: settings read from the environment, checked once at start-up.
//! - [`identity`]: the signed-in customer, taken from the JWT authorizer's claims.
//! - [`query`] and [`booking_id`]: the caller's input, validated before anything goes upstream.
//! - [`omnilab`]: credentials from Secrets Manager, the cached access token, the typed client.
//! - [`model`]: OmniLab's booking as it arrives on the wire.
//! - [`view`]: what we answer: localized strings resolved, local times, grouping.
//! - [`service`]: the two use cases, including the ownership check before a cancel.
//! - [`api`]: routes, problem JSON, and the one place errors become HTTP statuses.

pub mod api;
pub mod booking_id;
pub mod config;
pub mod identity;
pub mod model;
pub mod omnilab;
pub mod query;
pub mod service;
pub mod telemetry;
pub mod view;

#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use api::{App, Route, serve};
pub use config::Config;
