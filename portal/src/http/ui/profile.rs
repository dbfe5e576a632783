//! One's own profile: name, email, password, sessions, and one's rights over one's data
//! (export, rectification, erasure).

use super::*;

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
}

pub(super) async fn change_password(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<PasswordForm>,
) -> Result<Response, UiError> {
    if form.new != form.again {
        let differ = "The two new passwords differ.";
        return profile_with(&portal, &viewer, StatusCode::BAD_REQUEST, Some(differ), None).await;
    }
    let (current, new) = (Password::new(form.current), Password::new(form.new));
    match accounts::change_password(portal.records(), &viewer.user, &current, &new, portal.now())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.user.id, "password changed");
            // Every session ended, this one too: a fresh one for the browser that changed it.
            let user = accounts::person(portal.records(), &viewer.user.id)
                .await?
                .ok_or(UiError::SignIn)?;
            let mut response = signed_in(&portal, &user).await?;
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/ui/profile?done=password"));
            Ok(response)
        }
        Err(AccountError::Invalid(message)) => profile_refused(&portal, &viewer, &message).await,
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn sign_out_everywhere(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    let ended = accounts::end_every_session(portal.records(), &viewer.user, portal.now()).await?;
    tracing::info!(user = %viewer.user.id, ended, "signed out everywhere");
    let mut response = Redirect::to("/ui/signin").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&portal, SESSION_COOKIE, "", Some(0)));
    Ok(response)
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
        Some(_) => Some(accounts::recovery_codes_left(portal.records(), &viewer.user).await?),
        None => None,
    };
    Ok(html(status, pages::profile(&viewer.chrome(), error, done, left)))
}

/// The profile page again, saying why the change asked for was not made.
async fn profile_refused(portal: &Portal, viewer: &Viewer, why: &str) -> Result<Response, UiError> {
    profile_with(portal, viewer, StatusCode::BAD_REQUEST, Some(&capitalized(why)), None).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct NameForm {
    pub(super) name: String,
}

pub(super) async fn change_name(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<NameForm>,
) -> Result<Response, UiError> {
    match accounts::change_name(portal.records(), &viewer.user, &form.name, portal.now()).await {
        Ok(()) => Ok(Redirect::to("/ui/profile?done=name").into_response()),
        Err(e @ AccountError::Invalid(_)) => {
            profile_refused(&portal, &viewer, &e.to_string()).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct EmailForm {
    pub(super) email: String,
}

pub(super) async fn change_email(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Posted { viewer, form }: Posted<EmailForm>,
) -> Result<Response, UiError> {
    match accounts::request_email_change(portal.records(), &viewer.user, &form.email, portal.now())
        .await
    {
        Ok((email, asked)) => {
            let (token, taken) = match &asked {
                accounts::EmailChangeAsked::Link(token) => (token, false),
                accounts::EmailChangeAsked::Taken(token) => (token, true),
            };
            let path = format!("/ui/email/{}", token.expose());
            let link = match &portal.mailer {
                Some(mailer) => mailer.link(&path),
                None => format!("{}{path}", public_base(&portal, &headers)),
            };
            let message = match &portal.mailer {
                Some(mailer) => {
                    let subject = if taken {
                        "Your Tessera license portal account"
                    } else {
                        "Confirm your new email for the Tessera license portal"
                    };
                    let text = if taken {
                        crate::mail::address_taken_text(
                            &viewer.user.name,
                            &mailer.link("/ui/signin"),
                            &mailer.link("/ui/forgot"),
                        )
                    } else {
                        format!(
                            "Someone signed in as {} on the Tessera license portal asked to use this address instead.\n\n\
                             Open this link within a day to confirm it:\n\n{link}\n\nIf it was not you, ignore this email.\n",
                            viewer.user.name
                        )
                    };
                    match mailer.send(&email, subject, text).await {
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
            profile_refused(&portal, &viewer, &e.to_string()).await
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
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(open_form(&portal, StatusCode::FORBIDDEN, |csrf| {
            pages::confirm_email(&token, csrf, Some("The form expired. Please try again."))
        }));
    }
    match accounts::confirm_email_change(portal.records(), &token, portal.now()).await {
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
    let data = accounts::export_person(portal.records(), &viewer.user).await?;
    Ok(json_download("my-data.json", &data))
}

pub(super) async fn confirm_delete_self(viewer: Viewer) -> Response {
    html(StatusCode::OK, pages::confirm_delete_self(&viewer.chrome(), None))
}

pub(super) async fn delete_self(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<OffForm>,
) -> Result<Response, UiError> {
    let password = Password::new(form.password);
    match accounts::erase(
        portal.records(),
        &viewer.user,
        &viewer.user,
        Some(&password),
        portal.now(),
    )
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
