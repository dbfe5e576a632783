//! The audit ledger's page.

use maud::{Markup, html};

use super::*;
use crate::domain::StoredEntry;
use crate::domain::accounts::OrganizationRow;

/// A ledger target as a cell shows it: a batch of many licenses by its first ids.
fn short_target(target: &str) -> String {
    let ids: Vec<&str> = target.split(' ').collect();
    if ids.len() <= 3 {
        target.to_owned()
    } else {
        format!("{} … and {} more", ids[..3].join(" "), ids.len() - 3)
    }
}

/// What the audit page shows.
pub struct AuditPage<'a> {
    pub entries: &'a [StoredEntry],
    pub names: &'a std::collections::BTreeMap<String, String>,
    pub organizations: &'a [OrganizationRow],
    pub form: &'a crate::http::ui::AuditForm,
    pub next: Option<i64>,
}

pub fn audit(chrome: &Chrome<'_>, view: &AuditPage<'_>) -> Markup {
    let org_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| view.organizations.iter().find(|o| &o.id == id))
            .map_or_else(|| id.clone().unwrap_or_default(), |o| o.name.clone())
    };
    let next_link = view.next.map(|before| {
        format!(
            "/ui/audit?{}&before={before}",
            url_query(&[
                ("license", &view.form.license),
                ("org", &view.form.org),
                ("actor", &view.form.actor)
            ])
        )
    });
    page(
        "Audit",
        Some(chrome),
        html! {
            h1 { "Audit ledger" }
            p {
                "Every change made by a person or an API key, newest first. The entries form a Merkle tree whose checkpoints the portal signs every minute; "
                code { "GET /v1/admin/audit" } " exports it and " code { "tessera audit verify" } " checks it offline."
            }
            form.filters method="get" action="/ui/audit" role="search" aria-label="Filter the ledger" {
                div { label for="a-license" { "License id" } input id="a-license" name="license" value=(view.form.license); }
                @if chrome.role == Role::SuperAdmin {
                    div {
                        label for="a-org" { "Organization" }
                        select id="a-org" name="org" {
                            option value="" { "any" }
                            @for org in view.organizations {
                                option value=(org.id) selected[view.form.org == org.id] { (org.name) }
                            }
                        }
                    }
                    div { label for="a-actor" { "Actor id" } input id="a-actor" name="actor" value=(view.form.actor); }
                }
                button type="submit" { "Filter" }
            }
            @if view.entries.is_empty() {
                p { "No entry matches." }
            } @else {
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "On" } th scope="col" { "Organization" } } }
                        tbody {
                            @for stored in view.entries {
                                @let e = &stored.entry;
                                tr {
                                    td { (e.seq) }
                                    td { (when(Some(e.at))) }
                                    td {
                                        @match view.names.get(&e.actor) {
                                            Some(name) => { (name) br; span.muted { code { (e.actor) } } },
                                            None => code { (e.actor) },
                                        }
                                    }
                                    td { (e.action) }
                                    td { code { (short_target(&e.target)) } }
                                    td { (org_name(&e.org)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(link) = next_link {
                p.pager { a href=(link) rel="next" { "Older entries →" } }
            }
        },
    )
}
