//! The people's pages: the list and pending invitations, one person, removing one.

use maud::{Markup, html};

use super::*;
use crate::domain::accounts::{InvitationRow, OrganizationRow, may_manage, person_facts};

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
    /// Now, Unix seconds (an invitation past its end shows as expired).
    pub now: i64,
}

/// Whether an invitation was emailed: no relay (None), sent, or the relay's refusal.
pub struct Emailed<'a> {
    pub to: &'a str,
    pub outcome: Option<Result<(), String>>,
}

pub fn users(chrome: &Chrome<'_>, view: &UsersPage<'_>) -> Markup {
    // An organization by name, linking to its licenses.
    let org_link = |id: &Option<String>| -> Markup {
        match id.as_ref().and_then(|id| view.organizations.iter().find(|o| &o.id == id)) {
            Some(org) => html! {
                a href={ "/ui/licenses?" (url_query(&[("org", &org.name)])) } { (org.name) }
            },
            None => html! { "—" },
        }
    };
    page(
        "People",
        Some(chrome),
        html! {
            h1 { "People" }
            @if let Some((link, emailed)) = &view.link {
                div.notice role="status" {
                    // An emailed link goes to that mailbox alone: shown here, it would let the
                    // one who invites tell by using it whether the address has an account.
                    @match &emailed.outcome {
                        Some(Ok(())) => p { "Invitation made and emailed to " (emailed.to) ". The link in it works once, for 7 days." },
                        Some(Err(why)) => {
                            p { "Invitation made, but the email to " (emailed.to) " could not be sent (" (why) "). Send this link yourself; it works once, for 7 days, and is shown only now:" }
                            p { code { (link) } }
                        }
                        None => {
                            p { "Invitation made. Send this link to the person; it works once, for 7 days, and is shown only now:" }
                            p { code { (link) } }
                        }
                    }
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
            (scrolling_table(
                "Accounts",
                &["Name", "Email", "Role", "Organization", "Two-step sign-in", "Last sign-in", "Since"],
                None,
                html! {
                    @for user in view.users {
                        tr {
                            td data-label="Name" {
                                @if may_manage(view.viewer, user) {
                                    a href={ "/ui/users/" (user.id) } { (user.name) }
                                } @else { (user.name) }
                            }
                            td data-label="Email" { (user.email) }
                            td data-label="Role" { (user.role) }
                            td data-label="Organization" { (org_link(&user.org_id)) }
                            td data-label="Two-step sign-in" { @if user.totp_secret.is_some() { "on" } @else { "off" } }
                            td.date data-label="Last sign-in" { (moment(user.last_signin_at)) }
                            td.date data-label="Since" { (day_of(user.created_at)) }
                        }
                    }
                },
            ))
            h2 { "Pending invitations" }
            @if view.invitations.is_empty() {
                p { "None." }
            } @else {
                (scrolling_table(
                    "Pending invitations",
                    &["Email", "Role", "Organization", "Expires"],
                    Some("Actions"),
                    html! {
                        @for invitation in view.invitations {
                            @let path = format!("/ui/invitations/{}", invitation.token_sha256);
                            tr {
                                td data-label="Email" { (invitation.email) }
                                td data-label="Role" { (invitation.role) }
                                td data-label="Organization" { (org_link(&invitation.org_id)) }
                                td.date data-label="Expires" {
                                    @if invitation.expires_at < view.now {
                                        strong { "expired" } " " (moment(Some(invitation.expires_at)))
                                    } @else { (moment(Some(invitation.expires_at))) }
                                }
                                td data-label="Actions" {
                                    @if chrome.may(Operation::ManageInvitation, Resource::OwnedBy(Some(invitation.org_id.as_deref()))) {
                                        div.row-actions {
                                            form method="post" action={ (path) "/resend" } {
                                                input type="hidden" name="csrf" value=(chrome.csrf);
                                                button type="submit" aria-label={ "Re-send the invitation to " (invitation.email) } { "Re-send" }
                                            }
                                            form method="post" action={ (path) "/cancel" } {
                                                input type="hidden" name="csrf" value=(chrome.csrf);
                                                button.danger type="submit" aria-label={ "Cancel the invitation to " (invitation.email) } { "Cancel" }
                                            }
                                        }
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
                dt { "Since" } dd { (day_of(target.created_at)) }
                dt { "Two-step sign-in" } dd { @if target.totp_secret.is_some() { "on" } @else { "off" } }
                dt { "Last sign-in" } dd { (moment(target.last_signin_at)) }
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
