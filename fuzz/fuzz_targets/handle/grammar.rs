//! The structured mode's event grammar: what `arbitrary` makes of the fuzzer's bytes, an API
//! Gateway HTTP API (payload 2.0) event whose method, raw path, raw query string, path
//! parameters, claims, host, body and stage vary, mostly in shapes our validation must look at
//! closely (known parameter names, demo booking ids, claims), and in the hostile shapes
//! lambda_http's own conversion panicked on ([`Text::Hostile`], the `x-forwarded-proto` and host
//! shapes).

use arbitrary::Arbitrary;
use bookings::Route;
use sandbox::gateway;
use sandbox::{DEMO_CUSTOMER, OTHER_CUSTOMER, booking_uuid};
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
pub(crate) struct Event {
    method: MethodShape,
    path: PathShape,
    query: Vec<QueryPart>,
    /// Appended to the built query as is (percent-encoded or not).
    query_tail: Option<Text>,
    path_parameter: Option<BookingShape>,
    claims: Claims,
    host: HostShape,
    /// lambda_http built an absolute URI from it: `ht tp` made it panic.
    forwarded_proto: Option<Text>,
    stage: Option<String>,
    /// Our routes read no body: plain text only, since a body that is not base64 when the event
    /// says it is only makes lambda_http panic, which the raw mode already finds.
    body: Option<String>,
    cookies: Option<Vec<String>>,
}

/// Mostly well-formed: an arbitrary host header was an IDNA error that lambda_http panicked on.
#[derive(Arbitrary, Debug)]
enum HostShape {
    None,
    Api,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Encoded(String),
    Verbatim(String),
    /// A text with a byte no URI may hold, where it was: what made lambda_http panic.
    Hostile(String, Forbidden, u8),
}

/// Bytes that a browser percent-encodes and a URI may not hold raw.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Forbidden {
    Quote,
    Less,
    Greater,
    Space,
    Delete,
    Newline,
}

impl Text {
    fn render(&self) -> String {
        match self {
            Self::Encoded(text) => encode(text),
            Self::Verbatim(text) => text.clone(),
            Self::Hostile(text, byte, at) => {
                let mut text = encode(text);
                let at = usize::from(*at).min(text.len());
                let byte = match byte {
                    Forbidden::Quote => '"',
                    Forbidden::Less => '<',
                    Forbidden::Greater => '>',
                    Forbidden::Space => ' ',
                    Forbidden::Delete => '\u{7f}',
                    Forbidden::Newline => '\n',
                };
                // `encode` writes ASCII only: every index is a char boundary.
                text.insert(at, byte);
                text
            }
        }
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Arbitrary, Debug)]
enum MethodShape {
    Route,
    Get,
    Post,
    Put,
    Delete,
    Options,
    Head,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum PathShape {
    /// `/bookings`, or `/bookings/{booking}/cancel` on the cancel route.
    Route(BookingShape),
    /// `/bookings/{booking}/cancel` on either route.
    Cancel(BookingShape, bool),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum BookingShape {
    /// One of the demo bookings: 1..=12 are the demo customer's, 13 and 14 another's.
    Demo(u8),
    DemoUpper(u8),
    Text(Text),
}

impl BookingShape {
    fn render(&self) -> String {
        match self {
            Self::Demo(n) => booking_uuid(1 + u32::from(*n) % 16),
            Self::DemoUpper(n) => booking_uuid(1 + u32::from(*n) % 16).to_ascii_uppercase(),
            Self::Text(text) => text.render(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct QueryPart {
    name: Name,
    value: QueryValue,
}

#[derive(Arbitrary, Debug)]
enum Name {
    PublicKeys,
    Interactions,
    From,
    To,
    BookingStatus,
    Language,
    PageSize,
    PageNumber,
    All,
    ExternalId,
    Other(Text),
}

impl Name {
    fn render(&self) -> String {
        match self {
            Self::PublicKeys => "public_keys".into(),
            Self::Interactions => "interactions".into(),
            Self::From => "slot_date_range.from".into(),
            Self::To => "slot_date_range.to".into(),
            Self::BookingStatus => "booking_status".into(),
            Self::Language => "language".into(),
            Self::PageSize => "page_size".into(),
            Self::PageNumber => "page_number".into(),
            Self::All => "all".into(),
            Self::ExternalId => "external_id".into(),
            Self::Other(text) => text.render(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum QueryValue {
    Statuses(Vec<Status>),
    PublicKey(bool),
    Interaction(bool),
    /// Seconds from the demo start, with an offset in minutes.
    Time(i32, i16),
    Number(i64),
    Bool(bool),
    Language(Text),
    Customer(bool),
    Text(Text),
    Empty,
}

#[derive(Arbitrary, Debug)]
enum Status {
    Confirmed,
    Waitlist,
    Cancelled,
    Lower,
    Other(String),
}

impl QueryValue {
    fn render(&self) -> String {
        match self {
            Self::Statuses(statuses) => {
                let names: Vec<String> = statuses
                    .iter()
                    .map(|s| match s {
                        Status::Confirmed => "CONFIRMED".into(),
                        Status::Waitlist => "WAITLIST".into(),
                        Status::Cancelled => "CANCELLED".into(),
                        Status::Lower => "confirmed".into(),
                        Status::Other(text) => encode(text),
                    })
                    .collect();
                names.join(",")
            }
            Self::PublicKey(winter) => if *winter {
                "winter-festival"
            } else {
                "spring-fair"
            }
            .into(),
            Self::Interaction(winter) => if *winter {
                "interactions/0f8d6f4e-3b2a-4c1d-9e8f-7a6b5c4d3e2f"
            } else {
                "interactions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
            }
            .into(),
            Self::Time(seconds, offset_minutes) => {
                let instant = 1_733_702_400_i64 + i64::from(*seconds);
                let offset = i64::from(*offset_minutes) % (26 * 60);
                let sign = if offset < 0 { '-' } else { '+' };
                let (h, m) = (offset.abs() / 60, offset.abs() % 60);
                let local = jiff::Timestamp::from_second(instant + offset * 60)
                    .unwrap_or_default()
                    .to_string();
                let local = local.trim_end_matches('Z');
                encode(&format!("{local}{sign}{h:02}:{m:02}"))
            }
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Language(text) => text.render(),
            Self::Customer(demo) => if *demo { DEMO_CUSTOMER } else { OTHER_CUSTOMER }.into(),
            Self::Text(text) => text.render(),
            Self::Empty => String::new(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Claims {
    None,
    /// No authorizer section but an empty `jwt`.
    EmptyJwt,
    Demo,
    Other,
    Sub(String),
    Many(Vec<(String, String)>),
}

impl Event {
    /// The event JSON, for `route`: the API Gateway shape that route receives, changed where
    /// the grammar says.
    pub(crate) fn to_json(&self, route: Route) -> Value {
        let route_method = match route {
            Route::ListBookings => "GET",
            Route::CancelBooking => "POST",
        };
        let method = match &self.method {
            MethodShape::Route => route_method.to_owned(),
            MethodShape::Get => "GET".into(),
            MethodShape::Post => "POST".into(),
            MethodShape::Put => "PUT".into(),
            MethodShape::Delete => "DELETE".into(),
            MethodShape::Options => "OPTIONS".into(),
            MethodShape::Head => "HEAD".into(),
            MethodShape::Other(text) => text.clone(),
        };
        let path = match (&self.path, route) {
            (PathShape::Route(_), Route::ListBookings) => "/bookings".to_owned(),
            (PathShape::Route(booking), Route::CancelBooking)
            | (PathShape::Cancel(booking, false), _) => {
                format!("/bookings/{}/cancel", booking.render())
            }
            (PathShape::Cancel(booking, true), _) => {
                format!("/bookings/{}/cancel/", booking.render())
            }
            (PathShape::Raw(text), _) => text.clone(),
        };
        let mut query: Vec<String> = self
            .query
            .iter()
            .map(|part| format!("{}={}", part.name.render(), part.value.render()))
            .collect();
        if let Some(tail) = &self.query_tail {
            query.push(tail.render());
        }
        let query = query.join("&");
        // The defaults are those of a request to our API that went through the authorizer; the
        // shape changes everything API Gateway could send differently.
        let mut event = gateway::Event::new(&method, &path)
            .route_key(route.key())
            .query(&query)
            .without_header("host")
            .request_id("fuzz")
            .source("203.0.113.7", "fuzz");
        match &self.host {
            HostShape::None => {}
            HostShape::Api => event = event.header("host", gateway::DOMAIN),
            HostShape::Other(host) => event = event.header("host", host),
        }
        if let Some(proto) = &self.forwarded_proto {
            event = event.header("x-forwarded-proto", &proto.render());
        }
        if let Some(stage) = &self.stage {
            event = event.stage(stage);
        }
        // Otherwise `{booking}` is taken from the path, as API Gateway does when the route matched.
        if let Some(booking) = &self.path_parameter {
            event = event.path_parameter("booking", &booking.render());
        }
        if let Some(body) = &self.body {
            event = event.body(body);
        }
        if let Some(cookies) = &self.cookies {
            event = event.cookies(cookies);
        }
        let claims = match &self.claims {
            Claims::None => None,
            Claims::EmptyJwt => Some(json!({})),
            Claims::Demo => Some(json!({ "sub": DEMO_CUSTOMER })),
            Claims::Other => Some(json!({ "sub": OTHER_CUSTOMER })),
            Claims::Sub(sub) => Some(json!({ "sub": sub })),
            Claims::Many(pairs) => Some(Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )),
        };
        if let Some(claims) = claims {
            event = event.claims(claims);
        }
        event.json()
    }
}
