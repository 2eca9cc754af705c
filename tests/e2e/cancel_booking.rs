//! `POST /bookings/{booking}/cancel`: "Offer Cancel" from the reference page, safely.

use bookings::config::UpstreamPolicy;
use bookings_tests::{DEMO_CUSTOMER, OTHER_CUSTOMER, World, cancel_event, demo_start};
use sandbox::{BookingStatus, Endpoint, Fault, SandboxData, booking_uuid};
use serde_json::json;

/// The last booking `GET /bookings?{page}` shows `contact`.
async fn last_booking_on(world: &World, contact: &str, page: &str) -> String {
    let shown = world.list(contact, page).await;
    shown
        .booking_ids()
        .pop()
        .unwrap_or_else(|| panic!("a booking on {page}: {}", shown.raw))
}

/// `contact` cancels `booking`, which succeeds with one cancel at OmniLab; returns how many
/// pages the ownership check fetched to find it.
async fn pages_fetched_to_cancel(world: &World, contact: &str, booking: &str) -> u64 {
    let before = world.sandbox.counters().fetches;
    let answer = world.cancel(contact, booking).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(world.sandbox.cancel_calls(booking), 1);
    world.sandbox.counters().fetches - before
}

#[tokio::test]
async fn a_customer_cancels_their_booking_and_it_leaves_the_confirmed_list() {
    let world = World::demo().await;
    let id = booking_uuid(1);
    let answer = world.cancel(DEMO_CUSTOMER, &id).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(
        answer.body,
        json!({"booking": id, "booking_status": "CANCELLED"})
    );
    assert_eq!(world.sandbox.cancel_calls(&id), 1);
    assert_eq!(world.sandbox.status_of(&id), Some(BookingStatus::Cancelled));

    // "then refresh the list so the cancelled slot disappears"
    let confirmed = world.list(DEMO_CUSTOMER, "booking_status=CONFIRMED").await;
    assert!(!confirmed.booking_ids().contains(&id));
    assert_eq!(confirmed.body["total_count"], 9);
}

#[tokio::test]
async fn another_customers_booking_is_not_found_and_never_cancelled() {
    let world = World::demo().await;
    let theirs = world.list(OTHER_CUSTOMER, "").await.booking_ids();
    assert_eq!(theirs.len(), 2);
    for id in &theirs {
        let answer = world.cancel(DEMO_CUSTOMER, id).await;
        answer.assert_problem(404, Some("booking"));
        assert_eq!(
            world.sandbox.cancel_calls(id),
            0,
            "OmniLab's cancel was never called"
        );
        assert_eq!(world.sandbox.status_of(id), Some(BookingStatus::Confirmed));
    }
    // The same answer as for a booking that does not exist at all: nothing is revealed.
    let unknown = world
        .cancel(DEMO_CUSTOMER, "00000000-0000-4000-8000-000000000000")
        .await;
    unknown.assert_problem(404, Some("booking"));
    assert_eq!(world.sandbox.counters().cancels, 0);
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_refused_before_anything_goes_upstream() {
    let world = World::demo().await;
    for bad in [
        "42",
        "bookings%2F2394d604-afcc-4f7f-98c1-ef3676c20d6b",
        "2394d604afcc4f7f98c1ef3676c20d6b",
        "DROP%20TABLE",
    ] {
        let answer = world.cancel(DEMO_CUSTOMER, bad).await;
        answer.assert_problem(400, Some("booking"));
    }
    assert_eq!(world.sandbox.counters(), Default::default());
    assert_eq!(world.app.stats().secret_reads, 0);
}

#[tokio::test]
async fn identity_never_comes_from_the_query() {
    let world = World::demo().await;
    let event = cancel_event(DEMO_CUSTOMER, &booking_uuid(13))
        .query(&format!("external_id={OTHER_CUSTOMER}"));
    let answer = world.send(bookings::Route::CancelBooking, event).await;
    answer.assert_problem(400, Some("external_id"));
    assert_eq!(world.sandbox.counters(), Default::default());
}

#[tokio::test]
async fn an_already_cancelled_booking_is_fine_and_not_cancelled_again() {
    let world = World::demo().await;
    let cancelled = booking_uuid(6);
    assert_eq!(
        world.sandbox.status_of(&cancelled),
        Some(BookingStatus::Cancelled)
    );
    let answer = world.cancel(DEMO_CUSTOMER, &cancelled).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(answer.body["booking_status"], "CANCELLED");
    assert_eq!(world.sandbox.cancel_calls(&cancelled), 0);

    // And cancelling twice calls OmniLab once.
    let id = booking_uuid(2);
    assert_eq!(world.cancel(DEMO_CUSTOMER, &id).await.status, 200);
    assert_eq!(world.cancel(DEMO_CUSTOMER, &id).await.status, 200);
    assert_eq!(world.sandbox.cancel_calls(&id), 1);
}

#[tokio::test]
async fn ownership_is_checked_across_every_page() {
    let data = SandboxData::demo(demo_start()).with_many("many-bookings", 250, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let last = last_booking_on(&world, "many-bookings", "page_size=100&page_number=3").await;
    assert_eq!(
        pages_fetched_to_cancel(&world, "many-bookings", &last).await,
        3,
        "three pages of 100 to find it"
    );

    // Someone else's booking is still refused after a full scan.
    let other = world.cancel("many-bookings", &booking_uuid(1)).await;
    other.assert_problem(404, Some("booking"));
}

#[tokio::test]
async fn an_upper_case_id_matches_and_omnilab_gets_its_own_spelling() {
    let world = World::demo().await;
    let id = booking_uuid(3);
    let answer = world.cancel(DEMO_CUSTOMER, &id.to_uppercase()).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(answer.body["booking"], id);
    assert_eq!(world.sandbox.cancel_calls(&id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_cancels_of_one_booking_call_omnilab_once() {
    let world = std::sync::Arc::new(World::demo().await);
    let id = booking_uuid(3);
    let cancels: Vec<_> = (0..10)
        .map(|_| {
            let world = world.clone();
            let id = id.clone();
            tokio::spawn(async move { world.cancel(DEMO_CUSTOMER, &id).await.status })
        })
        .collect();
    for cancel in cancels {
        assert_eq!(cancel.await.unwrap(), 200);
    }
    assert_eq!(world.sandbox.cancel_calls(&id), 1);
}

#[tokio::test]
async fn the_ownership_scan_stops_at_the_page_that_holds_the_booking() {
    let data = SandboxData::demo(demo_start()).with_many("many-bookings", 420, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let on_page_two = world
        .list("many-bookings", "page_size=100&page_number=2")
        .await
        .booking_ids()[0]
        .clone();
    assert_eq!(
        pages_fetched_to_cancel(&world, "many-bookings", &on_page_two).await,
        2,
        "pages 1 and 2 of 5, and not one page more"
    );
}

#[tokio::test]
async fn a_booking_on_the_last_page_is_found_when_omnilab_serves_fifty_a_page() {
    let data = SandboxData::demo(demo_start()).with_many("many-bookings", 420, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    world.sandbox.set_max_page_size(50);
    let last = last_booking_on(&world, "many-bookings", "page_size=50&page_number=9").await;
    assert_eq!(
        pages_fetched_to_cancel(&world, "many-bookings", &last).await,
        9,
        "420 bookings at 50 a page"
    );
}

// ---- OmniLab's 4xx to a cancel is not our 5xx ----

#[tokio::test]
async fn a_booking_omnilab_will_no_longer_cancel_is_a_409_for_the_customer() {
    let world = World::demo().await;
    for (n, status) in [(1, 409), (2, 422), (3, 400)] {
        let id = booking_uuid(n);
        world.sandbox.refuse_cancel(&id, status);

        let answer = world.cancel(DEMO_CUSTOMER, &id).await;

        answer.assert_problem(409, Some("booking"));
        assert_eq!(
            answer.body["type"], "tag:omnilab-bookings,2026:booking-not-cancellable",
            "OmniLab's {status}"
        );
        assert_eq!(
            answer.body["detail"],
            "This booking can no longer be cancelled."
        );
        assert_eq!(
            world.sandbox.cancel_calls(&id),
            1,
            "tried once, not retried"
        );
        assert_eq!(world.sandbox.status_of(&id), Some(BookingStatus::Confirmed));
    }
}

#[tokio::test]
async fn a_400_that_does_not_name_the_booking_is_our_defect_and_a_502() {
    let world = World::demo().await;
    // The sandbox's generic 400 says nothing of the booking: it refuses our request.
    world.sandbox.inject(Endpoint::Cancel, Fault::Status(400));
    let answer = world.cancel(DEMO_CUSTOMER, &booking_uuid(1)).await;
    answer.assert_problem(502, None);
    assert_eq!(
        answer.body["type"],
        "tag:omnilab-bookings,2026:upstream-error"
    );
}

#[tokio::test]
async fn a_booking_gone_between_the_ownership_scan_and_the_cancel_is_a_404() {
    let world = World::demo().await;
    world.sandbox.inject(Endpoint::Cancel, Fault::Status(404));
    let answer = world.cancel(DEMO_CUSTOMER, &booking_uuid(1)).await;
    answer.assert_problem(404, Some("booking"));
}

// ---- A cancel finds the customer's own booking even when the list moves ----

const GROWING: &str = "a-customer-with-150-bookings";

#[tokio::test]
async fn a_cancel_finds_a_booking_pushed_past_the_planned_pages() {
    let data = SandboxData::demo(demo_start()).with_many(GROWING, 150, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    // The last of 150 in slot order: page 2 at 100 a page, as planned from page 1's count.
    let last = last_booking_on(&world, GROWING, "page_size=100&page_number=2").await;
    // Right after page 1 is served, 60 bookings with earlier slots arrive: the last one moves
    // to page 3, which the scan did not plan.
    world.sandbox.after_page_served(1, |data| {
        let template = data
            .bookings
            .iter()
            .find(|b| b.contact == GROWING)
            .cloned()
            .expect("a booking to copy");
        for n in 0..60 {
            let mut added = template.clone();
            added.booking = booking_uuid(3_000_000 + n);
            added.slot_starting_at =
                demo_start() - jiff::SignedDuration::from_hours(1 + i64::from(n));
            data.bookings.push(added);
        }
    });

    let answer = world.cancel(GROWING, &last).await;

    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(world.sandbox.cancel_calls(&last), 1);
    assert_eq!(
        world.sandbox.status_of(&last),
        Some(BookingStatus::Cancelled)
    );
}

#[tokio::test]
async fn a_steady_list_is_looked_through_once_before_a_404() {
    let data = SandboxData::demo(demo_start()).with_many(GROWING, 150, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let fetches = world.sandbox.counters().fetches;
    let answer = world
        .cancel(GROWING, "00000000-0000-4000-8000-000000000000")
        .await;
    answer.assert_problem(404, Some("booking"));
    assert_eq!(
        world.sandbox.counters().fetches - fetches,
        2,
        "2 pages, once"
    );
}
