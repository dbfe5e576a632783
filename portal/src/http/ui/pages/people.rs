//! The people's pages: the list and invitations, one person, one's own profile, API keys.

use maud::{Markup, html};

use super::*;
use crate::domain::accounts::{InvitationRow, OrganizationRow, may_manage, person_facts};
use crate::domain::apikeys::ApiKeyRow;

/// What the users page shows.
pub struct UsersPage<'a> {
    pub users: &'a [UserRow],
    pub invitations: &'a [InvitationRow],
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
                                    @if may_manage(view.viewer, user) {
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
                (new_password_fields("new", "New password (at least 12 characters)", "New password again"))
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
            @if chrome.may(Operation::ChangeRole, person_facts(target)) {
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

pub fn api_keys(
    chrome: &Chrome<'_>,
    keys: &[ApiKeyRow],
    now: i64,
    error: Option<&str>,
    secret: Option<&str>,
) -> Markup {
    let state = |k: &ApiKeyRow| match (k.revoked_at, k.expires_at) {
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
