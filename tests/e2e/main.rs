//! The end-to-end tests, one test binary over the shared helpers of `tests/support` (the
//! `bookings_tests` library): each module below used to be a test target of its own, and each
//! of those linked the whole AWS SDK again. Run one module with a filter:
//! `cargo test -p bookings-tests --test e2e -- token_store::`.
//!
//! # Layout
//!
//! - Through `App::handle`, in process, against the sandbox OmniLab and moto's Secrets Manager:
//!   [`list_bookings`], [`cancel_booking`], [`upstream`], [`openapi`] (openapi.yaml tells the
//!   truth), [`oversized`] (hostile input and the fuzzer's finds), [`tls`] (the same over HTTPS
//!   under a tenant's host name, as production reaches OmniLab; one test runs the binary).
//! - Through the compiled Lambda binaries under a local Runtime API: [`lambda_binaries`],
//!   [`deadlines`], [`log_safety`], [`load`], [`metrics`] (EMF documents, alarms, dashboard),
//!   [`runtime_loop`] (unreadable events, trace ids, a Runtime API that fails),
//!   [`token_store`] (the fleet's token in DynamoDB Local, on good days and bad).
//! - The operator's `check-credentials` command, as a process against the sandbox:
//!   [`check_credentials`].
//! - The harnesses and the deploy files: [`token_table_harness`] (DynamoDB Local itself),
//!   [`template`] (samconfig.toml against template.yaml).
//! - The compiled dev server's sign-in, API Gateway's JWT check with tokens of the tests' own:
//!   [`sign_in`].
//! - The reference account page in Chromium: [`account_page`].

mod account_page;
mod cancel_booking;
mod check_credentials;
mod deadlines;
mod lambda_binaries;
mod list_bookings;
mod load;
mod log_safety;
mod metrics;
mod openapi;
mod oversized;
mod runtime_loop;
mod sign_in;
mod template;
mod tls;
mod token_store;
mod token_table_harness;
mod upstream;
