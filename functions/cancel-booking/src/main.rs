//! `cancel-booking`: the Lambda behind `POST /bookings/{booking}/cancel`. All the work is in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    bookings::serve(bookings::Route::CancelBooking).await
}
