//! The HTML of every page (maud: checked when compiled, every value escaped).

use maud::{DOCTYPE, Markup, html};
use tessera_core::UnixTime;

use crate::domain::accounts::Role;
use crate::store::{
    ActivationRow, LicenseCounts, LicenseRow, LicenseStanding, LicenseSummary, MonthlyUsage,
    OrganizationRow, UserRow,
};

/// Who is looking, and the form token of their session.
pub struct Chrome<'a> {
    pub user: &'a UserRow,
    pub role: Role,
    pub csrf: &'a str,
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| UnixTime::from_unix(t).ok()).map_or_else(
        || "never".to_owned(),
        |t| t.to_rfc3339().replace('T', " ").replace('Z', " UTC"),
    )
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

fn day(t: i64) -> String {
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
                            @if chrome.role == Role::SuperAdmin {
                                a href="/ui/register" { "Register" }
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

pub fn sign_in(error: Option<&str>, email: &str, csrf: &str) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/ui/signin" {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="email" { "Email" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(email);
                }
                div.field {
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Sign in" }
            }
            p { a href="/ui/forgot" { "Forgot your password?" } }
        },
    )
}

/// The forgotten-password form; `sent`: the one answer, whoever's address it was.
pub fn forgot(csrf: &str, error: Option<&str>, sent: Option<&str>) -> Markup {
    page(
        "Forgot your password?",
        None,
        html! {
            h1 { "Forgot your password?" }
            @if let Some(sent) = sent { p.notice role="status" { (sent) } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            p { "Give the email you sign in with: a link to choose a new password is sent to it." }
            form method="post" action="/ui/forgot" {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="email" { "Email" }
                    input id="email" name="email" type="email" autocomplete="username" required;
                }
                button type="submit" { "Send me a link" }
            }
            p { a href="/ui/signin" { "Back to sign-in" } }
        },
    )
}

/// The form a password-reset link opens.
pub fn reset(email: &str, token: &str, csrf: &str, error: Option<&str>) -> Markup {
    page(
        "Choose a new password",
        None,
        html! {
            h1 { "Choose a new password" }
            p { "For " strong { (email) } ". Every session of yours ends when it is changed." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action={ "/ui/reset/" (token) } {
                input type="hidden" name="csrf" value=(csrf);
                // For password managers: whose password this is.
                input type="hidden" name="username" autocomplete="username" value=(email);
                div.field {
                    label for="new" { "New password (at least 12 characters)" }
                    input id="new" name="new" type="password" required minlength="12" autocomplete="new-password";
                }
                div.field {
                    label for="again" { "The new password again" }
                    input id="again" name="again" type="password" required minlength="12" autocomplete="new-password";
                }
                button type="submit" { "Change my password" }
            }
        },
    )
}

/// A reset link that does not work (any more).
pub fn reset_gone() -> Markup {
    page(
        "Password reset",
        None,
        html! {
            h1 { "Password reset" }
            p.error role="alert" { "This link has expired or was already used." }
            p { a href="/ui/forgot" { "Ask for a new link" } }
        },
    )
}

pub fn message(title: &str, chrome: Option<&Chrome<'_>>, text: &str) -> Markup {
    page(
        title,
        chrome,
        html! {
            h1 { (title) }
            p.error role="alert" { (text) }
            p { a href="/ui" { "Back to the dashboard" } }
        },
    )
}

fn standing_word(s: LicenseStanding) -> &'static str {
    s.status().as_str()
}

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
                div.card { span.n { (counts.ending_soon) } "valid, ending within 30 days" }
                div.card { span.n { (counts.silent_past_grace) } "hubs silent past their grace period" }
            }
        },
    )
}

/// The filters of the license list, as the form shows them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ListForm {
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub standing: String,
    #[serde(default)]
    pub activated: String,
    #[serde(default)]
    pub after: String,
}

pub fn licenses(
    chrome: &Chrome<'_>,
    form: &ListForm,
    rows: &[(LicenseSummary, tessera_core::Status)],
    next: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let next_link = next.map(|after| {
        let mut q = url_query(&[
            ("org", &form.org),
            ("product", &form.product),
            ("standing", &form.standing),
            ("activated", &form.activated),
        ]);
        q.push_str(&format!("&after={after}"));
        format!("/ui/licenses?{q}")
    });
    page(
        "Licenses",
        Some(chrome),
        html! {
            h1 { "Licenses" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form.filters method="post" action="/ui/licenses/find" role="search" aria-label="Find one license" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div {
                    label for="find" { "License id or license key" }
                    input id="find" name="q" required maxlength="100" autocomplete="off" spellcheck="false";
                }
                button type="submit" { "Find" }
            }
            form.filters method="get" action="/ui/licenses" role="search" aria-label="Filter the licenses" {
                div { label for="f-org" { "Organization (org claim)" } input id="f-org" name="org" value=(form.org); }
                div { label for="f-product" { "Product" } input id="f-product" name="product" value=(form.product); }
                div {
                    label for="f-standing" { "Standing" }
                    select id="f-standing" name="standing" {
                        option value="" { "any" }
                        @for s in LicenseStanding::ALL {
                            option value=(standing_word(s)) selected[form.standing == standing_word(s)] { (standing_word(s).replace('_', " ")) }
                        }
                    }
                }
                div {
                    label for="f-activated" { "Bound to a hub" }
                    select id="f-activated" name="activated" {
                        option value="" { "either" }
                        option value="true" selected[form.activated == "true"] { "yes" }
                        option value="false" selected[form.activated == "false"] { "no" }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if rows.is_empty() {
                p { "No license matches." }
            } @else {
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        caption.muted { "Licenses in issue order, 50 a page" }
                        thead { tr { th scope="col" { "License" } th scope="col" { "Organization" } th scope="col" { "Product" } th scope="col" { "Standing" } th scope="col" { "Ends" } th scope="col" { "Last validation" } } }
                        tbody {
                            @for (row, status) in rows {
                                tr {
                                    td { a href={ "/ui/licenses/" (row.license.id) } { code { (row.license.id) } } }
                                    td { (row.license.org) }
                                    td { (row.license.product) }
                                    td { span class={ "status status-" (status.as_str()) } { (status.as_str().replace('_', " ")) } }
                                    td { (day(row.license.expires_at)) }
                                    td { @if row.activated { (when(row.last_ping_at)) } @else { span.muted { "not activated" } } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(link) = next_link {
                p.pager { a href=(link) rel="next" { "Next page →" } }
            }
            p { a href={ "/ui/usage.csv?" (url_query(&[("org", &form.org), ("product", &form.product), ("standing", &form.standing), ("activated", &form.activated)])) } download="usage.csv" { "Download the monthly validations of these licenses (CSV)" } }
        },
    )
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

/// What one license page shows.
pub struct LicensePage<'a> {
    pub license: &'a LicenseRow,
    pub status: tessera_core::Status,
    pub organization: Option<&'a OrganizationRow>,
    /// Organizations it may be assigned to (a super-admin's page).
    pub organizations: &'a [OrganizationRow],
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
            @if chrome.role == Role::SuperAdmin && !view.organizations.is_empty() {
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
            @let actions = actions_for(chrome.role, l);
            @if !actions.is_empty() {
                h2 { "Actions" }
                div.actions {
                    @for action in actions {
                        a href={ "/ui/licenses/" (l.id) "/confirm/" (action) } { (action_label(action)) }
                    }
                }
            }
        },
    )
}

/// The actions a role may take on a license in its state.
pub fn actions_for(role: Role, l: &LicenseRow) -> Vec<&'static str> {
    use crate::store::LicenseState::*;
    if role == Role::OrgAdmin {
        // Self-service: moving their hub to a new machine.
        return if l.state == Revoked { vec![] } else { vec!["reset-binding"] };
    }
    match l.state {
        Active => vec!["suspend", "revoke", "reset-binding"],
        Suspended => vec!["reinstate", "revoke", "reset-binding"],
        Revoked => vec![],
    }
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "suspend" => "Suspend",
        "reinstate" => "Reinstate",
        "revoke" => "Revoke",
        _ => "Reset the hub binding",
    }
}

fn action_warning(action: &str) -> &'static str {
    match action {
        "suspend" => {
            "The hub is refused at its next validation and its runners stop once their lease runs out. You can reinstate it later."
        }
        "reinstate" => "The hub is served again at its next validation.",
        "revoke" => "Revoking is final: the license can never be reinstated.",
        _ => {
            "The hub bound now is forgotten: the next activation, from any machine, binds the license."
        }
    }
}

pub fn confirm(chrome: &Chrome<'_>, l: &LicenseRow, action: &str, limit: Option<&str>) -> Markup {
    page(
        action_label(action),
        Some(chrome),
        html! {
            h1 { (action_label(action)) " license " code { (l.id) } "?" }
            p { (l.org) " · " (l.product) }
            p { (action_warning(action)) }
            @if let Some(limit) = limit { p { (limit) } }
            form method="post" action={ "/ui/licenses/" (l.id) "/" (action) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.actions {
                    button.danger[action == "revoke"] type="submit" { (action_label(action)) }
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

/// What the users page shows.
pub struct UsersPage<'a> {
    pub users: &'a [UserRow],
    pub invitations: &'a [crate::store::InvitationRow],
    /// Organizations an invitation may go to (a super-admin's choice; an org-admin's own).
    pub organizations: &'a [OrganizationRow],
    pub error: Option<&'a str>,
    /// A link just made (shown once), and whether it was emailed.
    pub link: Option<(&'a str, Emailed<'a>)>,
    pub done: Option<&'a str>,
    /// Who is looking (the people they may manage get a link).
    pub viewer: &'a UserRow,
}

/// Whether an invitation was emailed: no relay (None), sent, or the relay's refusal.
pub struct Emailed<'a> {
    pub to: &'a str,
    pub outcome: Option<Result<(), String>>,
}

pub fn users(chrome: &Chrome<'_>, view: &UsersPage<'_>) -> Markup {
    let org_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| view.organizations.iter().find(|o| &o.id == id))
            .map_or_else(|| "—".to_owned(), |o| o.name.clone())
    };
    page(
        "People",
        Some(chrome),
        html! {
            h1 { "People" }
            @if let Some((link, emailed)) = &view.link {
                div.notice role="status" {
                    @match &emailed.outcome {
                        Some(Ok(())) => p { "Invitation made and emailed to " (emailed.to) ". The link works once, for 7 days; it is shown only now, should you need to send it yourself:" },
                        Some(Err(why)) => p { "Invitation made, but the email to " (emailed.to) " could not be sent (" (why) "). Send this link yourself; it works once, for 7 days, and is shown only now:" },
                        None => p { "Invitation made. Send this link to the person; it works once, for 7 days, and is shown only now:" },
                    }
                    p { code { (link) } }
                }
            }
            @if let Some(done) = view.done { p.notice role="status" { (done) } }
            @if let Some(error) = view.error { p.error role="alert" { (error) } }
            h2 { "Invite someone" }
            form method="post" action="/ui/users/invite" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="invite-email" { "Business email" }
                    input id="invite-email" name="email" type="email" required;
                }
                div.field {
                    label for="invite-role" { "Role" }
                    select id="invite-role" name="role" {
                        option value="org-admin" { "org-admin (a customer's administrator)" }
                        @if chrome.role == Role::SuperAdmin {
                            option value="super-admin" { "super-admin (vendor staff)" }
                        }
                    }
                }
                div.field {
                    label for="invite-org" { "Organization (org-admins)" }
                    select id="invite-org" name="org" {
                        @if chrome.role == Role::SuperAdmin { option value="" { "none (super-admin)" } }
                        @for org in view.organizations {
                            option value=(org.id) { (org.name) }
                        }
                    }
                }
                button type="submit" { "Invite" }
            }
            h2 { "Accounts" }
            div.table tabindex="0" role="region" aria-label="Scrollable table" {
                table {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Organization" } th scope="col" { "Since" } } }
                    tbody {
                        @for user in view.users {
                            tr {
                                td {
                                    @if crate::domain::accounts::may_manage(view.viewer, user) {
                                        a href={ "/ui/users/" (user.id) } { (user.name) }
                                    } @else { (user.name) }
                                }
                                td { (user.email) } td { (user.role) } td { (org_name(&user.org_id)) } td { (day(user.created_at)) }
                            }
                        }
                    }
                }
            }
            @if !view.invitations.is_empty() {
                h2 { "Pending invitations" }
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Organization" } th scope="col" { "Expires" } } }
                        tbody {
                            @for invitation in view.invitations {
                                tr { td { (invitation.email) } td { (invitation.role) } td { (org_name(&invitation.org_id)) } td { (when(Some(invitation.expires_at))) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn accept(
    invitation: &crate::store::InvitationRow,
    token: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    page(
        "Join",
        None,
        html! {
            h1 { "Join the Tessera portal" }
            p { "You are invited as " strong { (invitation.role) } " with the email " strong { (invitation.email) } "." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action={ "/ui/invite/" (token) } {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="name" { "Your name" }
                    input id="name" name="name" required maxlength="200" autocomplete="name";
                }
                div.field {
                    label for="password" { "Password (at least 12 characters)" }
                    input id="password" name="password" type="password" required minlength="12" autocomplete="new-password";
                }
                div.field {
                    label for="again" { "The password again" }
                    input id="again" name="again" type="password" required minlength="12" autocomplete="new-password";
                }
                button type="submit" { "Create my account" }
            }
        },
    )
}

/// `second_factor`: None when off, else the recovery codes left.
pub fn profile(
    chrome: &Chrome<'_>,
    error: Option<&str>,
    done: Option<&str>,
    second_factor: Option<i64>,
) -> Markup {
    let user = chrome.user;
    page(
        "Profile",
        Some(chrome),
        html! {
            h1 { "Your profile" }
            @if let Some(done) = done { p.notice role="status" { (done) } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            dl.terms {
                dt { "Name" } dd { (user.name) }
                dt { "Email" } dd { (user.email) }
                dt { "Role" } dd { (user.role) }
            }
            h2 { "Your name and email" }
            form.filters method="post" action="/ui/profile/name" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div { label for="profile-name" { "Name" } input id="profile-name" name="name" required maxlength="200" value=(user.name) autocomplete="name"; }
                button type="submit" { "Save the name" }
            }
            form.filters method="post" action="/ui/profile/email" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div { label for="profile-email" { "New email (confirmed by a link sent to it)" } input id="profile-email" name="email" type="email" required autocomplete="email"; }
                button type="submit" { "Change the email" }
            }
            h2 { "Your data" }
            p {
                a href="/ui/profile/export.json" download="my-data.json" { "Download everything the portal holds about you (JSON)" }
                @if chrome.role == Role::OrgAdmin {
                    " · " a href="/ui/organization/export.json" download="organization.json" { "your organization's licenses, bindings and monthly validations (JSON)" }
                    " · " a href="/ui/usage.csv" download="usage.csv" { "monthly validations (CSV)" }
                }
            }
            p { a href="/ui/profile/delete" { "Delete your account" } }
            h2 { "Change your password" }
            p.muted { "Every other browser signed in as you is signed out." }
            form method="post" action="/ui/profile/password" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="current" { "Current password" }
                    input id="current" name="current" type="password" required autocomplete="current-password";
                }
                div.field {
                    label for="new" { "New password (at least 12 characters)" }
                    input id="new" name="new" type="password" required minlength="12" autocomplete="new-password";
                }
                div.field {
                    label for="again" { "New password again" }
                    input id="again" name="again" type="password" required minlength="12" autocomplete="new-password";
                }
                button type="submit" { "Change password" }
            }
            h2 { "Two-step sign-in" }
            @match second_factor {
                None => {
                    p { "Off. With it on, signing in also asks for a code from an authenticator app." }
                    p { a href="/ui/profile/second-factor" { "Turn on two-step sign-in" } }
                }
                Some(left) => {
                    p { "On. " (plural(left, "recovery code")) " left." }
                    form method="post" action="/ui/profile/second-factor/off" {
                        input type="hidden" name="csrf" value=(chrome.csrf);
                        div.field {
                            label for="off-password" { "Your password, to turn it off" }
                            input id="off-password" name="password" type="password" required autocomplete="current-password";
                        }
                        button.danger type="submit" { "Turn off two-step sign-in" }
                    }
                }
            }
            h2 { "Sessions" }
            form method="post" action="/ui/profile/signout-everywhere" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button.danger type="submit" { "Sign out everywhere" }
            }
        },
    )
}

pub fn register(
    chrome: &Chrome<'_>,
    results: &[(String, crate::http::admin_api::Outcome)],
    error: Option<&str>,
) -> Markup {
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

pub fn second_step(error: Option<&str>, csrf: &str) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in: second step" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/ui/signin/code" {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="code" { "The 6-digit code from your authenticator app, or a recovery code" }
                    input id="code" name="code" required autocomplete="one-time-code" inputmode="text" maxlength="40";
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub fn enrol(
    chrome: &Chrome<'_>,
    secret: &str,
    tag: &str,
    uri: &str,
    required: bool,
    error: Option<&str>,
) -> Markup {
    page(
        "Two-step sign-in",
        Some(chrome),
        html! {
            h1 { "Turn on two-step sign-in" }
            @if required { p.notice role="status" { "This portal requires two-step sign-in for super-admins: set it up to go on." } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            ol {
                @if let Some(svg) = qr_svg(uri) {
                    li {
                        "Scan this QR code with your authenticator app:"
                        div.qr { (maud::PreEscaped(svg)) }
                    }
                    li { "Or add an account in the app with this key (time-based, 6 digits, 30 seconds): " code { (secret) } }
                } @else {
                    li { "In your authenticator app, add an account with this key (time-based, 6 digits, 30 seconds): " code { (secret) } }
                }
                li { "Or open this address on the device that has the app: " code { (uri) } }
                li { "Type the code the app shows:" }
            }
            form method="post" action="/ui/profile/second-factor" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                input type="hidden" name="secret" value=(secret);
                input type="hidden" name="tag" value=(tag);
                div.field {
                    label for="code" { "Code from the app" }
                    input id="code" name="code" required inputmode="numeric" autocomplete="one-time-code" maxlength="8";
                }
                button type="submit" { "Turn on" }
            }
        },
    )
}

/// `text` as a QR code in inline SVG (drawn by the server: no script, no image request),
/// error correction level M, black on white, at least 200 pixels wide. Its text
/// alternative says what it holds; the same key and address are on the page as text.
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcode::render::svg::Color;
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(Color("#000"))
        .light_color(Color("#fff"))
        .build();
    // Inline in HTML: no XML declaration; named for screen readers.
    let svg = svg.split_once("<svg ").map(|(_, rest)| rest)?;
    Some(format!(
        r#"<svg role="img" aria-label="QR code of the authenticator address shown below as text" {svg}"#
    ))
}

pub fn recovery_codes(chrome: &Chrome<'_>, codes: &[String]) -> Markup {
    page(
        "Recovery codes",
        Some(chrome),
        html! {
            h1 { "Two-step sign-in is on" }
            p.notice role="status" { "Keep these recovery codes somewhere safe. Each signs you in once without the app; they are shown only now." }
            ul { @for code in codes { li { code { (code) } } } }
            p { a href="/ui/profile" { "Back to your profile" } }
        },
    )
}

pub fn api_keys(
    chrome: &Chrome<'_>,
    keys: &[crate::store::ApiKeyRow],
    now: i64,
    error: Option<&str>,
    secret: Option<&str>,
) -> Markup {
    let state = |k: &crate::store::ApiKeyRow| match (k.revoked_at, k.expires_at) {
        (Some(t), _) => format!("revoked {}", day(t)),
        (None, Some(t)) if t < now => format!("expired {}", day(t)),
        (None, Some(t)) => format!("active until {}", day(t)),
        (None, None) => "active".to_owned(),
    };
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
                div.table tabindex="0" role="region" aria-label="Scrollable table" {
                    table {
                        thead { tr { th scope="col" { "Id" } th scope="col" { "Label" } th scope="col" { "Scopes" } th scope="col" { "State" } th scope="col" { "Made" } th scope="col" { span.muted { "Action" } } } }
                        tbody {
                            @for key in keys {
                                tr {
                                    td { code { (key.id) } }
                                    td { (key.label) }
                                    td { (key.scopes) }
                                    td { (state(key)) }
                                    td { (day(key.created_at)) }
                                    td {
                                        @if key.revoked_at.is_none() {
                                            form method="post" action={ "/ui/api-keys/" (key.id) "/revoke" } {
                                                input type="hidden" name="csrf" value=(chrome.csrf);
                                                button.danger type="submit" aria-label={ "Revoke key " (key.id) } { "Revoke" }
                                            }
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

pub fn person(
    chrome: &Chrome<'_>,
    target: &UserRow,
    organizations: &[OrganizationRow],
    error: Option<&str>,
) -> Markup {
    page(
        "Person",
        Some(chrome),
        html! {
            h1 { (target.name) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            dl.terms {
                dt { "Email" } dd { (target.email) }
                dt { "Role" } dd { (target.role) }
                dt { "Since" } dd { (day(target.created_at)) }
                dt { "Two-step sign-in" } dd { @if target.totp_secret.is_some() { "on" } @else { "off" } }
            }
            @if chrome.role == Role::SuperAdmin {
                h2 { "Change the role" }
                p.muted { "Every session of theirs ends." }
                form method="post" action={ "/ui/users/" (target.id) "/role" } {
                    input type="hidden" name="csrf" value=(chrome.csrf);
                    div.field {
                        label for="role" { "Role" }
                        select id="role" name="role" {
                            option value="org-admin" selected[target.role == "org-admin"] { "org-admin" }
                            option value="super-admin" selected[target.role == "super-admin"] { "super-admin" }
                        }
                    }
                    div.field {
                        label for="org" { "Organization (org-admins)" }
                        select id="org" name="org" {
                            option value="" { "none (super-admin)" }
                            @for org in organizations {
                                option value=(org.id) selected[target.org_id.as_deref() == Some(org.id.as_str())] { (org.name) }
                            }
                        }
                    }
                    button type="submit" { "Change" }
                }
            }
            h2 { "Remove" }
            p { a href={ "/ui/users/" (target.id) "/remove" } { "Remove " (target.name) " from the portal" } }
        },
    )
}

pub fn confirm_remove(chrome: &Chrome<'_>, target: &UserRow) -> Markup {
    page(
        "Remove",
        Some(chrome),
        html! {
            h1 { "Remove " (target.name) "?" }
            p { (target.email) " can no longer sign in: their sessions end and the API keys they made are revoked." }
            form method="post" action={ "/ui/users/" (target.id) "/remove" } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.actions {
                    button.danger type="submit" { "Remove" }
                    a href="/ui/users" { "Cancel" }
                }
            }
        },
    )
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

pub fn confirm_email(token: &str, csrf: &str, error: Option<&str>) -> Markup {
    page(
        "Confirm your email",
        None,
        html! {
            h1 { "Confirm your new email" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action={ "/ui/email/" (token) } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Confirm" }
            }
        },
    )
}

pub fn confirm_delete_self(chrome: &Chrome<'_>, error: Option<&str>) -> Markup {
    page(
        "Delete your account",
        Some(chrome),
        html! {
            h1 { "Delete your account?" }
            p { "Your account, your sessions and the API keys you made go at once, and your name and email are erased from the portal's database for good. This cannot be undone." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/ui/profile/delete" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="delete-password" { "Your password" }
                    input id="delete-password" name="password" type="password" required autocomplete="current-password";
                }
                div.actions {
                    button.danger type="submit" { "Delete my account" }
                    a href="/ui/profile" { "Cancel" }
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
    pub entries: &'a [crate::store::ledger::StoredEntry],
    pub names: &'a std::collections::BTreeMap<String, String>,
    pub organizations: &'a [OrganizationRow],
    pub form: &'a super::AuditForm,
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
