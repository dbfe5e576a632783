//! Where a person signs in: the password, the second step (TOTP or a recovery code) and
//! setting up the second factor; signing out.

use super::*;

// --- signing in and out -----------------------------------------------------------------

/// A page with a form for someone not signed in (sign-in, accepting an invitation): its
/// form token is also set in a cookie of its own, and the two must match when it comes back.
pub(super) fn open_form(
    portal: &Portal,
    status: StatusCode,
    page: impl FnOnce(&str) -> Markup,
) -> Response {
    let token = match accounts::random_id() {
        Ok(token) => token,
        Err(_) => return UiError::Internal.into_response(),
    };
    let mut response = html(status, page(&token));
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(portal, SIGNIN_COOKIE, &token, Some(3600)));
    response
}

/// Whether an open form's token matches its cookie.
pub(super) fn open_form_token_ok(headers: &HeaderMap, token: &str) -> bool {
    let expected = cookie(headers, SIGNIN_COOKIE).unwrap_or_default();
    !expected.is_empty() && accounts::same_tag(token, expected)
}

/// The sign-in form.
pub(super) fn sign_in_form(
    portal: &Portal,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
) -> Response {
    open_form(portal, status, |token| pages::sign_in(error, email, token))
}

/// A session for `user` just signed in (or who just joined): the session and device cookies.
pub(super) async fn signed_in(portal: &Portal, user: &UserRow) -> Result<Response, UiError> {
    let token = accounts::start_session(portal.records(), user, portal.now()).await?;
    tracing::info!(user = %user.id, "signed in");
    let mut response = Redirect::to("/ui").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(portal, SESSION_COOKIE, token.expose(), None));
    let device = accounts::device_token(portal.ui_secret(), user);
    headers
        .append(header::SET_COOKIE, set_cookie(portal, DEVICE_COOKIE, &device, Some(180 * 86_400)));
    headers.append(header::SET_COOKIE, set_cookie(portal, SIGNIN_COOKIE, "", Some(0)));
    Ok(response)
}

pub(super) async fn sign_in_page(State(portal): State<Arc<Portal>>) -> Response {
    sign_in_form(&portal, StatusCode::OK, None, "")
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SignInForm {
    pub(super) email: String,
    pub(super) password: String,
    pub(super) csrf: String,
}

pub(super) async fn sign_in(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    form: Result<axum::Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    let Ok(axum::Form(form)) = form else {
        return Ok(sign_in_form(
            &portal,
            StatusCode::BAD_REQUEST,
            Some("Give an email and a password."),
            "",
        ));
    };
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(sign_in_form(
            &portal,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired. Please try again."),
            &form.email,
        ));
    }
    let device = cookie(&headers, DEVICE_COOKIE).unwrap_or_default().to_owned();
    let secret = portal.ui_secret().to_vec();
    let trusted = move |user: &UserRow| {
        !device.is_empty() && accounts::same_tag(&device, &accounts::device_token(&secret, user))
    };
    let password = Password::new(form.password);
    let outcome = accounts::sign_in(
        portal.records(),
        portal.ui_secret(),
        &form.email,
        &password,
        &trusted,
        portal.now(),
    )
    .await?;
    let user = match outcome {
        SignIn::Welcome(user) if user.totp_secret.is_some() => {
            let pending = accounts::pending_sign_in(portal.ui_secret(), &user, portal.now());
            let mut response = Redirect::to("/ui/signin/code").into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&portal, SECOND_STEP_COOKIE, &pending, Some(300)),
            );
            return Ok(response);
        }
        SignIn::Welcome(user) => user,
        // One answer for a wrong password, an unknown address and an account held after
        // failures (the domain answers all three `Refused`): no way to learn who has one.
        SignIn::Refused | SignIn::Wait(_) => {
            return Ok(sign_in_form(
                &portal,
                StatusCode::UNAUTHORIZED,
                Some(
                    "Wrong email or password. (After repeated failures an account waits \
                     before it is checked again, up to 15 minutes.)",
                ),
                &form.email,
            ));
        }
    };
    signed_in(&portal, &user).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct TokenForm {
    pub(super) csrf: String,
}

pub(super) async fn sign_out(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Posted { .. }: Posted<Button>,
) -> Result<Response, UiError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        accounts::end_session(portal.records(), token).await?;
    }
    let mut response = Redirect::to("/ui/signin").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&portal, SESSION_COOKIE, "", Some(0)));
    Ok(response)
}

// --- the second factor --------------------------------------------------------------------

pub(super) fn code_form(portal: &Portal, status: StatusCode, error: Option<&str>) -> Response {
    open_form(portal, status, |token| pages::second_step(error, token))
}

pub(super) async fn code_page(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let pending = cookie(&headers, SECOND_STEP_COOKIE).unwrap_or_default();
    if accounts::pending_user(portal.records(), portal.ui_secret(), pending, portal.now())
        .await?
        .is_none()
    {
        return Ok(Redirect::to("/ui/signin").into_response());
    }
    Ok(code_form(&portal, StatusCode::OK, None))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct CodeForm {
    pub(super) code: String,
    pub(super) csrf: String,
}

pub(super) async fn code(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CodeForm>,
) -> Result<Response, UiError> {
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    let pending = cookie(&headers, SECOND_STEP_COOKIE).unwrap_or_default();
    let Some(user) =
        accounts::pending_user(portal.records(), portal.ui_secret(), pending, portal.now()).await?
    else {
        return Ok(sign_in_form(
            &portal,
            StatusCode::UNAUTHORIZED,
            Some("That took too long: sign in again."),
            "",
        ));
    };
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(code_form(
            &portal,
            StatusCode::FORBIDDEN,
            Some("The form expired. Please try again."),
        ));
    }
    let device = cookie(&headers, DEVICE_COOKIE).unwrap_or_default();
    let trusted = !device.is_empty()
        && accounts::same_tag(device, &accounts::device_token(portal.ui_secret(), &user));
    match accounts::second_step(portal.records(), &user, &form.code, trusted, portal.now()).await? {
        SignIn::Welcome(user) => {
            let mut response = signed_in(&portal, &user).await?;
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&portal, SECOND_STEP_COOKIE, "", Some(0)));
            Ok(response)
        }
        SignIn::Refused => Ok(code_form(
            &portal,
            StatusCode::UNAUTHORIZED,
            Some("That code is not right, or was used already."),
        )),
        SignIn::Wait(secs) => Ok(code_form(
            &portal,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed attempts for this account: try again in {secs} seconds."
            )),
        )),
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct EnrolForm {
    pub(super) secret: String,
    pub(super) tag: String,
    pub(super) code: String,
}

pub(super) fn enrol_view(
    portal: &Portal,
    viewer: &Viewer,
    secret: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let tag = accounts::enrolment_tag(portal.ui_secret(), &viewer.user, secret);
    let uri = crate::domain::totp::otpauth_uri(secret, &viewer.user.email);
    let required =
        portal.settings.require_second_factor_for_super_admins && viewer.role == Role::SuperAdmin;
    html(status, pages::enrol(&viewer.chrome(), secret, &tag, &uri, required, error))
}

pub(super) async fn enrol_page(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    if viewer.user.totp_secret.is_some() {
        return Ok(Redirect::to("/ui/profile").into_response());
    }
    let secret = crate::domain::totp::new_secret().map_err(|_| UiError::Internal)?;
    Ok(enrol_view(&portal, &viewer, &secret, StatusCode::OK, None))
}

pub(super) async fn enrol(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<EnrolForm>,
) -> Result<Response, UiError> {
    let expected = accounts::enrolment_tag(portal.ui_secret(), &viewer.user, &form.secret);
    if viewer.user.totp_secret.is_some() || !accounts::same_tag(&form.tag, &expected) {
        return Err(UiError::Forbidden("This form has expired. Open the set-up page again."));
    }
    match accounts::enable_second_factor(
        portal.records(),
        &viewer.user,
        &form.secret,
        &form.code,
        portal.now(),
    )
    .await
    {
        Ok(codes) => {
            tracing::info!(user = %viewer.user.id, "second factor turned on");
            Ok(html(StatusCode::OK, pages::recovery_codes(&viewer.chrome(), &codes)))
        }
        Err(AccountError::Invalid(message)) => Ok(enrol_view(
            &portal,
            &viewer,
            &form.secret,
            StatusCode::BAD_REQUEST,
            Some(&capitalized(&message)),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct OffForm {
    pub(super) password: String,
}

pub(super) async fn second_factor_off(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<OffForm>,
) -> Result<Response, UiError> {
    if viewer.role == Role::SuperAdmin && portal.settings.require_second_factor_for_super_admins {
        return Err(UiError::Conflict(
            "This portal requires a second factor for super-admins.".to_owned(),
        ));
    }
    let password = Password::new(form.password);
    match accounts::disable_second_factor(portal.records(), &viewer.user, &password, portal.now())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.user.id, "second factor turned off");
            Ok(Redirect::to("/ui/profile?done=second-factor-off").into_response())
        }
        Err(AccountError::Invalid(message)) => {
            let message = capitalized(&message);
            profile_with(&portal, &viewer, StatusCode::BAD_REQUEST, Some(&message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

// --- a forgotten password -------------------------------------------------------------------

/// The one answer to a forgotten-password request, whoever's address it is.
const RESET_SENT: &str = "If an account has this email, a link to choose a new password is on its way to it. The link works once, for 30 minutes.";

/// Said instead when the portal has no mail relay.
const RESET_OFF: &str = "This portal cannot send email, so a forgotten password is reset by its administrators: ask one of them.";

pub(super) async fn forgot_page(State(portal): State<Arc<Portal>>) -> Response {
    let (status, error) = match portal.mailer {
        Some(_) => (StatusCode::OK, None),
        None => (StatusCode::SERVICE_UNAVAILABLE, Some(RESET_OFF)),
    };
    open_form(&portal, status, |csrf| pages::forgot(csrf, error, None))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ForgotForm {
    pub(super) email: String,
    pub(super) csrf: String,
}

/// Asks for a reset link. The answer is the same sentence for every address, at once: the
/// look-up, the stored token and the email happen afterwards, off the request's path.
pub(super) async fn forgot(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ForgotForm>,
) -> Result<Response, UiError> {
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    let again = |status: StatusCode, error: &str| {
        open_form(&portal, status, |csrf| pages::forgot(csrf, Some(error), None))
    };
    if portal.mailer.is_none() {
        return Ok(again(StatusCode::SERVICE_UNAVAILABLE, RESET_OFF));
    }
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, "The form expired. Please try again."));
    }
    let address = form.email.trim().to_lowercase();
    if address.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, "Give the email you sign in with."));
    }
    if let Err(limited) = portal.limits.password_reset(&address) {
        let minutes = limited.retry_after_secs.div_ceil(60);
        let error =
            format!("Too many requests for a new password: try again in {minutes} minutes.");
        return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, &error), limited));
    }
    let background = portal.clone();
    tokio::spawn(async move { send_reset_link(&background, &address).await });
    Ok(open_form(&portal, StatusCode::OK, |csrf| pages::forgot(csrf, None, Some(RESET_SENT))))
}

/// Stores a reset token for the address's person, if any, and emails them the link.
async fn send_reset_link(portal: &Portal, address: &str) {
    let Some(mailer) = &portal.mailer else { return };
    match accounts::request_password_reset(portal.records(), address, portal.now()).await {
        Ok(Some((user, token))) => {
            let link = mailer.link(&format!("/ui/reset/{}", token.expose()));
            let text = crate::mail::password_reset_text(&user.name, &link);
            match mailer.send(&user.email, "Reset your Tessera license portal password", text).await
            {
                Ok(()) => tracing::info!(user = %user.id, "password reset link sent"),
                Err(e) => {
                    tracing::warn!(user = %user.id, error = %e, "password reset link not sent")
                }
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "password reset request failed"),
    }
}

/// A 429 answer that says when to try again (`Retry-After`).
fn retry_after(mut response: Response, limited: crate::limits::Limited) -> Response {
    if let Ok(value) = HeaderValue::from_str(&limited.retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn reset_gone() -> Response {
    html(StatusCode::NOT_FOUND, pages::reset_gone())
}

pub(super) async fn reset_page(
    State(portal): State<Arc<Portal>>,
    Path(token): Path<String>,
) -> Result<Response, UiError> {
    let Some(user) = accounts::password_reset_user(portal.records(), &token, portal.now()).await?
    else {
        return Ok(reset_gone());
    };
    Ok(open_form(&portal, StatusCode::OK, |csrf| pages::reset(&user.email, &token, csrf, None)))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ResetForm {
    pub(super) new: String,
    pub(super) again: String,
    pub(super) csrf: String,
}

/// Sets the new password by the link (once): the person's sessions end, and they sign in.
pub(super) async fn reset(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<ResetForm>,
) -> Result<Response, UiError> {
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    // Counted before the link is looked up: guessing links is limited as much as
    // hammering one.
    if let Err(limited) = portal.limits.reset_try(&token) {
        let minutes = limited.retry_after_secs.div_ceil(60);
        let text = format!(
            "Too many tries to set a new password with this link: try again in {minutes} minutes."
        );
        let page = pages::message("Too many tries", None, &text);
        return Ok(retry_after(html(StatusCode::TOO_MANY_REQUESTS, page), limited));
    }
    let Some(user) = accounts::password_reset_user(portal.records(), &token, portal.now()).await?
    else {
        return Ok(reset_gone());
    };
    let again = |status: StatusCode, error: &str| {
        open_form(&portal, status, |csrf| pages::reset(&user.email, &token, csrf, Some(error)))
    };
    if !open_form_token_ok(&headers, &form.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, "The form expired. Please try again."));
    }
    if form.new != form.again {
        return Ok(again(StatusCode::BAD_REQUEST, "The two passwords differ."));
    }
    let new = Password::new(form.new);
    match accounts::reset_password(portal.records(), &token, &new, portal.now()).await {
        Ok(user) => {
            tracing::info!(user = %user.id, "password reset by email link");
            let mut response = html(
                StatusCode::OK,
                pages::message_ok(
                    "Password changed",
                    "Your password is changed and every session of yours has ended. Sign in with the new password.",
                ),
            );
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&portal, SIGNIN_COOKIE, "", Some(0)));
            Ok(response)
        }
        Err(AccountError::Invalid(message)) => {
            Ok(again(StatusCode::BAD_REQUEST, &capitalized(&message)))
        }
        Err(e) => Err(e.into()),
    }
}
