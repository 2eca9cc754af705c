//! The two use cases of the reference page's account-page flow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::OnceCell;

use crate::booking_id::BookingId;
use crate::identity::ExternalId;
use crate::model::{Booking, BookingPage, BookingStatus};
use crate::omnilab::{Call, OmniLab, UpstreamError};
use crate::query::{ListQuery, Pages, Scope};
use crate::view::{self, BookingList, BookingView};

/// `all=true` and the ownership check stop after this many pages (10,000 bookings at 100 a
/// page), so a wrong `total_count` upstream cannot make one request run away.
const MAX_PAGES: u64 = 100;
/// The page size for our own scans (the ownership check): OmniLab's largest, fewest round trips.
const SCAN_PAGE_SIZE: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Not among the caller's bookings. Whether it exists for someone else is not revealed.
    #[error("no such booking for this customer")]
    NotFound,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct Cancelled {
    pub booking: String,
    pub booking_status: BookingStatus,
}

/// How many cancelled booking ids a container remembers before it starts afresh.
const REMEMBERED_CANCELS: usize = 10_000;

type CancelOutcome = Arc<OnceCell<Result<(), UpstreamError>>>;

pub struct Bookings {
    omnilab: OmniLab,
    // One upstream cancel per booking per container: concurrent cancels of the same booking
    // share the one in flight, and later ones find it done.
    cancels: Mutex<HashMap<String, CancelOutcome>>,
}

impl Bookings {
    pub fn new(omnilab: OmniLab) -> Self {
        Self {
            omnilab,
            cancels: Mutex::new(HashMap::new()),
        }
    }

    pub fn omnilab(&self) -> &OmniLab {
        &self.omnilab
    }

    pub async fn list(
        &self,
        call: &Call,
        customer: &ExternalId,
        query: &ListQuery,
    ) -> Result<BookingList, UpstreamError> {
        let (bookings, page_number, page_size, total_count) = match query.pages {
            Pages::One { number, size } => {
                let page = self
                    .omnilab
                    .fetch_contact_bookings(call, customer, query, number, size)
                    .await?;
                (
                    page.bookings,
                    page.page_number,
                    page.page_size,
                    page.total_count,
                )
            }
            Pages::All { size } => {
                let pages = self
                    .every_page(call, customer, query, size)
                    .try_collect::<Vec<_>>()
                    .await?;
                let total_count = pages.first().map_or(0, |p| p.total_count);
                let bookings: Vec<Booking> = pages.into_iter().flat_map(|p| p.bookings).collect();
                // Everything came back as one page.
                let page_size = u32::try_from(bookings.len()).unwrap_or(u32::MAX);
                (bookings, 1, page_size, total_count)
            }
        };
        let bookings: Vec<BookingView> = bookings
            .into_iter()
            .map(|booking| BookingView::new(booking, query.language.as_ref()))
            .collect();
        Ok(BookingList {
            groups: view::group(&bookings),
            bookings,
            page_number,
            page_size,
            total_count,
        })
    }

    /// Cancels one of the caller's own bookings. OmniLab's cancel endpoint takes only a booking
    /// id, so without the ownership check any signed-in customer could cancel anyone's booking.
    pub async fn cancel(
        &self,
        call: &Call,
        customer: &ExternalId,
        id: &BookingId,
    ) -> Result<Cancelled, CancelError> {
        let booking = self
            .find_own(call, customer, id)
            .await?
            .ok_or(CancelError::NotFound)?;
        if booking.booking_status != BookingStatus::Cancelled {
            self.cancel_once(call, &booking.booking)
                .await
                .map_err(|error| match error {
                    // Gone between our check and the cancel: the caller sees what a re-list would show.
                    UpstreamError::Status(404) => CancelError::NotFound,
                    error => CancelError::Upstream(error),
                })?;
        }
        Ok(Cancelled {
            booking: booking.booking,
            booking_status: BookingStatus::Cancelled,
        })
    }

    async fn cancel_once(&self, call: &Call, booking: &str) -> Result<(), UpstreamError> {
        let key = booking.to_ascii_lowercase();
        let outcome = {
            let mut cancels = self
                .cancels
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if cancels.len() >= REMEMBERED_CANCELS {
                cancels.retain(|_, outcome| !outcome.initialized());
            }
            cancels.entry(key.clone()).or_default().clone()
        };
        let result = outcome
            .get_or_init(|| self.omnilab.cancel_interaction_booking(call, booking))
            .await
            .clone();
        if result.is_err() {
            // A failure is not remembered: the next attempt may succeed.
            let mut cancels = self
                .cancels
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if cancels
                .get(&key)
                .is_some_and(|current| Arc::ptr_eq(current, &outcome))
            {
                cancels.remove(&key);
            }
        }
        result
    }

    /// Looks for `id` among the caller's bookings of every campaign and status, stopping at the
    /// page that holds it.
    async fn find_own(
        &self,
        call: &Call,
        customer: &ExternalId,
        id: &BookingId,
    ) -> Result<Option<Booking>, UpstreamError> {
        let everything = ListQuery {
            scope: Scope::AllCampaigns,
            slot_from: None,
            slot_to: None,
            statuses: Vec::new(),
            language: None,
            pages: Pages::All {
                size: SCAN_PAGE_SIZE,
            },
        };
        let mut pages =
            std::pin::pin!(self.every_page(call, customer, &everything, SCAN_PAGE_SIZE));
        while let Some(page) = pages.try_next().await? {
            if let Some(booking) = page.bookings.into_iter().find(|b| id.matches(&b.booking)) {
                return Ok(Some(booking));
            }
        }
        Ok(None)
    }

    /// Page 1 first, to learn `total_count`; then the other pages at the same time (bounded),
    /// yielded in page order.
    fn every_page<'a>(
        &'a self,
        call: &'a Call,
        customer: &'a ExternalId,
        query: &'a ListQuery,
        size: u32,
    ) -> impl futures_util::Stream<Item = Result<BookingPage, UpstreamError>> + 'a {
        let fetch = move |number: u32| {
            self.omnilab
                .fetch_contact_bookings(call, customer, query, number, size)
        };
        stream::once(fetch(1))
            .map_ok(move |first| {
                let pages = first.total_count.div_ceil(u64::from(size));
                if pages > MAX_PAGES {
                    tracing::warn!(
                        total_count = first.total_count,
                        "stopping after {MAX_PAGES} pages"
                    );
                }
                // An empty first page ends the scan, whatever total_count claims.
                let rest = if first.bookings.is_empty() {
                    1
                } else {
                    pages.min(MAX_PAGES) as u32
                };
                let later = stream::iter(2..=rest)
                    .map(fetch)
                    .buffered(self.omnilab.policy().page_concurrency);
                stream::once(async move { Ok(first) }).chain(later)
            })
            .try_flatten()
    }
}
