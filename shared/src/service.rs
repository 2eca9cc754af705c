//! The two use cases of the reference page's account-page flow.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;

use crate::booking_id::{BookingId, BookingKey};
use crate::escaped::Escaped;
use crate::model::{Booking, BookingPage, BookingStatus};
use crate::omnilab::{
    BookingFilter, Budget, ExternalId, Language, OmniLab, PageRequest, UpstreamError,
};
use crate::query::{ListQuery, MAX_PAGE_SIZE, Pages};
use crate::view::{self, BookingList, NextPage};

/// `all=true` and the ownership check stop after this many pages (10,000 bookings at 100 a
/// page), so a wrong `total_count` upstream cannot make one request run away.
const MAX_PAGES: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// One page as asked would not fit in a Lambda response.
    #[error("the page is larger than one response can carry")]
    TooLarge,
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Not among the caller's bookings. Whether it exists for someone else is not revealed.
    #[error("no such booking for this customer")]
    NotFound,
    /// OmniLab refused to cancel it for its state (the HTTP status it answered).
    #[error("OmniLab refused to cancel the booking (HTTP {0})")]
    NotCancellable(u16),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct Cancelled {
    pub booking: BookingId,
    pub booking_status: BookingStatus,
}

/// How many cancelled booking ids a container remembers before it starts afresh.
const REMEMBERED_CANCELS: usize = 10_000;

/// A cancel's outcome, once OmniLab has answered it (`None` while it is in flight).
type CancelOutcome = watch::Receiver<Option<Result<(), UpstreamError>>>;
type Cancels = Arc<Mutex<HashMap<BookingKey, CancelOutcome>>>;

pub struct Bookings {
    omnilab: Arc<OmniLab>,
    // One upstream cancel per booking per container: concurrent cancels of the same booking
    // share the one in flight, and later ones find it done.
    cancels: Cancels,
}

impl Bookings {
    pub fn new(omnilab: OmniLab) -> Self {
        Self {
            omnilab: Arc::new(omnilab),
            cancels: Cancels::default(),
        }
    }

    pub fn omnilab(&self) -> &OmniLab {
        &self.omnilab
    }

    /// The caller's bookings, rendered: one page as asked, or with `all=true` as many whole
    /// pages as fit in one Lambda response, with `next_page` saying where the rest starts.
    pub async fn list(
        &self,
        budget: &Budget,
        customer: &ExternalId,
        query: &ListQuery,
    ) -> Result<Escaped, ListError> {
        let language = query.filter.language.as_ref();
        match query.pages {
            Pages::One(page) => {
                let fetched = self
                    .omnilab
                    .fetch_contact_bookings(budget, customer, &query.filter, page)
                    .await?;
                let page = fetched.page(budget)?;
                let views = view::views(page.bookings, language);
                let list =
                    BookingList::new(&views, page.page_number, page.page_size, page.total_count);
                view::render(&list).map_err(|_| ListError::TooLarge)
            }
            Pages::All => {
                let concurrency = self.omnilab.policy().page_concurrency;
                let mut pages = self
                    .every_page(budget, customer, &query.filter, concurrency)
                    .try_collect::<Vec<_>>()
                    .await?;
                if !steady(&pages) {
                    // OmniLab orders by the latest status change: a booking cancelled or added
                    // while we paged moved between pages. Once more, then say so.
                    tracing::warn!(
                        pages = pages.len(),
                        "the bookings changed while they were paged; paging them again"
                    );
                    pages = self
                        .every_page(budget, customer, &query.filter, concurrency)
                        .try_collect::<Vec<_>>()
                        .await?;
                }
                let incomplete = !steady(&pages);
                if incomplete {
                    tracing::warn!("the bookings changed again; answering what was found");
                }
                Ok(render_pages(pages, language, incomplete))
            }
        }
    }

    /// Cancels one of the caller's own bookings. OmniLab's cancel endpoint takes only a booking
    /// id, so without the ownership check any signed-in customer could cancel anyone's booking.
    pub async fn cancel(
        &self,
        budget: &Budget,
        customer: &ExternalId,
        id: &BookingId,
    ) -> Result<Cancelled, CancelError> {
        let booking = self
            .find_own(budget, customer, id)
            .await?
            .ok_or(CancelError::NotFound)?;
        // OmniLab wants its own spelling back, exactly as listed. It matched `id` ignoring
        // case, so it is a UUID too.
        let listed = BookingId::parse(&booking.booking).map_err(|_| CancelError::NotFound)?;
        if booking.booking_status != BookingStatus::Cancelled {
            self.cancel_once(budget, &listed)
                .await
                .map_err(|error| match error {
                    // Gone between our check and the cancel: the caller sees what a re-list would show.
                    UpstreamError::Status(404) => CancelError::NotFound,
                    UpstreamError::CancelRefused(status) => CancelError::NotCancellable(status),
                    error => CancelError::Upstream(error),
                })?;
        }
        Ok(Cancelled {
            booking: listed,
            booking_status: BookingStatus::Cancelled,
        })
    }

    /// The one upstream cancel of `booking`, shared by every request that cancels it.
    ///
    /// Why a task of its own: run in the first caller's request, the cancel lived and died by
    /// that caller's deadline, and a patient caller that joined it was handed the first one's
    /// timeout although OmniLab went on to cancel. The task runs to its own bound (the first
    /// caller's deadline, or one attempt's timeout if that is later); each caller waits for
    /// its outcome within its own deadline only, and one that gave up leaves the outcome to
    /// whoever asks next.
    async fn cancel_once(&self, budget: &Budget, booking: &BookingId) -> Result<(), UpstreamError> {
        let key = booking.key();
        let mut outcome = {
            let mut cancels = lock(&self.cancels);
            if cancels.len() >= REMEMBERED_CANCELS {
                cancels.retain(|_, outcome| outcome.borrow().is_none());
            }
            match cancels.get(&key) {
                Some(outcome) => outcome.clone(),
                None => {
                    let (tell, outcome) = watch::channel(None);
                    cancels.insert(key.clone(), outcome.clone());
                    let omnilab = self.omnilab.clone();
                    let cancels = self.cancels.clone();
                    let booking = booking.clone();
                    let own = budget.outliving(omnilab.policy().attempt_timeout);
                    tokio::spawn(async move {
                        let result = omnilab.cancel_interaction_booking(&own, &booking).await;
                        if result.is_err() {
                            // A failure is not remembered: the next attempt may succeed.
                            lock(&cancels).remove(&key);
                        }
                        tell.send_replace(Some(result));
                    });
                    outcome
                }
            }
        };
        let answered = outcome.wait_for(Option::is_some).await;
        match answered.as_deref() {
            Ok(Some(result)) => result.clone(),
            // The task cannot end without answering; were it to, the cancel is unconfirmed.
            _ => Err(UpstreamError::Timeout),
        }
    }

    /// Looks for `id` among the caller's bookings of every campaign and status, one page at a
    /// time, stopping at the page that holds it: a cancel costs OmniLab no page beyond that one.
    /// The pages are planned from page 1's `total_count`; a booking added meanwhile can push
    /// `id` past them, so when a later page's count differs, the list is looked through once
    /// more before the answer is "not yours".
    async fn find_own(
        &self,
        budget: &Budget,
        customer: &ExternalId,
        id: &BookingId,
    ) -> Result<Option<Booking<'static>>, UpstreamError> {
        match self.scan(budget, customer, id).await? {
            Scan::Found(booking) => Ok(Some(*booking)),
            Scan::Absent { moved: false } => Ok(None),
            Scan::Absent { moved: true } => {
                tracing::info!("the bookings changed during the ownership check; looking again");
                match self.scan(budget, customer, id).await? {
                    Scan::Found(booking) => Ok(Some(*booking)),
                    Scan::Absent { .. } => Ok(None),
                }
            }
        }
    }

    async fn scan(
        &self,
        budget: &Budget,
        customer: &ExternalId,
        id: &BookingId,
    ) -> Result<Scan, UpstreamError> {
        let everything = BookingFilter::default();
        let mut pages = std::pin::pin!(self.every_page(budget, customer, &everything, 1));
        let mut first_count = None;
        let mut moved = false;
        while let Some(page) = pages.try_next().await? {
            moved |= *first_count.get_or_insert(page.total_count) != page.total_count;
            if let Some(booking) = page.bookings.into_iter().find(|b| id.matches(&b.booking)) {
                return Ok(Scan::Found(Box::new(booking)));
            }
        }
        Ok(Scan::Absent { moved })
    }

    /// Page 1 at the largest size, to learn `total_count` and the size OmniLab really serves;
    /// then the other pages at that size, up to `concurrency` at a time, yielded in page order.
    fn every_page<'a>(
        &'a self,
        budget: &'a Budget,
        customer: &'a ExternalId,
        filter: &'a BookingFilter,
        concurrency: usize,
    ) -> impl futures_util::Stream<Item = Result<BookingPage<'static>, UpstreamError>> + 'a {
        // Each page outlives its answer here, so it is read into strings of its own.
        let fetch = move |number: u32, size: u32| async move {
            let fetched = self
                .omnilab
                .fetch_contact_bookings(budget, customer, filter, PageRequest { number, size })
                .await?;
            Ok(fetched.page(budget)?.into_owned())
        };
        stream::once(fetch(1, MAX_PAGE_SIZE))
            .map_ok(move |first| {
                let plan = Plan::after(&first);
                if plan.pages > u64::from(MAX_PAGES) {
                    tracing::warn!(
                        total_count = first.total_count,
                        page_size = plan.size,
                        "stopping after {MAX_PAGES} pages"
                    );
                }
                let later = stream::iter(2..=plan.fetched())
                    .map(move |number| fetch(number, plan.size))
                    .buffered(concurrency.max(1));
                stream::once(async move { Ok(first) }).chain(later)
            })
            .try_flatten()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding it leaves a map of outcomes, not a broken invariant.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one look through the caller's bookings found.
enum Scan {
    Found(Box<Booking<'static>>),
    /// Not there; `moved`: a later page's `total_count` differed from page 1's.
    Absent {
        moved: bool,
    },
}

/// How to page on after the first page, from what OmniLab actually served: the reference
/// documents no maximum page size, so a tenant may get 50 a page however many we ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    /// The size later pages are asked at: what page 1 held, so page numbers mean what
    /// OmniLab means by them.
    size: u32,
    /// Every page `total_count` needs at that size (an empty first page needs no other).
    pages: u64,
}

impl Plan {
    fn after(first: &BookingPage<'_>) -> Self {
        let size = u32::try_from(first.bookings.len()).unwrap_or(u32::MAX);
        let pages = if size == 0 {
            1
        } else {
            first.total_count.div_ceil(u64::from(size)).max(1)
        };
        Self { size, pages }
    }

    /// The pages one request fetches: all of them, up to [`MAX_PAGES`].
    fn fetched(self) -> u32 {
        self.pages.min(u64::from(MAX_PAGES)) as u32
    }
}

/// Whether the pages saw one and the same list: each reports the same `total_count` and, when
/// every page was fetched, the distinct bookings add up to it. A booking that moved between
/// pages shows up twice on one and not at all on another, and a change of count shows in the
/// pages fetched after it.
fn steady(pages: &[BookingPage<'_>]) -> bool {
    let Some(first) = pages.first() else {
        return true;
    };
    let same_count = pages
        .iter()
        .all(|page| page.total_count == first.total_count);
    let whole = Plan::after(first).pages <= u64::from(MAX_PAGES);
    same_count && (!whole || distinct(pages) as u64 == first.total_count)
}

/// How many different bookings the pages hold.
fn distinct(pages: &[BookingPage<'_>]) -> usize {
    let mut seen = HashSet::new();
    pages
        .iter()
        .flat_map(|page| &page.bookings)
        .filter(|booking| seen.insert(identity(booking)))
        .count()
}

/// What tells one booking from another, whatever the case of its hex digits (as
/// [`BookingId::key`]; OmniLab's own text is not parsed here, so an odd id still counts once).
fn identity(booking: &Booking<'_>) -> String {
    booking.booking.to_ascii_lowercase()
}

/// `all=true`'s answer: the pages as one, or as many whole pages as fit in a Lambda response;
/// each booking once, where it was first seen.
fn render_pages(
    pages: Vec<BookingPage<'_>>,
    language: Option<&Language>,
    incomplete: bool,
) -> Escaped {
    let total_count = pages.first().map_or(0, |p| p.total_count);
    let plan = pages.first().map(Plan::after);
    // Where each page ends in the flat list, so a cut falls between pages and `next_page`
    // can name where the rest starts.
    let mut ends = Vec::with_capacity(pages.len());
    let mut bookings = Vec::new();
    let mut seen = HashSet::new();
    for page in pages {
        bookings.extend(
            page.bookings
                .into_iter()
                .filter(|booking| seen.insert(identity(booking))),
        );
        ends.push(bookings.len());
    }
    let views = view::views(bookings, language);
    let render = |kept_pages: usize| {
        let kept = kept_pages.checked_sub(1).map_or(0, |last| ends[last]);
        let mut list = BookingList::new(
            &views[..kept],
            1,
            u32::try_from(kept).unwrap_or(u32::MAX),
            total_count,
        );
        list.incomplete = incomplete;
        list.next_page = plan
            .filter(|plan| (kept_pages as u64) < plan.pages)
            .map(|plan| NextPage {
                page_number: kept_pages as u32 + 1,
                page_size: plan.size,
            });
        view::render(&list)
    };
    if let Ok(body) = render(ends.len()) {
        return body;
    }
    // The largest number of whole pages that fits; none at all always does.
    let (mut fits, mut too_many) = (0, ends.len());
    let mut body = render(0).unwrap_or_default();
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        match render(middle) {
            Ok(text) => (fits, body) = (middle, text),
            Err(_) => too_many = middle,
        }
    }
    tracing::warn!(
        pages = fits,
        of = ends.len(),
        "all=true answered with the pages that fit in one response"
    );
    body
}
