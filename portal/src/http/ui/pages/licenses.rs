//! The licenses' pages: the dashboard, the list, one license and its actions, registering
//! by upload, organizations.

use maud::{Markup, html};

use super::*;
use crate::domain::accounts::OrganizationRow;
use crate::domain::actions::Action;
use crate::domain::licenses::{ActivationRow, LicenseCounts, LicenseRow, MonthlyUsage};
use crate::domain::registration::Outcome;

pub fn dashboard(chrome: &Chrome<'_>, scope: &str, counts: &LicenseCounts) -> Markup {
    page(
        "Dashboard",
        Some(chrome),
        html! {
            h1 { "Dashboard" }
            p.muted { (scope) }
            h2 { "Licenses by standing" }
            div.cards {
                @for (standing, n) in LicenseStanding::ALL.iter().zip(counts.by_standing) {
                    a.card href={ "/ui/licenses?standing=" (standing_word(*standing)) } {
                        span.n { (n) }
                        (standing_word(*standing).replace('_', " "))
                    }
                }
            }
            h2 { "Needs attention" }
            div.cards {
                a.card href="/ui/licenses?standing=valid&ends_within=30" { span.n { (counts.ending_soon) } "valid, ending within 30 days" }
                a.card href="/ui/licenses?silent=past_grace" { span.n { (counts.silent_past_grace) } "hubs silent past their grace period" }
            }
        },
    )
}

/// What one license page shows.
pub struct LicensePage<'a> {
    pub license: &'a LicenseRow,
    pub status: tessera_core::Status,
    pub organization: Option<&'a OrganizationRow>,
    /// Organizations it may be assigned to (only when the viewer may assign it).
    pub organizations: &'a [OrganizationRow],
    /// The changes the viewer may make to it now.
    pub actions: &'a [Action],
    pub activation: Option<&'a ActivationRow>,
    pub usage: &'a [MonthlyUsage],
    pub done: Option<&'a str>,
}

pub fn license(chrome: &Chrome<'_>, view: &LicensePage<'_>) -> Markup {
    let l = view.license;
    page(
        "License",
        Some(chrome),
        html! {
            h1 { "License " code { (l.id) } }
            @if let Some(done) = view.done {
                p.notice role="status" { (done) }
            }
            p { "Standing: " span class={ "status status-" (view.status.as_str()) } { (view.status.as_str().replace('_', " ")) } }
            h2 { "Terms" }
            dl.terms {
                dt { "Organization (claim)" } dd { (l.org) }
                dt { "Assigned to" } dd { @match view.organization { Some(o) => (o.name), None => span.muted { "no organization record" } } }
                dt { "Product" } dd { (l.product) }
                dt { "Runners" } dd { (l.runners) }
                dt { "Valid from" } dd { (day(l.not_before)) }
                dt { "Ends" } dd { (day(l.expires_at)) }
                @if let Some(t) = l.terminates_at { dt { "Terminates" } dd { (day(t)) } }
                dt { "Grace period" } dd { (plural(l.grace_period_secs / 86_400, "day")) }
                dt { "Registered" } dd { (when(Some(l.registered_at))) }
            }
            @if !view.organizations.is_empty() {
                form.filters method="post" action={ "/ui/licenses/" (l.id) "/assign" } {
                    input type="hidden" name="csrf" value=(chrome.csrf);
                    div {
                        label for="assign-org" { "Assign to an organization" }
                        select id="assign-org" name="org" {
                            option value="" { "none" }
                            @for org in view.organizations {
                                option value=(org.id) selected[view.organization.is_some_and(|o| o.id == org.id)] { (org.name) }
                            }
                        }
                    }
                    button type="submit" { "Assign" }
                }
            }
            h2 { "Hub" }
            @match view.activation {
                Some(a) => {
                    dl.terms {
                        dt { "Activated" } dd { (when(Some(a.activated_at))) }
                        dt { "Last validation" } dd { (when(a.last_ping_at)) }
                        dt { "Re-activations" } dd { (a.rebinds) }
                        dt { "Repairs this year" } dd { (a.repairs) }
                    }
                }
                None => p { "Not bound to a hub: the next activation binds it." }
            }
            h2 id="usage" { "Validations per month" }
            (chart(view.usage))
            @if !view.actions.is_empty() {
                h2 { "Actions" }
                div.actions {
                    @for action in view.actions {
                        a href={ "/ui/licenses/" (l.id) "/confirm/" (action.as_str()) } { (action_label(*action)) }
                    }
                }
            }
        },
    )
}

pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::Suspend => "Suspend",
        Action::Reinstate => "Reinstate",
        Action::Revoke => "Revoke",
        Action::ResetBinding => "Reset the hub binding",
    }
}

fn action_warning(action: Action) -> &'static str {
    match action {
        Action::Suspend => {
            "The hub is refused at its next validation and its runners stop once their lease runs out. You can reinstate it later."
        }
        Action::Reinstate => "The hub is served again at its next validation.",
        Action::Revoke => "Revoking is final: the license can never be reinstated.",
        Action::ResetBinding => {
            "The hub bound now is forgotten: the next activation, from any machine, binds the license."
        }
    }
}

pub fn confirm(chrome: &Chrome<'_>, l: &LicenseRow, action: Action, limit: Option<&str>) -> Markup {
    page(
        action_label(action),
        Some(chrome),
        html! {
            h1 { (action_label(action)) " license " code { (l.id) } "?" }
            p { (l.org) " · " (l.product) }
            p { (action_warning(action)) }
            @if let Some(limit) = limit { p { (limit) } }
            form method="post" action={ "/ui/licenses/" (l.id) "/" (action.as_str()) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.actions {
                    button.danger[action == Action::Revoke] type="submit" { (action_label(action)) }
                    a href={ "/ui/licenses/" (l.id) } { "Cancel" }
                }
            }
        },
    )
}

/// Monthly validations as bars, drawn in SVG (no script), with the figures as a table too.
fn chart(usage: &[MonthlyUsage]) -> Markup {
    if usage.is_empty() {
        return html! { p.muted { "No validation recorded yet." } };
    }
    let months: Vec<&MonthlyUsage> = usage.iter().rev().take(12).rev().collect();
    let top = months.iter().map(|m| m.pings).max().unwrap_or(1).max(1);
    let (width, height, bar) = (640i64, 200i64, 640 / 12);
    let label = |m: i64| format!("{}-{:02}", m / 100, m % 100);
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (width) " " (height + 24) } role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" {
                title id="chart-title" { "Validations per month, last " (months.len()) " months" }
                @for (i, m) in months.iter().enumerate() {
                    @let h = m.pings * height / top;
                    @let x = i as i64 * bar;
                    g {
                        title { (label(m.month)) ": " (m.pings) " validations" }
                        rect x=(x + 4) y=(height - h) width=(bar - 8) height=(h) fill="#0b5cad" {}
                        text x=(x + bar / 2) y=(height + 16) font-size="11" text-anchor="middle" fill="#57606a" { (label(m.month)) }
                    }
                }
            }
            figcaption {
                details {
                    summary { "The figures" }
                    table {
                        thead { tr { th scope="col" { "Month" } th scope="col" { "Validations" } } }
                        tbody { @for m in &months { tr { td { (label(m.month)) } td { (m.pings) } } } }
                    }
                }
            }
        }
    }
}

pub fn organizations(
    chrome: &Chrome<'_>,
    rows: &[(OrganizationRow, i64)],
    error: Option<&str>,
    done: Option<&str>,
) -> Markup {
    page(
        "Organizations",
        Some(chrome),
        html! {
            h1 { "Organizations" }
            @if let Some(done) = done { p.notice role="status" { (done) } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            h2 { "New organization" }
            form method="post" action="/ui/organizations" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="org-name" { "Name, exactly as licenses name it in their org claim" }
                    input id="org-name" name="name" required maxlength="200";
                }
                button type="submit" { "Create" }
            }
            h2 { "All organizations" }
            @if rows.is_empty() {
                p { "None yet." }
            } @else {
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Licenses" } th scope="col" { "Since" } th scope="col" { span.muted { "Data rights" } } } }
                        tbody {
                            @for (org, n) in rows {
                                tr {
                                    td { (org.name) } td { (n) } td { (day(org.created_at)) }
                                    td { a href={ "/ui/organizations/" (org.id) "/erase-people" } aria-label={ "Erase its people: " (org.name) } { "Erase its people" } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn register(chrome: &Chrome<'_>, results: &[(String, Outcome)], error: Option<&str>) -> Markup {
    page(
        "Register licenses",
        Some(chrome),
        html! {
            h1 { "Register licenses" }
            p { "Upload license files made with " code { "tessera issue" } ". Each is checked against the vendor's keys; a license already registered is left as it is." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/ui/register" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="licenses" { "License files (up to 1,000)" }
                    input id="licenses" name="licenses" type="file" multiple required;
                }
                button type="submit" { "Register" }
            }
            @if !results.is_empty() {
                h2 { "Results" }
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        thead { tr { th scope="col" { "File" } th scope="col" { "Outcome" } th scope="col" { "License" } } }
                        tbody {
                            @for (file, outcome) in results {
                                tr {
                                    td { (file) }
                                    td { (outcome.outcome) " (" (outcome.status.replace('_', " ")) ")" }
                                    td {
                                        @match (&outcome.id, &outcome.problem) {
                                            (Some(id), _) => a href={ "/ui/licenses/" (id) } { code { (id) } },
                                            (None, Some(problem)) => (problem),
                                            (None, None) => "",
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn confirm_erase_people(chrome: &Chrome<'_>, org: &OrganizationRow, people: usize) -> Markup {
    page(
        "Erase people",
        Some(chrome),
        html! {
            h1 { "Erase the people of " (org.name) "?" }
            p { (plural(people as i64, "person")) " of this organization: their accounts, sessions and API keys go, and their names and emails are erased for good. The organization and its licenses stay." }
            form method="post" action={ "/ui/organizations/" (org.id) "/erase-people" } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.actions {
                    button.danger type="submit" { "Erase them" }
                    a href="/ui/organizations" { "Cancel" }
                }
            }
        },
    )
}
