//! What a fetch asks OmniLab for, in OmniLab's own terms: whose bookings, which of them, and
//! which page.

use jiff::Timestamp;

use crate::model::BookingStatus;

/// The customer's ID in the brand's own system: OmniLab's `external_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalId(String);

impl ExternalId {
    /// Only the sign-in decides who the customer is (see [`crate::identity`]).
    pub(crate) fn new(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which of a contact's bookings to fetch. Empty: all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BookingFilter {
    pub scope: Scope,
    pub slot_from: Option<Timestamp>,
    pub slot_to: Option<Timestamp>,
    /// Empty means every status. Sorted, without repeats.
    pub statuses: Vec<BookingStatus>,
    pub language: Option<Language>,
}

/// Which campaigns to look in. OmniLab takes a public key or an interaction name, never both,
/// and one value at most: one enum makes the other combinations unrepresentable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    AllCampaigns,
    PublicKey(String),
    Interaction(String),
}

/// A base language code such as `en` or `fr`, lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    /// Accepts a BCP 47 tag and keeps its base: `fr-CA` becomes `fr`, as OmniLab would.
    pub fn parse(text: &str) -> Option<Self> {
        let base = text.split(['-', '_']).next().unwrap_or_default();
        ((2..=3).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_alphabetic()))
            .then(|| Self(base.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of a fetch, numbered from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

impl BookingFilter {
    /// `fetchContactBookings`' query string, as the reference page spells it.
    pub(crate) fn query(
        &self,
        contact: &ExternalId,
        page: PageRequest,
    ) -> Vec<(&'static str, String)> {
        let mut params: Vec<(&str, String)> = vec![("external_id", contact.as_str().to_owned())];
        match &self.scope {
            Scope::AllCampaigns => {}
            Scope::PublicKey(key) => params.push(("public_keys", key.clone())),
            Scope::Interaction(name) => params.push(("interactions", name.clone())),
        }
        // Timestamp's Display is RFC 3339 in UTC with a `Z`, as OmniLab asks.
        if let Some(from) = self.slot_from {
            params.push(("slot_date_range.from", from.to_string()));
        }
        if let Some(to) = self.slot_to {
            params.push(("slot_date_range.to", to.to_string()));
        }
        for status in &self.statuses {
            params.push(("booking_status", status.as_str().to_owned()));
        }
        if let Some(language) = &self.language {
            params.push(("language", language.as_str().to_owned()));
        }
        params.push(("page_size", page.size.to_string()));
        params.push(("page_number", page.number.to_string()));
        params
    }
}
