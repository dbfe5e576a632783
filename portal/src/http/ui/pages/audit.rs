//! The audit ledger's page: entries in words, filters in a GET form, a CSV export.

use maud::{Markup, html};

use super::audit_words::ACTIONS;
use super::*;
use crate::domain::StoredEntry;

pub use super::audit_words::AuditNames;

/// What the audit page shows.
pub struct AuditPage<'a> {
    pub entries: &'a [StoredEntry],
    /// What the entries' words may name.
    pub names: &'a AuditNames,
    /// The people the actor filter offers: id and name.
    pub people: &'a [(String, String)],
    /// The organizations the filter offers (a super-admin's): id and name.
    pub organizations: &'a [(String, String)],
    pub form: &'a crate::http::ui::AuditForm,
    pub next: Option<i64>,
    /// What is wrong with the filters.
    pub error: Option<&'a str>,
}

pub fn audit(chrome: &Chrome<'_>, view: &AuditPage<'_>) -> Markup {
    let form = view.form;
    let filters = url_query(&form.pairs());
    let next_link = view.next.map(|before| format!("/ui/audit?{filters}&before={before}"));
    let vendor = chrome.role == Role::SuperAdmin;
    page(
        "Audit",
        Some(chrome),
        html! {
            h1 { "Audit log" }
            @if chrome.may(Operation::ExportLedger, Resource::Portal) {
                p {
                    "Every change made by a person or an API key, newest first. The entries form a Merkle tree whose checkpoints the portal signs every minute; "
                    code { "GET /v1/admin/audit" } " exports it and " code { "tessera audit verify" } " checks it offline."
                }
            } @else {
                p { "Every change made to your organization's licenses, people and API keys, newest first." }
            }
            @if let Some(error) = view.error { p.error role="alert" { (error) } }
            form.filters method="get" action="/ui/audit" role="search" aria-label="Filter the audit log" {
                div {
                    label for="a-actor" { "Who" }
                    select id="a-actor" name="actor" {
                        option value="" { "anyone" }
                        @for (id, name) in view.people {
                            option value=(id) selected[form.actor == *id] { (name) }
                        }
                        @if vendor {
                            option value="cli" selected[form.actor == "cli"] { "the command line" }
                            option value="portal" selected[form.actor == "portal"] { "the portal" }
                        }
                    }
                }
                div {
                    label for="a-action" { "What" }
                    select id="a-action" name="action" {
                        option value="" { "anything" }
                        @for (action, words) in ACTIONS {
                            option value=(action) selected[form.action == *action] { (words) }
                        }
                    }
                }
                div { label for="a-from" { "From" } input id="a-from" name="from" type="date" value=(form.from); }
                div { label for="a-to" { "To" } input id="a-to" name="to" type="date" value=(form.to); }
                div { label for="a-license" { "License id" } input id="a-license" name="license" value=(form.license); }
                @if vendor {
                    div {
                        label for="a-org" { "Organization" }
                        select id="a-org" name="org" {
                            option value="" { "any" }
                            @for (id, name) in view.organizations {
                                option value=(id) selected[form.org == *id] { (name) }
                            }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            p { a href={ "/ui/audit.csv?" (filters) } download="audit.csv" { "Download these entries (CSV)" } }
            @if view.entries.is_empty() {
                p { "No entry matches." }
            } @else {
                (scrolling_table(
                    "Audit entries",
                    &["When", "What happened", "Organization"],
                    None,
                    html! {
                        @for stored in view.entries {
                            @let e = &stored.entry;
                            tr {
                                td.date data-label="When" { (moment(Some(e.at))) br; span.muted { "#" (e.seq) } }
                                td.words data-label="What happened" { (view.names.words(stored)) br; span.muted { code { (e.action) } } }
                                td data-label="Organization" {
                                    @match e.org.as_ref().and_then(|id| view.names.organizations.get(id)) {
                                        Some(name) => (name),
                                        None => "—",
                                    }
                                }
                            }
                        }
                    },
                ))
            }
            @if let Some(link) = next_link {
                p.pager { a href=(link) rel="next" { "Older entries →" } }
            }
        },
    )
}
