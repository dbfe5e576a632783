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
        .route("/ui/licenses", get(licenses))
        .route("/ui/licenses/{id}", get(license))
        .route("/ui/licenses/{id}/confirm/{action}", get(confirm))
        .route("/ui/licenses/{id}/{action}", axum::routing::post(act))
        .route("/ui/organizations", get(organizations).post(create_organization))
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

/// The sign-in form, with a fresh form token in a cookie of its own.
fn sign_in_form(portal: &Portal, status: StatusCode, error: Option<&str>, email: &str) -> Response {
    let token = match accounts::random_id() {
        Ok(token) => token,
        Err(_) => return UiError::Internal.into_response(),
    };
    let mut response = html(status, pages::sign_in(error, email, &token));
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(portal, SIGNIN_COOKIE, &token, Some(3600)));
    response
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
    let expected = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !accounts::same_tag(&form.csrf, expected) {
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
    let token = accounts::start_session(&portal.store, &user, portal.now()).await?;
    tracing::info!(user = %user.id, "signed in");
    let mut response = Redirect::to("/ui").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&portal, SESSION_COOKIE, token.expose(), None));
    let device = accounts::device_token(portal.ui_secret(), &user);
    headers.append(
        header::SET_COOKIE,
        set_cookie(&portal, DEVICE_COOKIE, &device, Some(180 * 86_400)),
    );
    headers.append(header::SET_COOKIE, set_cookie(&portal, SIGNIN_COOKIE, "", Some(0)));
    Ok(response)
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
    let counts = portal.store.license_counts(&viewer.scope(), 30 * 86_400, portal.now()).await?;
    let scope = match (viewer.role, &viewer.user.org_id) {
        (Role::SuperAdmin, _) => "Every registered license.".to_owned(),
        (Role::OrgAdmin, Some(org)) => match portal.store.organization(org).await? {
            Some(org) => format!("The licenses of {}.", org.name),
            None => "Your organization's licenses.".to_owned(),
        },
        (Role::OrgAdmin, None) => "You belong to no organization yet.".to_owned(),
    };
    Ok(html(StatusCode::OK, pages::dashboard(&viewer.chrome(), &scope, &counts)))
}

async fn licenses(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::NotFound)?;
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
    Ok(html(StatusCode::OK, pages::licenses(&viewer.chrome(), &form, &rows, next.as_deref())))
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
        _ => None,
    });
    let view = pages::LicensePage {
        status: license_status(&license, portal.now()),
        license: &license,
        organization: organization.as_ref(),
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
    Ok(html(StatusCode::OK, pages::confirm(&viewer.chrome(), &license, action)))
}

async fn act(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path((id, word)): Path<(String, String)>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    visible_license(&portal, &viewer, &id).await?;
    let action = Action::parse(&word).ok_or(UiError::NotFound)?;
    viewer.require(Role::SuperAdmin)?;
    match actions::apply(&portal.store, &id, action, portal.now()).await {
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
        Err(e @ ActionError::Revoked) => Err(UiError::Conflict(format!("Not done: {e}."))),
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
    let done = query.done.map(|_| "The organization is created.");
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
    match accounts::create_organization(&portal.store, &form.name, portal.now()).await {
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
