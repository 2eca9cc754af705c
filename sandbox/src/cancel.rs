//! `POST /v1/interactions:cancelInteractionBooking`: a cancel that, like OmniLab's, checks
//! nothing about who asks; the calls made for each booking, and the cancels it refuses.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;

use crate::router::error;
use crate::state::Sandbox;
use crate::wire::{BookingStatus, CancelAnswer, CancelRequest};

/// The cancel endpoint's part of the state.
#[derive(Default)]
pub(crate) struct CancelState {
    /// How often each booking's cancel was called.
    calls: HashMap<String, u64>,
    /// Bookings whose cancel OmniLab refuses, and the status it answers.
    refused: HashMap<String, u16>,
}

impl Sandbox {
    /// How often OmniLab's cancel was called for this booking.
    pub fn cancel_calls(&self, booking: &str) -> u64 {
        self.lock().cancel.calls.get(booking).copied().unwrap_or(0)
    }

    /// From now on a cancel of `booking` is refused with `status` and an error naming the
    /// booking. The reference page documents no refusal; OmniLab's answer to a booking that
    /// can no longer be cancelled (a past slot, a closed campaign) is a guess the product must
    /// survive: 409 and 422 as an API says "not in this state", or a 400 about the booking.
    pub fn refuse_cancel(&self, booking: &str, status: u16) {
        self.lock()
            .cancel
            .refused
            .insert(booking.to_owned(), status);
    }
}

/// One cancel with `body`: the booking cancelled, else OmniLab's error.
pub(crate) fn cancel(sandbox: &Sandbox, headers: &HeaderMap, body: &[u8]) -> Response {
    let request = serde_json::from_slice::<CancelRequest>(body);
    let mut guard = sandbox.lock();
    let state = &mut *guard;
    state.counters.cancels += 1;
    if !state.token.accept(headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let Ok(CancelRequest { booking }) = request else {
        return error(StatusCode::BAD_REQUEST, "booking_required");
    };
    *state.cancel.calls.entry(booking.clone()).or_default() += 1;
    if let Some(status) = state.cancel.refused.get(&booking).copied() {
        drop(guard);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT);
        let body = json!({
            "error": "booking_not_cancellable",
            "message": format!("booking {booking} cannot be cancelled in its current state"),
        });
        return (status, axum::Json(body)).into_response();
    }
    // Like OmniLab's: any valid token may cancel any booking. Our functions must check ownership.
    let Some(stored) = state
        .data
        .bookings
        .iter_mut()
        .find(|b| b.booking == booking)
    else {
        return error(StatusCode::NOT_FOUND, "booking_not_found");
    };
    stored.booking_status = BookingStatus::Cancelled;
    stored.booked_at = Timestamp::now();
    drop(guard);
    axum::Json(CancelAnswer {}).into_response()
}
