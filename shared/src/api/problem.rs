//! The one place where a failure becomes an answer: its status, RFC 9457 problem document
//! and headers, decided together in one match; the words in the caller's language.

use std::time::Duration;

use lambda_http::Response;
use lambda_http::http::{StatusCode, header};
use serde::Serialize;

use super::{Locale, Reply, Route, Unreadable, response};
use crate::identity::IdentityError;
use crate::omnilab::{CredentialsError, UpstreamError};
use crate::query::{InvalidParameter, Reason};
use crate::service::{CancelError, ListError};

/// Everything a request can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request's {0} could not be read")]
    Unreadable(Unreadable),
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    #[error(transparent)]
    Unauthenticated(#[from] IdentityError),
    #[error("this route does not accept that method")]
    MethodNotAllowed(Route),
    #[error("no such booking for this customer")]
    NotFound,
    #[error(transparent)]
    NotCancellable(CancelError),
    #[error("one page of bookings is larger than one response can carry")]
    TooLarge,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound => Self::NotFound,
            CancelError::NotCancellable(_) => Self::NotCancellable(error),
            CancelError::Upstream(error) => Self::Upstream(error),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::TooLarge => Self::TooLarge,
            ListError::Upstream(error) => Self::Upstream(error),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The offending request field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One text in each language we write ([`Locale`]).
#[derive(Clone, Copy)]
struct Words {
    en: &'static str,
    fr: &'static str,
}

impl Words {
    fn said_in(self, locale: Locale) -> &'static str {
        match locale {
            Locale::En => self.en,
            Locale::Fr => self.fr,
        }
    }
}

/// A kind of problem: its `type` URI, which never changes with the language, and its words.
struct Kind {
    uri: &'static str,
    title: Words,
    /// `None`: the detail names the field and what was wrong with it.
    detail: Option<Words>,
}

// Problem types are `tag:` URIs (RFC 4151): stable identifiers that need no web page.
const INVALID_PARAMETER: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:invalid-parameter",
    title: Words {
        en: "Invalid request parameter",
        fr: "Paramètre de requête invalide",
    },
    detail: None,
};
const UNREADABLE: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:unreadable-request",
    title: Words {
        en: "Unreadable request",
        fr: "Requête illisible",
    },
    detail: None,
};
const UNAUTHENTICATED: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:unauthenticated",
    title: Words {
        en: "Not signed in",
        fr: "Non connecté",
    },
    detail: Some(Words {
        en: "Sign in to see your bookings.",
        fr: "Connectez-vous pour voir vos réservations.",
    }),
};
const METHOD_NOT_ALLOWED: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:method-not-allowed",
    title: Words {
        en: "Method not allowed",
        fr: "Méthode non autorisée",
    },
    detail: Some(Words {
        en: "This route does not accept that method.",
        fr: "Cette route n'accepte pas cette méthode.",
    }),
};
const NOT_FOUND: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:booking-not-found",
    title: Words {
        en: "Booking not found",
        fr: "Réservation introuvable",
    },
    detail: Some(Words {
        en: "You have no booking with this id.",
        fr: "Vous n'avez aucune réservation avec cet identifiant.",
    }),
};
const NOT_CANCELLABLE: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:booking-not-cancellable",
    title: Words {
        en: "Booking cannot be cancelled",
        fr: "Réservation impossible à annuler",
    },
    detail: Some(Words {
        en: "This booking can no longer be cancelled.",
        fr: "Cette réservation ne peut plus être annulée.",
    }),
};
const TOO_LARGE: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:response-too-large",
    title: Words {
        en: "Too much to answer at once",
        fr: "Trop de réservations pour une seule réponse",
    },
    detail: Some(Words {
        en: "These bookings do not fit in one response. Ask for a smaller page_size.",
        fr: "Ces réservations ne tiennent pas dans une seule réponse. Demandez un page_size plus petit.",
    }),
};
const UNAVAILABLE: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:upstream-unavailable",
    title: Words {
        en: "Bookings are temporarily unavailable",
        fr: "Les réservations sont momentanément indisponibles",
    },
    detail: Some(Words {
        en: "The booking service is busy. Try again shortly.",
        fr: "Le service de réservation est occupé. Réessayez dans un instant.",
    }),
};
const TIMEOUT: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:upstream-timeout",
    title: Words {
        en: "Bookings took too long",
        fr: "Les réservations ont mis trop de temps",
    },
    detail: Some(Words {
        en: "The booking service did not answer in time. Try again shortly.",
        fr: "Le service de réservation n'a pas répondu à temps. Réessayez dans un instant.",
    }),
};
const NOT_CONFIGURED: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:not-configured",
    title: Words {
        en: "Bookings are not set up yet",
        fr: "Les réservations ne sont pas encore configurées",
    },
    detail: Some(Words {
        en: "This service has no OmniLab credentials yet. The operators have been told.",
        fr: "Ce service n'a pas encore d'identifiants OmniLab. Les opérateurs ont été prévenus.",
    }),
};
const MISCONFIGURED: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:misconfigured",
    title: Words {
        en: "Bookings are misconfigured",
        fr: "Les réservations sont mal configurées",
    },
    detail: Some(Words {
        en: "This service is not set up correctly. The operators have been told.",
        fr: "Ce service n'est pas configuré correctement. Les opérateurs ont été prévenus.",
    }),
};
const UPSTREAM_ERROR: Kind = Kind {
    uri: "tag:omnilab-bookings,2026:upstream-error",
    title: Words {
        en: "The booking service failed",
        fr: "Le service de réservation a échoué",
    },
    detail: Some(Words {
        en: "The booking service answered with an error. Try again shortly.",
        fr: "Le service de réservation a répondu par une erreur. Réessayez dans un instant.",
    }),
};

/// Why a part of the request could not be read, in the customer's words.
fn unreadable(part: Unreadable) -> Words {
    match part {
        Unreadable::Event => Words {
            en: "is not an API Gateway HTTP API event (payload format 2.0)",
            fr: "n'est pas un événement HTTP API d'API Gateway (format 2.0)",
        },
        Unreadable::Path | Unreadable::Query => Words {
            en: "holds characters a URL cannot: percent-encode them",
            fr: "contient des caractères interdits dans une URL : encodez-les en pourcentage",
        },
    }
}

/// What was wrong with a parameter, in the customer's words (the English ones are the
/// reasons' own, which our logs carry).
fn reason(reason: Reason) -> Words {
    let fr = match reason {
        Reason::IdentifiedBySignIn => {
            "n'est pas accepté : le client est identifié par sa connexion"
        }
        Reason::NotOnThisRoute => "n'est pas accepté par cette route",
        Reason::Unknown => "n'est pas un paramètre connu",
        Reason::Repeated => "ne doit être donné qu'une fois",
        Reason::OneValue => "ne prend qu'une seule valeur",
        Reason::BookingStatus => "doit valoir CONFIRMED, WAITLIST ou CANCELLED",
        Reason::PublicKey => "doit être la clé publique d'une campagne",
        Reason::KeysWithInteractions => "ne peut pas être combiné avec interactions",
        Reason::Interaction => "doit être un nom de ressource comme interactions/<uuid>",
        Reason::Timestamp => "doit être un horodatage RFC 3339 comme 2024-12-10T12:30:00Z",
        Reason::FromAfterTo => "ne doit pas être après slot_date_range.to",
        Reason::LanguageCode => "doit être un code de langue comme en ou fr",
        Reason::PageSize => "doit être un nombre entier de 1 à 100",
        Reason::PageNumber => "doit être un nombre entier à partir de 1",
        Reason::TrueOrFalse => "doit valoir true ou false",
        Reason::PageNumberWithAll => "ne peut pas être combiné avec all=true",
        Reason::PageSizeWithAll => {
            "ne peut pas être combiné avec all=true, qui pagine toujours à la plus grande taille"
        }
        Reason::BookingId => "doit être un UUID comme 2394d604-afcc-4f7f-98c1-ef3676c20d6b",
    };
    Words {
        en: reason.english(),
        fr,
    }
}

/// How long a caller is asked to wait after a 503 we give no better figure for.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// After "not set up yet": an operator has to act, so asking again in seconds helps nobody.
pub const RETRY_AFTER_NOT_CONFIGURED: Duration = Duration::from_secs(300);
/// The longest wait we pass on from OmniLab's `Retry-After`: a customer's page is not a batch
/// job, and a hint past this says "later" more than it says when.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The outline of an error's answer: status, kind, field and wait, before any words are chosen.
struct Outline {
    status: StatusCode,
    kind: &'static Kind,
    field: Option<&'static str>,
    /// `Retry-After`, on every 503.
    retry_after: Option<Duration>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        self.outline().status
    }

    /// The problem's `type` URI: the same in every language.
    pub fn kind(&self) -> &'static str {
        self.outline().kind.uri
    }

    /// How long the caller is asked to wait before trying again: set on every 503.
    pub fn retry_after(&self) -> Option<Duration> {
        self.outline().retry_after
    }

    /// Status, kind, field and wait, decided together in one match. Upstream details stay in
    /// our logs: the caller learns only which kind of failure it was.
    fn outline(&self) -> Outline {
        let outline = |status, kind, field| Outline {
            status,
            kind,
            field,
            retry_after: None,
        };
        let unavailable = |kind, wait| Outline {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind,
            field: None,
            retry_after: Some(wait),
        };
        match self {
            Self::Unreadable(_) => outline(StatusCode::BAD_REQUEST, &UNREADABLE, None),
            // The field is the caller's own text: it is taken from the error in `problem`.
            Self::InvalidParameter(_) => outline(StatusCode::BAD_REQUEST, &INVALID_PARAMETER, None),
            Self::Unauthenticated(_) => outline(StatusCode::UNAUTHORIZED, &UNAUTHENTICATED, None),
            Self::MethodNotAllowed(_) => {
                outline(StatusCode::METHOD_NOT_ALLOWED, &METHOD_NOT_ALLOWED, None)
            }
            Self::NotFound => outline(StatusCode::NOT_FOUND, &NOT_FOUND, Some("booking")),
            Self::NotCancellable(_) => {
                outline(StatusCode::CONFLICT, &NOT_CANCELLABLE, Some("booking"))
            }
            Self::TooLarge => outline(StatusCode::BAD_GATEWAY, &TOO_LARGE, Some("page_size")),
            Self::Upstream(error) => match error {
                UpstreamError::RateLimited { retry_after } => unavailable(
                    &UNAVAILABLE,
                    retry_after
                        .map(|hint| {
                            whole_seconds(hint).clamp(Duration::from_secs(1), MAX_RETRY_AFTER)
                        })
                        .unwrap_or(RETRY_AFTER),
                ),
                UpstreamError::Credentials(CredentialsError::Unavailable(_)) => {
                    unavailable(&UNAVAILABLE, RETRY_AFTER)
                }
                UpstreamError::Timeout | UpstreamError::Credentials(CredentialsError::Timeout) => {
                    outline(StatusCode::GATEWAY_TIMEOUT, &TIMEOUT, None)
                }
                UpstreamError::Credentials(CredentialsError::Placeholder) => {
                    unavailable(&NOT_CONFIGURED, RETRY_AFTER_NOT_CONFIGURED)
                }
                UpstreamError::Credentials(CredentialsError::Malformed(_)) => {
                    outline(StatusCode::INTERNAL_SERVER_ERROR, &MISCONFIGURED, None)
                }
                UpstreamError::Status(_)
                | UpstreamError::CancelRefused(_)
                | UpstreamError::Transport(_)
                | UpstreamError::Malformed(_)
                | UpstreamError::Unauthorized
                | UpstreamError::CredentialsRejected => {
                    outline(StatusCode::BAD_GATEWAY, &UPSTREAM_ERROR, None)
                }
            },
        }
    }

    /// What the caller is told, in `locale`: only `title` and `detail` change with it.
    pub fn problem(&self, locale: Locale) -> Problem {
        let Outline {
            status,
            kind,
            field,
            ..
        } = self.outline();
        let (detail, field) = match (self, kind.detail) {
            (Self::Unreadable(part), _) => (
                format!("{part} {}", unreadable(*part).said_in(locale)),
                Some(part.to_string()),
            ),
            (Self::InvalidParameter(error), _) => (
                format!("{} {}", error.field, reason(error.reason).said_in(locale)),
                Some(error.field.clone()),
            ),
            (_, Some(detail)) => (detail.said_in(locale).to_owned(), field.map(str::to_owned)),
            (_, None) => (String::new(), field.map(str::to_owned)),
        };
        Problem {
            kind: kind.uri,
            title: kind.title.said_in(locale),
            status: status.as_u16(),
            detail,
            field,
        }
    }

    pub(super) fn log(&self, route: Route) {
        match self {
            Self::Upstream(error) => {
                tracing::error!(route = route.key(), %error, "upstream failure")
            }
            Self::TooLarge => {
                tracing::error!(route = route.key(), error = %self, "upstream failure")
            }
            // Not a browser's request (a browser encodes what it sends): worth a look, never
            // a page.
            Self::Unreadable(_) => {
                tracing::warn!(route = route.key(), error = %self, "request unreadable")
            }
            // The customer's answer, not on-call's problem; but a run of them is worth a look.
            Self::NotCancellable(error) => {
                tracing::warn!(route = route.key(), %error, "cancel refused")
            }
            error => tracing::info!(route = route.key(), %error, "request refused"),
        }
    }
}

/// `Retry-After` in delay-seconds (RFC 9110 §10.2.3): whole seconds, rounded up.
fn whole_seconds(wait: Duration) -> Duration {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(seconds)
}

pub(super) fn problem_response(error: &ApiError, locale: Locale) -> Response<Reply> {
    let problem = error.problem(locale);
    let text = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = response(
        error.status(),
        "application/problem+json",
        Reply::Json(text),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(locale.tag()),
    );
    // The words follow `Accept-Language`: a cache must not hand French to an English page.
    headers.insert(
        header::VARY,
        header::HeaderValue::from_static("Accept-Language"),
    );
    if let Some(wait) = error.retry_after() {
        headers.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(wait.as_secs()),
        );
    }
    match error {
        ApiError::Unauthenticated(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        // RFC 9110: a 405 says which methods the route does take.
        ApiError::MethodNotAllowed(route) => {
            headers.insert(
                header::ALLOW,
                header::HeaderValue::from_static(route.allow()),
            );
        }
        _ => {}
    }
    response
}
