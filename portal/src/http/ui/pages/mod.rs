//! The HTML of every page (maud: checked when compiled, every value escaped): the frame
//! and what every page shares here; the pages by what they are about in the modules below.

mod api_keys;
mod audit;
mod audit_words;
mod bulk;
mod finding;
mod licenses;
mod people;
mod profile;
mod renewal;
mod runner_places;
mod second_factor;
mod signin;

pub use api_keys::*;
pub use audit::*;
pub use bulk::*;
pub use finding::*;
pub use licenses::*;
pub use people::*;
pub use profile::*;
pub use renewal::*;
pub use runner_places::*;
pub use second_factor::*;
pub use signin::*;

use maud::{DOCTYPE, Markup, html};
use tessera_core::UnixTime;

use crate::domain::accounts::{Role, UserRow};
use crate::domain::authorization::{Caller, Operation, Resource, may};
use crate::domain::licenses::LicenseStanding;

/// Who is looking, and the form token of their session.
pub struct Chrome<'a> {
    pub user: &'a UserRow,
    pub role: Role,
    /// The same person, as authorization knows them.
    pub caller: Caller<'a>,
    pub csrf: &'a str,
}

impl Chrome<'_> {
    /// Whether the person may do `operation` to `resource` (what the page offers).
    fn may(&self, operation: Operation, resource: Resource<'_>) -> bool {
        may(&self.caller, operation, resource).is_ok()
    }
}

/// The two fields of a new password, typed twice: the first named `name`.
fn new_password_fields(name: &str, label: &str, again: &str) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) name=(name) type="password" required minlength="12" autocomplete="new-password";
        }
        div.field {
            label for="again" { (again) }
            input id="again" name="again" type="password" required minlength="12" autocomplete="new-password";
        }
    }
}

/// A moment as people read it, to the minute: `2026-12-07 14:05 UTC`.
pub(super) fn when(t: Option<i64>) -> String {
    t.and_then(|t| UnixTime::from_unix(t).ok()).map_or_else(
        || "never".to_owned(),
        |t| {
            let text = t.to_rfc3339();
            format!("{} {} UTC", &text[..10], &text[11..16])
        },
    )
}

/// A moment in a `time` element (machines read its `datetime`) that never wraps.
fn moment(t: Option<i64>) -> Markup {
    match t.and_then(|t| UnixTime::from_unix(t).ok()) {
        Some(at) => html! { time.date datetime=(at.to_rfc3339()) { (when(Some(at.as_unix()))) } },
        None => html! { "never" },
    }
}

/// A day in a `time` element that never wraps.
fn day_of(t: i64) -> Markup {
    html! { time.date datetime=(day(t)) { (day(t)) } }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

pub(super) fn day(t: i64) -> String {
    UnixTime::from_unix(t).map(|t| t.date().to_string()).unwrap_or_default()
}

/// The frame of every page.
pub fn page(title: &str, chrome: Option<&Chrome<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tessera portal" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/ui" { "Tessera portal" }
                    @if let Some(chrome) = chrome {
                        nav aria-label="Main" {
                            a href="/ui" { "Dashboard" }
                            a href="/ui/licenses" { "Licenses" }
                            @if chrome.may(Operation::RegisterLicenses, Resource::Portal) {
                                a href="/ui/register" { "Register" }
                            }
                            @if chrome.may(Operation::ManageOrganizations, Resource::Portal) {
                                a href="/ui/organizations" { "Organizations" }
                            }
                            a href="/ui/users" { "People" }
                            a href="/ui/api-keys" { "API keys" }
                            a href="/ui/audit" { "Audit" }
                            a href="/ui/profile" { (chrome.user.name) " (" (chrome.role.as_str()) ")" }
                        }
                        form method="post" action="/ui/signout" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

pub fn message(title: &str, chrome: Option<&Chrome<'_>>, text: &str) -> Markup {
    message_back(title, chrome, text, ("/ui", "Back to the dashboard"))
}

/// A message with the way back: `back` is a link and its words.
pub fn message_back(
    title: &str,
    chrome: Option<&Chrome<'_>>,
    text: &str,
    back: (&str, &str),
) -> Markup {
    page(
        title,
        chrome,
        html! {
            h1 { (title) }
            p.error role="alert" { (text) }
            p { a href=(back.0) { (back.1) } }
        },
    )
}

fn standing_word(s: LicenseStanding) -> &'static str {
    s.status().as_str()
}

fn url_query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", percent(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes a query value (everything but unreserved characters).
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn message_ok(title: &str, text: &str) -> Markup {
    page(
        title,
        None,
        html! {
            h1 { (title) }
            p.notice role="status" { (text) }
            p { a href="/ui/signin" { "Sign in" } }
        },
    )
}

/// A table in a named region (`label` names it to screen readers): its column heads, then,
/// when `action` names one, a last column of links headed in grey. On a narrow screen its
/// rows stack as cards, each cell shown under its `data-label` (the rows give it).
fn scrolling_table(label: &str, heads: &[&str], action: Option<&str>, rows: Markup) -> Markup {
    html! {
        div.table tabindex="0" role="region" aria-label=(label) {
            table.stack {
                thead { tr {
                    @for head in heads { th scope="col" { (head) } }
                    @if let Some(action) = action { th scope="col" { span.muted { (action) } } }
                } }
                tbody { (rows) }
            }
        }
    }
}
