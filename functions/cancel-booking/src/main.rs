//! `cancel-booking`: the Lambda behind `POST /bookings/{booking}/cancel`. All the work is in the shared crate.

fn main() -> Result<(), lambda_http::Error> {
    bookings::run(bookings::Route::CancelBooking)
}
