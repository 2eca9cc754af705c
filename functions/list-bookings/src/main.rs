//! `list-bookings`: the Lambda behind `GET /bookings`. All the work is in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    bookings::serve(bookings::Route::ListBookings).await
}
