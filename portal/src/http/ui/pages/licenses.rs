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
    /// The runner places it holds at the portal (`runner_countersign`), when it holds any.
    pub places: Option<&'a crate::domain::runner_places::PlacesHeld>,
    /// The viewer may free them (the vendor's people).
    pub free_places: bool,
    pub done: Option<&'a str>,
    /// Seconds its hub has been silent, when that is overdue.
    pub overdue: Option<i64>,
    /// The id of the bound hub's key.
    pub hub_key_id: Option<&'a str>,
    /// The month now (YYYYMM): the chart's last.
    pub this_month: i64,
    /// The viewer issues licenses (the vendor's staff): the page links to how to extend it.
    pub extend: bool,
}

/// A length of time in the largest whole unit: "3 days", "5 hours", "20 minutes".
fn span(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86_400 => plural(s / 86_400, "day"),
        s if s >= 2 * 3600 => plural(s / 3600, "hour"),
        s => plural(s / 60, "minute"),
    }
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
                dt { "Runner limit" }
                dd {
                    (l.runners) " at once "
                    @if l.runner_countersign {
                        span.muted { "(counted here: runner places, below)" }
                    } @else {
                        span.muted { "(the hub counts slots in use)" }
                    }
                }
                dt { "Ping interval" } dd { "every " (span(l.ping_interval_secs)) }
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
                    @if let Some(silent) = view.overdue {
                        p.error role="alert" { "Overdue: no validation for " (span(silent)) ", where the hub validates every " (span(l.ping_interval_secs)) ". Its machine may be off or cut off from the portal; it keeps working for " (span(l.grace_period_secs)) " after its last validation." }
                    }
                    @if let Some(at) = a.cloned_at {
                        div.error role="alert" {
                            p { strong { "A copy of this hub was refused" } " on " (when(Some(at))) ": a second machine (a cloned virtual machine or a copied disk) used the same hub key." }
                            p { "What to do: ask the customer which machine should hold the license and to stop the hub on the others. If the hub moved to a new machine for good, reset the hub binding below so that the new machine can activate." }
                        }
                    }
                    dl.terms {
                        dt { "Bound since" } dd { (when(Some(a.rebound_at.unwrap_or(a.activated_at).max(a.activated_at)))) }
                        dt { "Hub key id" } dd { @match view.hub_key_id { Some(id) => code { (id) }, None => span.muted { "unreadable" } } }
                        dt { "Last validation" } dd { (when(a.last_ping_at)) @if view.overdue.is_some() { " " span.status.status-expired { "overdue" } } }
                        dt { "Re-activations" } dd { (a.rebinds) }
                        dt { "Repairs this year" } dd { (a.repairs) }
                    }
                }
                None => p { "Not bound to a hub: the next activation binds it." }
            }
            @if let Some(held) = view.places {
                (places_held(&l.id, held, view.free_places))
            }
            h2 id="usage" { "Validations per month" }
            (chart(view.usage, view.this_month))
            @if !view.actions.is_empty() || view.extend {
                h2 { "Actions" }
                div.actions {
                    @for action in view.actions {
                        a href={ "/ui/licenses/" (l.id) "/confirm/" (action.as_str()) } { (action_label(*action)) }
                    }
                    @if view.extend {
                        a href={ "/ui/licenses/" (l.id) "/extend" } { "Extend" }
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

pub(super) fn action_warning(action: Action) -> &'static str {
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

/// The values the chart's scale marks: 0, the top, and half of it when that is a whole
/// number between them.
fn scale(top: i64) -> Vec<i64> {
    let mut marks = vec![0, top];
    if top >= 2 && top % 2 == 0 {
        marks.insert(1, top / 2);
    }
    marks
}

/// The twelve months ending with `last` (YYYYMM), oldest first.
fn twelve_months(last: i64) -> Vec<i64> {
    let index = (last / 100) * 12 + (last % 100 - 1);
    (index - 11..=index).map(|i| (i / 12) * 100 + i % 12 + 1).collect()
}

/// Validations per month over the last twelve (months without any shown as empty), as
/// bars drawn in SVG (no script) with a labelled scale, and the figures as a table too.
fn chart(usage: &[MonthlyUsage], this_month: i64) -> Markup {
    let months: Vec<(i64, i64)> = twelve_months(this_month)
        .into_iter()
        .map(|m| (m, usage.iter().filter(|u| u.month == m).map(|u| u.pings).sum()))
        .collect();
    let top = months.iter().map(|(_, p)| *p).max().unwrap_or(0).max(1);
    // The plot sits right of the scale's labels and above the months.
    let (left, width, height) = (56i64, 600i64, 180i64);
    let bar = width / 12;
    let label = |m: i64| format!("{}-{:02}", m / 100, m % 100);
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (left + width) " " (height + 40) } role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" {
                title id="chart-title" { "Validations per month, the last 12 months" }
                text x="12" y=(height / 2) font-size="11" fill="#57606a" text-anchor="middle" transform={ "rotate(-90 12 " (height / 2) ")" } { "Validations" }
                @for value in scale(top) {
                    @let y = height - value * (height - 8) / top;
                    line x1=(left - 4) x2=(left + width) y1=(y) y2=(y) stroke="#d0d7de" {}
                    text x=(left - 8) y=(y + 4) font-size="11" fill="#57606a" text-anchor="end" { (value) }
                }
                @for (i, (m, pings)) in months.iter().enumerate() {
                    @let h = pings * (height - 8) / top;
                    @let x = left + i as i64 * bar;
                    g {
                        title { (label(*m)) ": " (pings) " validations" }
                        rect x=(x + 4) y=(height - h) width=(bar - 8) height=(h) fill="#0b5cad" {}
                        text x=(x + bar / 2) y=(height + 16) font-size="10" text-anchor="middle" fill="#57606a" { (label(*m)) }
                    }
                }
                text x=(left + width / 2) y=(height + 36) font-size="11" text-anchor="middle" fill="#57606a" { "Month" }
            }
            figcaption {
                details {
                    summary { "The figures" }
                    table {
                        thead { tr { th scope="col" { "Month" } th scope="col" { "Validations" } } }
                        tbody { @for (m, pings) in &months { tr { td data-label="Month" { (label(*m)) } td data-label="Validations" { (pings) } } } }
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
                (scrolling_table(
                    "Organizations",
                    &["Name", "Licenses", "Since"],
                    Some("Data rights"),
                    html! {
                        @for (org, n) in rows {
                            tr {
                                td data-label="Name" { (org.name) } td data-label="Licenses" { (n) } td data-label="Since" { (day(org.created_at)) }
                                td data-label="Data rights" { a href={ "/ui/organizations/" (org.id) "/erase-people" } aria-label={ "Erase its people: " (org.name) } { "Erase its people" } }
                            }
                        }
                    },
                ))
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
                (scrolling_table(
                    "Registration results",
                    &["File", "Outcome", "License"],
                    None,
                    html! {
                        @for (file, outcome) in results {
                            tr {
                                td data-label="File" { (file) }
                                td data-label="Outcome" { (outcome.outcome) " (" (outcome.status.replace('_', " ")) ")" }
                                td data-label="License" {
                                    @match (&outcome.id, &outcome.problem) {
                                        (Some(id), _) => a href={ "/ui/licenses/" (id) } { code { (id) } },
                                        (None, Some(problem)) => (problem),
                                        (None, None) => "",
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

#[cfg(test)]
mod tests {
    use super::twelve_months;

    #[test]
    fn the_chart_shows_the_twelve_months_ending_now_across_a_new_year() {
        let months = twelve_months(202_703);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], 202_604);
        assert_eq!(months[8], 202_612);
        assert_eq!(months[9], 202_701);
        assert_eq!(months[11], 202_703);
    }
}
