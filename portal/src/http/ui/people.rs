//! People: invitations, profiles, rights over one's data (export, rectification,
//! erasure), managing people, API keys.

use super::*;

// --- people ------------------------------------------------------------------------------

/// The users page's data for `viewer`.
pub(super) async fn users_page(
    portal: &Portal,
    viewer: &Viewer,
    error: Option<&str>,
    link: Option<(&str, pages::Emailed<'_>)>,
    done: Option<&str>,
) -> Result<Response, UiError> {
    let own_org = match viewer.role {
        Role::SuperAdmin => None,
        Role::OrgAdmin => Some(viewer.user.org_id.clone().unwrap_or_default()),
    };
    let users = portal.store.users(own_org.as_deref(), "", 1000).await?;
    let invitations = portal.store.invitations(own_org.as_deref(), 200).await?;
    let organizations: Vec<crate::store::OrganizationRow> = match &own_org {
        None => portal.store.organizations("", 1000).await?,
        Some(org) => portal.store.organization(org).await?.into_iter().collect(),
    };
    let view = pages::UsersPage {
        users: &users,
        invitations: &invitations,
        organizations: &organizations,
        error,
        link,
        done,
        viewer: &viewer.user,
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(html(status, pages::users(&viewer.chrome(), &view)))
}

#[derive(serde::Deserialize)]
pub(super) struct UsersQuery {
    pub(super) done: Option<String>,
}

pub(super) async fn users(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Query(query): Query<UsersQuery>,
) -> Result<Response, UiError> {
    let done = query.done.as_deref().map(|done| match done {
        "role" => "The role is changed; that person's sessions ended.",
        _ => "The person is removed; the API keys they made are revoked.",
    });
    users_page(&portal, &viewer, None, None, done).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct InviteForm {
    pub(super) email: String,
    pub(super) role: String,
    pub(super) org: String,
    pub(super) csrf: String,
}

pub(super) async fn invite(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<InviteForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let role: Role = match form.role.parse() {
        Ok(role) => role,
        Err(e) => return users_page(&portal, &viewer, Some(&e.to_string()), None, None).await,
    };
    let org = (!form.org.is_empty()).then_some(form.org.as_str());
    let org = if role == Role::SuperAdmin { None } else { org };
    match accounts::invite(&portal.store, &viewer.user, &form.email, role, org, portal.now()).await
    {
        Ok((row, token)) => {
            tracing::info!(by = %viewer.user.id, role = %row.role, "invitation made");
            let path = format!("/ui/invite/{}", token.expose());
            let link = match &portal.mailer {
                Some(mailer) => mailer.link(&path),
                None => format!("{}{path}", public_base(&portal, &headers)),
            };
            let emailed = match &portal.mailer {
                None => None,
                Some(mailer) => {
                    let org = match &row.org_id {
                        Some(id) => portal.store.organization(id).await?.map(|o| o.name),
                        None => None,
                    };
                    // The page says the same either way; an address with an account is told
                    // so, without a link.
                    let member = portal.store.user_by_email(&row.email).await?.is_some();
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
            let sent = pages::Emailed { to: &row.email, outcome: emailed };
            users_page(&portal, &viewer, None, Some((&link, sent)), None).await
        }
        Err(
            e @ (AccountError::Invalid(_)
            | AccountError::EmailTaken
            | AccountError::NoSuchOrganization),
        ) => users_page(&portal, &viewer, Some(&e.to_string()), None, None).await,
        Err(e) => Err(e.into()),
    }
}

pub(super) fn invitation_gone() -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            "Invitation",
            None,
            "This invitation has expired or was already used. Ask whoever invited you for a new one.",
        ),
    )
}

pub(super) async fn accept_page(
    State(portal): State<Arc<Portal>>,
    Path(token): Path<String>,
) -> Result<Response, UiError> {
    let Some(invitation) = accounts::invitation(&portal.store, &token, portal.now()).await? else {
        return Ok(invitation_gone());
    };
    Ok(open_form(&portal, StatusCode::OK, |csrf| pages::accept(&invitation, &token, csrf, None)))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct AcceptForm {
    pub(super) name: String,
    pub(super) password: String,
    pub(super) again: String,
    pub(super) csrf: String,
}

pub(super) async fn accept(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<AcceptForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let Some(invitation) = accounts::invitation(&portal.store, &token, portal.now()).await? else {
        return Ok(invitation_gone());
    };
    let again = |status: StatusCode, error: &str| {
        open_form(&portal, status, |csrf| pages::accept(&invitation, &token, csrf, Some(error)))
    };
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, "The form expired. Please try again."));
    }
    if form.password != form.again {
        return Ok(again(StatusCode::BAD_REQUEST, "The two passwords differ."));
    }
    let password = Password::new(form.password);
    match accounts::accept_invitation(&portal.store, &token, &form.name, &password, portal.now())
        .await
    {
        Ok(user) => {
            tracing::info!(user = %user.id, role = %user.role, "joined by invitation");
            signed_in(&portal, &user).await
        }
        Err(AccountError::Invalid(message)) => {
            Ok(again(StatusCode::BAD_REQUEST, &capitalized(&message)))
        }
        Err(AccountError::EmailTaken) => Ok(invitation_gone()),
        Err(e) => Err(e.into()),
    }
}

/// A message from the domain as a sentence.
pub(super) fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct ProfileQuery {
    pub(super) done: Option<String>,
}

pub(super) async fn profile(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Query(query): Query<ProfileQuery>,
) -> Result<Response, UiError> {
    let done = query.done.as_deref().and_then(|d| match d {
        "password" => Some("Your password is changed; other browsers are signed out."),
        "second-factor-off" => Some("Two-step sign-in is off."),
        "name" => Some("Your name is changed."),
        "email" => Some("Your email is changed."),
        _ => None,
    });
    profile_with(&portal, &viewer, StatusCode::OK, None, done).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct PasswordForm {
    pub(super) current: String,
    pub(super) new: String,
    pub(super) again: String,
    pub(super) csrf: String,
}

pub(super) async fn change_password(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    if form.new != form.again {
        let differ = "The two new passwords differ.";
        return profile_with(&portal, &viewer, StatusCode::BAD_REQUEST, Some(differ), None).await;
    }
    let (current, new) = (Password::new(form.current), Password::new(form.new));
    match accounts::change_password(&portal.store, &viewer.user, &current, &new, portal.now()).await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.user.id, "password changed");
            // Every session ended, this one too: a fresh one for the browser that changed it.
            let user = portal.store.user(&viewer.user.id).await?.ok_or(UiError::SignIn)?;
            let mut response = signed_in(&portal, &user).await?;
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/ui/profile?done=password"));
            Ok(response)
        }
        Err(AccountError::Invalid(message)) => {
            let message = capitalized(&message);
            profile_with(&portal, &viewer, StatusCode::BAD_REQUEST, Some(&message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn sign_out_everywhere(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let ended = portal.store.delete_sessions_of(&viewer.user.id).await?;
    let org = viewer.user.org_id.as_deref();
    crate::domain::audit::record(
        &portal.store,
        &viewer.actor(),
        "user.signed_out_everywhere",
        &viewer.user.id,
        org,
        portal.now(),
    )
    .await?;
    tracing::info!(user = %viewer.user.id, ended, "signed out everywhere");
    let mut response = Redirect::to("/ui/signin").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&portal, SESSION_COOKIE, "", Some(0)));
    Ok(response)
}

// --- API keys -------------------------------------------------------------------------------

/// The keys `viewer` may see and revoke: a super-admin all, an org-admin their organization's.
pub(super) async fn visible_keys(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<crate::store::ApiKeyRow>, UiError> {
    Ok(match viewer.role {
        Role::SuperAdmin => portal.store.list_api_keys().await?,
        Role::OrgAdmin => {
            portal.store.api_keys_of(viewer.user.org_id.as_deref().unwrap_or_default()).await?
        }
    })
}

pub(super) async fn api_keys_page(
    portal: &Portal,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<&str>,
    secret: Option<&str>,
) -> Result<Response, UiError> {
    let keys = visible_keys(portal, viewer).await?;
    let now = portal.now().as_unix();
    Ok(html(status, pages::api_keys(&viewer.chrome(), &keys, now, error, secret)))
}

pub(super) async fn api_keys(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    api_keys_page(&portal, &viewer, StatusCode::OK, None, None).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct KeyForm {
    pub(super) label: String,
    pub(super) read: Option<String>,
    pub(super) write: Option<String>,
    pub(super) revoke: Option<String>,
    pub(super) csrf: String,
}

pub(super) async fn create_api_key(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<KeyForm>,
) -> Result<Response, UiError> {
    use crate::domain::apikeys::{self, CreateError, Owner, Scope};
    viewer.check(&headers, &form.csrf)?;
    let scopes: std::collections::BTreeSet<Scope> = [
        (form.read.is_some(), Scope::Read),
        (form.write.is_some(), Scope::Write),
        (form.revoke.is_some(), Scope::Revoke),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.then_some(scope))
    .collect();
    let owner = Owner {
        user_id: Some(viewer.user.id.clone()),
        org_id: match viewer.role {
            Role::SuperAdmin => None,
            Role::OrgAdmin => Some(viewer.user.org_id.clone().ok_or(UiError::NotFound)?),
        },
    };
    match apikeys::create_owned(
        &portal.store,
        &scopes,
        form.label.trim(),
        None,
        owner,
        portal.now(),
    )
    .await
    {
        Ok(key) => {
            tracing::info!(key = %key.row.id, by = %viewer.user.id, scopes = %key.row.scopes, "API key made");
            api_keys_page(&portal, &viewer, StatusCode::OK, None, Some(key.expose())).await
        }
        Err(e @ (CreateError::NoScope | CreateError::NotForOrganizations | CreateError::Label)) => {
            api_keys_page(
                &portal,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
                None,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "making an API key");
            Err(UiError::Internal)
        }
    }
}

pub(super) async fn revoke_api_key(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    if !visible_keys(&portal, &viewer).await?.iter().any(|k| k.id == id) {
        return Err(UiError::NotFound);
    }
    if crate::domain::apikeys::revoke(&portal.store, &viewer.actor(), &id, portal.now()).await? {
        tracing::info!(key = %id, by = %viewer.user.id, "API key revoked");
    }
    Ok(Redirect::to("/ui/api-keys").into_response())
}

// --- managing people ----------------------------------------------------------------------

/// A person the viewer may manage, or "not found".
pub(super) async fn manageable(
    portal: &Portal,
    viewer: &Viewer,
    id: &str,
) -> Result<UserRow, UiError> {
    let target = portal.store.user(id).await?.ok_or(UiError::NotFound)?;
    if accounts::may_manage(&viewer.user, &target) { Ok(target) } else { Err(UiError::NotFound) }
}

pub(super) async fn person_page(
    portal: &Portal,
    viewer: &Viewer,
    target: &UserRow,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let organizations: Vec<crate::store::OrganizationRow> = match viewer.role {
        Role::SuperAdmin => portal.store.organizations("", 1000).await?,
        Role::OrgAdmin => Vec::new(),
    };
    Ok(html(status, pages::person(&viewer.chrome(), target, &organizations, error)))
}

pub(super) async fn person(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let target = manageable(&portal, &viewer, &id).await?;
    person_page(&portal, &viewer, &target, StatusCode::OK, None).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct RoleForm {
    pub(super) role: String,
    pub(super) org: String,
    pub(super) csrf: String,
}

pub(super) async fn change_role(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<RoleForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    viewer.require(Role::SuperAdmin)?;
    let target = manageable(&portal, &viewer, &id).await?;
    let role: Role = match form.role.parse() {
        Ok(role) => role,
        Err(e) => {
            return person_page(
                &portal,
                &viewer,
                &target,
                StatusCode::BAD_REQUEST,
                Some(&e.to_string()),
            )
            .await;
        }
    };
    let org = (!form.org.is_empty()).then_some(form.org.as_str());
    match accounts::change_role(&portal.store, &viewer.user, &target, role, org, portal.now()).await
    {
        Ok(()) => {
            tracing::info!(user = %target.id, role = role.as_str(), by = %viewer.user.id, "role changed");
            Ok(Redirect::to("/ui/users?done=role").into_response())
        }
        Err(e @ (AccountError::Invalid(_) | AccountError::NoSuchOrganization)) => {
            person_page(
                &portal,
                &viewer,
                &target,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
            )
            .await
        }
        Err(AccountError::NoSuchUser) => Err(UiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn confirm_remove(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let target = manageable(&portal, &viewer, &id).await?;
    Ok(html(StatusCode::OK, pages::confirm_remove(&viewer.chrome(), &target)))
}

pub(super) async fn remove(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let target = manageable(&portal, &viewer, &id).await?;
    match accounts::erase(&portal.store, &viewer.user, &target, None, portal.now()).await {
        Ok(()) => {
            tracing::info!(user = %target.id, by = %viewer.user.id, "person removed");
            Ok(Redirect::to("/ui/users?done=removed").into_response())
        }
        Err(AccountError::Invalid(message)) => Err(UiError::Conflict(capitalized(&message))),
        Err(AccountError::NoSuchUser) => Err(UiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

// --- a person's rights over their data ---------------------------------------------------------

pub(super) async fn profile_with(
    portal: &Portal,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<&str>,
    done: Option<&str>,
) -> Result<Response, UiError> {
    let left = match viewer.user.totp_secret {
        Some(_) => Some(portal.store.recovery_codes_left(&viewer.user.id).await?),
        None => None,
    };
    Ok(html(status, pages::profile(&viewer.chrome(), error, done, left)))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct NameForm {
    pub(super) name: String,
    pub(super) csrf: String,
}

pub(super) async fn change_name(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<NameForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    match accounts::normalize_name("name", &form.name) {
        Ok(name) => {
            portal.store.set_name(&viewer.user.id, &name).await?;
            let org = viewer.user.org_id.as_deref();
            crate::domain::audit::record(
                &portal.store,
                &viewer.actor(),
                "user.name_changed",
                &viewer.user.id,
                org,
                portal.now(),
            )
            .await?;
            Ok(Redirect::to("/ui/profile?done=name").into_response())
        }
        Err(e) => {
            profile_with(
                &portal,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
                None,
            )
            .await
        }
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct EmailForm {
    pub(super) email: String,
    pub(super) csrf: String,
}

pub(super) async fn change_email(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<EmailForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    match accounts::request_email_change(&portal.store, &viewer.user, &form.email, portal.now())
        .await
    {
        Ok((email, token)) => {
            let path = format!("/ui/email/{}", token.expose());
            let link = match &portal.mailer {
                Some(mailer) => mailer.link(&path),
                None => format!("{}{path}", public_base(&portal, &headers)),
            };
            let message = match &portal.mailer {
                Some(mailer) => {
                    let text = format!(
                        "Someone signed in as {} on the Tessera license portal asked to use this address instead.\n\n\
                         Open this link within a day to confirm it:\n\n{link}\n\nIf it was not you, ignore this email.\n",
                        viewer.user.name
                    );
                    match mailer
                        .send(&email, "Confirm your new email for the Tessera license portal", text)
                        .await
                    {
                        Ok(()) => format!(
                            "A link to confirm it went to {email}. Your email changes when it is opened (within a day)."
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "email-change link not sent");
                            format!(
                                "The email to {email} could not be sent ({e}); open this link from that mailbox's owner within a day: {link}"
                            )
                        }
                    }
                }
                None => format!(
                    "Open this link within a day to confirm {email} (no mail relay is configured, so it is shown here, once): {link}"
                ),
            };
            profile_with(&portal, &viewer, StatusCode::OK, None, Some(&message)).await
        }
        Err(e @ (AccountError::Invalid(_) | AccountError::EmailTaken)) => {
            profile_with(
                &portal,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The address people reach the portal at, for a link shown on the page to the person who
/// asked for it: `public_url`, or what their browser asked for. (An emailed link never
/// uses the request: see [`crate::mail::Mailer::link`].)
pub(super) fn public_base(portal: &Portal, headers: &HeaderMap) -> String {
    match &portal.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host =
                headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if portal.settings.secure_cookies { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    }
}

pub(super) async fn email_page(
    State(portal): State<Arc<Portal>>,
    Path(token): Path<String>,
) -> Response {
    open_form(&portal, StatusCode::OK, |csrf| pages::confirm_email(&token, csrf, None))
}

pub(super) async fn confirm_email(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(open_form(&portal, StatusCode::FORBIDDEN, |csrf| {
            pages::confirm_email(&token, csrf, Some("The form expired. Please try again."))
        }));
    }
    match accounts::confirm_email_change(&portal.store, &token, portal.now()).await {
        Ok(_) => Ok(html(
            StatusCode::OK,
            pages::message_ok(
                "Email changed",
                "Your new email is confirmed: sign in with it from now on.",
            ),
        )),
        Err(e @ (AccountError::Invalid(_) | AccountError::EmailTaken)) => Ok(html(
            StatusCode::NOT_FOUND,
            pages::message("Email", None, &capitalized(&e.to_string())),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn export_self(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let data = accounts::export_person(&portal.store, &viewer.user).await?;
    Ok(json_download("my-data.json", &data))
}

pub(super) async fn confirm_delete_self(viewer: Viewer) -> Response {
    html(StatusCode::OK, pages::confirm_delete_self(&viewer.chrome(), None))
}

pub(super) async fn delete_self(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<OffForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let password = Password::new(form.password);
    match accounts::erase(&portal.store, &viewer.user, &viewer.user, Some(&password), portal.now())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.user.id, "deleted their own account");
            let mut response = html(
                StatusCode::OK,
                pages::message_ok(
                    "Account deleted",
                    "Your account and everything that named you are deleted.",
                ),
            );
            for name in [SESSION_COOKIE, DEVICE_COOKIE] {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, set_cookie(&portal, name, "", Some(0)));
            }
            Ok(response)
        }
        Err(AccountError::Invalid(message)) => Ok(html(
            StatusCode::BAD_REQUEST,
            pages::confirm_delete_self(&viewer.chrome(), Some(&capitalized(&message))),
        )),
        Err(e) => Err(e.into()),
    }
}

/// An org-admin's download of their organization's licenses, bindings and monthly usage.
pub(super) async fn export_organization(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let org = viewer.user.org_id.clone().ok_or(UiError::NotFound)?;
    let body = accounts::export_organization(&portal.store, &org, portal.now()).await?;
    Ok(json_download("organization.json", &body))
}

pub(super) async fn confirm_erase_people(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    viewer.require(Role::SuperAdmin)?;
    let org = portal.store.organization(&id).await?.ok_or(UiError::NotFound)?;
    let people = portal.store.users_of(&id).await?;
    Ok(html(StatusCode::OK, pages::confirm_erase_people(&viewer.chrome(), &org, people.len())))
}

/// A super-admin erases every person of an organization (its licenses stay).
pub(super) async fn erase_people(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    viewer.require(Role::SuperAdmin)?;
    portal.store.organization(&id).await?.ok_or(UiError::NotFound)?;
    let people = portal.store.users_of(&id).await?;
    for person in &people {
        accounts::erase(&portal.store, &viewer.user, person, None, portal.now()).await?;
    }
    tracing::info!(org = %id, erased = people.len(), by = %viewer.user.id, "organization's people erased");
    Ok(Redirect::to("/ui/organizations?done=erased").into_response())
}
