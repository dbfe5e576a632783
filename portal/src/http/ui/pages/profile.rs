//! One's own profile, and deleting one's own account.

use maud::{Markup, html};

use super::*;

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
