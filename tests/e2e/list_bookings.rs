//! `GET /bookings`, as the reference page's account-page flow uses it.

use bookings::Route;
use bookings::config::UpstreamPolicy;
use bookings_tests::{Answer, DEMO_CUSTOMER, OTHER_CUSTOMER, World, demo_start, list_event};
use sandbox::gateway::Event;
use sandbox::{BookingStatus, CRAFT_ACTIVITY_ID, SHARED_ACTIVITY_ID, SandboxData, booking_uuid};
use serde_json::{Value, json};

/// A fresh demo world, and the demo customer's `GET /bookings?{query}` in it.
async fn demo_customer_lists(query: &str) -> (World, Answer) {
    let world = World::demo().await;
    let answer = world.list(DEMO_CUSTOMER, query).await;
    (world, answer)
}

#[tokio::test]
async fn the_account_page_lists_confirmed_bookings_grouped_in_local_time() {
    let (_, answer) = demo_customer_lists("booking_status=CONFIRMED").await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(answer.content_type, "application/json");
    let body = &answer.body;
    assert_eq!(body["total_count"], 10);
    assert_eq!(body["page_number"], 1);
    assert_eq!(body["page_size"], 50);
    let bookings = body["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 10);
    assert!(bookings.iter().all(|b| b["booking_status"] == "CONFIRMED"));

    // The first Santa slot: 12:30 UTC in London in December is 12:30 local time, 30 minutes long.
    let first = &bookings[0];
    assert_eq!(first["booking"], booking_uuid(1));
    assert_eq!(first["activity"]["title"], "Santa Photo Experience");
    assert_eq!(
        first["activity"]["location_hint"],
        "Level 1, near the fountain"
    );
    assert_eq!(first["slot_starting_at"], "2024-12-10T12:30:00Z");
    assert_eq!(first["slot_starting_at_local"], "2024-12-10T12:30:00+00:00");
    assert_eq!(first["slot_ending_at"], "2024-12-10T13:00:00Z");
    assert_eq!(first["slot_duration_in_minutes"], 30);
    assert_eq!(first["host"]["display_name"], "Photo Station 2");
    assert_eq!(
        first["ticket_type"],
        json!({"display_name": "Standard entry", "has_limited_capacity": true})
    );
    assert_eq!(first["group"]["unique_key"], "example-brand");

    // New York is five hours behind UTC in December.
    let egg_hunt = bookings
        .iter()
        .find(|b| b["booking"] == booking_uuid(4))
        .unwrap();
    assert_eq!(
        egg_hunt["slot_starting_at_local"],
        "2024-12-13T10:00:00-05:00"
    );

    let groups = body["groups"].as_array().unwrap();
    let keys: Vec<(&str, &str, usize)> = groups
        .iter()
        .map(|g| {
            (
                g["interaction_public_key"].as_str().unwrap(),
                g["activity_id"].as_str().unwrap(),
                g["booking_ids"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("winter-festival", SHARED_ACTIVITY_ID, 2),
            ("winter-festival", CRAFT_ACTIVITY_ID, 1),
            ("spring-fair", SHARED_ACTIVITY_ID, 7),
        ]
    );
    assert_eq!(groups[0]["activity_title"], "Santa Photo Experience");
    assert_eq!(groups[0]["timezone"], "Europe/London");
    assert_eq!(
        groups[0]["booking_ids"],
        json!([booking_uuid(1), booking_uuid(2)])
    );
    assert_eq!(groups[2]["timezone"], "America/New_York");
}

#[tokio::test]
async fn a_title_that_arrives_as_a_language_map_is_resolved() {
    // The egg hunt has only French text: OmniLab sends {"fr":"Chasse aux œufs"} for English.
    let (world, english) = demo_customer_lists("public_keys=spring-fair&language=en").await;
    assert_eq!(english.status, 200, "{}", english.raw);
    let titles: Vec<&Value> = english.body["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["activity"]["title"])
        .collect();
    assert!(!titles.is_empty());
    assert!(titles.iter().all(|t| *t == "Chasse aux œufs"), "{titles:?}");
    assert!(
        !english.raw.contains(r#"{\"fr\""#),
        "no raw map leaks: {}",
        english.raw
    );

    let french = world
        .list(DEMO_CUSTOMER, "public_keys=winter-festival&language=fr-CA")
        .await;
    assert_eq!(
        french.body["bookings"][0]["activity"]["title"],
        "Photo avec le Père Noël"
    );
    assert_eq!(
        french.body["groups"][0]["activity_title"],
        "Photo avec le Père Noël"
    );
    // The sandbox saw the base code, as OmniLab wants it.
    let received = world.sandbox.received();
    assert!(
        received
            .last()
            .unwrap()
            .query
            .contains(&("language".into(), "fr".into()))
    );
}

#[tokio::test]
async fn a_slot_without_duration_has_no_end_and_no_made_up_duration() {
    let (_, answer) = demo_customer_lists("public_keys=spring-fair&page_size=1").await;
    let booking = &answer.body["bookings"][0];
    assert_eq!(booking["booking"], booking_uuid(4));
    assert!(
        booking.get("slot_duration_in_minutes").is_none(),
        "{booking}"
    );
    assert!(booking.get("slot_ending_at").is_none(), "{booking}");
    assert!(booking.get("host").is_none(), "{booking}");
    assert_eq!(
        booking["slot_starting_at_local"],
        "2024-12-13T10:00:00-05:00"
    );
}

#[tokio::test]
async fn the_same_activity_id_in_two_campaigns_is_two_groups() {
    let (_, answer) = demo_customer_lists("").await;
    let shared: Vec<&str> = answer.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["activity_id"] == SHARED_ACTIVITY_ID)
        .map(|g| g["interaction_public_key"].as_str().unwrap())
        .collect();
    assert_eq!(shared, vec!["winter-festival", "spring-fair"]);
}

#[tokio::test]
async fn pages_follow_total_count() {
    let (world, page2) = demo_customer_lists("page_size=5&page_number=2").await;
    assert_eq!(page2.status, 200, "{}", page2.raw);
    assert_eq!(page2.body["page_number"], 2);
    assert_eq!(page2.body["page_size"], 5);
    assert_eq!(page2.body["total_count"], 12);
    assert_eq!(page2.booking_ids().len(), 5);

    let beyond = world.list(DEMO_CUSTOMER, "page_size=5&page_number=9").await;
    assert_eq!(beyond.status, 200);
    assert!(beyond.booking_ids().is_empty());
    assert_eq!(beyond.body["total_count"], 12);
}

#[tokio::test]
async fn all_pages_are_fetched_concurrently_and_merged_in_order() {
    let data = SandboxData::demo(demo_start()).with_many("many-bookings", 250, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let one_by_one: Vec<String> = {
        let mut ids = Vec::new();
        for page in 1..=3 {
            ids.extend(
                world
                    .list(
                        "many-bookings",
                        &format!("page_size=100&page_number={page}"),
                    )
                    .await
                    .booking_ids(),
            );
        }
        ids
    };
    let fetches_before = world.sandbox.counters().fetches;
    let all = world.list("many-bookings", "all=true").await;
    assert_eq!(all.status, 200, "{}", all.raw);
    assert_eq!(
        world.sandbox.counters().fetches - fetches_before,
        3,
        "page 1, then pages 2 and 3"
    );
    assert_eq!(all.body["total_count"], 250);
    assert_eq!(all.body["page_number"], 1);
    assert_eq!(all.body["page_size"], 250);
    assert_eq!(all.booking_ids(), one_by_one);
    assert_eq!(
        all.body["groups"][0]["booking_ids"]
            .as_array()
            .unwrap()
            .len(),
        250
    );
}

#[tokio::test]
async fn filters_reach_omnilab_as_it_documents_them() {
    let (world, answer) = demo_customer_lists(
        "public_keys=winter-festival&booking_status=CONFIRMED,WAITLIST&booking_status=CANCELLED\
         &slot_date_range.from=2024-12-10T13%3A00%3A00%2B01%3A00&slot_date_range.to=2024-12-31T00%3A00%3A00Z\
         &language=fr&page_size=20&page_number=1",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    let received = world.sandbox.received();
    let forwarded = received.last().unwrap();
    let values = |name: &str| forwarded.values(name);
    assert_eq!(values("external_id"), vec![DEMO_CUSTOMER]);
    assert_eq!(values("public_keys"), vec!["winter-festival"]);
    assert_eq!(
        values("booking_status"),
        vec!["CONFIRMED", "WAITLIST", "CANCELLED"]
    );
    assert_eq!(
        values("slot_date_range.from"),
        vec!["2024-12-10T12:00:00Z"],
        "converted to UTC"
    );
    assert_eq!(values("slot_date_range.to"), vec!["2024-12-31T00:00:00Z"]);
    assert_eq!(values("page_size"), vec!["20"]);
    assert!(values("interactions").is_empty());
    // Every winter-festival booking of the customer (all three statuses) from 12:00 UTC on the 10th.
    assert_eq!(answer.body["total_count"], 5);
}

#[tokio::test]
async fn a_customer_only_ever_sees_their_own_bookings() {
    let world = World::demo().await;
    let mine = world.list(DEMO_CUSTOMER, "").await.booking_ids();
    let theirs = world.list(OTHER_CUSTOMER, "").await.booking_ids();
    assert_eq!(theirs.len(), 2);
    assert!(mine.iter().all(|id| !theirs.contains(id)));
    let received = world.sandbox.received();
    assert!(received.iter().all(|r| r.values("external_id").len() == 1));
}

#[tokio::test]
async fn a_contact_without_bookings_gets_empty_arrays() {
    let world = World::demo().await;
    let answer = world.list("new-customer", "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"bookings": [], "groups": [], "page_number": 1, "page_size": 50, "total_count": 0})
    );
    let all = world.list("new-customer", "all=true").await;
    assert_eq!(all.body["bookings"], json!([]));
    assert_eq!(all.body["total_count"], 0);
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field_and_nothing_goes_upstream() {
    let world = World::demo().await;
    let cases = [
        ("external_id=someone-else", "external_id"),
        (
            "public_keys=a&interactions=interactions/2394d604-afcc-4f7f-98c1-ef3676c20d6b",
            "public_keys",
        ),
        ("public_keys=a&public_keys=b", "public_keys"),
        ("public_keys=a,b", "public_keys"),
        ("interactions=winter-festival", "interactions"),
        ("slot_date_range.from=yesterday", "slot_date_range.from"),
        ("slot_date_range.to=2024-12-10", "slot_date_range.to"),
        // ISO 8601 and Temporal forms jiff would take, but RFC 3339 (and OmniLab)
        // does not: signed extended years, no seconds, `+hhmm` offsets, a bracketed zone.
        (
            "slot_date_range.from=-000001-01-01T00:00:00Z",
            "slot_date_range.from",
        ),
        (
            "slot_date_range.from=%2B002024-12-10T00:00:00Z",
            "slot_date_range.from",
        ),
        ("slot_date_range.to=2024-12-10T12:30Z", "slot_date_range.to"),
        (
            "slot_date_range.to=2024-12-10T12:30:00%2B0100",
            "slot_date_range.to",
        ),
        (
            "slot_date_range.to=2024-12-10T12:30:00Z%5BEurope/Paris%5D",
            "slot_date_range.to",
        ),
        (
            "slot_date_range.from=0000-01-01T00:30:00%2B01:00",
            "slot_date_range.from",
        ),
        (
            "slot_date_range.from=2024-12-11T00:00:00Z&slot_date_range.to=2024-12-10T00:00:00Z",
            "slot_date_range.from",
        ),
        ("booking_status=BOOKED", "booking_status"),
        ("booking_status=confirmed", "booking_status"),
        ("language=%F0%9F%98%80", "language"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_number=0", "page_number"),
        ("page_number=abc", "page_number"),
        ("all=1", "all"),
        ("all=true&page_number=2", "page_number"),
        ("pagesize=10", "pagesize"),
    ];
    for (query, field) in cases {
        let answer = world.list(DEMO_CUSTOMER, query).await;
        answer.assert_problem(400, Some(field));
    }
    assert_eq!(
        world.sandbox.counters(),
        Default::default(),
        "nothing reached OmniLab"
    );
    assert_eq!(
        world.app.stats().secret_reads,
        0,
        "not even Secrets Manager"
    );
}

#[tokio::test]
async fn without_a_signed_in_customer_the_answer_is_401() {
    let world = World::demo().await;
    let anonymous = Event::new("GET", "/bookings");
    let answer = world.send(Route::ListBookings, anonymous).await;
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    answer.assert_problem(401, None);
    assert_eq!(world.sandbox.counters(), Default::default());
}

#[tokio::test]
async fn a_wrong_method_is_refused() {
    let world = World::demo().await;
    let delete = Event::new("DELETE", "/bookings").customer(DEMO_CUSTOMER);
    let answer = world.send(Route::ListBookings, delete).await;
    answer.assert_problem(405, None);
}

#[tokio::test]
async fn answers_are_never_cached_by_shared_caches() {
    let (_, answer) = demo_customer_lists("").await;
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn all_true_with_a_page_size_is_refused_before_any_upstream_call() {
    // Paging everything one booking at a time would cost OmniLab a call per booking.
    let (world, answer) = demo_customer_lists("all=true&page_size=1").await;
    answer.assert_problem(400, Some("page_size"));
    assert_eq!(world.sandbox.counters().fetches, 0);
    assert_eq!(world.sandbox.counters().token_exchanges, 0);
}

#[tokio::test]
async fn all_true_follows_the_page_size_omnilab_really_serves() {
    let data = SandboxData::demo(demo_start()).with_many("many-bookings", 420, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    // The reference documents no maximum page size: this tenant's OmniLab serves 50 a page
    // whatever we ask for.
    world.sandbox.set_max_page_size(50);
    let all = world.list("many-bookings", "all=true").await;
    assert_eq!(all.status, 200, "{}", all.raw);
    let ids = all.booking_ids();
    assert_eq!(ids.len(), 420, "every booking, not 100 of them");
    assert_eq!(
        ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
        420,
        "no booking twice"
    );
    assert_eq!(all.body["total_count"], 420);
    assert!(
        all.body.get("next_page").is_none(),
        "{}",
        all.body["next_page"]
    );
    assert_eq!(
        world.sandbox.counters().fetches,
        9,
        "420 bookings at 50 a page"
    );
    let sizes: Vec<String> = world
        .sandbox
        .received()
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "page_size")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(sizes[0], "100", "page 1 at the largest size we accept");
    assert!(
        sizes[1..].iter().all(|s| s == "50"),
        "later pages at the size OmniLab served: {sizes:?}"
    );
}

/// The size of a body once it travels, escaped, inside Lambda's JSON response.
fn lambda_payload_len(raw: &str) -> usize {
    serde_json::to_string(raw).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_true_answers_what_fits_in_one_lambda_response_and_says_where_the_rest_starts() {
    // 10,000 of the sandbox's bookings are 6.6 MB of JSON, 7.3 MB once escaped into Lambda's
    // response: over its 6 MB limit, and within the 100 pages one request may fetch.
    let data = SandboxData::demo(demo_start()).with_many("big-account", 10_000, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let all = world.list("big-account", "all=true").await;
    assert_eq!(all.status, 200, "{}", &all.raw[..200.min(all.raw.len())]);
    assert!(
        lambda_payload_len(&all.raw) <= 6_291_456,
        "{} bytes would be refused by Lambda",
        lambda_payload_len(&all.raw)
    );
    assert_eq!(all.body["total_count"], 10_000);
    let mut ids = all.booking_ids();
    assert!(
        ids.len() < 10_000 && ids.len() % 100 == 0,
        "{} bookings, in whole pages",
        ids.len()
    );
    assert_eq!(all.body["page_size"], ids.len());
    let next = &all.body["next_page"];
    assert_eq!(next["page_size"], 100, "{next}");
    assert_eq!(next["page_number"], ids.len() / 100 + 1, "{next}");

    // The page asks for the rest, a page at a time, where next_page says.
    let size = next["page_size"].as_u64().unwrap();
    let mut number = next["page_number"].as_u64().unwrap();
    while ids.len() < 10_000 {
        let page = world
            .list(
                "big-account",
                &format!("page_size={size}&page_number={number}"),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.raw);
        let more = page.booking_ids();
        assert!(
            !more.is_empty(),
            "page {number} is empty before every booking arrived"
        );
        ids.extend(more);
        number += 1;
    }
    assert_eq!(
        ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
        10_000,
        "every booking exactly once"
    );
}

#[tokio::test]
async fn a_claim_with_stray_whitespace_is_not_an_identity() {
    let world = World::demo().await;
    for customer in [&format!(" {DEMO_CUSTOMER}"), &format!("{DEMO_CUSTOMER}\n")] {
        world.list(customer, "").await.assert_problem(401, None);
    }
    assert_eq!(
        world.sandbox.counters().fetches,
        0,
        "never passed to OmniLab"
    );
}

// ---- `all=true` shows each booking exactly once, even while the list moves ----

const MOVING: &str = "a-customer-with-120-bookings";

/// 120 bookings, served newest status change first (as a review saw OmniLab do), and the id of
/// one on page 2 at 100 a page: the page `all=true` fetches after page 1.
async fn a_moving_list() -> (World, String) {
    let data = SandboxData::demo(demo_start()).with_many(MOVING, 120, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    world.sandbox.order_by_latest_change();
    let page_two = world.list(MOVING, "page_size=100&page_number=2").await;
    let on_page_two = page_two.booking_ids()[5].clone();
    (world, on_page_two)
}

/// `booking` is cancelled elsewhere right after page 1 is served: it moves to the front.
fn cancelled_after_page_one(world: &World, booking: &str) {
    let booking = booking.to_owned();
    world.sandbox.after_page_served(1, move |data| {
        if let Some(stored) = data.bookings.iter_mut().find(|b| b.booking == booking) {
            stored.booking_status = BookingStatus::Cancelled;
            stored.booked_at = jiff::Timestamp::now();
        }
    });
}

fn assert_each_booking_once(answer: &Answer) {
    let ids = answer.booking_ids();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), distinct.len(), "a booking is shown twice");
    let grouped: Vec<String> = answer.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["booking_ids"].as_array().cloned().unwrap_or_default())
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    let grouped_distinct: std::collections::HashSet<&String> = grouped.iter().collect();
    assert_eq!(
        grouped.len(),
        grouped_distinct.len(),
        "a booking is grouped twice"
    );
    assert_eq!(grouped.len(), ids.len());
}

#[tokio::test]
async fn all_true_shows_each_booking_once_when_one_moves_while_paging() {
    let (world, moved) = a_moving_list().await;
    cancelled_after_page_one(&world, &moved);
    let fetches = world.sandbox.counters().fetches;

    let answer = world.list(MOVING, "all=true").await;

    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_each_booking_once(&answer);
    // Paged once more, steady the second time: every booking, the moved one included.
    assert_eq!(answer.booking_ids().len(), 120);
    assert!(answer.booking_ids().contains(&moved));
    assert!(answer.body.get("incomplete").is_none(), "{}", answer.raw);
    assert_eq!(
        world.sandbox.counters().fetches - fetches,
        4,
        "2 pages, twice"
    );
}

#[tokio::test]
async fn all_true_says_when_the_list_kept_moving() {
    let (world, moved) = a_moving_list().await;
    cancelled_after_page_one(&world, &moved);
    // ...and on the second pass, another one.
    let again = world
        .list(MOVING, "page_size=100&page_number=2")
        .await
        .booking_ids()[9]
        .clone();
    cancelled_after_page_one(&world, &again);

    let answer = world.list(MOVING, "all=true").await;

    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_each_booking_once(&answer);
    assert_eq!(answer.body["incomplete"], true, "{}", answer.raw);
}

#[tokio::test]
async fn a_steady_list_is_paged_once() {
    let (world, _) = a_moving_list().await;
    let fetches = world.sandbox.counters().fetches;
    let answer = world.list(MOVING, "all=true").await;
    assert_eq!(answer.booking_ids().len(), 120);
    assert!(answer.body.get("incomplete").is_none());
    assert_eq!(world.sandbox.counters().fetches - fetches, 2);
}

#[tokio::test]
async fn a_french_page_gets_its_errors_in_french_with_the_same_type_and_field() {
    let (world, english) = demo_customer_lists("page_size=1000").await;
    english.assert_problem(400, Some("page_size"));
    assert_eq!(english.header("content-language"), Some("en"));
    assert_eq!(english.body["title"], "Invalid request parameter");
    assert_eq!(
        english.body["detail"],
        "page_size must be a whole number from 1 to 100"
    );

    // What a browser set to French sends.
    let french_event = |query: &str| {
        list_event(DEMO_CUSTOMER)
            .query(query)
            .header("accept-language", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7")
    };
    let french = world
        .send(Route::ListBookings, french_event("page_size=1000"))
        .await;
    french.assert_problem(400, Some("page_size"));
    assert_eq!(french.header("content-language"), Some("fr"));
    assert_eq!(french.header("vary"), Some("Accept-Language"));
    assert_eq!(
        french.body["type"], english.body["type"],
        "the type never changes"
    );
    assert_eq!(french.body["title"], "Paramètre de requête invalide");
    assert_eq!(
        french.body["detail"],
        "page_size doit être un nombre entier de 1 à 100"
    );

    // An upstream failure, in French too, with its wait.
    for _ in 0..3 {
        world.sandbox.inject(
            sandbox::Endpoint::Fetch,
            sandbox::Fault::RateLimited { retry_after: None },
        );
    }
    let busy = world.send(Route::ListBookings, french_event("")).await;
    busy.assert_problem(503, None);
    assert_eq!(
        busy.body["title"],
        "Les réservations sont momentanément indisponibles"
    );
    assert_eq!(
        busy.body["detail"],
        "Le service de réservation est occupé. Réessayez dans un instant."
    );

    // A language we do not write: English, said so.
    let german = world
        .send(
            Route::ListBookings,
            list_event(DEMO_CUSTOMER)
                .query("all=yes")
                .header("accept-language", "de-DE,de;q=0.9"),
        )
        .await;
    german.assert_problem(400, Some("all"));
    assert_eq!(german.header("content-language"), Some("en"));
    assert_eq!(german.body["detail"], "all must be true or false");
}
