//! The licenses: dashboard, list, find, one license, its actions, registering by upload,
//! assigning, organizations.

use super::*;
use crate::domain::licenses::{self, AssignError, LicenseRow};
use crate::domain::registration;

// --- pages ------------------------------------------------------------------------------

pub(super) async fn dashboard(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let now = portal.now();
    let scope = viewer.scope();
    let (counts, counted_at) = match scope.organization {
        // Every license: counted at most once a minute (the lock makes a crowd wait for one
        // count rather than each run its own).
        None => {
            let mut cached = portal.dashboard.lock().await;
            match *cached {
                Some((at, counts)) if now.as_unix() - at.as_unix() < DASHBOARD_SECS => {
                    (counts, Some(at))
                }
                _ => {
                    let counts = licenses::counts(portal.records(), &scope, now).await?;
                    *cached = Some((now, counts));
                    (counts, Some(now))
                }
            }
        }
        // An organization's licenses: an index walk, always fresh.
        Some(_) => (licenses::counts(portal.records(), &scope, now).await?, None),
    };
    let scope = match scope.organization.as_deref() {
        None => "Every registered license.".to_owned(),
        Some("") => "You belong to no organization yet.".to_owned(),
        Some(org) => match accounts::organization(portal.records(), org).await? {
            Some(org) => format!("The licenses of {}.", org.name),
            None => "Your organization's licenses.".to_owned(),
        },
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

/// The list a download asks for, or the answer that refuses it: the list page saying what is
/// wrong with its filters, or a bad address.
async fn asked_list(
    portal: &Portal,
    viewer: &Viewer,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Result<ListRequest, Response>, UiError> {
    let Ok(Query(form)) = query else { return Ok(Err(bad_address(viewer))) };
    let request = list_request(viewer, &form, portal.now().as_unix());
    if request.error.is_some() {
        let page = list_page(portal, viewer, &form, &request, StatusCode::BAD_REQUEST, None);
        return Ok(Err(page.await?));
    }
    Ok(Ok(request))
}

/// `GET /ui/usage.csv`: the monthly validations of the listed licenses, streamed.
pub(super) async fn usage_csv(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let request = match asked_list(&portal, &viewer, query).await? {
        Ok(request) => request,
        Err(refused) => return Ok(refused),
    };
    let mut response = crate::http::admin_api::usage_csv(portal, request.filter);
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"usage.csv\""),
    );
    // Customers' figures: never kept by a browser or a proxy, as the other downloads.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A license the viewer may see (and its organization), or "not found".
pub(super) async fn visible_license(
    portal: &Portal,
    viewer: &Viewer,
    id: &str,
) -> Result<(LicenseRow, Option<String>), UiError> {
    let found = licenses::find(portal.records(), id).await?;
    viewer.may(Operation::SeeLicense, licenses::facts(found.as_ref()))?;
    found.ok_or(UiError::NotFound)
}

#[derive(serde::Deserialize)]
pub(super) struct DoneQuery {
    pub(super) done: Option<String>,
}

pub(super) async fn license(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    let found = visible_license(&portal, &viewer, &id).await?;
    let facts = licenses::facts(Some(&found));
    let (license, org) = &found;
    let licenses::LicenseActivity { activation, usage } =
        licenses::activity(portal.records(), &id).await?;
    let organization = match org {
        Some(org) => accounts::organization(portal.records(), org).await?,
        None => None,
    };
    let done = query.done.as_deref().and_then(|d| match d {
        "suspend" => Some("The license is suspended."),
        "reinstate" => Some("The license is reinstated."),
        "revoke" => Some("The license is revoked."),
        "reset-binding" => Some("The hub binding is reset."),
        "assigned" => Some("The license's organization is changed."),
        "runner-places-freed" => Some("The runner places are freed: the hub's next validation gets new runners countersigned."),
        _ => None,
    });
    let organizations = match viewer.may(Operation::AssignLicense, facts) {
        Ok(()) => accounts::organizations_to_choose(portal.records()).await?,
        Err(_) => Vec::new(),
    };
    let actions = match facts {
        Resource::License(Some(facts)) => authorization::offered(&viewer.caller(), facts),
        _ => Vec::new(),
    };
    let now = portal.now();
    // A license that counts its runners at the portal (or whose hub asked it to) holds
    // places here.
    let places =
        crate::domain::runner_places::held(portal.records(), &viewer.caller(), &id, now).await?;
    let free_places = viewer.may(Operation::FreeRunnerPlaces, facts).is_ok();
    let overdue = activation.as_ref().and_then(|a| licenses::overdue(license, a, now.as_unix()));
    let hub_key_id = activation.as_ref().and_then(|a| {
        a.hub_key.parse::<tessera_core::keys::PublicKey>().ok().map(|k| k.key_id().to_string())
    });
    let view = pages::LicensePage {
        status: license_status(license, now),
        overdue,
        hub_key_id: hub_key_id.as_deref(),
        this_month: now.date().year() as i64 * 100 + i64::from(u8::from(now.date().month())),
        license,
        organization: organization.as_ref(),
        organizations: &organizations,
        actions: &actions,
        activation: activation.as_ref(),
        usage: &usage,
        places: (places.counted || !places.places.is_empty()).then_some(&places),
        free_places,
        done,
        extend: license.state != LicenseState::Revoked
            && viewer.may(Operation::RegisterLicenses, Resource::Portal).is_ok(),
    };
    Ok(html(StatusCode::OK, pages::license(&viewer.chrome(), &view)))
}

/// `GET /ui/licenses/{id}/extend`: how the vendor renews the license (the portal cannot
/// sign one), for those who register licenses.
pub(super) async fn extend(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let (license, _) = visible_license(&portal, &viewer, &id).await?;
    viewer.may(Operation::RegisterLicenses, Resource::Portal)?;
    const YEAR: i64 = 365 * 86_400;
    let view = pages::RenewalView {
        license: &license,
        expires: license.expires_at.saturating_add(YEAR),
        terminates: license.terminates_at.map(|t| t.saturating_add(YEAR)),
        portal_url: portal.settings.public_url.as_deref(),
    };
    Ok(html(StatusCode::OK, pages::renewal(&viewer.chrome(), &view)))
}

pub(super) async fn confirm(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let found = visible_license(&portal, &viewer, &id).await?;
    let action = Action::parse(&action).ok_or(UiError::NotFound)?;
    viewer.may(Operation::Change(action), licenses::facts(Some(&found)))?;
    let limit = (!viewer.caller().is_vendor()).then(|| {
        let days = portal.settings.customer_reset_every_secs / 86_400;
        format!("You can reset the binding of a license once every {days} days.")
    });
    Ok(html(StatusCode::OK, pages::confirm(&viewer.chrome(), &found.0, action, limit.as_deref())))
}

pub(super) async fn act(
    State(portal): State<Arc<Portal>>,
    Path((id, word)): Path<(String, String)>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    let action = Action::parse(&word).ok_or(UiError::NotFound)?;
    // A customer may only reset a binding, and only so often.
    let every = portal.settings.customer_reset_every_secs;
    let outcome = actions::act(
        portal.records(),
        &viewer.caller(),
        &viewer.actor(),
        &id,
        (action, None),
        every,
        portal.now(),
    )
    .await;
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
        Err(ActionError::Denied(denied)) => Err(denied.into()),
        Err(e @ (ActionError::Revoked | ActionError::TooSoon { .. })) => {
            Err(UiError::Conflict(format!("{}.", capitalized(&e.to_string()))))
        }
        Err(ActionError::Store(e)) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct OrgQuery {
    pub(super) done: Option<String>,
}

pub(super) async fn organizations(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Query(query): Query<OrgQuery>,
) -> Result<Response, UiError> {
    viewer.may(Operation::ManageOrganizations, Resource::Portal)?;
    let rows = accounts::organizations_counted(portal.records()).await?;
    let done = query.done.map(|d| match d.as_str() {
        "erased" => "The organization's people are erased.",
        _ => "The organization is created.",
    });
    Ok(html(StatusCode::OK, pages::organizations(&viewer.chrome(), &rows, None, done)))
}

pub(super) async fn create_organization(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<NameForm>,
) -> Result<Response, UiError> {
    viewer.may(Operation::ManageOrganizations, Resource::Portal)?;
    match accounts::create_organization_by(
        portal.records(),
        &viewer.actor(),
        &form.name,
        portal.now(),
    )
    .await
    {
        Ok(org) => {
            tracing::info!(org = %org.id, by = %viewer.user.id, "organization created");
            Ok(Redirect::to("/ui/organizations?done=1").into_response())
        }
        Err(e @ (AccountError::Invalid(_) | AccountError::OrganizationTaken)) => {
            let rows = accounts::organizations_counted(portal.records()).await?;
            let message = e.to_string();
            Ok(html(
                StatusCode::BAD_REQUEST,
                pages::organizations(&viewer.chrome(), &rows, Some(&message), None),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// --- registering licenses by upload ------------------------------------------------------

pub(super) async fn register_page(viewer: Viewer) -> Result<Response, UiError> {
    viewer.may(Operation::RegisterLicenses, Resource::Portal)?;
    Ok(html(StatusCode::OK, pages::register(&viewer.chrome(), &[], None)))
}

pub(super) async fn register(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, UiError> {
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    viewer.may(Operation::RegisterLicenses, Resource::Portal)?;
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
    if files.len() > registration::MAX_BATCH {
        let most = registration::MAX_BATCH;
        return Ok(refuse(StatusCode::BAD_REQUEST, &format!("At most {most} files at once.")));
    }
    let (names, texts): (Vec<String>, Vec<String>) = files.into_iter().unzip();
    let (trust, now) = (portal.trust.as_ref(), portal.now());
    let registered =
        registration::register_many(portal.records(), trust, &viewer.actor(), texts, now).await;
    let outcomes = match registered.map_err(crate::http::admin_api::not_registered) {
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
    let rows: Vec<(String, registration::Outcome)> = names.into_iter().zip(outcomes).collect();
    Ok(html(StatusCode::OK, pages::register(&viewer.chrome(), &rows, None)))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct AssignForm {
    pub(super) org: String,
}

/// A super-admin assigns a license to an organization (one its claim matches none of, say),
/// or takes it out of any.
pub(super) async fn assign(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<AssignForm>,
) -> Result<Response, UiError> {
    let given = (!form.org.is_empty()).then_some(form.org.as_str());
    let who = (&viewer.caller(), &viewer.actor());
    let org = match licenses::assign(portal.records(), who, &id, given, portal.now()).await {
        Ok(org) => org,
        Err(AssignError::Store(e)) => return Err(e.into()),
        // Not theirs to assign, or no such license or organization.
        Err(_) => return Err(UiError::NotFound),
    };
    tracing::info!(license = %id, org = ?org, by = %viewer.user.id, "license assigned");
    Ok(Redirect::to(&format!("/ui/licenses/{id}?done=assigned")).into_response())
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct FindForm {
    pub(super) q: String,
}

/// Finds one license by its id or its license key (posted, never in a URL: a key is a
/// secret; the portal looks it up by its hash).
pub(super) async fn find(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<FindForm>,
) -> Result<Response, UiError> {
    let q = form.q.trim();
    let found = match tessera_core::license::LicenseKey::parse_lenient(q) {
        Ok(key) => licenses::by_key(portal.records(), &key).await?,
        Err(_) if q.len() <= 64 && q.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') => {
            licenses::by_id(portal.records(), &q.to_ascii_lowercase()).await?
        }
        Err(_) => None,
    };
    let visible = match found {
        Some(license) => visible_license(&portal, &viewer, &license.id).await.ok().map(|(l, _)| l),
        None => None,
    };
    match visible {
        Some(license) => Ok(Redirect::to(&format!("/ui/licenses/{}", license.id)).into_response()),
        None => {
            let form = ListForm::default();
            let request = list_request(&viewer, &form, portal.now().as_unix());
            let message = "No license of yours has that id or license key.";
            list_page(&portal, &viewer, &form, &request, StatusCode::NOT_FOUND, Some(message)).await
        }
    }
}

/// A message as a sentence: its first letter capital.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
