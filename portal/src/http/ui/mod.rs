//! The web pages: what vendor staff and customer org-admins see. Server-rendered HTML
//! (maud, in `pages`), one stylesheet, no JavaScript. A person signs in in `signin`
//! (`sign_in`, then the second step); the licenses' pages are in `licenses`, people and
//! invitations in `people`, one's own profile and data rights in `profile`, API keys in
//! `api_keys`, the ledger's page in `audit`, the vendor's freeing of countersigned runner
//! places in `runner_places`; who may see or do what is asked of
//! [`crate::domain::authorization`]. Here are the routes, the [`Viewer`] extractor,
//! cookies, form tokens and the security headers.
//!
//! - Sessions ride in an `HttpOnly; SameSite=Strict` cookie (`Secure` when the portal is
//!   reached over https); the person behind it is found by the [`Viewer`] extractor, which
//!   sends anyone without a live session to the sign-in page.
//! - Every state-changing form carries a token tied to the session (the sign-in form: to a
//!   cookie of its own), and a cross-site `Origin` or `Sec-Fetch-Site` is refused outright;
//!   a signed-in person's form is read by the `posted` extractor, which checks both.
//! - An org-admin sees their own organization's licenses only: every query is filtered by
//!   it and a license of another organization is "not found".

mod api_keys;
mod audit;
mod bulk;
pub(crate) mod csv;
mod finding;
mod invitations;
mod licenses;
mod pages;
mod people;
mod posted;
mod profile;
mod runner_places;
mod signin;

use api_keys::*;
use audit::*;
use bulk::*;
use finding::*;
use invitations::*;
use licenses::*;
use people::*;
use posted::{Button, Posted};
use profile::*;
use runner_places::*;
use signin::*;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;

use crate::app::Portal;
use crate::domain::StoreError;
use crate::domain::accounts::{self, AccountError, Password, Role, SignIn, UserRow};
use crate::domain::actions::{self, Action, ActionError, Done};
use crate::domain::authorization::{self, Caller, Denied, Operation, Resource};
use crate::domain::licenses::{LicenseFilter, LicenseStanding, LicenseState};
use crate::domain::standing::license_status;
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
const PAGE: u32 = 100;

/// The web pages' routes.
pub fn router() -> Router<Arc<Portal>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(dashboard))
        .route("/ui/style.css", get(stylesheet))
        .route("/ui/signin", get(sign_in_page).post(sign_in))
        .route("/ui/signout", axum::routing::post(sign_out))
        .route("/ui/signin/code", get(code_page).post(code))
        .route("/ui/forgot", get(forgot_page).post(forgot))
        .route("/ui/reset/{token}", get(reset_page).post(reset))
        .route("/ui/licenses", get(licenses))
        .route("/ui/licenses.csv", get(licenses_csv))
        .route("/ui/licenses/find", axum::routing::post(find))
        .route("/ui/licenses/bulk", axum::routing::post(bulk_confirm))
        .route("/ui/licenses/bulk/{action}", axum::routing::post(bulk_act))
        .route("/ui/licenses/{id}", get(license))
        .route("/ui/licenses/{id}/confirm/{action}", get(confirm))
        .route("/ui/licenses/{id}/extend", get(extend))
        .route("/ui/licenses/{id}/runner-places", get(confirm_free_places))
        .route("/ui/licenses/{id}/runner-places/free", axum::routing::post(free_places))
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
        .route("/ui/invitations/{id}/cancel", axum::routing::post(cancel_invitation))
        .route("/ui/invitations/{id}/resend", axum::routing::post(resend_invitation))
        .route("/ui/users/{id}", get(person))
        .route("/ui/users/{id}/role", axum::routing::post(change_role))
        .route("/ui/users/{id}/remove", get(confirm_remove).post(remove))
        .route("/ui/licenses/{id}/assign", axum::routing::post(assign))
        .route("/ui/invite/{token}", get(accept_page).post(accept))
        .route("/ui/audit", get(audit))
        .route("/ui/audit.csv", get(audit_csv))
        .route("/ui/api-keys", get(api_keys).post(create_api_key))
        .route("/ui/api-keys/{id}/revoke", get(confirm_revoke_api_key).post(revoke_api_key))
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

/// The security headers of every answer (pages and API alike). Standard names and static
/// values: nothing is parsed or allocated per answer (pings included).
pub fn security_headers(headers: &mut HeaderMap, https: bool) {
    use axum::http::header::{
        CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    const CSP: HeaderValue = HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    headers.insert(CONTENT_SECURITY_POLICY, CSP);
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
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

/// A JSON file for the browser to save as `filename`, never cached.
fn json_download(filename: &'static str, data: &serde_json::Value) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        serde_json::to_string_pretty(data).unwrap_or_default(),
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
    /// No such page or record: 404.
    NotFound,
    /// The request conflicts with the state: 409, with the message.
    Conflict(String),
    /// The request holds what no field may hold: 400, with the message.
    BadInput(&'static str),
    /// A bug: 500, logged.
    Internal,
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        if e.is_unstorable_text() {
            return UiError::BadInput(
                "A value in this request holds a NUL character, which no field may hold.",
            );
        }
        tracing::error!(error = %e, "store error on a page");
        UiError::Internal
    }
}

/// Whatever a person may not do or see is, to them, not there; a change the state of a
/// license they see no longer offers (a stale tab, two people at once) is a conflict.
impl From<Denied> for UiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotNow => UiError::Conflict(
                "The license is no longer in a state where that is offered: someone may have                  changed it since the page was shown. Open the license again to see its state."
                    .to_owned(),
            ),
            Denied::Unknown | Denied::VendorOnly => UiError::NotFound,
        }
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
                "There is no such page, license, person or key, or it is not yours to see. \
                 Nothing was changed."
                    .to_owned(),
            ),
            UiError::Conflict(why) => {
                (StatusCode::CONFLICT, "Not done", format!("{why} Nothing was changed."))
            }
            UiError::BadInput(why) => {
                (StatusCode::BAD_REQUEST, "Not done", format!("{why} Nothing was changed."))
            }
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
/// The page's origin is the request's `Host`, or the configured `public_url` (a proxy in
/// front of the portal may send its upstream's address as `Host`).
fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), UiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site") {
        return Err(UiError::Forbidden("This form was sent from another site."));
    }
    if let Some(origin) = header("origin")
        && origin != "null"
    {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let host = header("host").is_none_or(|host| host.eq_ignore_ascii_case(origin_host));
        let public =
            public_url.and_then(url_origin).is_some_and(|o| o.eq_ignore_ascii_case(origin));
        if !host && !public {
            return Err(UiError::Forbidden("This form was sent from another site."));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
fn url_origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(&url[..scheme.len() + 3 + authority.len()])
}

/// The signed-in person of a request.
pub struct Viewer {
    /// The person.
    pub user: UserRow,
    /// The person's role.
    pub role: Role,
    /// The form token of this session.
    pub csrf: String,
    /// The configured `public_url`, the pages' origin besides the request's `Host`.
    public_url: Option<String>,
}

impl Viewer {
    /// The person as the audit ledger names them.
    fn actor(&self) -> crate::domain::audit::Actor {
        crate::domain::audit::Actor::Person(self.user.id.clone())
    }

    fn chrome(&self) -> Chrome<'_> {
        Chrome { user: &self.user, role: self.role, caller: self.caller(), csrf: &self.csrf }
    }

    /// The person as [`authorization::may`] knows them.
    fn caller(&self) -> Caller<'_> {
        Caller::Person { id: &self.user.id, role: self.role, org: self.user.org_id.as_deref() }
    }

    /// Asks [`authorization::may`]: anything refused is "not found".
    fn may(&self, operation: Operation, resource: Resource<'_>) -> Result<(), UiError> {
        Ok(authorization::may(&self.caller(), operation, resource)?)
    }

    /// The licenses this person may see: an org-admin's organization only.
    fn scope(&self) -> LicenseFilter {
        LicenseFilter { organization: self.caller().sees_only(), ..LicenseFilter::default() }
    }

    /// Checks a form's token.
    fn check(&self, headers: &HeaderMap, token: &str) -> Result<(), UiError> {
        same_origin(headers, self.public_url.as_deref())?;
        if accounts::same_tag(token, &self.csrf) {
            Ok(())
        } else {
            Err(UiError::Forbidden(
                "This form has expired or did not come from this portal. Go back, reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<Arc<Portal>> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, portal: &Arc<Portal>) -> Result<Self, UiError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
        let user =
            accounts::session_user(portal.records(), token, portal.settings.sessions, portal.now())
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
        Ok(Viewer { user, role, csrf, public_url: portal.settings.public_url.clone() })
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

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_form_from_the_page_s_host_or_its_public_url_passes_and_another_site_does_not() {
        let public = Some("https://portal.example.com/");
        let same_host = headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]);
        assert!(same_origin(&same_host, None).is_ok());
        // Behind a proxy that sends its upstream's address as Host.
        let proxied =
            headers(&[("origin", "https://portal.example.com"), ("host", "127.0.0.1:8080")]);
        assert!(same_origin(&proxied, public).is_ok());
        assert!(same_origin(&proxied, None).is_err(), "without public_url it is another site");
        let other = headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]);
        assert!(same_origin(&other, public).is_err());
        let lookalike =
            headers(&[("origin", "https://portal.example.com.evil"), ("host", "127.0.0.1")]);
        assert!(same_origin(&lookalike, public).is_err());
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(same_origin(&cross, public).is_err());
    }

    #[test]
    fn a_url_s_origin_is_its_scheme_host_and_port() {
        assert_eq!(url_origin("https://a.example:8443/portal?x#y"), Some("https://a.example:8443"));
        assert_eq!(url_origin("http://a.example"), Some("http://a.example"));
        assert_eq!(url_origin("a.example"), None);
    }
}
