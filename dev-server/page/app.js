// OmniLab Bookings: the reference account page's script.
//
// The flow, top to bottom:
//   1. load():   GET /bookings?booking_status=CONFIRMED&all=true&language=<en|fr>
//   2. render(): the answer's `groups` (campaign -> activity -> slots); each slot shown in the
//                campaign's own time zone, never the browser's
//   3. Cancel:   ask in a <dialog>, POST /bookings/{booking}/cancel, then load() again so the
//                slot disappears
//   Errors from either call are RFC 9457 problems: their `title` and `detail` go in the alert.
//   Sign-in: the dev server's /sign-in.json says how. "demo": every request is signed in by the
//   dev server itself. "oidc": the customer signs in with the brand's identity provider
//   (authorization code with PKCE, oidc-client-ts), and each call carries their token.
//
// Plain browser JavaScript, no build step. Everything the API returns goes into the page through
// textContent, never innerHTML, so a title like "<b>" is shown as text, not run as markup.
"use strict";

// ---------------------------------------------------------------------------------------------
// Configuration: the two things to change when you copy this page to your site.
// ---------------------------------------------------------------------------------------------

// Where the API lives. Empty = same origin (the dev server). In production, your API Gateway URL,
// e.g. "https://bookings-api.example-brand.com".
const API_BASE = "";

// Who the customer is: their token from the identity provider (the access token, or the ID token
// when the provider's access token does not carry what the API needs: docs/sign-in.md). That
// is the customer's own session, never an OmniLab credential: those stay in your backend. With
// the demo sign-in the dev server signs each request in itself, so nothing is sent.
async function authHeaders() {
  const headers = {};
  if (signIn.mode === "oidc") {
    const token = signIn.token === "id" ? signIn.user?.id_token : signIn.user?.access_token;
    if (token) headers.Authorization = `Bearer ${token}`;
    return headers;
  }
  // Local development only: /?dev_customer=<external id> views the page as another customer
  // (the dev server reads the `x-dev-customer` header; deployed APIs ignore it). Sent only when
  // asked for, because a custom header would need a CORS rule on a deployed API.
  const devCustomer = new URLSearchParams(location.search).get("dev_customer");
  if (devCustomer) headers["x-dev-customer"] = devCustomer;
  return headers;
}

// ---------------------------------------------------------------------------------------------
// The page's own words, in both languages the campaigns offer. Campaign texts (activity titles,
// places, ticket names) come translated from the API.
// ---------------------------------------------------------------------------------------------

const TEXT = {
  en: {
    locale: "en-GB",
    pageTitle: "My bookings",
    loading: "Loading your bookings…",
    count: (n) => (n === 1 ? "1 upcoming booking" : `${n} upcoming bookings`),
    emptyTitle: "No upcoming bookings",
    emptyText: "When you book a slot at one of our events, it will show up here.",
    campaign: "Campaign",
    timesIn: (zone) => `Times in ${zone}`,
    minutes: (n) => `${n} min`,
    openEnded: "Open-ended",
    duration: "Duration",
    ticket: "Ticket",
    host: "With",
    where: "Where",
    cancel: "Cancel",
    cancelling: "Cancelling…",
    cancelLabel: (title, when) => `Cancel ${title}, ${when}`,
    confirmTitle: "Cancel this booking?",
    confirmText: (title, when) => `${title}, ${when}. This frees your slot for someone else.`,
    confirmYes: "Yes, cancel",
    confirmKeep: "Keep it",
    cancelled: (title) => `Your booking for ${title} is cancelled.`,
    retry: "Try again",
    unreachableTitle: "Can't reach the booking service",
    unreachableDetail: "Check your connection and try again.",
    failedTitle: "Something went wrong",
    failedDetail: (status) => `The server answered ${status}. Try again shortly.`,
    throttledTitle: "Too many requests",
    throttledDetail: "Our service is very busy right now.",
    waitFor: (s) => (s < 60 ? `You can try again in ${s} seconds.` : `You can try again in ${Math.ceil(s / 60)} minutes.`),
    signIn: "Sign in",
    signOut: "Sign out",
    signInAgain: "Sign in again",
    signedInAs: (name) => `Signed in as ${name}`,
    signedOutTitle: "Sign in to see your bookings",
    signedOutText: "Your bookings are in your account.",
    sessionEndedTitle: "Your session has ended",
    sessionEndedDetail: "Sign in again to see your bookings.",
    forbiddenTitle: "Not allowed",
    forbiddenDetail: "Your account may not do this. Sign in with another account, or ask us for help.",
    signInFailedTitle: "Sign-in did not work",
    signInFailedDetail: "Try signing in again.",
    noClientTitle: "Sign-in is not set up",
    noClientDetail: "This page cannot sign you in: start the dev server with OIDC_CLIENT_ID, the page's app client at your identity provider.",
  },
  fr: {
    locale: "fr-FR",
    pageTitle: "Mes réservations",
    loading: "Chargement de vos réservations…",
    count: (n) => (n <= 1 ? `${n} réservation à venir` : `${n} réservations à venir`),
    emptyTitle: "Aucune réservation à venir",
    emptyText: "Quand vous réservez un créneau à l'un de nos événements, il apparaît ici.",
    campaign: "Campagne",
    timesIn: (zone) => `Horaires — ${zone}`,
    minutes: (n) => `${n} min`,
    openEnded: "Durée libre",
    duration: "Durée",
    ticket: "Billet",
    host: "Avec",
    where: "Lieu",
    cancel: "Annuler",
    cancelling: "Annulation…",
    cancelLabel: (title, when) => `Annuler ${title}, ${when}`,
    confirmTitle: "Annuler cette réservation ?",
    confirmText: (title, when) => `${title}, ${when}. Votre créneau sera libéré pour quelqu'un d'autre.`,
    confirmYes: "Oui, annuler",
    confirmKeep: "La garder",
    cancelled: (title) => `Votre réservation pour ${title} est annulée.`,
    retry: "Réessayer",
    unreachableTitle: "Le service de réservation est injoignable",
    unreachableDetail: "Vérifiez votre connexion et réessayez.",
    failedTitle: "Une erreur est survenue",
    failedDetail: (status) => `Le serveur a répondu ${status}. Réessayez dans un instant.`,
    throttledTitle: "Trop de demandes",
    throttledDetail: "Notre service est très sollicité en ce moment.",
    waitFor: (s) => (s < 60 ? `Vous pourrez réessayer dans ${s} secondes.` : `Vous pourrez réessayer dans ${Math.ceil(s / 60)} minutes.`),
    signIn: "Se connecter",
    signOut: "Se déconnecter",
    signInAgain: "Se reconnecter",
    signedInAs: (name) => `Connecté en tant que ${name}`,
    signedOutTitle: "Connectez-vous pour voir vos réservations",
    signedOutText: "Vos réservations sont dans votre compte.",
    sessionEndedTitle: "Votre session a pris fin",
    sessionEndedDetail: "Reconnectez-vous pour voir vos réservations.",
    forbiddenTitle: "Action non autorisée",
    forbiddenDetail: "Votre compte ne permet pas cette action. Connectez-vous avec un autre compte, ou demandez-nous de l'aide.",
    signInFailedTitle: "La connexion n'a pas abouti",
    signInFailedDetail: "Essayez de vous reconnecter.",
    noClientTitle: "La connexion n'est pas configurée",
    noClientDetail: "Cette page ne peut pas vous connecter : lancez le serveur de développement avec OIDC_CLIENT_ID, le client de la page chez votre fournisseur d'identité.",
  },
};

// ---------------------------------------------------------------------------------------------
// State: the chosen language, and a counter so that only the newest load() gets rendered (a slow
// English answer must not overwrite the French one asked for after it).
// ---------------------------------------------------------------------------------------------

const state = {
  language: initialLanguage(),
  loadSeq: 0,
  pendingCancel: null, // { booking, title, when, button } while the dialog is open
};

// ?lang=fr in the address wins (and survives a reload), then the browser's language, then English.
function initialLanguage() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  if (fromUrl in TEXT) return fromUrl;
  return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
}

const $ = (id) => document.getElementById(id);
const t = () => TEXT[state.language];

// ---------------------------------------------------------------------------------------------
// Talking to the API
// ---------------------------------------------------------------------------------------------

// A failed call, carrying the problem document's title and detail for the alert; `signInAgain`:
// the way forward is a new sign-in.
class ApiError extends Error {
  constructor(title, detail, status, { signInAgain = false } = {}) {
    super(`${title}: ${detail}`);
    this.title = title;
    this.detail = detail;
    this.status = status;
    this.signInAgain = signInAgain;
  }
}

// How long to wait when a busy answer does not say.
const DEFAULT_WAIT_SECONDS = 5;

// Retry-After in delay-seconds (the only form our API sends), else null.
function retryAfterSeconds(response) {
  const text = response.headers.get("Retry-After");
  return text && /^\d{1,6}$/.test(text.trim()) ? Math.max(1, Number(text.trim())) : null;
}

async function api(method, path) {
  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      // Our errors' words follow Accept-Language: ask for the page's language, not the browser's.
      // A CORS-safelisted header, so a deployed API needs no rule for it.
      headers: { Accept: "application/json", "Accept-Language": state.language, ...(await authHeaders()) },
    });
  } catch {
    // No answer at all: offline, DNS, CORS refused...
    throw new ApiError(t().unreachableTitle, t().unreachableDetail, 0);
  }
  // Errors are RFC 9457 problem documents: { type, title, status, detail }. Anything else
  // (a proxy's HTML page, an empty body) gets a generic message with the status code.
  const body = await response.json().catch(() => null);
  // API Gateway's own refusals ({"message":"Unauthorized"} with 401, "Forbidden" with 403) come
  // before our functions run, so they are not problem documents: say what they mean.
  if (response.status === 401 && !body?.title) {
    if (signIn.mode === "oidc") {
      await signIn.manager.removeUser();
      signIn.user = null;
      renderAccount();
    }
    throw new ApiError(t().sessionEndedTitle, t().sessionEndedDetail, 401, {
      signInAgain: signIn.mode === "oidc",
    });
  }
  if (response.status === 403 && !body?.title) {
    throw new ApiError(t().forbiddenTitle, t().forbiddenDetail, 403);
  }
  // Busy: our 503 says how long in Retry-After (the template exposes it to the page); API
  // Gateway's own 429 ({"message":"Too Many Requests"}) says nothing, so wait a few seconds.
  if (response.status === 429 || response.status === 503) {
    const wait = retryAfterSeconds(response) ?? DEFAULT_WAIT_SECONDS;
    const title = body?.title || (response.status === 429 ? t().throttledTitle : t().failedTitle);
    const detail = body?.detail || (response.status === 429 ? t().throttledDetail : t().failedDetail(response.status));
    throw new ApiError(title, `${detail} ${t().waitFor(wait)}`, response.status);
  }
  if (!response.ok) {
    throw new ApiError(
      body?.title || t().failedTitle,
      body?.detail || t().failedDetail(response.status),
      response.status,
    );
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// 1. Load the customer's confirmed bookings, every page at once (all=true).
// ---------------------------------------------------------------------------------------------

async function load() {
  const seq = ++state.loadSeq;
  if (signIn.mode === "oidc" && !signIn.user) {
    renderSignedOut();
    return;
  }
  $("signed-out").hidden = true;
  const query = new URLSearchParams({
    booking_status: "CONFIRMED",
    all: "true",
    language: state.language,
  });
  $("loading").hidden = false;
  $("bookings").setAttribute("aria-busy", "true");
  try {
    const list = await api("GET", `/bookings?${query}`);
    if (seq !== state.loadSeq) return; // a newer load() is on its way
    render(list);
  } catch (error) {
    if (seq !== state.loadSeq) return;
    // Keep the page honest: no stale list under an error.
    $("bookings").replaceChildren();
    $("summary").textContent = "";
    $("empty").hidden = true;
    showError(error, { retry: true });
  } finally {
    if (seq === state.loadSeq) {
      $("loading").hidden = true;
      $("bookings").setAttribute("aria-busy", "false");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Render: campaign sections, one card list per activity, one card per slot.
//    `groups` is already grouped by (campaign, activity) and ordered by the earliest slot;
//    activity ids repeat across campaigns, which is why the campaign is part of the key.
// ---------------------------------------------------------------------------------------------

function render(list) {
  const byId = new Map(list.bookings.map((b) => [b.booking, b]));
  const container = $("bookings");
  container.replaceChildren();

  $("summary").textContent = t().count(list.total_count);
  $("empty").hidden = list.groups.length > 0;

  // Campaign sections in the order their first activity appears.
  const campaigns = new Map();
  for (const group of list.groups) {
    let section = campaigns.get(group.interaction_public_key);
    if (!section) {
      section = campaignSection(group);
      campaigns.set(group.interaction_public_key, section);
      container.append(section);
    }
    section.append(activityBlock(group, byId));
  }
}

function campaignSection(group) {
  const section = el("section", "campaign", { "data-testid": "campaign" });
  section.dataset.campaign = group.interaction_public_key;
  const header = el("header", "campaign-header");
  header.append(
    el("p", "eyebrow", {}, t().campaign),
    el("h2", "campaign-name", { "data-testid": "campaign-name" }, group.interaction_public_key),
    el("p", "campaign-zone", { "data-testid": "campaign-zone", title: group.timezone },
      t().timesIn(zoneName(group.timezone))),
  );
  section.append(header);
  return section;
}

function activityBlock(group, byId) {
  const block = el("div", "activity", { "data-testid": "group" });
  block.dataset.activityId = group.activity_id;
  block.append(el("h3", "activity-title", { "data-testid": "group-title" }, group.activity_title));
  const cards = el("ul", "cards");
  for (const id of group.booking_ids) {
    const booking = byId.get(id);
    if (booking) cards.append(bookingCard(booking, group.timezone));
  }
  block.append(cards);
  return block;
}

function bookingCard(booking, timezone) {
  const when = slotTime(booking, timezone);
  const card = el("li", "card", { "data-testid": "booking" });
  card.dataset.bookingId = booking.booking;

  // When: the date, the time range and the zone, all in the campaign's time zone.
  const whenBox = el("div", "when");
  const date = el("time", "slot-date", { "data-testid": "slot-date" }, when.date);
  if (booking.slot_starting_at_local) date.dateTime = booking.slot_starting_at_local;
  whenBox.append(
    date,
    el("span", "slot-time", { "data-testid": "slot-time" }, when.time),
    el("span", "slot-zone", { "data-testid": "slot-zone", title: timezone }, when.zone),
  );

  // What: duration, ticket, host (only when the activity offers a choice), place.
  const facts = el("dl", "facts");
  const fact = (label, value, testid) => {
    if (!value) return;
    const row = el("div", "fact");
    row.append(el("dt", "", {}, label), el("dd", "", { "data-testid": testid }, value));
    facts.append(row);
  };
  const minutes = booking.slot_duration_in_minutes;
  fact(t().duration, minutes ? t().minutes(minutes) : t().openEnded, "duration");
  fact(t().ticket, booking.ticket_type?.display_name, "ticket");
  fact(t().host, booking.host?.display_name, "host");
  fact(t().where, booking.activity?.location_hint, "location");

  const title = booking.activity.title;
  const cancel = el("button", "button button-danger-outline", {
    type: "button",
    "data-testid": "cancel-button",
    "aria-label": t().cancelLabel(title, `${when.date} ${when.time}`),
  }, t().cancel);
  cancel.addEventListener("click", () => askToCancel({
    booking: booking.booking,
    title,
    when: `${when.date}, ${when.time}`,
    button: cancel,
  }));

  card.append(whenBox, facts, el("div", "card-actions", {}, cancel));
  return card;
}

// The slot's date and time in the campaign's time zone (Intl does the DST arithmetic), e.g.
// "Saturday 28 November 2026", "10:00 – 10:45", "Eastern Time". If the zone is unknown to the
// browser, fall back to UTC and say so rather than silently show the browser's own time.
function slotTime(booking, timezone) {
  let zone = timezone;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    zone = "UTC";
  }
  const { locale } = t();
  const dateFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone, weekday: "long", day: "numeric", month: "long", year: "numeric",
  });
  const timeFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const start = new Date(booking.slot_starting_at);
  let time = timeFormat.format(start);
  if (booking.slot_ending_at) time += ` – ${timeFormat.format(new Date(booking.slot_ending_at))}`;
  return {
    date: dateFormat.format(start),
    time,
    zone: zone === "UTC" ? "UTC" : zoneName(zone),
  };
}

// "America/New_York" -> "Eastern Time" (the IANA name stays in the title tooltip).
function zoneName(timezone) {
  // The zone's generic name in the page's language, from the browser's own CLDR data:
  // "Central European Time", "heure d’Europe centrale"; the IANA name if it has none.
  try {
    const part = new Intl.DateTimeFormat(t().locale, { timeZone: timezone, timeZoneName: "longGeneric" })
      .formatToParts(new Date())
      .find((p) => p.type === "timeZoneName");
    if (part) return part.value;
  } catch {
    // An unknown zone: fall through.
  }
  return timezone;
}

// ---------------------------------------------------------------------------------------------
// 3. Cancel: confirm in the dialog, call the API, reload the list.
// ---------------------------------------------------------------------------------------------

function askToCancel(pending) {
  state.pendingCancel = pending;
  $("confirm-text").textContent = t().confirmText(pending.title, pending.when);
  const dialog = $("confirm");
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-keep").focus(); // the safe choice has the focus
}

// The dialog's buttons submit its <form method="dialog">: the dialog closes with the clicked
// button's value. Escape closes it with no value, which also keeps the booking.
$("confirm").addEventListener("close", async () => {
  const pending = state.pendingCancel;
  state.pendingCancel = null;
  if (!pending || $("confirm").returnValue !== "cancel") return;

  hideNotice();
  hideError();
  pending.button.disabled = true; // no second click while the first is on its way
  pending.button.textContent = t().cancelling;
  try {
    await api("POST", `/bookings/${encodeURIComponent(pending.booking)}/cancel`);
    showNotice(t().cancelled(pending.title));
  } catch (error) {
    showError(error);
    // Still reload below: the booking may be gone already (a 404 says it is not yours to cancel).
  }
  await load();
});

// ---------------------------------------------------------------------------------------------
// Messages, language, helpers
// ---------------------------------------------------------------------------------------------

// `retry` offers "Try again" (reload the list): for a failed load, not for a failed cancel,
// where the list is still there and the customer can simply press Cancel again.
function showError(error, { retry = false } = {}) {
  $("error-title").textContent = error.title || t().failedTitle;
  $("error-detail").textContent = error.detail || String(error);
  $("retry").hidden = !retry || error.signInAgain;
  $("sign-in-again").hidden = !error.signInAgain;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

function hideNotice() {
  $("notice").hidden = true;
}

// The page's own labels in the chosen language; the list itself comes from load().
function applyLanguage() {
  const words = t();
  document.documentElement.lang = state.language;
  document.title = words.pageTitle;
  $("page-title").textContent = words.pageTitle;
  $("loading").textContent = words.loading;
  $("empty-title").textContent = words.emptyTitle;
  $("empty-text").textContent = words.emptyText;
  $("retry").textContent = words.retry;
  $("confirm-title").textContent = words.confirmTitle;
  $("confirm-yes").textContent = words.confirmYes;
  $("confirm-keep").textContent = words.confirmKeep;
  $("sign-in").textContent = words.signIn;
  $("sign-out").textContent = words.signOut;
  $("sign-in-again").textContent = words.signInAgain;
  $("signed-out-title").textContent = words.signedOutTitle;
  $("signed-out-text").textContent = words.signedOutText;
  renderAccount();
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.language));
  }
}

// Switching language re-fetches: titles and places are translated by the API.
for (const button of document.querySelectorAll("[data-lang]")) {
  button.addEventListener("click", () => {
    if (button.dataset.lang === state.language) return;
    state.language = button.dataset.lang;
    const url = new URL(location.href);
    url.searchParams.set("lang", state.language);
    history.replaceState(null, "", url); // a reload keeps the choice
    hideNotice();
    hideError();
    applyLanguage();
    load();
  });
}

$("retry").addEventListener("click", () => {
  hideError();
  load();
});

// el("p", "class", { attr: value }, child, ...): a small createElement helper.
function el(tag, className, attributes = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------------------------------------
// Sign-in with the brand's identity provider
// ---------------------------------------------------------------------------------------------

// mode "demo" or "oidc"; with "oidc", oidc-client-ts's UserManager, the signed-in user (or null)
// and which of their tokens the API takes.
const signIn = { mode: "demo", manager: null, user: null, token: "access", clientId: null };

// Reads /sign-in.json and, with an identity provider, finishes a sign-in coming back from it.
// A site without /sign-in.json (this page copied elsewhere) is treated as the demo.
async function startSignIn() {
  const config = await fetch("/sign-in.json")
    .then((response) => (response.ok ? response.json() : { mode: "demo" }))
    .catch(() => ({ mode: "demo" }));
  if (config.mode !== "oidc") return;
  signIn.mode = "oidc";
  signIn.token = config.token === "id" ? "id" : "access";
  signIn.clientId = config.client_id;
  if (!config.client_id) return;
  await loadScript("/vendor/oidc-client-ts.js");
  signIn.manager = new oidc.UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: `${location.origin}/`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: "code", // with PKCE, oidc-client-ts's default for the code flow
    scope: config.scope,
    extraQueryParams: config.extra_query_params || {},
    loadUserInfo: false,
    // The tab's own session: a closed tab signs out, and no other site's script shares it.
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
  const params = new URLSearchParams(location.search);
  if (params.has("state") && (params.has("code") || params.has("error"))) {
    try {
      const user = await signIn.manager.signinRedirectCallback();
      // Back to the address the customer left from (its ?lang=..., say), without the code.
      history.replaceState(null, "", `${location.pathname}${user.url_state ? `?${user.url_state}` : ""}`);
      state.language = initialLanguage();
    } catch {
      history.replaceState(null, "", location.pathname);
      signIn.failed = true;
    }
  }
  const user = await signIn.manager.getUser();
  signIn.user = user && !user.expired ? user : null;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

function signInNow() {
  hideError();
  if (!signIn.manager) {
    location.reload(); // the sign-in library did not load: start over
    return;
  }
  // The page's own query (its language) comes back with the customer.
  signIn.manager.signinRedirect({ url_state: location.search.replace(/^\?/, "") || undefined })
    .catch(() => showError(new ApiError(t().signInFailedTitle, t().signInFailedDetail, 0, { signInAgain: true })));
}

async function signOutNow() {
  const endSession = await signIn.manager.metadataService.getEndSessionEndpoint().catch(() => null);
  if (endSession) {
    await signIn.manager.signoutRedirect();
    return;
  }
  await signIn.manager.removeUser();
  signIn.user = null;
  renderAccount();
  load();
}

// The top bar's account corner: who is signed in and Sign out, or Sign in.
function renderAccount() {
  const oidcMode = signIn.mode === "oidc" && signIn.clientId;
  const user = signIn.user;
  const profile = user?.profile || {};
  const name = profile.name || profile.email || profile.preferred_username || profile.sub;
  $("signed-in-as").hidden = !(oidcMode && user);
  $("signed-in-as").textContent = user && name ? t().signedInAs(name) : "";
  $("sign-out").hidden = !(oidcMode && user);
  $("sign-in").hidden = !(oidcMode && !user);
}

function renderSignedOut() {
  $("bookings").replaceChildren();
  $("summary").textContent = "";
  $("empty").hidden = true;
  $("loading").hidden = true;
  $("signed-out").hidden = false;
  if (!signIn.clientId) {
    showError(new ApiError(t().noClientTitle, t().noClientDetail, 0));
  } else if (signIn.failed) {
    showError(new ApiError(t().signInFailedTitle, t().signInFailedDetail, 0, { signInAgain: true }));
  }
}

$("sign-in").addEventListener("click", signInNow);
$("sign-in-again").addEventListener("click", signInNow);
$("sign-out").addEventListener("click", signOutNow);

// Go.
applyLanguage();
startSignIn()
  .catch(() => {
    signIn.failed = true;
  })
  .finally(() => {
    applyLanguage();
    load();
  });
