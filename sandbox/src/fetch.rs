//! `GET /v1/interactions:fetchContactBookings`: the query checked as OmniLab checks it, the
//! filters, paging, the order of a page, each booking in the language asked for, and the changes
//! a test makes to the data while a client pages.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::Value;

use crate::data::{Campaign, Localized, SandboxData, StoredBooking};
use crate::router::error;
use crate::state::Sandbox;
use crate::wire::{Activity, Booking, BookingPage, BookingStatus, Group, Interaction};

/// A fetch as the sandbox received it, to check what we forwarded.
#[derive(Clone, Debug)]
pub struct Received {
    pub query: Vec<(String, String)>,
}

impl Received {
    /// The values the query gave `name`, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        values_of(&self.query, name)
    }
}

/// The values `pairs` give `name`, in order: a parameter may repeat.
fn values_of<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A change to the sandbox's data, made while a client pages through it.
type DataChange = Box<dyn FnOnce(&mut SandboxData) + Send>;

/// The fetch endpoint's part of the state.
#[derive(Default)]
pub(crate) struct FetchState {
    /// The most bookings a page holds, whatever `page_size` asks.
    max_page_size: Option<u32>,
    /// Pages in order of the latest status change, newest first, instead of slot order.
    latest_change_first: bool,
    /// Changes to make to the data once a page with that number has been served.
    after_page: Vec<(u32, DataChange)>,
    received: Vec<Received>,
}

impl Sandbox {
    /// Serve at most `size` bookings a page (0: no limit), whatever `page_size` asks: the
    /// reference documents no maximum, so a tenant's OmniLab may have one.
    pub fn set_max_page_size(&self, size: u32) {
        self.lock().fetch.max_page_size = (size > 0).then_some(size);
    }

    /// Serves pages in order of each booking's latest status change, newest first. The
    /// reference page documents no order; a review saw OmniLab's move this way, so a booking
    /// cancelled or added while a client pages moves between pages. By default the sandbox
    /// serves slot order, which keeps pages stable for every other test.
    pub fn order_by_latest_change(&self) {
        self.lock().fetch.latest_change_first = true;
    }

    /// The next time a page numbered `page_number` is served, `change` is made to the data
    /// right after, as another device of the customer (or OmniLab) would while a client pages.
    /// Changes asked for the same page number are made on successive serves.
    ///
    /// `change` runs under the sandbox's lock, so that no request sees the data half changed:
    /// it must not call the sandbox.
    pub fn after_page_served(
        &self,
        page_number: u32,
        change: impl FnOnce(&mut SandboxData) + Send + 'static,
    ) {
        self.lock()
            .fetch
            .after_page
            .push((page_number, Box::new(change)));
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().fetch.received.clone()
    }
}

/// One fetch with the query's `pairs`: a page of the contact's bookings, else OmniLab's error.
pub(crate) fn fetch(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Response {
    let query = FetchQuery::parse(pairs);
    let page = {
        let mut guard = sandbox.lock();
        // Through the guard once, so that the data and the pending changes borrow apart.
        let state = &mut *guard;
        state.counters.fetches += 1;
        if !state.token.accept(headers) {
            return error(StatusCode::UNAUTHORIZED, "invalid_token");
        }
        state.fetch.received.push(Received {
            query: pairs.to_vec(),
        });
        let query = match query {
            Ok(query) => query,
            Err(code) => return error(StatusCode::BAD_REQUEST, code),
        };
        let page = query.page(&state.data, &state.fetch);
        // One change per page served, in the order they were asked for.
        let pending = &mut state.fetch.after_page;
        if let Some(at) = pending
            .iter()
            .position(|(page, _)| *page == query.page_number)
        {
            let (_, change) = pending.remove(at);
            change(&mut state.data);
        }
        page
    };
    axum::Json(page).into_response()
}

/// A fetch query, checked the way OmniLab checks it.
struct FetchQuery {
    contact: String,
    public_key: Option<String>,
    interaction: Option<String>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    statuses: Vec<BookingStatus>,
    page_size: u32,
    page_number: u32,
    language: Option<String>,
}

impl FetchQuery {
    /// On failure, the error code OmniLab would answer 400 with.
    fn parse(pairs: &[(String, String)]) -> Result<Self, &'static str> {
        let values = |name: &str| values_of(pairs, name);
        let one = |name: &str| -> Result<Option<String>, &'static str> {
            match values(name).as_slice() {
                [] => Ok(None),
                [value] => Ok(Some((*value).to_owned())),
                _ => Err("only_one_value_supported"),
            }
        };
        let time = |name: &str| -> Result<Option<Timestamp>, &'static str> {
            one(name)?
                .map(|t| t.parse::<Timestamp>().map_err(|_| "invalid_date"))
                .transpose()
        };
        let number = |name: &str, default: u32| -> Result<u32, &'static str> {
            one(name)?
                .map(|n| {
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or("invalid_page")
                })
                .transpose()
                .map(|n| n.unwrap_or(default))
        };
        let public_key = one("public_keys")?;
        let interaction = one("interactions")?;
        if public_key.is_some() && interaction.is_some() {
            return Err("public_keys_and_interactions_exclusive");
        }
        let statuses = values("booking_status")
            .into_iter()
            .map(|s| BookingStatus::parse(s).ok_or("invalid_status"))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            contact: one("external_id")?.ok_or("external_id_required")?,
            public_key,
            interaction,
            from: time("slot_date_range.from")?,
            to: time("slot_date_range.to")?,
            statuses,
            page_size: number("page_size", 50)?,
            page_number: number("page_number", 1)?,
            language: one("language")?
                .map(|l| l.split('-').next().unwrap_or_default().to_ascii_lowercase()),
        })
    }

    /// Whether `booking`, of `campaign`, passes every filter.
    fn selects(&self, campaign: &Campaign, booking: &StoredBooking) -> bool {
        booking.contact == self.contact
            && (self.public_key.as_ref()).is_none_or(|key| campaign.public_key == *key)
            && (self.interaction.as_ref()).is_none_or(|name| campaign.name == *name)
            && self
                .from
                .is_none_or(|from| booking.slot_starting_at >= from)
            && self.to.is_none_or(|to| booking.slot_starting_at <= to)
            && (self.statuses.is_empty() || self.statuses.contains(&booking.booking_status))
    }

    /// The page this query asks for, of `data` as `settings` serve it.
    fn page(&self, data: &SandboxData, settings: &FetchState) -> BookingPage {
        let page_size = settings
            .max_page_size
            .map_or(self.page_size, |max| self.page_size.min(max));
        let mut matching: Vec<&StoredBooking> = data
            .bookings
            .iter()
            .filter(|b| self.selects(&data.campaigns[b.campaign], b))
            .collect();
        if settings.latest_change_first {
            matching.sort_by(|a, b| (b.booked_at, &a.booking).cmp(&(a.booked_at, &b.booking)));
        } else {
            matching.sort_by_key(|b| (b.slot_starting_at, b.booking.clone()));
        }
        let total_count = matching.len() as u64;
        let skip = (self.page_number as usize - 1).saturating_mul(page_size as usize);
        let bookings = matching
            .into_iter()
            .skip(skip)
            .take(page_size as usize)
            .map(|b| render(&data.campaigns[b.campaign], b, self.language.as_deref()))
            .collect();
        BookingPage {
            bookings,
            page_number: self.page_number,
            page_size,
            total_count,
        }
    }
}

/// A stored booking as OmniLab renders it in `language`.
fn render(campaign: &Campaign, stored: &StoredBooking, language: Option<&str>) -> Booking {
    Booking {
        activity: Activity {
            id: stored.activity_id.clone(),
            title: localize(campaign, &stored.title, language),
            location_hint: localize(campaign, &stored.location_hint, language),
        },
        interaction: Interaction {
            public_key: campaign.public_key.clone(),
            timezone: campaign.timezone.clone(),
        },
        group: Group {
            unique_key: campaign.group_key.clone(),
            display_name: campaign.group_name.clone(),
        },
        slot_starting_at: stored.slot_starting_at,
        slot_duration_in_minutes: stored.slot_duration_in_minutes,
        booking_status: stored.booking_status,
        booked_at: stored.booked_at,
        ticket_type: stored.ticket_type.clone(),
        host: stored.host.clone(),
        booking: stored.booking.clone(),
    }
}

/// The reference page's rule: the requested language if the campaign offers it, else the
/// campaign's default; and where that language has no text, the raw language map as a string.
fn localize(campaign: &Campaign, text: &Localized, language: Option<&str>) -> String {
    let resolved = language
        .filter(|l| campaign.languages.iter().any(|c| c == l))
        .or(campaign.languages.first().map(String::as_str))
        .unwrap_or("en");
    match text.0.iter().find(|(l, _)| l == resolved) {
        Some((_, value)) => value.clone(),
        None => {
            let map: serde_json::Map<String, Value> = text
                .0
                .iter()
                .map(|(l, t)| (l.clone(), Value::String(t.clone())))
                .collect();
            Value::Object(map).to_string()
        }
    }
}
