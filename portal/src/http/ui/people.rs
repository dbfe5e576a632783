//! People: the list, accepting an invitation, managing a person (role, removal), and
//! erasing an organization's people (making, cancelling and re-sending invitations:
//! `invitations`).

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
    let caller = viewer.caller();
    let users = accounts::people_visible(portal.records(), &caller).await?;
    let invitations = accounts::invitations_visible(portal.records(), &caller).await?;
    let organizations = accounts::organizations_visible(portal.records(), &caller).await?;
    let view = pages::UsersPage {
        users: &users,
        invitations: &invitations,
        organizations: &organizations,
        error,
        link,
        done,
        viewer: &viewer.user,
        now: portal.now().as_unix(),
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
        "cancelled" => "The invitation is cancelled; its link no longer works.",
        _ => "The person is removed; the API keys they made are revoked.",
    });
    users_page(&portal, &viewer, None, None, done).await
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
    let Some(invitation) = accounts::invitation(portal.records(), &token, portal.now()).await?
    else {
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
    same_origin(&headers, portal.settings.public_url.as_deref())?;
    let Some(invitation) = accounts::invitation(portal.records(), &token, portal.now()).await?
    else {
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
    match accounts::accept_invitation(portal.records(), &token, &form.name, &password, portal.now())
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

/// A message from the domain as a sentence: a capital first, one full stop last.
pub(super) fn capitalized(message: &str) -> String {
    let message = message.trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

// --- managing people ----------------------------------------------------------------------

/// A person the viewer may manage, or "not found".
pub(super) async fn manageable(
    portal: &Portal,
    viewer: &Viewer,
    id: &str,
) -> Result<UserRow, UiError> {
    let found =
        accounts::person_for(portal.records(), &viewer.caller(), Operation::ManagePerson, id)
            .await?;
    found.ok_or(UiError::NotFound)
}

pub(super) async fn person_page(
    portal: &Portal,
    viewer: &Viewer,
    target: &UserRow,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, UiError> {
    // The organizations a role change may move them to.
    let organizations = match viewer.may(Operation::ChangeRole, accounts::person_facts(target)) {
        Ok(()) => accounts::organizations_to_choose(portal.records()).await?,
        Err(_) => Vec::new(),
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
}

pub(super) async fn change_role(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<RoleForm>,
) -> Result<Response, UiError> {
    let found =
        accounts::person_for(portal.records(), &viewer.caller(), Operation::ChangeRole, &id)
            .await?;
    let target = found.ok_or(UiError::NotFound)?;
    let role: Role = match form.role.parse() {
        Ok(role) => role,
        Err(e) => {
            return person_page(
                &portal,
                &viewer,
                &target,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
            )
            .await;
        }
    };
    let org = (!form.org.is_empty()).then_some(form.org.as_str());
    match accounts::change_role(portal.records(), &viewer.user, &target, role, org, portal.now())
        .await
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
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    let target = manageable(&portal, &viewer, &id).await?;
    match accounts::erase(portal.records(), &viewer.user, &target, None, portal.now()).await {
        Ok(()) => {
            tracing::info!(user = %target.id, by = %viewer.user.id, "person removed");
            Ok(Redirect::to("/ui/users?done=removed").into_response())
        }
        Err(AccountError::Invalid(message)) => Err(UiError::Conflict(capitalized(&message))),
        Err(AccountError::NoSuchUser) => Err(UiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// An org-admin's download of their organization's licenses, bindings and monthly usage.
pub(super) async fn export_organization(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    let org = viewer.user.org_id.clone().ok_or(UiError::NotFound)?;
    let body = accounts::export_organization(portal.records(), &org, portal.now()).await?;
    Ok(json_download("organization.json", &body))
}

pub(super) async fn confirm_erase_people(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    viewer.may(Operation::ManageOrganizations, Resource::Portal)?;
    let org = accounts::organization(portal.records(), &id).await?.ok_or(UiError::NotFound)?;
    let people = accounts::people_of(portal.records(), &id).await?;
    Ok(html(StatusCode::OK, pages::confirm_erase_people(&viewer.chrome(), &org, people.len())))
}

/// A super-admin erases every person of an organization (its licenses stay).
pub(super) async fn erase_people(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    viewer.may(Operation::ManageOrganizations, Resource::Portal)?;
    accounts::organization(portal.records(), &id).await?.ok_or(UiError::NotFound)?;
    let people = accounts::people_of(portal.records(), &id).await?;
    for person in &people {
        accounts::erase(portal.records(), &viewer.user, person, None, portal.now()).await?;
    }
    tracing::info!(org = %id, erased = people.len(), by = %viewer.user.id, "organization's people erased");
    Ok(Redirect::to("/ui/organizations?done=erased").into_response())
}
