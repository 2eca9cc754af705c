//! The reference account page (dev-server/page) in a real browser.
//!
//! Each test starts the compiled dev server (`target/debug/dev-server`, PORT=0, embedded OmniLab
//! sandbox with the demo data) and Debian's chromium through chromedriver (WebDriver, driven by
//! fantoccini), then uses the page as a customer would: read the list, cancel through the
//! confirmation dialog, switch language, see the alert when OmniLab fails (the sandbox's fault
//! controls), see the empty state.
//!
//! Chromium runs with `TZ=Asia/Tokyo`, so a page that showed the browser's time instead of the
//! campaign's would be caught: the expected times below are computed with jiff in each campaign's
//! zone from the demo data's rules (slots on the days after today's UTC midnight).
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`source scripts/setup.sh && setup_chromium`)
//! and the dev server built and current (`cargo build -p dev-server`, or `--workspace --bins
//! --all-features` as scripts/test.sh does). Missing either, or a binary older than
//! dev-server/page, is a failure, never a skip.
//! Screenshots go to tests/artifacts/ (gitignored), with the dev server's and chromedriver's logs.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bookings_tests::browser::{Browser, ONE_BROWSER};
use bookings_tests::dev_server::DevServer;
use bookings_tests::oidc_provider::{self, OidcProvider};
use bookings_tests::process::artifacts;
use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use sandbox::booking_uuid;
use serde::Deserialize;
use serde_json::{Value, json};

/// The browser's own time zone: far from both campaigns', so mixing them up shows.
const BROWSER_TZ: &str = "Asia/Tokyo";
/// How long the page may take to settle after an action.
const PATIENCE: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------------------------------------
// The tests
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn shows_the_groups_in_campaign_local_time_and_cancels_through_the_dialog() {
    with_page("list-and-cancel", |page| async move {
        let start = dev_server_demo_start();
        page.open("?lang=en").await;
        let shown = page.wait_for("the list", |s| !s.campaigns.is_empty()).await;
        page.screenshot("account-page-loaded.png").await;

        // A phone: one column of cards, all of a group's cards one under the other.
        page.client
            .set_window_size(390, 844)
            .await
            .expect("window size");
        let columns: Value = page
            .client
            .execute(
                r#"return [...document.querySelectorAll('[data-testid="group"]')].map((g) =>
                     new Set([...g.querySelectorAll('[data-testid="booking"]')]
                       .map((b) => b.getBoundingClientRect().left)).size);"#,
                vec![],
            )
            .await
            .expect("card positions");
        assert_eq!(columns, json!([1, 1, 1]), "one column per group on a phone");
        page.screenshot("account-page-phone.png").await;
        page.client
            .set_window_size(1280, 2000)
            .await
            .expect("window size");

        assert_eq!(shown.title, "My bookings");
        assert_eq!(shown.count, "10 upcoming bookings");
        assert!(shown.error.is_none(), "unexpected alert: {:?}", shown.error);
        assert!(!shown.empty, "the empty state shows next to a list");
        assert_eq!(shown.campaigns, expected_campaigns(start, Lang::En, &[]));

        // The egg hunt is in New York: its 15:00 UTC slot reads 10:00 in winter (UTC-5), 11:00
        // in summer; and it has no set duration.
        let egg = shown
            .booking(&booking_uuid(4))
            .expect("booking 4 is listed");
        let ny = (start + SignedDuration::from_hours(4 * 24 + 15))
            .to_zoned_datetime(zone("America/New_York"));
        let offset_hours = ny.offset().seconds() / 3600;
        assert!(
            matches!(offset_hours, -5 | -4),
            "New York is UTC-5 or UTC-4"
        );
        assert_eq!(egg.time, format!("{:02}:00", 15 + offset_hours));
        assert_eq!(
            egg.zone, "Eastern Time",
            "the browser's own name for the zone"
        );
        assert_eq!(egg.duration, "Open-ended");

        // Cancel the first Santa slot. First say "Keep it": nothing changes.
        let santa = booking_uuid(1);
        page.click(&format!(
            r#"[data-booking-id="{santa}"] [data-testid="cancel-button"]"#
        ))
        .await;
        let dialog = page.wait_for("the dialog", |s| s.dialog_open).await;
        assert!(
            dialog.dialog_text.contains("Santa Photo Experience"),
            "the dialog names the booking: {:?}",
            dialog.dialog_text
        );
        page.screenshot("account-page-confirm.png").await;
        page.click(r#"[data-testid="confirm-keep"]"#).await;
        let kept = page
            .wait_for("the dialog to close", |s| !s.dialog_open)
            .await;
        assert!(kept.booking(&santa).is_some(), "Keep it keeps the booking");
        assert_eq!(kept.count, "10 upcoming bookings");
        assert!(
            page.api_ids("CONFIRMED").await.contains(&santa),
            "Keep it sent no cancel"
        );

        // Now really cancel: the slot disappears and the count drops.
        page.cancel_through_dialog(&santa).await;
        let after = page
            .wait_for("the cancelled slot to go", |s| {
                s.booking(&santa).is_none() && s.count == "9 upcoming bookings"
            })
            .await;
        page.screenshot("account-page-cancelled.png").await;
        assert!(!after.dialog_open);
        assert!(after.error.is_none(), "unexpected alert: {:?}", after.error);
        assert_eq!(
            after.notice.as_deref(),
            Some("Your booking for Santa Photo Experience is cancelled.")
        );
        assert_eq!(after.campaigns, expected_campaigns(start, Lang::En, &[1]));
        assert!(
            page.api_ids("CANCELLED").await.contains(&santa),
            "the API says the booking is cancelled"
        );
    })
    .await;
}

#[tokio::test]
async fn switches_to_french_and_back() {
    with_page("language", |page| async move {
        let start = dev_server_demo_start();
        page.open("?lang=en").await;
        page.wait_for("the list", |s| !s.campaigns.is_empty()).await;

        page.click(r#"[data-testid="lang-fr"]"#).await;
        let french = page
            .wait_for("French titles", |s| {
                s.group_titles().first().map(String::as_str) == Some("Photo avec le Père Noël")
            })
            .await;
        page.screenshot("account-page-fr.png").await;
        assert_eq!(
            french.group_titles(),
            [
                "Photo avec le Père Noël",
                "Atelier créatif",
                "Chasse aux œufs"
            ]
        );
        assert_eq!(french.title, "Mes réservations");
        assert_eq!(french.lang, "fr");
        assert_eq!(french.count, "10 réservations à venir");
        assert_eq!(french.campaigns, expected_campaigns(start, Lang::Fr, &[]));
        assert!(
            page.client
                .current_url()
                .await
                .unwrap()
                .as_str()
                .contains("lang=fr"),
            "the choice is kept in the address"
        );

        page.click(r#"[data-testid="lang-en"]"#).await;
        let english = page
            .wait_for("English titles", |s| {
                s.group_titles().first().map(String::as_str) == Some("Santa Photo Experience")
            })
            .await;
        assert_eq!(english.title, "My bookings");
        assert_eq!(english.campaigns, expected_campaigns(start, Lang::En, &[]));
    })
    .await;
}

#[tokio::test]
async fn shows_the_problem_when_a_call_fails_and_recovers() {
    with_page("errors", |page| async move {
        page.open("?lang=en").await;
        page.wait_for("the list", |s| !s.campaigns.is_empty()).await;

        // Every attempt of the next list call fails upstream (GETs are tried 3 times).
        page.fault("fetch", "500", 3).await;
        page.client.refresh().await.expect("reload");
        let failed = page.wait_for("the alert", |s| s.error.is_some()).await;
        page.screenshot("account-page-error.png").await;
        let alert = page
            .client
            .find(Locator::Css(r#"[role="alert"]"#))
            .await
            .expect("an element with role=alert");
        assert!(alert.is_displayed().await.unwrap(), "the alert is visible");
        assert!(failed.campaigns.is_empty(), "no list under the alert");
        assert!(!failed.empty, "no empty state under the alert");

        // What the alert says is the API's problem document: ask the API the same question.
        page.fault("fetch", "500", 3).await;
        let problem = page.api_problem().await;
        let error = failed.error.expect("an alert");
        assert_eq!(error.title, problem["title"].as_str().unwrap());
        assert_eq!(error.detail, problem["detail"].as_str().unwrap());
        assert!(!error.title.is_empty() && !error.detail.is_empty());
        assert!(error.retry, "a failed list offers Try again");

        // OmniLab is back: "Try again" brings the list back and the alert goes.
        page.clear_faults().await;
        page.click(r#"[data-testid="retry"]"#).await;
        let back = page
            .wait_for("the list again", |s| {
                !s.campaigns.is_empty() && s.error.is_none()
            })
            .await;
        assert_eq!(back.count, "10 upcoming bookings");
        assert_eq!(
            back.campaigns,
            expected_campaigns(dev_server_demo_start(), Lang::En, &[])
        );

        // A failed cancel: the alert says why and the booking stays.
        page.fault("cancel", "500", 1).await;
        let craft = booking_uuid(3);
        page.click(&format!(
            r#"[data-booking-id="{craft}"] [data-testid="cancel-button"]"#
        ))
        .await;
        page.wait_for("the dialog", |s| s.dialog_open).await;
        page.click(r#"[data-testid="confirm-cancel"]"#).await;
        let refused = page
            .wait_for("the cancel alert", |s| {
                s.error.is_some() && !s.dialog_open && !s.loading && !s.campaigns.is_empty()
            })
            .await;
        page.screenshot("account-page-cancel-error.png").await;
        assert!(
            refused.booking(&craft).is_some(),
            "the booking is still listed"
        );
        assert_eq!(refused.count, "10 upcoming bookings");
        assert!(
            refused.notice.is_none(),
            "no success notice after a failure"
        );
        let error = refused.error.expect("an alert");
        assert!(
            !error.title.is_empty() && !error.detail.is_empty(),
            "the alert has the problem's text: {error:?}"
        );
        assert!(!error.retry, "a failed cancel offers no list reload");
    })
    .await;
}

/// The brand's site, on its own origin: the French page lists, cancels, and when OmniLab is
/// busy shows our French problem with the wait from `Retry-After`, all across origins.
#[tokio::test]
async fn the_brands_site_calls_across_origins_and_shows_a_french_error_with_the_wait() {
    with_page_on_the_brands_site("brand-site", |page| async move {
        page.open("?lang=fr").await;
        let listed = page.wait_for("the list", |s| !s.campaigns.is_empty()).await;
        assert_eq!(
            listed.campaigns,
            expected_campaigns(dev_server_demo_start(), Lang::Fr, &[])
        );

        let craft = booking_uuid(3);
        page.cancel_through_dialog(&craft).await;
        page.wait_for("the cancel", |s| {
            s.notice.is_some() && !s.loading && s.booking(&craft).is_none()
        })
        .await;
        assert!(!page.api_ids("CONFIRMED").await.contains(&craft));

        // The rest on a phone: the French list and its alert in one column.
        page.client
            .set_window_size(390, 844)
            .await
            .expect("a phone-sized window");
        page.screenshot("account-page-brand-site-fr-phone.png")
            .await;

        // OmniLab rate-limits every attempt of the next list: our 503, its Retry-After read
        // across origins (the template exposes it).
        page.fault("fetch", "429", 3).await;
        page.client.refresh().await.expect("reload");
        let busy = page.wait_for("the alert", |s| s.error.is_some()).await;
        page.screenshot("account-page-brand-site-busy-fr.png").await;
        let error = busy.error.expect("an alert");
        assert_eq!(
            error.title,
            "Les réservations sont momentanément indisponibles"
        );
        assert_eq!(
            error.detail,
            "Le service de réservation est occupé. Réessayez dans un instant. \
             Vous pourrez réessayer dans 5 secondes."
        );
        assert!(error.retry, "Réessayer is offered");
    })
    .await;
}

#[tokio::test]
async fn a_customer_without_bookings_sees_the_empty_state() {
    with_page("empty", |page| async move {
        // The dev server's local-only customer switch, through the page's dev_customer parameter.
        page.open("?lang=en&dev_customer=nobody-here").await;
        let shown = page.wait_for("the empty state", |s| s.empty).await;
        page.screenshot("account-page-empty.png").await;
        assert!(shown.campaigns.is_empty());
        assert!(shown.error.is_none(), "unexpected alert: {:?}", shown.error);
        assert_eq!(shown.count, "0 upcoming bookings");
        let empty = page
            .client
            .find(Locator::Css(r#"[data-testid="empty"]"#))
            .await
            .expect("the empty state");
        assert!(empty.is_displayed().await.unwrap());
        assert!(empty.text().await.unwrap().contains("No upcoming bookings"));
    })
    .await;
}

/// The brand's sign-in, as a customer goes through it: the page against a real OpenID provider
/// (oidc-provider, its own login form), the dev server judging the provider's tokens as API
/// Gateway would, with scopes on both routes as AWS recommends.
#[tokio::test]
async fn a_customer_signs_in_with_the_identity_provider_cancels_and_signs_out() {
    let mut provider = OidcProvider::reserve();
    let server = DevServer::start(
        "sign-in-page",
        &[
            ("JWT_ISSUER", provider.issuer.as_str()),
            ("JWT_AUDIENCE", oidc_provider::AUDIENCE),
            ("EXTERNAL_ID_CLAIM", oidc_provider::EXTERNAL_ID_CLAIM),
            ("OIDC_CLIENT_ID", oidc_provider::CLIENT_ID),
            ("LIST_SCOPES", "bookings/read"),
            ("CANCEL_SCOPES", "bookings/cancel"),
        ],
    );
    provider.start(
        "sign-in-page",
        &format!("{}/", server.base),
        &json!({ "ada": sandbox::DEMO_CUSTOMER }),
    );
    let issuer = provider.issuer.clone();
    with_page_on("sign-in-page", server, |page| async move {
        // Signed out: nothing is asked of the API, and the way in is offered.
        page.open("?lang=fr").await;
        let out = page.wait_for("the signed-out page", |s| s.signed_out).await;
        assert!(out.sign_in && !out.sign_out, "{out:#?}");
        assert!(out.campaigns.is_empty() && out.error.is_none(), "{out:#?}");
        page.screenshot("sign-in-signed-out.png").await;
        let refused = page.api_list("CONFIRMED").await;
        assert_eq!(
            refused.status(),
            401,
            "no token, no bookings: the demo customer is gone"
        );

        // The provider's own login form.
        page.click(r#"[data-testid="sign-in"]"#).await;
        page.wait_for_url("the provider's login form", |url| {
            url.starts_with(&format!("{issuer}/interaction/"))
        })
        .await;
        page.screenshot("sign-in-provider-login.png").await;
        page.fill(r#"input[name="login"]"#, "ada").await;
        page.fill(r#"input[name="password"]"#, "any password").await;
        page.click(r#"button[type="submit"]"#).await;

        // Back on the page, in the language it left in, with the customer's bookings.
        let signed_in = page
            .wait_for("the list, signed in", |s| !s.campaigns.is_empty())
            .await;
        page.screenshot("sign-in-signed-in.png").await;
        page.client
            .set_window_size(390, 844)
            .await
            .expect("window size");
        page.screenshot("sign-in-signed-in-phone.png").await;
        page.client
            .set_window_size(1280, 2000)
            .await
            .expect("window size");
        assert_eq!(
            signed_in.signed_in_as.as_deref(),
            Some("Connecté en tant que ada")
        );
        assert!(signed_in.sign_out && !signed_in.sign_in && !signed_in.signed_out);
        assert_eq!(signed_in.count, "10 réservations à venir");
        let url = page.client.current_url().await.unwrap();
        assert_eq!(
            url.query(),
            Some("lang=fr"),
            "the code is gone, the language kept"
        );

        // Cancel, through the dialog, with the access token's bookings/cancel scope.
        let santa = booking_uuid(1);
        page.cancel_through_dialog(&santa).await;
        let after = page
            .wait_for("the cancelled slot to go", |s| {
                s.booking(&santa).is_none() && s.count == "9 réservations à venir"
            })
            .await;
        assert!(after.error.is_none(), "unexpected alert: {:?}", after.error);

        // The session ends on the API's side (a token it no longer takes): the page says so and
        // offers to sign in again, which the provider's session answers without a form.
        page.client
            .execute(
                r#"for (const key of Object.keys(sessionStorage)) {
                     if (!key.startsWith("oidc.user:")) continue;
                     const user = JSON.parse(sessionStorage.getItem(key));
                     user.access_token = "no.longer.valid";
                     sessionStorage.setItem(key, JSON.stringify(user));
                   }"#,
                vec![],
            )
            .await
            .expect("spoil the stored token");
        page.open("?lang=en").await;
        let ended = page
            .wait_for("the session-ended alert", |s| s.error.is_some())
            .await;
        page.screenshot("sign-in-session-ended.png").await;
        let error = ended.error.as_ref().unwrap();
        assert_eq!(error.title, "Your session has ended");
        assert!(error.sign_in_again && !error.retry, "{error:?}");
        page.click(r#"[data-testid="sign-in-again"]"#).await;
        let again = page
            .wait_for("the list, signed in again", |s| !s.campaigns.is_empty())
            .await;
        assert_eq!(again.signed_in_as.as_deref(), Some("Signed in as ada"));
        assert_eq!(again.count, "9 upcoming bookings");

        // Sign out at the provider (it asks to confirm), and back to the signed-out page.
        page.click(r#"[data-testid="sign-out"]"#).await;
        page.wait_for_url("the provider's sign-out", |url| url.starts_with(&issuer))
            .await;
        page.click(r#"button[value="yes"]"#).await;
        let out = page.wait_for("signed out again", |s| s.signed_out).await;
        assert!(out.sign_in && out.signed_in_as.is_none(), "{out:#?}");
    })
    .await;
}

// ------------------------------------------------------------------------------------------------
// What the page should show, from the demo data's rules (sandbox/src/data.rs)
// ------------------------------------------------------------------------------------------------

/// The dev server's demo start: midnight UTC today, as it computes it at start (the in-process
/// tests' `bookings_tests::demo_start` is a fixed day instead). A run straddling midnight UTC
/// could disagree by a day: the dev server starts a moment before this is called.
fn dev_server_demo_start() -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now.rem_euclid(86_400)).unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    En,
    Fr,
}

/// One of the demo customer's confirmed bookings, as sandbox/src/data.rs makes it.
struct DemoSlot {
    n: u32,
    day: i64,
    hour: i64,
    minute: i64,
    minutes: Option<i64>,
    ticket: &'static str,
    host: Option<&'static str>,
}

struct DemoActivity {
    campaign: &'static str,
    timezone: &'static str,
    title: [&'static str; 2],
    location: [&'static str; 2],
    slots: Vec<DemoSlot>,
}

// A table reads best as a table.
#[rustfmt::skip]
fn demo_activities() -> Vec<DemoActivity> {
    // booking n, day after start, UTC hour and minute, duration, ticket, host
    let slot = |n, day, hour, minute, minutes, ticket, host| DemoSlot {
        n, day, hour, minute, minutes, ticket, host,
    };
    let mut eggs = vec![slot(4, 4, 15, 0, None, "Family pass", None)];
    eggs.extend((7..=12).map(|n| slot(n, i64::from(n), 16, 0, Some(45), "Standard entry", None)));
    vec![
        DemoActivity {
            campaign: "winter-festival",
            timezone: "Europe/London",
            title: ["Santa Photo Experience", "Photo avec le Père Noël"],
            location: ["Level 1, near the fountain", "Niveau 1, près de la fontaine"],
            slots: vec![
                slot(1, 1, 12, 30, Some(30), "Standard entry", Some("Photo Station 2")),
                slot(2, 3, 10, 0, Some(30), "Family pass", Some("Photo Station 1")),
            ],
        },
        DemoActivity {
            campaign: "winter-festival",
            timezone: "Europe/London",
            title: ["Craft Workshop", "Atelier créatif"],
            location: ["Level 2, studio B", "Niveau 2, studio B"],
            slots: vec![slot(3, 2, 14, 0, Some(90), "Standard entry", None)],
        },
        DemoActivity {
            campaign: "spring-fair",
            timezone: "America/New_York",
            // Only French was written: English falls back to it.
            title: ["Chasse aux œufs", "Chasse aux œufs"],
            location: ["Central lawn", "Pelouse centrale"],
            slots: eggs,
        },
    ]
}

/// The campaigns as the page should render them, without the bookings numbered in `cancelled`:
/// activities ordered by their earliest remaining slot, each campaign where its first one falls.
fn expected_campaigns(start: Timestamp, lang: Lang, cancelled: &[u32]) -> Vec<ShownCampaign> {
    let l = lang as usize;
    let slot_start = |slot: &DemoSlot| {
        start
            + SignedDuration::from_hours(slot.day * 24 + slot.hour)
            + SignedDuration::from_mins(slot.minute)
    };
    let mut activities = demo_activities();
    for activity in &mut activities {
        activity.slots.retain(|slot| !cancelled.contains(&slot.n));
        activity.slots.sort_by_key(slot_start);
    }
    activities.retain(|activity| !activity.slots.is_empty());
    activities.sort_by_key(|activity| slot_start(&activity.slots[0]));

    let mut campaigns: Vec<ShownCampaign> = Vec::new();
    for activity in activities {
        let name = zone_name(activity.timezone, lang);
        let bookings: Vec<ShownBooking> = activity
            .slots
            .iter()
            .map(|slot| {
                let starts = slot_start(slot);
                let local = starts.to_zoned_datetime(zone(activity.timezone));
                let mut time = local.strftime("%H:%M").to_string();
                if let Some(minutes) = slot.minutes {
                    let ends = (starts + SignedDuration::from_mins(minutes))
                        .to_zoned_datetime(zone(activity.timezone));
                    time = format!("{time} – {}", ends.strftime("%H:%M"));
                }
                ShownBooking {
                    id: booking_uuid(slot.n),
                    date: date_words(&local, lang),
                    datetime: local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    time,
                    zone: name.into(),
                    duration: match (slot.minutes, lang) {
                        (Some(m), _) => format!("{m} min"),
                        (None, Lang::En) => "Open-ended".into(),
                        (None, Lang::Fr) => "Durée libre".into(),
                    },
                    ticket: Some(slot.ticket.into()),
                    host: slot.host.map(Into::into),
                    location: Some(activity.location[l].into()),
                }
            })
            .collect();
        let group = ShownGroup {
            title: activity.title[l].into(),
            bookings,
        };
        match campaigns.iter_mut().find(|c| c.key == activity.campaign) {
            Some(campaign) => campaign.groups.push(group),
            None => campaigns.push(ShownCampaign {
                key: activity.campaign.into(),
                zone: match lang {
                    Lang::En => format!("Times in {name}"),
                    Lang::Fr => format!("Horaires — {name}"),
                },
                groups: vec![group],
            }),
        }
    }
    campaigns
}

/// The generic name of a demo zone in the page's language, as CLDR (the browser's `Intl`)
/// writes it: a page that printed the IANA name's last part ("heure de London") would differ.
fn zone_name(timezone: &str, lang: Lang) -> &'static str {
    match (timezone, lang) {
        ("Europe/London", Lang::En) => "United Kingdom Time",
        ("Europe/London", Lang::Fr) => "heure : Royaume-Uni",
        ("America/New_York", Lang::En) => "Eastern Time",
        ("America/New_York", Lang::Fr) => "heure de l’Est nord-américain",
        (other, _) => panic!("no expected name for {other}"),
    }
}

/// The words a long date must contain, however the browser's locale data punctuates it:
/// weekday, day of month, month, year ("Saturday 28 November 2026", "samedi 28 novembre 2026").
fn date_words(local: &ZonedDateTime, lang: Lang) -> Vec<String> {
    const JOURS: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    const MOIS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let day = local.day().to_string();
    let year = local.year().to_string();
    match lang {
        Lang::En => vec![
            local.strftime("%A").to_string(),
            day,
            local.strftime("%B").to_string(),
            year,
        ],
        Lang::Fr => vec![
            JOURS[usize::try_from(local.weekday().to_monday_zero_offset()).unwrap()].into(),
            day,
            MOIS[usize::try_from(local.month() - 1).unwrap()].into(),
            year,
        ],
    }
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("time zone {name}: {e}"))
}

// ------------------------------------------------------------------------------------------------
// What the page shows: one snapshot of the DOM, read through the data-testid attributes
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
struct Snapshot {
    title: String,
    lang: String,
    loading: bool,
    count: String,
    error: Option<ShownError>,
    notice: Option<String>,
    /// "Signed in as …", when someone is (only with an identity provider).
    signed_in_as: Option<String>,
    signed_out: bool,
    /// The Sign in and Sign out buttons are shown.
    sign_in: bool,
    sign_out: bool,
    empty: bool,
    dialog_open: bool,
    dialog_text: String,
    campaigns: Vec<ShownCampaign>,
}

#[derive(Debug, Clone, Deserialize)]
struct ShownError {
    title: String,
    detail: String,
    /// The "Try again" button is shown.
    retry: bool,
    /// The "Sign in again" button is shown.
    sign_in_again: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct ShownCampaign {
    key: String,
    zone: String,
    groups: Vec<ShownGroup>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct ShownGroup {
    title: String,
    bookings: Vec<ShownBooking>,
}

#[derive(Debug, Clone, Deserialize)]
struct ShownBooking {
    id: String,
    /// The visible long date; compared by its words (see `date_words`).
    #[serde(deserialize_with = "words")]
    date: Vec<String>,
    /// The `<time datetime>`: the slot start with the campaign's offset.
    datetime: String,
    time: String,
    zone: String,
    duration: String,
    ticket: Option<String>,
    host: Option<String>,
    location: Option<String>,
}

impl PartialEq for ShownBooking {
    /// Every field equal, except the date: shown must contain every expected word.
    fn eq(&self, expected: &Self) -> bool {
        self.id == expected.id
            && expected
                .date
                .iter()
                .all(|word| self.date.contains(word) || self.date.contains(&format!("{word}er")))
            && self.datetime == expected.datetime
            && self.time == expected.time
            && self.zone == expected.zone
            && self.duration == expected.duration
            && self.ticket == expected.ticket
            && self.host == expected.host
            && self.location == expected.location
    }
}

fn words<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect())
}

impl Snapshot {
    fn booking(&self, id: &str) -> Option<&ShownBooking> {
        self.campaigns
            .iter()
            .flat_map(|c| &c.groups)
            .flat_map(|g| &g.bookings)
            .find(|b| b.id == id)
    }

    fn group_titles(&self) -> Vec<String> {
        self.campaigns
            .iter()
            .flat_map(|c| &c.groups)
            .map(|g| g.title.clone())
            .collect()
    }
}

const SNAPSHOT_JS: &str = r#"
const q = (root, id) => root.querySelector(`[data-testid="${id}"]`);
const all = (root, id) => [...root.querySelectorAll(`[data-testid="${id}"]`)];
const text = (root, id) => { const e = q(root, id); return e ? e.textContent.trim() : null; };
const shown = (id) => { const e = q(document, id); return !!e && !e.hidden; };
if (!q(document, "confirm-dialog")) return null; // not the account page
return {
  title: text(document, "page-title"),
  lang: document.documentElement.lang,
  loading: shown("loading"),
  count: text(document, "booking-count"),
  error: shown("error")
    ? {
        title: text(document, "error-title"),
        detail: text(document, "error-detail"),
        retry: shown("retry"),
        sign_in_again: shown("sign-in-again"),
      }
    : null,
  notice: shown("notice") ? text(document, "notice") : null,
  signed_in_as: shown("signed-in-as") ? text(document, "signed-in-as") : null,
  signed_out: shown("signed-out"),
  sign_in: shown("sign-in"),
  sign_out: shown("sign-out"),
  empty: shown("empty"),
  dialog_open: q(document, "confirm-dialog").open,
  dialog_text: text(document, "confirm-text"),
  campaigns: all(document, "campaign").map((c) => ({
    key: c.dataset.campaign,
    zone: text(c, "campaign-zone"),
    groups: all(c, "group").map((g) => ({
      title: text(g, "group-title"),
      bookings: all(g, "booking").map((b) => ({
        id: b.dataset.bookingId,
        date: text(b, "slot-date"),
        datetime: q(b, "slot-date").getAttribute("datetime"),
        time: text(b, "slot-time"),
        zone: text(b, "slot-zone"),
        duration: text(b, "duration"),
        ticket: text(b, "ticket"),
        host: text(b, "host"),
        location: text(b, "location"),
      })),
    })),
  })),
};
"#;

// ------------------------------------------------------------------------------------------------
// The harness: dev server, chromedriver + chromium, and a page handle
// ------------------------------------------------------------------------------------------------

struct Page {
    client: Client,
    /// Where the page is served from.
    base: String,
    /// Where the API (and its sandbox switches) is: the page's own origin but on a brand's site.
    api: String,
    http: reqwest::Client,
    artifacts: PathBuf,
}

impl Page {
    async fn open(&self, query: &str) {
        self.client
            .goto(&format!("{}/{query}", self.base))
            .await
            .expect("open the page");
    }

    /// What the page shows; `None` while the browser is elsewhere (the identity provider's
    /// pages, a redirect on its way).
    async fn snapshot(&self) -> Option<Snapshot> {
        let value = match self.client.execute(SNAPSHOT_JS, vec![]).await {
            Ok(value) => value,
            // A navigation under way tears the script's document down.
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::JavascriptError =>
            {
                return None;
            }
            Err(e) => panic!("read the page: {e}"),
        };
        if value.is_null() {
            return None;
        }
        Some(
            serde_json::from_value(value.clone())
                .unwrap_or_else(|e| panic!("unexpected page snapshot ({e}): {value}")),
        )
    }

    /// Polls the page until `ready` holds (and no load is under way), or fails with what it saw.
    async fn wait_for(&self, what: &str, ready: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let snapshot = self.snapshot().await;
            if let Some(snapshot) = snapshot.as_ref().filter(|s| !s.loading && ready(s)) {
                return snapshot.clone();
            }
            if Instant::now() > deadline {
                let at = self.client.current_url().await.ok();
                panic!("waited {PATIENCE:?} for {what}; at {at:?} the page shows {snapshot:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the address until `ready` holds (a page of the identity provider's, say).
    async fn wait_for_url(&self, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.client.current_url().await.expect("the address");
            if ready(url.as_str()) {
                return;
            }
            if Instant::now() > deadline {
                panic!("waited {PATIENCE:?} for {what}; the browser is at {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element `css` selects, once it is there.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    async fn fill(&self, css: &str, text: &str) {
        self.element(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Presses a booking's Cancel, then "Yes, cancel" in the dialog.
    async fn cancel_through_dialog(&self, booking: &str) {
        self.click(&format!(
            r#"[data-booking-id="{booking}"] [data-testid="cancel-button"]"#
        ))
        .await;
        self.wait_for("the dialog", |s| s.dialog_open).await;
        self.click(r#"[data-testid="confirm-cancel"]"#).await;
    }

    /// Saves the viewport as a PNG in tests/artifacts/.
    async fn screenshot(&self, file: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        let path = self.artifacts.join(file);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    async fn fault(&self, endpoint: &str, fault: &str, count: u32) {
        let response = self
            .http
            .post(format!("{}/_sandbox/faults", self.api))
            .json(&json!({ "endpoint": endpoint, "fault": fault, "count": count }))
            .send()
            .await
            .expect("sandbox fault request");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn clear_faults(&self) {
        let response = self
            .http
            .delete(format!("{}/_sandbox/faults", self.api))
            .send()
            .await
            .expect("sandbox clear request");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn api_list(&self, status: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/bookings?booking_status={status}&all=true&language=en",
                self.api
            ))
            .send()
            .await
            .expect("GET /bookings")
    }

    /// The demo customer's booking ids with this status, straight from the API.
    async fn api_ids(&self, status: &str) -> Vec<String> {
        let body: Value = self.api_list(status).await.json().await.expect("JSON");
        body["bookings"]
            .as_array()
            .expect("bookings")
            .iter()
            .map(|b| b["booking"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The problem document a failing list call answers with.
    async fn api_problem(&self) -> Value {
        let response = self.api_list("CONFIRMED").await;
        assert!(!response.status().is_success(), "the list call should fail");
        response.json().await.expect("a problem document")
    }
}

/// Runs `body` against a fresh dev server (the demo sign-in) and browser, then closes the browser
/// even if it panicked.
async fn with_page<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()>,
{
    with_page_on(name, DevServer::demo(name), body).await;
}

/// [`with_page`] with the page on another origin: the brand's site, which serves the reference
/// page as a brand would copy it (`API_BASE` set to the dev server), and calls the API across
/// origins. The dev server lists the site in `ALLOWED_ORIGINS`.
async fn with_page_on_the_brands_site<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let server = DevServer::start(name, &[("ALLOWED_ORIGINS", &site)]);
    const UNSET: &str = "const API_BASE = \"\";";
    let script = include_str!("../../dev-server/page/app.js");
    assert_eq!(
        script.matches(UNSET).count(),
        1,
        "app.js sets API_BASE once"
    );
    let script = script.replace(UNSET, &format!("const API_BASE = {:?};", server.base));
    let files = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async {
                axum::response::Html(include_str!("../../dev-server/page/index.html"))
            }),
        )
        .route(
            "/app.js",
            axum::routing::get(move || async move {
                ([("content-type", "text/javascript; charset=utf-8")], script)
            }),
        )
        .route(
            "/style.css",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/css; charset=utf-8")],
                    include_str!("../../dev-server/page/style.css"),
                )
            }),
        );
    let serving = tokio::spawn(async move { axum::serve(listener, files).await });
    let _one = ONE_BROWSER.lock().await;
    let browser = Browser::start(name, BROWSER_TZ).await;
    let page = Page {
        client: browser.client.clone(),
        base: site,
        api: server.base.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        artifacts: artifacts(),
    };
    let outcome = AssertUnwindSafe(body(page)).catch_unwind().await;
    browser.client.clone().close().await.ok();
    drop(browser);
    serving.abort();
    drop(server);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// [`with_page`] on a dev server of the test's own.
async fn with_page_on<F, Fut>(name: &str, server: DevServer, body: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()>,
{
    let _one = ONE_BROWSER.lock().await;
    let artifacts = artifacts();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    server.assert_serves_current_page(&http).await;
    let browser = Browser::start(name, BROWSER_TZ).await;
    let page = Page {
        client: browser.client.clone(),
        base: server.base.clone(),
        api: server.base.clone(),
        http,
        artifacts,
    };
    let outcome = AssertUnwindSafe(body(page)).catch_unwind().await;
    browser.client.clone().close().await.ok();
    drop(browser);
    drop(server);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
