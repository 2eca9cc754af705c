//! The shared core of the OmniLab Bookings backend.
//!
//! The two Lambda binaries (`list-bookings`, `cancel-booking`) are thin: each builds an [`App`]
//! from the environment and hands every API Gateway request to it. Everything else lives here,
//! one module per concern:
//!
//! - [`config`]: settings read from the environment, checked once at start-up.
//! - [`identity`]: the signed-in customer, taken from the JWT authorizer's claims.
//! - [`query`] and [`booking_id`]: the caller's input, validated before anything goes upstream.
//! - [`omnilab`]: OmniLab's Booking API and its token: the credentials from Secrets Manager,
//!   the cached access token and the fleet's shared one in DynamoDB, the typed client.
//! - [`aws`]: the AWS SDK's one configuration for every AWS client we build, its TLS roots,
//!   and its errors reduced to what is safe to log.
//! - [`model`]: OmniLab's booking as it arrives on the wire, its strings borrowed from it;
//!   [`rfc3339`], its instants read and written.
//! - [`view`]: what we answer: localized strings resolved, local times, grouping, rendered
//!   already escaped for Lambda's response document ([`escaped`]).
//! - [`service`]: the two use cases, including the ownership check before a cancel.
//! - [`api`]: routes and request extraction; `api::problem`, the one place errors become
//!   HTTP answers.
//! - [`metrics`]: each request's figures as CloudWatch Embedded Metric Format documents.
//! - [`lambda`]: the process: logging, configuration, the runtime loop, the event made into a
//!   request and the response document it sends.
//! - [`telemetry`]: the log lines' format, written once per invocation.
//! - `every`: a warning at most once per interval.
//! - [`check_credentials`]: the operator's command that tries candidate OmniLab credentials
//!   before they go into the secret (`src/bin/check-credentials.rs` only calls it).

// The module maps link to the private modules they describe: this crate's docs are read built
// with `--document-private-items` (no one depends on it from outside), where those links resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub mod api;
pub mod aws;
pub mod booking_id;
pub mod check_credentials;
pub mod config;
pub mod escaped;
mod every;
pub mod identity;
pub mod lambda;
pub mod metrics;
pub mod model;
pub mod omnilab;
pub mod query;
pub mod rfc3339;
pub mod service;
pub mod telemetry;
pub mod view;

pub use api::{App, Route};
pub use config::Config;
pub use lambda::{run, serve};
