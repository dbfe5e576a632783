//! The pages of signing in and of links sent by mail: sign-in, its second step, a
//! forgotten password, an invitation, a new email.

use maud::{Markup, html};

use super::*;
use crate::domain::accounts::InvitationRow;

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
                (new_password_fields("new", "New password (at least 12 characters)", "The new password again"))
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

pub fn accept(invitation: &InvitationRow, token: &str, csrf: &str, error: Option<&str>) -> Markup {
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
                (new_password_fields("password", "Password (at least 12 characters)", "The password again"))
                button type="submit" { "Create my account" }
            }
        },
    )
}
