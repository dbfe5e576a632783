//! The web pages: where a person signs in (`sign_in`) and what vendor staff and customer
//! org-admins see. Server-rendered HTML (maud), one stylesheet, no JavaScript.
//!
//! - Sessions ride in an `HttpOnly; SameSite=Strict` cookie (`Secure` when the portal is
//!   reached over https); the person behind it is found by the [`Viewer`] extractor, which
//!   sends anyone without a live session to the sign-in page.
//! - Every state-changing form carries a token tied to the session (the sign-in form: to a
//!   cookie of its own), and a cross-site `Origin` or `Sec-Fetch-Site` is refused outright.
//! - An org-admin sees their own organization's licenses only: every query is filtered by
//!   it and a license of another organization is "not found".

mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;

use crate::app::Portal;
use crate::domain::accounts::{self, AccountError, Password, Role, SignIn};
use crate::domain::actions::{self, Action, ActionError, Done};
use crate::domain::standing::license_status;
use crate::store::{LicenseFilter, Standing, StoreError, UserRow};
use pages::{Chrome, ListForm};

const SESSION_COOKIE: &str = "tessera_session";
const DEVICE_COOKIE: &str = "tessera_device";
const SIGNIN_COOKIE: &str = "tessera_signin";
const SECOND_STEP_COOKIE: &str = "tessera_second_step";
/// The most an upload of license files may hold (the batch API's own limit).
const UPLOAD_BYTES: usize = 4 * 1024 * 1024;
/// How long the staff dashboard's figures are reused.
const DASHBOARD_SECS: i64 = 60;
/// Licenses on one page of the list.
const PAGE: u32 = 50;

/// The web pages' routes.
pub fn router() -> Router<Arc<Portal>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(dashboard))
        .route("/ui/style.css", get(stylesheet))
        .route("/ui/signin", get(sign_in_page).post(sign_in))
        .route("/ui/signout", axum::routing::post(sign_out))
        .route("/ui/signin/code", get(code_page).post(code))
        .route("/ui/licenses", get(licenses))
        .route("/ui/licenses/find", axum::routing::post(find))
        .route("/ui/licenses/{id}", get(license))
        .route("/ui/licenses/{id}/confirm/{action}", get(confirm))
        .route("/ui/licenses/{id}/{action}", axum::routing::post(act))
        .route("/ui/organizations", get(organizations).post(create_organization))
        .route("/ui/usage.csv", get(usage_csv))
        .route(
            "/ui/register",
            get(register_page)
                .post(register)
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BYTES)),
        )
        .route("/ui/users", get(users))
        .route("/ui/users/invite", axum::routing::post(invite))
        .route("/ui/users/{id}", get(person))
        .route("/ui/users/{id}/role", axum::routing::post(change_role))
        .route("/ui/users/{id}/remove", get(confirm_remove).post(remove))
        .route("/ui/licenses/{id}/assign", axum::routing::post(assign))
        .route("/ui/invite/{token}", get(accept_page).post(accept))
        .route("/ui/audit", get(audit))
        .route("/ui/api-keys", get(api_keys).post(create_api_key))
        .route("/ui/api-keys/{id}/revoke", axum::routing::post(revoke_api_key))
        .route("/ui/profile", get(profile))
        .route("/ui/profile/password", axum::routing::post(change_password))
        .route("/ui/profile/name", axum::routing::post(change_name))
        .route("/ui/profile/email", axum::routing::post(change_email))
        .route("/ui/profile/export.json", get(export_self))
        .route("/ui/profile/delete", get(confirm_delete_self).post(delete_self))
        .route("/ui/email/{token}", get(email_page).post(confirm_email))
        .route("/ui/organization/export.json", get(export_organization))
        .route("/ui/organizations/{id}/erase-people", get(confirm_erase_people).post(erase_people))
        .route("/ui/profile/signout-everywhere", axum::routing::post(sign_out_everywhere))
        .route("/ui/profile/second-factor", get(enrol_page).post(enrol))
        .route("/ui/profile/second-factor/off", axum::routing::post(second_factor_off))
}

/// The security headers of every answer (pages and API alike).
pub fn security_headers(headers: &mut HeaderMap, https: bool) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    if https {
        set(headers, "strict-transport-security", "max-age=31536000");
    }
}

/// An answer that is a page: HTML, never cached.
fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        markup.into_string(),
    )
        .into_response()
}

/// What went wrong, as a page.
#[derive(Debug)]
pub enum UiError {
    /// No live session: to the sign-in page.
    SignIn,
    /// A super-admin without the second factor the portal requires: to its set-up page.
    Enrol,
    /// A form without its token, or from another site.
    Forbidden(&'static str),
    NotFound,
    Conflict(String),
    Internal,
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error on a page");
        UiError::Internal
    }
}

impl From<AccountError> for UiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "account error on a page");
                UiError::Internal
            }
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            UiError::SignIn => return Redirect::to("/ui/signin").into_response(),
            UiError::Enrol => return Redirect::to("/ui/profile/second-factor").into_response(),
            UiError::Forbidden(why) => (StatusCode::FORBIDDEN, "Refused", why.to_owned()),
            UiError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page or license, or it is not yours to see.".to_owned(),
            ),
            UiError::Conflict(why) => (StatusCode::CONFLICT, "Not done", why),
            UiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The portal could not answer; its log says why. Nothing was changed.".to_owned(),
            ),
        };
        html(status, pages::message(title, None, &text))
    }
}

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(portal: &Portal, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if portal.settings.secure_cookies { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Refuses a state-changing request sent from another site (before any token is checked).
fn same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site") {
        return Err(UiError::Forbidden("This form was sent from another site."));
    }
    if let (Some(origin), Some(host)) = (header("origin"), header("host")) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin != "null" && origin_host != host {
            return Err(UiError::Forbidden("This form was sent from another site."));
        }
    }
    Ok(())
}

/// The signed-in person of a request.
pub struct Viewer {
    pub user: UserRow,
    pub role: Role,
    /// The form token of this session.
    pub csrf: String,
}

impl Viewer {
    /// The person as the audit ledger names them.
    fn actor(&self) -> crate::domain::audit::Actor {
        crate::domain::audit::Actor::Person(self.user.id.clone())
    }

    fn chrome(&self) -> Chrome<'_> {
        Chrome { user: &self.user, role: self.role, csrf: &self.csrf }
    }

    /// The licenses this person may see: an org-admin's organization only.
    fn scope(&self) -> LicenseFilter {
        LicenseFilter {
            organization: match self.role {
                Role::SuperAdmin => None,
                // An org-admin without an organization sees nothing.
                Role::OrgAdmin => Some(self.user.org_id.clone().unwrap_or_default()),
            },
            ..LicenseFilter::default()
        }
    }

    /// Checks a form's token.
    fn check(&self, headers: &HeaderMap, token: &str) -> Result<(), UiError> {
        same_origin(headers)?;
        if accounts::same_tag(token, &self.csrf) {
            Ok(())
        } else {
            Err(UiError::Forbidden(
                "This form has expired or did not come from this portal. Go back, reload the page and try again.",
            ))
        }
    }

    fn require(&self, role: Role) -> Result<(), UiError> {
        if self.role == role { Ok(()) } else { Err(UiError::NotFound) }
    }
}

impl FromRequestParts<Arc<Portal>> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, portal: &Arc<Portal>) -> Result<Self, UiError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
        let user =
            accounts::session_user(&portal.store, token, portal.settings.sessions, portal.now())
                .await?
                .ok_or(UiError::SignIn)?;
        let role: Role = user.role.parse().map_err(|_| {
            tracing::error!(user = %user.id, "stored role is unknown");
            UiError::Internal
        })?;
        let csrf = accounts::csrf_token(portal.ui_secret(), token);
        // A required second factor comes first: until it is on, only its set-up page, the
        // profile and signing out answer.
        let must_enrol = role == Role::SuperAdmin
            && portal.settings.require_second_factor_for_super_admins
            && user.totp_secret.is_none();
        let allowed = ["/ui/profile", "/ui/profile/second-factor", "/ui/signout"];
        if must_enrol && !allowed.contains(&parts.uri.path()) {
            return Err(UiError::Enrol);
        }
        Ok(Viewer { user, role, csrf })
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("style.css"),
    )
        .into_response()
}

// --- signing in and out -----------------------------------------------------------------

/// A page with a form for someone not signed in (sign-in, accepting an invitation): its
/// form token is also set in a cookie of its own, and the two must match when it comes back.
fn open_form(portal: &Portal, status: StatusCode, page: impl FnOnce(&str) -> Markup) -> Response {
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
fn open_form_token_ok(headers: &HeaderMap, token: &str) -> bool {
    let expected = cookie(headers, SIGNIN_COOKIE).unwrap_or_default();
    !expected.is_empty() && accounts::same_tag(token, expected)
}

/// The sign-in form.
fn sign_in_form(portal: &Portal, status: StatusCode, error: Option<&str>, email: &str) -> Response {
    open_form(portal, status, |token| pages::sign_in(error, email, token))
}

/// A session for `user` just signed in (or who just joined): the session and device cookies.
async fn signed_in(portal: &Portal, user: &UserRow) -> Result<Response, UiError> {
    let token = accounts::start_session(&portal.store, user, portal.now()).await?;
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

async fn sign_in_page(State(portal): State<Arc<Portal>>) -> Response {
    sign_in_form(&portal, StatusCode::OK, None, "")
}

#[derive(serde::Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    form: Result<axum::Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
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
    let outcome =
        accounts::sign_in(&portal.store, &form.email, &password, &trusted, portal.now()).await?;
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
        SignIn::Refused => {
            return Ok(sign_in_form(
                &portal,
                StatusCode::UNAUTHORIZED,
                Some("Wrong email or password."),
                &form.email,
            ));
        }
        SignIn::Wait(secs) => {
            return Ok(sign_in_form(
                &portal,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed attempts for this account: try again in {secs} seconds."
                )),
                &form.email,
            ));
        }
    };
    signed_in(&portal, &user).await
}

#[derive(serde::Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        accounts::end_session(&portal.store, token).await?;
    }
    let mut response = Redirect::to("/ui/signin").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&portal, SESSION_COOKIE, "", Some(0)));
    Ok(response)
}

// --- pages ------------------------------------------------------------------------------

async fn dashboard(viewer: Viewer, State(portal): State<Arc<Portal>>) -> Result<Response, UiError> {
    let now = portal.now();
    let (counts, counted_at) = match viewer.role {
        // Every license: counted at most once a minute (the lock makes a crowd wait for one
        // count rather than each run its own).
        Role::SuperAdmin => {
            let mut cached = portal.dashboard.lock().await;
            match *cached {
                Some((at, counts)) if now.as_unix() - at.as_unix() < DASHBOARD_SECS => {
                    (counts, Some(at))
                }
                _ => {
                    let counts =
                        portal.store.license_counts(&viewer.scope(), 30 * 86_400, now).await?;
                    *cached = Some((now, counts));
                    (counts, Some(now))
                }
            }
        }
        // An organization's licenses: an index walk, always fresh.
        Role::OrgAdmin => {
            (portal.store.license_counts(&viewer.scope(), 30 * 86_400, now).await?, None)
        }
    };
    let scope = match (viewer.role, &viewer.user.org_id) {
        (Role::SuperAdmin, _) => "Every registered license.".to_owned(),
        (Role::OrgAdmin, Some(org)) => match portal.store.organization(org).await? {
            Some(org) => format!("The licenses of {}.", org.name),
            None => "Your organization's licenses.".to_owned(),
        },
        (Role::OrgAdmin, None) => "You belong to no organization yet.".to_owned(),
    };
    let scope = match counted_at {
        Some(at) => format!(
            "{scope} Counted at {} UTC.",
            at.to_rfc3339().replace('T', " ").trim_end_matches('Z')
        ),
        None => scope,
    };
    Ok(html(StatusCode::OK, pages::dashboard(&viewer.chrome(), &scope, &counts)))
}

async fn licenses(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::NotFound)?;
    let filter = list_filter(&viewer, &form)?;
    let given = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let after = given(&form.after)
        .filter(|a| a.len() <= 64 && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    let now = portal.now();
    let page = portal.store.license_page(&filter, after.as_deref(), PAGE + 1, now).await?;
    let more = page.len() > PAGE as usize;
    let rows: Vec<_> = page
        .into_iter()
        .take(PAGE as usize)
        .map(|row| {
            let status = license_status(&row.license, now);
            (row, status)
        })
        .collect();
    let next = if more { rows.last().map(|(r, _)| r.license.id.clone()) } else { None };
    Ok(html(StatusCode::OK, pages::licenses(&viewer.chrome(), &form, &rows, next.as_deref(), None)))
}

/// The filters of the list form, within what the viewer may see.
fn list_filter(viewer: &Viewer, form: &ListForm) -> Result<LicenseFilter, UiError> {
    let mut filter = viewer.scope();
    let given = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    filter.org = given(&form.org);
    filter.product = given(&form.product);
    filter.standing = Standing::ALL.into_iter().find(|s| s.status().as_str() == form.standing);
    filter.activated = match form.activated.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    if [&filter.org, &filter.product]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.chars().any(char::is_control)))
    {
        return Err(UiError::NotFound);
    }
    Ok(filter)
}

/// `GET /ui/usage.csv`: the monthly validations of the listed licenses, streamed.
async fn usage_csv(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::NotFound)?;
    let filter = list_filter(&viewer, &form)?;
    let mut response = super::admin_api::usage_csv(portal, filter);
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"usage.csv\""),
    );
    Ok(response)
}

/// A license the viewer may see, or "not found".
async fn visible_license(
    portal: &Portal,
    viewer: &Viewer,
    id: &str,
) -> Result<crate::store::LicenseRow, UiError> {
    let license = portal.store.license(id).await?.ok_or(UiError::NotFound)?;
    if viewer.role == Role::OrgAdmin {
        let owner = portal.store.license_organization(id).await?;
        if owner.is_none() || owner != viewer.user.org_id {
            return Err(UiError::NotFound);
        }
    }
    Ok(license)
}

#[derive(serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn license(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    let license = visible_license(&portal, &viewer, &id).await?;
    let activation = portal.store.activation(&id).await?;
    let usage = portal.store.monthly_usage(&id).await?;
    let organization = match portal.store.license_organization(&id).await? {
        Some(org) => portal.store.organization(&org).await?,
        None => None,
    };
    let done = query.done.as_deref().and_then(|d| match d {
        "suspend" => Some("The license is suspended."),
        "reinstate" => Some("The license is reinstated."),
        "revoke" => Some("The license is revoked."),
        "reset-binding" => Some("The hub binding is reset."),
        "assigned" => Some("The license's organization is changed."),
        _ => None,
    });
    let organizations: Vec<crate::store::OrganizationRow> = match viewer.role {
        Role::SuperAdmin => portal.store.organizations("", 1000).await?,
        Role::OrgAdmin => Vec::new(),
    };
    let view = pages::LicensePage {
        status: license_status(&license, portal.now()),
        license: &license,
        organization: organization.as_ref(),
        organizations: &organizations,
        activation: activation.as_ref(),
        usage: &usage,
        done,
    };
    Ok(html(StatusCode::OK, pages::license(&viewer.chrome(), &view)))
}

async fn confirm(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let license = visible_license(&portal, &viewer, &id).await?;
    let action = pages::actions_for(viewer.role, &license)
        .into_iter()
        .find(|a| *a == action)
        .ok_or(UiError::NotFound)?;
    let limit = (viewer.role == Role::OrgAdmin).then(|| {
        let days = portal.settings.customer_reset_every_secs / 86_400;
        format!("You can reset the binding of a license once every {days} days.")
    });
    Ok(html(StatusCode::OK, pages::confirm(&viewer.chrome(), &license, action, limit.as_deref())))
}

async fn act(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path((id, word)): Path<(String, String)>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let license = visible_license(&portal, &viewer, &id).await?;
    let action = Action::parse(&word).ok_or(UiError::NotFound)?;
    if !pages::actions_for(viewer.role, &license).contains(&action.as_str()) {
        return Err(UiError::NotFound);
    }
    let now = portal.now();
    let outcome = match viewer.role {
        Role::SuperAdmin => actions::apply(&portal.store, &viewer.actor(), &id, action, now).await,
        // A customer may only reset a binding, and only so often.
        Role::OrgAdmin => {
            let every = portal.settings.customer_reset_every_secs;
            actions::customer_reset(&portal.store, &viewer.actor(), &id, every, now).await
        }
    };
    match outcome {
        Ok(done) => {
            match done {
                Done::State(to) => {
                    tracing::info!(license = %id, state = to.as_str(), by = %viewer.user.id, "license state changed")
                }
                Done::Reset(reset) => {
                    tracing::info!(license = %id, reset, by = %viewer.user.id, "binding reset")
                }
            }
            Ok(Redirect::to(&format!("/ui/licenses/{id}?done={}", action.as_str())).into_response())
        }
        Err(ActionError::UnknownLicense(_)) => Err(UiError::NotFound),
        Err(e @ (ActionError::Revoked | ActionError::TooSoon { .. })) => {
            Err(UiError::Conflict(format!("Not done: {e}.")))
        }
        Err(ActionError::Store(e)) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
struct OrgQuery {
    done: Option<String>,
}

async fn organizations(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Query(query): Query<OrgQuery>,
) -> Result<Response, UiError> {
    viewer.require(Role::SuperAdmin)?;
    let rows = portal.store.organization_records("", 1000).await?;
    let done = query.done.map(|d| match d.as_str() {
        "erased" => "The organization's people are erased.",
        _ => "The organization is created.",
    });
    Ok(html(StatusCode::OK, pages::organizations(&viewer.chrome(), &rows, None, done)))
}

#[derive(serde::Deserialize)]
struct OrgForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

async fn create_organization(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<OrgForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    viewer.require(Role::SuperAdmin)?;
    match accounts::create_organization_by(&portal.store, &viewer.actor(), &form.name, portal.now())
        .await
    {
        Ok(org) => {
            tracing::info!(org = %org.id, by = %viewer.user.id, "organization created");
            Ok(Redirect::to("/ui/organizations?done=1").into_response())
        }
        Err(e @ (AccountError::Invalid(_) | AccountError::OrganizationTaken)) => {
            let rows = portal.store.organization_records("", 1000).await?;
            let message = e.to_string();
            Ok(html(
                StatusCode::BAD_REQUEST,
                pages::organizations(&viewer.chrome(), &rows, Some(&message), None),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// --- people ------------------------------------------------------------------------------

/// The users page's data for `viewer`.
async fn users_page(
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
struct UsersQuery {
    done: Option<String>,
}

async fn users(
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

#[derive(serde::Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    csrf: String,
}

async fn invite(
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
            let base = public_base(&portal, &headers);
            let link = format!("{base}/ui/invite/{}", token.expose());
            let emailed = match &portal.mailer {
                None => None,
                Some(mailer) => {
                    let org = match &row.org_id {
                        Some(id) => portal.store.organization(id).await?.map(|o| o.name),
                        None => None,
                    };
                    let text = crate::mail::invitation_text(
                        &viewer.user.name,
                        &row.role,
                        org.as_deref(),
                        &link,
                    );
                    let sent = mailer
                        .send(&row.email, "Your invitation to the Tessera license portal", text)
                        .await;
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

fn invitation_gone() -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            "Invitation",
            None,
            "This invitation has expired or was already used. Ask whoever invited you for a new one.",
        ),
    )
}

async fn accept_page(
    State(portal): State<Arc<Portal>>,
    Path(token): Path<String>,
) -> Result<Response, UiError> {
    let Some(invitation) = accounts::invitation(&portal.store, &token, portal.now()).await? else {
        return Ok(invitation_gone());
    };
    Ok(open_form(&portal, StatusCode::OK, |csrf| pages::accept(&invitation, &token, csrf, None)))
}

#[derive(serde::Deserialize)]
struct AcceptForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
    #[serde(default)]
    csrf: String,
}

async fn accept(
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
fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[derive(serde::Deserialize)]
struct ProfileQuery {
    done: Option<String>,
}

async fn profile(
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
    let left = match viewer.user.totp_secret {
        Some(_) => Some(portal.store.recovery_codes_left(&viewer.user.id).await?),
        None => None,
    };
    Ok(html(StatusCode::OK, pages::profile(&viewer.chrome(), None, done, left)))
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
    #[serde(default)]
    csrf: String,
}

async fn change_password(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let left = match viewer.user.totp_secret {
        Some(_) => Some(portal.store.recovery_codes_left(&viewer.user.id).await?),
        None => None,
    };
    let refuse = |message: &str| {
        html(StatusCode::BAD_REQUEST, pages::profile(&viewer.chrome(), Some(message), None, left))
    };
    if form.new != form.again {
        return Ok(refuse("The two new passwords differ."));
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
        Err(AccountError::Invalid(message)) => Ok(refuse(&capitalized(&message))),
        Err(e) => Err(e.into()),
    }
}

async fn sign_out_everywhere(
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

// --- registering licenses by upload ------------------------------------------------------

async fn register_page(viewer: Viewer) -> Result<Response, UiError> {
    viewer.require(Role::SuperAdmin)?;
    Ok(html(StatusCode::OK, pages::register(&viewer.chrome(), &[], None)))
}

async fn register(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    viewer.require(Role::SuperAdmin)?;
    let refuse = |status: StatusCode, message: &str| {
        html(status, pages::register(&viewer.chrome(), &[], Some(message)))
    };
    let Ok(mut multipart) = multipart else {
        return Ok(refuse(StatusCode::BAD_REQUEST, "Choose license files to upload."));
    };
    let (mut token, mut files) = (String::new(), Vec::new());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                let limit = UPLOAD_BYTES / (1024 * 1024);
                return Ok(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("The upload is too large or broken: at most {limit} MiB at once."),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().unwrap_or_default().to_owned();
        let Ok(bytes) = field.bytes().await else {
            return Ok(refuse(StatusCode::BAD_REQUEST, "The upload broke off; try again."));
        };
        match name.as_str() {
            "csrf" => token = String::from_utf8_lossy(&bytes).into_owned(),
            "licenses" if !bytes.is_empty() => {
                files.push((file, String::from_utf8_lossy(&bytes).into_owned()));
            }
            _ => {}
        }
    }
    viewer.check(&headers, &token)?;
    if files.is_empty() {
        return Ok(refuse(StatusCode::BAD_REQUEST, "Choose license files to upload."));
    }
    if files.len() > super::admin_api::MAX_BATCH {
        let most = super::admin_api::MAX_BATCH;
        return Ok(refuse(StatusCode::BAD_REQUEST, &format!("At most {most} files at once.")));
    }
    let (names, texts): (Vec<String>, Vec<String>) = files.into_iter().unzip();
    let outcomes = match super::admin_api::register_texts(&portal, &viewer.actor(), texts).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            tracing::error!(error = %e, "registering uploaded licenses");
            return Ok(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Nothing was registered: {e}"),
            ));
        }
    };
    let new = outcomes.iter().filter(|o| o.outcome == "registered").count();
    tracing::info!(licenses = outcomes.len(), new, by = %viewer.user.id, "licenses uploaded");
    let rows: Vec<(String, super::admin_api::Outcome)> = names.into_iter().zip(outcomes).collect();
    Ok(html(StatusCode::OK, pages::register(&viewer.chrome(), &rows, None)))
}

// --- the second factor --------------------------------------------------------------------

fn code_form(portal: &Portal, status: StatusCode, error: Option<&str>) -> Response {
    open_form(portal, status, |token| pages::second_step(error, token))
}

async fn code_page(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let pending = cookie(&headers, SECOND_STEP_COOKIE).unwrap_or_default();
    if accounts::pending_user(&portal.store, portal.ui_secret(), pending, portal.now())
        .await?
        .is_none()
    {
        return Ok(Redirect::to("/ui/signin").into_response());
    }
    Ok(code_form(&portal, StatusCode::OK, None))
}

#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

async fn code(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CodeForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let pending = cookie(&headers, SECOND_STEP_COOKIE).unwrap_or_default();
    let Some(user) =
        accounts::pending_user(&portal.store, portal.ui_secret(), pending, portal.now()).await?
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
    match accounts::second_step(&portal.store, &user, &form.code, trusted, portal.now()).await? {
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

#[derive(serde::Deserialize)]
struct EnrolForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

fn enrol_view(
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

async fn enrol_page(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    if viewer.user.totp_secret.is_some() {
        return Ok(Redirect::to("/ui/profile").into_response());
    }
    let secret = crate::domain::totp::new_secret().map_err(|_| UiError::Internal)?;
    Ok(enrol_view(&portal, &viewer, &secret, StatusCode::OK, None))
}

async fn enrol(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<EnrolForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let expected = accounts::enrolment_tag(portal.ui_secret(), &viewer.user, &form.secret);
    if viewer.user.totp_secret.is_some() || !accounts::same_tag(&form.tag, &expected) {
        return Err(UiError::Forbidden("This form has expired. Open the set-up page again."));
    }
    match accounts::enable_second_factor(
        &portal.store,
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

#[derive(serde::Deserialize)]
struct OffForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn second_factor_off(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<OffForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    if viewer.role == Role::SuperAdmin && portal.settings.require_second_factor_for_super_admins {
        return Err(UiError::Conflict(
            "This portal requires a second factor for super-admins.".to_owned(),
        ));
    }
    let password = Password::new(form.password);
    match accounts::disable_second_factor(&portal.store, &viewer.user, &password, portal.now())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.user.id, "second factor turned off");
            Ok(Redirect::to("/ui/profile?done=second-factor-off").into_response())
        }
        Err(AccountError::Invalid(message)) => {
            let left = portal.store.recovery_codes_left(&viewer.user.id).await?;
            Ok(html(
                StatusCode::BAD_REQUEST,
                pages::profile(&viewer.chrome(), Some(&capitalized(&message)), None, Some(left)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// --- API keys -------------------------------------------------------------------------------

/// The keys `viewer` may see and revoke: a super-admin all, an org-admin their organization's.
async fn visible_keys(
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

async fn api_keys_page(
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

async fn api_keys(viewer: Viewer, State(portal): State<Arc<Portal>>) -> Result<Response, UiError> {
    api_keys_page(&portal, &viewer, StatusCode::OK, None, None).await
}

#[derive(serde::Deserialize)]
struct KeyForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    revoke: Option<String>,
    #[serde(default)]
    csrf: String,
}

async fn create_api_key(
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

async fn revoke_api_key(
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
async fn manageable(portal: &Portal, viewer: &Viewer, id: &str) -> Result<UserRow, UiError> {
    let target = portal.store.user(id).await?.ok_or(UiError::NotFound)?;
    if accounts::may_manage(&viewer.user, &target) { Ok(target) } else { Err(UiError::NotFound) }
}

async fn person_page(
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

async fn person(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let target = manageable(&portal, &viewer, &id).await?;
    person_page(&portal, &viewer, &target, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    csrf: String,
}

async fn change_role(
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

async fn confirm_remove(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let target = manageable(&portal, &viewer, &id).await?;
    Ok(html(StatusCode::OK, pages::confirm_remove(&viewer.chrome(), &target)))
}

async fn remove(
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

#[derive(serde::Deserialize)]
struct AssignForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    csrf: String,
}

/// A super-admin assigns a license to an organization (one its claim matches none of, say),
/// or takes it out of any.
async fn assign(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<AssignForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    viewer.require(Role::SuperAdmin)?;
    visible_license(&portal, &viewer, &id).await?;
    let org = match form.org.as_str() {
        "" => None,
        given => Some(portal.store.organization(given).await?.ok_or(UiError::NotFound)?.id),
    };
    portal.store.assign_license(&id, org.as_deref()).await?;
    let target = format!("{id} {}", org.as_deref().unwrap_or("-"));
    crate::domain::audit::record(
        &portal.store,
        &viewer.actor(),
        "license.assigned",
        &target,
        org.as_deref(),
        portal.now(),
    )
    .await?;
    tracing::info!(license = %id, org = ?org, by = %viewer.user.id, "license assigned");
    Ok(Redirect::to(&format!("/ui/licenses/{id}?done=assigned")).into_response())
}

#[derive(serde::Deserialize)]
struct FindForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    csrf: String,
}

/// Finds one license by its id or its license key (posted, never in a URL: a key is a
/// secret; the portal looks it up by its hash).
async fn find(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<FindForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    let q = form.q.trim();
    let found = match tessera_core::license::LicenseKey::parse_lenient(q) {
        Ok(key) => portal.store.license_by_key_digest(&hex::encode(key.digest())).await?,
        Err(_) if q.len() <= 64 && q.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') => {
            portal.store.license(&q.to_ascii_lowercase()).await?
        }
        Err(_) => None,
    };
    let visible = match found {
        Some(license) => visible_license(&portal, &viewer, &license.id).await.ok(),
        None => None,
    };
    match visible {
        Some(license) => Ok(Redirect::to(&format!("/ui/licenses/{}", license.id)).into_response()),
        None => {
            let form = ListForm::default();
            let filter = list_filter(&viewer, &form)?;
            let now = portal.now();
            let page = portal.store.license_page(&filter, None, PAGE + 1, now).await?;
            let more = page.len() > PAGE as usize;
            let rows: Vec<_> = page
                .into_iter()
                .take(PAGE as usize)
                .map(|row| {
                    let status = license_status(&row.license, now);
                    (row, status)
                })
                .collect();
            let next = if more { rows.last().map(|(r, _)| r.license.id.clone()) } else { None };
            let message = "No license of yours has that id or license key.";
            Ok(html(
                StatusCode::NOT_FOUND,
                pages::licenses(&viewer.chrome(), &form, &rows, next.as_deref(), Some(message)),
            ))
        }
    }
}

// --- a person's rights over their data ---------------------------------------------------------

async fn profile_with(
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

#[derive(serde::Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

async fn change_name(
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

#[derive(serde::Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

async fn change_email(
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
            let link = format!("{}/ui/email/{}", public_base(&portal, &headers), token.expose());
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

/// The address people reach the portal at: `public_url`, or what the browser asked for.
fn public_base(portal: &Portal, headers: &HeaderMap) -> String {
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

async fn email_page(State(portal): State<Arc<Portal>>, Path(token): Path<String>) -> Response {
    open_form(&portal, StatusCode::OK, |csrf| pages::confirm_email(&token, csrf, None))
}

async fn confirm_email(
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

async fn export_self(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let data = accounts::export_person(&portal.store, &viewer.user).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"my-data.json\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string_pretty(&data).unwrap_or_default(),
    )
        .into_response())
}

async fn confirm_delete_self(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let _ = &portal;
    Ok(html(StatusCode::OK, pages::confirm_delete_self(&viewer.chrome(), None)))
}

async fn delete_self(
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
async fn export_organization(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let org = viewer.user.org_id.clone().ok_or(UiError::NotFound)?;
    let body = accounts::export_organization(&portal.store, &org, portal.now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"organization.json\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string_pretty(&body).unwrap_or_default(),
    )
        .into_response())
}

async fn confirm_erase_people(
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
async fn erase_people(
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

// --- the audit ledger -------------------------------------------------------------------------

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub before: Option<i64>,
}

/// Ledger entries newest first: a super-admin's all (filtered by license, organization,
/// actor), an org-admin's those about their organization.
async fn audit(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::NotFound)?;
    let given = |v: &str| {
        let v = v.trim();
        (!v.is_empty() && v.len() <= 100 && !v.chars().any(char::is_control)).then(|| v.to_owned())
    };
    let org = match viewer.role {
        Role::SuperAdmin => given(&form.org),
        Role::OrgAdmin => Some(viewer.user.org_id.clone().unwrap_or_default()),
    };
    let (license, actor) = (given(&form.license), given(&form.actor));
    let page = portal
        .store
        .ledger_page(org.as_deref(), actor.as_deref(), license.as_deref(), form.before, 51)
        .await?;
    let more = page.len() > 50;
    let entries: Vec<_> = page.into_iter().take(50).collect();
    let next = if more { entries.last().map(|e| e.entry.seq as i64) } else { None };
    let organizations = match viewer.role {
        Role::SuperAdmin => portal.store.organizations("", 1000).await?,
        Role::OrgAdmin => Vec::new(),
    };
    // People are shown by name while they have an account; the ledger itself keeps ids.
    let mut names = std::collections::BTreeMap::new();
    for entry in &entries {
        if !names.contains_key(&entry.entry.actor)
            && let Some(user) = portal.store.user(&entry.entry.actor).await?
        {
            names.insert(entry.entry.actor.clone(), user.name);
        }
    }
    let view = pages::AuditPage {
        entries: &entries,
        names: &names,
        organizations: &organizations,
        form: &form,
        next,
    };
    Ok(html(StatusCode::OK, pages::audit(&viewer.chrome(), &view)))
}
