//! `list-bookings`: the Lambda behind `GET /bookings`. All the work is in the shared crate.

fn main() -> Result<(), lambda_http::Error> {
    bookings::run(bookings::Route::ListBookings)
}
