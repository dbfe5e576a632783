//! The API keys page, and the confirmation before a key is revoked.

use maud::{Markup, html};

use super::*;
use crate::domain::apikeys::ApiKeyRow;

/// What the API keys page shows besides the keys: their owners' names and their
/// organizations' names, by id.
pub struct KeyNames<'a> {
    pub owners: &'a std::collections::BTreeMap<String, String>,
    pub organizations: &'a std::collections::BTreeMap<String, String>,
}

/// A key's state in words.
fn key_state(k: &ApiKeyRow, now: i64) -> String {
    match (k.revoked_at, k.expires_at) {
        (Some(t), _) => format!("revoked {}", day(t)),
        (None, Some(t)) if t < now => format!("expired {}", day(t)),
        (None, _) => "active".to_owned(),
    }
}

pub fn api_keys(
    chrome: &Chrome<'_>,
    keys: &[ApiKeyRow],
    names: &KeyNames<'_>,
    now: i64,
    error: Option<&str>,
    secret: Option<&str>,
    done: Option<&str>,
) -> Markup {
    page(
        "API keys",
        Some(chrome),
        html! {
            h1 { "API keys" }
            p {
                "Keys for the admin API (" code { "/v1/admin" } ", docs/PROTOCOL.md). "
                @if chrome.role == Role::OrgAdmin { "Your organization's keys see and change only its licenses." }
                @else { "Keys made here or with " code { "tessera-portal api-key create" } " see every license." }
            }
            @if let Some(secret) = secret {
                div.notice role="status" {
                    p { "The new key, shown only now: only its hash is stored." }
                    p { code { (secret) } }
                }
            }
            @if let Some(done) = done { p.notice role="status" { (done) } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            h2 { "New key" }
            form method="post" action="/ui/api-keys" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="key-label" { "Label (who or what uses it)" }
                    input id="key-label" name="label" maxlength="200";
                }
                fieldset {
                    legend { "Scopes" }
                    label { input type="checkbox" name="read" value="on" checked; " read: list, show, export usage" }
                    label { input type="checkbox" name="write" value="on"; @if chrome.role == Role::OrgAdmin { " write: reset bindings" } @else { " write: register, suspend, reinstate, reset bindings" } }
                    @if chrome.role == Role::SuperAdmin {
                        label { input type="checkbox" name="revoke" value="on"; " revoke: revoke licenses (final)" }
                    }
                }
                button type="submit" { "Make a key" }
            }
            h2 { "Keys" }
            @if keys.is_empty() {
                p { "None yet." }
            } @else {
                (scrolling_table(
                    "API keys",
                    &["Key", "Owner", "Organization", "Scopes", "Created", "Expires", "Last used", "State"],
                    Some("Action"),
                    html! {
                        @for key in keys {
                            tr {
                                td data-label="Key" { code { (key.id) } @if !key.label.is_empty() { br; (key.label) } }
                                td data-label="Owner" {
                                    @match key.owner_id.as_ref().and_then(|id| names.owners.get(id).map(|n| (id, n))) {
                                        Some((_, name)) => { (name) },
                                        None => @if key.owner_id.is_some() { "a removed person" } @else { "the command line" },
                                    }
                                }
                                td data-label="Organization" {
                                    @match key.org_id.as_ref().and_then(|id| names.organizations.get(id)) {
                                        Some(name) => a href={ "/ui/licenses?" (url_query(&[("org", name)])) } { (name) },
                                        None => "all (the vendor's)",
                                    }
                                }
                                td data-label="Scopes" { (key.scopes) }
                                td.date data-label="Created" { (day_of(key.created_at)) }
                                td.date data-label="Expires" { @match key.expires_at { Some(t) => (day_of(t)), None => "never" } }
                                td.date data-label="Last used" { (moment(key.last_used_at)) }
                                td data-label="State" { (key_state(key, now)) }
                                td data-label="Action" {
                                    @if key.revoked_at.is_none() {
                                        a href={ "/ui/api-keys/" (key.id) "/revoke" } aria-label={ "Revoke key " (key.id) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    },
                ))
            }
        },
    )
}

/// Asks before a key is revoked, naming it.
pub fn confirm_revoke_key(chrome: &Chrome<'_>, key: &ApiKeyRow, owner: Option<&str>) -> Markup {
    page(
        "Revoke an API key",
        Some(chrome),
        html! {
            h1 { "Revoke API key " code { (key.id) } "?" }
            dl.terms {
                dt { "Label" } dd { @if key.label.is_empty() { "none" } @else { (key.label) } }
                dt { "Owner" } dd { (owner.unwrap_or("the command line")) }
                dt { "Scopes" } dd { (key.scopes) }
                dt { "Last used" } dd { (moment(key.last_used_at)) }
            }
            p { "Whatever uses this key is refused from now on. This cannot be undone: make a new key instead." }
            form method="post" action={ "/ui/api-keys/" (key.id) "/revoke" } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.actions {
                    button.danger type="submit" { "Revoke the key" }
                    a href="/ui/api-keys" { "Cancel" }
                }
            }
        },
    )
}
