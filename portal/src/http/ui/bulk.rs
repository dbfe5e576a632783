//! Changing many licenses at once from the list: the chosen licenses and the change are
//! posted to a confirmation page that names how many and which; only its own form makes
//! the change, license by license through the domain's `actions::act` (and so `may`).

use super::*;
use crate::domain::licenses as domain_licenses;

/// The most licenses changed at once: one page of the list.
const MOST: usize = PAGE as usize;

/// A bulk form's fields: its token, the change, the licenses (each id once, in order).
fn fields(pairs: &[(String, String)]) -> (&str, &str, Vec<&str>) {
    let field = |name: &str| {
        pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    };
    let mut ids: Vec<&str> = Vec::new();
    for (_, id) in pairs.iter().filter(|(k, _)| k == "ids") {
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    (field("csrf"), field("action"), ids)
}

/// The changes offered for many licenses at once (a binding is reset one license at a time).
fn bulk_action(word: &str) -> Option<Action> {
    Action::parse(word)
        .filter(|a| matches!(a, Action::Suspend | Action::Reinstate | Action::Revoke))
}

fn refuse(viewer: &Viewer, text: &str) -> Response {
    html(StatusCode::BAD_REQUEST, pages::message("Not done", Some(&viewer.chrome()), text))
}

/// `POST /ui/licenses/bulk`: the confirmation page (nothing is changed yet).
pub(super) async fn bulk_confirm(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (csrf, word, ids) = fields(&pairs);
    viewer.check(&headers, csrf)?;
    let Some(action) = bulk_action(word) else {
        return Ok(refuse(&viewer, "Choose a change: suspend, reinstate or revoke."));
    };
    if ids.is_empty() {
        return Ok(refuse(&viewer, "Choose at least one license on the list first."));
    }
    if ids.len() > MOST {
        return Ok(refuse(&viewer, &format!("At most {MOST} licenses can be changed at once.")));
    }
    // Only the licenses this person may change so; the others are counted, never named.
    let (mut chosen, mut left_out) = (Vec::new(), 0usize);
    for id in ids {
        let found = domain_licenses::find(portal.records(), id).await?;
        match viewer.may(Operation::Change(action), domain_licenses::facts(found.as_ref())) {
            Ok(()) => chosen.extend(found.map(|(license, _)| license)),
            Err(_) => left_out += 1,
        }
    }
    if chosen.is_empty() {
        let verb = action_verb(action);
        return Ok(refuse(&viewer, &format!("None of the chosen licenses can be {verb} by you.")));
    }
    Ok(html(StatusCode::OK, pages::bulk_confirm(&viewer.chrome(), action, &chosen, left_out)))
}

/// `POST /ui/licenses/bulk/{action}`: the change, confirmed; what happened to each license.
pub(super) async fn bulk_act(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(word): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (csrf, _, ids) = fields(&pairs);
    viewer.check(&headers, csrf)?;
    let action = bulk_action(&word).ok_or(UiError::NotFound)?;
    if ids.is_empty() || ids.len() > MOST {
        return Ok(refuse(&viewer, "Choose 1 to 100 licenses on the list first."));
    }
    let every = portal.settings.customer_reset_every_secs;
    let mut outcomes = Vec::new();
    for id in ids {
        let done = actions::act(
            portal.records(),
            &viewer.caller(),
            &viewer.actor(),
            id,
            (action, None),
            every,
            portal.now(),
        )
        .await;
        let outcome = match done {
            Ok(_) => {
                tracing::info!(license = %id, action = action.as_str(), by = %viewer.user.id, "license changed in bulk");
                Ok(())
            }
            Err(ActionError::Denied(authorization::Denied::NotNow)) => {
                Err("not possible in its present state (a revoked license changes no more; only a \
                 suspended one is reinstated)"
                    .to_owned())
            }
            Err(ActionError::UnknownLicense(_) | ActionError::Denied(_)) => {
                Err("not found, or not yours to change".to_owned())
            }
            Err(e @ (ActionError::Revoked | ActionError::TooSoon { .. })) => Err(e.to_string()),
            Err(ActionError::Store(e)) => return Err(e.into()),
        };
        outcomes.push((id.to_owned(), outcome));
    }
    Ok(html(StatusCode::OK, pages::bulk_done(&viewer.chrome(), action, &outcomes)))
}

/// "suspended", "reinstated", "revoked".
pub(super) fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Suspend => "suspended",
        Action::Reinstate => "reinstated",
        Action::Revoke => "revoked",
        Action::ResetBinding => "reset",
    }
}
