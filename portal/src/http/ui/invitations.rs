//! Invitations: making one, and cancelling or re-sending a pending one (a new link, the old
//! one dead); each link goes out through the portal's mail relay when it has one.

use super::*;
use crate::domain::accounts::InvitationRow;

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct InviteForm {
    pub(super) email: String,
    pub(super) role: String,
    pub(super) org: String,
}

pub(super) async fn invite(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Posted { viewer, form }: Posted<InviteForm>,
) -> Result<Response, UiError> {
    let role: Role = match form.role.parse() {
        Ok(role) => role,
        Err(e) => {
            let error = capitalized(&e.to_string());
            return users_page(&portal, &viewer, Some(&error), None, None).await;
        }
    };
    let org = (!form.org.is_empty()).then_some(form.org.as_str());
    let org = if role == Role::SuperAdmin { None } else { org };
    let made =
        accounts::invite(portal.records(), &viewer.user, &form.email, role, org, portal.now())
            .await;
    match made {
        Ok((row, token)) => {
            tracing::info!(by = %viewer.user.id, role = %row.role, "invitation made");
            sent_page(&portal, &viewer, &headers, &row, &token, None).await
        }
        Err(
            e @ (AccountError::Invalid(_)
            | AccountError::EmailTaken
            | AccountError::NoSuchOrganization),
        ) => users_page(&portal, &viewer, Some(&capitalized(&e.to_string())), None, None).await,
        Err(e) => Err(e.into()),
    }
}

/// The people page after an invitation link was made: the link (shown once) and whether it
/// was e-mailed.
async fn sent_page(
    portal: &Portal,
    viewer: &Viewer,
    headers: &HeaderMap,
    row: &InvitationRow,
    token: &accounts::InvitationToken,
    done: Option<&str>,
) -> Result<Response, UiError> {
    let path = format!("/ui/invite/{}", token.expose());
    let link = match &portal.mailer {
        Some(mailer) => mailer.link(&path),
        None => format!("{}{path}", public_base(portal, headers)),
    };
    let outcome = match &portal.mailer {
        None => None,
        Some(mailer) => {
            let org = match &row.org_id {
                Some(id) => accounts::organization(portal.records(), id).await?.map(|o| o.name),
                None => None,
            };
            // The page says the same either way; an address with an account is told so,
            // without a link.
            let member = accounts::has_account(portal.records(), &row.email).await?;
            let (subject, text) = if member {
                (
                    "Your Tessera license portal account",
                    crate::mail::already_member_text(
                        &viewer.user.name,
                        &mailer.link("/ui/signin"),
                        &mailer.link("/ui/forgot"),
                    ),
                )
            } else {
                (
                    "Your invitation to the Tessera license portal",
                    crate::mail::invitation_text(
                        &viewer.user.name,
                        &row.role,
                        org.as_deref(),
                        &link,
                    ),
                )
            };
            let sent = mailer.send(&row.email, subject, text).await;
            if let Err(e) = &sent {
                tracing::warn!(error = %e, "invitation email not sent");
            }
            Some(sent.map_err(|e| e.to_string()))
        }
    };
    let sent = pages::Emailed { to: &row.email, outcome };
    users_page(portal, viewer, None, Some((&link, sent)), done).await
}

/// A pending invitation the viewer may manage, by its token's hash, or "not found".
async fn managed(
    portal: &Portal,
    viewer: &Viewer,
    token_sha256: &str,
) -> Result<InvitationRow, UiError> {
    let found = accounts::invitation_for(portal.records(), &viewer.caller(), token_sha256).await?;
    found.ok_or(UiError::NotFound)
}

pub(super) async fn cancel_invitation(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    let invitation = managed(&portal, &viewer, &id).await?;
    if !accounts::cancel_invitation(portal.records(), &viewer.user, &invitation, portal.now())
        .await?
    {
        return Err(UiError::NotFound);
    }
    tracing::info!(by = %viewer.user.id, "invitation cancelled");
    Ok(Redirect::to("/ui/users?done=cancelled").into_response())
}

pub(super) async fn resend_invitation(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    let invitation = managed(&portal, &viewer, &id).await?;
    match accounts::resend_invitation(portal.records(), &viewer.user, &invitation, portal.now())
        .await
    {
        Ok((row, token)) => {
            tracing::info!(by = %viewer.user.id, "invitation re-sent");
            let done = "A new invitation link is made; the old one no longer works.";
            sent_page(&portal, &viewer, &headers, &row, &token, Some(done)).await
        }
        Err(e @ (AccountError::Invalid(_) | AccountError::NoSuchOrganization)) => {
            Err(UiError::Conflict(capitalized(&e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}
