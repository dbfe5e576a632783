//! The audit ledger's page and its CSV export: entries newest first, filtered by actor,
//! action, date range, license and (the vendor's staff) organization, all in the URL. An
//! org-admin reads the entries about their organization only.

use std::collections::BTreeMap;

use super::*;
use crate::domain::apikeys;
use crate::domain::ledger_reading;
use crate::domain::{LedgerQuery, StoredEntry};
use pages::AuditNames;

/// Entries on one page.
const AUDIT_PAGE: i64 = 50;
/// The most entries one CSV export holds.
const CSV_MOST: usize = 50_000;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditForm {
    pub license: String,
    pub org: String,
    pub actor: String,
    pub action: String,
    /// From this day on (`YYYY-MM-DD`).
    pub from: String,
    /// Up to and including this day.
    pub to: String,
    pub before: Option<i64>,
}

impl AuditForm {
    /// The filters as URL query pairs (for the next page's link and the CSV export).
    pub fn pairs(&self) -> [(&'static str, &str); 6] {
        [
            ("license", &self.license),
            ("org", &self.org),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }
}

/// A filter's value when given: trimmed, short, printable.
fn given(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= 100 && !v.chars().any(char::is_control)).then_some(v)
}

/// A day of the date range, or the sentence saying what is wrong with it.
fn day_bound(text: &str, label: &str, end: bool) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = if end {
        tessera_core::UnixTime::parse_end(text)
    } else {
        tessera_core::UnixTime::parse_start(text)
    };
    parsed
        .map(|t| Some(t.as_unix()))
        .map_err(|_| format!("The {label} date is not a date: write it as 2026-12-31."))
}

/// The query the form asks for, as `viewer` may read it, or what is wrong with the form.
fn ledger_query<'a>(
    viewer: &Viewer,
    form: &'a AuditForm,
    own_org: &'a Option<String>,
    limit: i64,
) -> Result<LedgerQuery<'a>, String> {
    let from = day_bound(&form.from, "first", false)?;
    let to = day_bound(&form.to, "last", true)?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err("The first date is after the last one.".to_owned());
    }
    let org = match own_org {
        None if viewer.role == Role::SuperAdmin => given(&form.org),
        None => Some(""),
        Some(own) => Some(own.as_str()),
    };
    Ok(LedgerQuery {
        org_id: org,
        actor: given(&form.actor),
        target: given(&form.license),
        action: given(&form.action),
        from,
        to,
        before: form.before,
        limit,
    })
}

/// What the sentences may name, as `viewer` may see it.
async fn names_for(
    portal: &Portal,
    viewer: &Viewer,
    entries: &[StoredEntry],
) -> Result<AuditNames, UiError> {
    let mut names = AuditNames { reader: viewer.user.id.clone(), ..AuditNames::default() };
    let organizations = accounts::organizations_visible(portal.records(), &viewer.caller()).await?;
    names.organizations = organizations.into_iter().map(|o| (o.id, o.name)).collect();
    let mut people: Vec<&str> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for stored in entries {
        let e = &stored.entry;
        let first = e.target.split(' ').next().unwrap_or_default();
        match e.actor.strip_prefix("key:") {
            Some(key) => keys.push(key),
            None => people.push(&e.actor),
        }
        if e.action.starts_with("user.") {
            people.push(first);
        } else if e.action.starts_with("api_key.") {
            keys.push(first);
        }
    }
    people.sort_unstable();
    people.dedup();
    keys.sort_unstable();
    keys.dedup();
    for id in people.into_iter().filter(|id| !["cli", "portal", ""].contains(id)) {
        if let Some(user) = accounts::person(portal.records(), id).await? {
            let opens = viewer.may(Operation::ManagePerson, accounts::person_facts(&user)).is_ok();
            names.people.insert(user.id, (user.name, opens));
        }
    }
    for id in keys {
        if let Some(key) = apikeys::visible_key(portal.records(), &viewer.caller(), id).await? {
            names.keys.insert(key.id);
        }
    }
    Ok(names)
}

/// The answer to an audit address whose filters do not parse (a page number that is not one).
const BAD_AUDIT_ADDRESS: &str =
    "That audit log address is not one the portal makes: open the audit log again from its page.";

pub(super) async fn audit(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::BadInput(BAD_AUDIT_ADDRESS))?;
    let own_org = viewer.caller().sees_only();
    let (entries, next, error) = match ledger_query(&viewer, &form, &own_org, AUDIT_PAGE + 1) {
        Ok(query) => {
            let page = ledger_reading::page(portal.records(), &query).await?;
            let more = page.len() as i64 > AUDIT_PAGE;
            let page: Vec<_> = page.into_iter().take(AUDIT_PAGE as usize).collect();
            let next = if more { page.last().map(|e| e.entry.seq as i64) } else { None };
            (ledger_reading::readable(&viewer.caller(), page), next, None)
        }
        Err(error) => (Vec::new(), None, Some(error)),
    };
    let names = names_for(&portal, &viewer, &entries).await?;
    let people: Vec<(String, String)> =
        accounts::people_visible(portal.records(), &viewer.caller())
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
    let organizations: Vec<(String, String)> =
        names.organizations.iter().map(|(id, name)| (id.clone(), name.clone())).collect();
    let view = pages::AuditPage {
        entries: &entries,
        names: &names,
        people: &people,
        organizations: &organizations,
        form: &form,
        next,
        error: error.as_deref(),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(html(status, pages::audit(&viewer.chrome(), &view)))
}

/// The filtered ledger as CSV, newest first: the same filters and limits as the page.
pub(super) async fn audit_csv(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(mut form) = query.map_err(|_| UiError::BadInput(BAD_AUDIT_ADDRESS))?;
    let own_org = viewer.caller().sees_only();
    let mut entries = Vec::new();
    loop {
        let query = match ledger_query(&viewer, &form, &own_org, 1000) {
            Ok(query) => query,
            Err(error) => {
                let page = pages::message_back(
                    "Not exported",
                    Some(&viewer.chrome()),
                    &error,
                    ("/ui/audit", "Back to the audit log"),
                );
                return Ok(html(StatusCode::BAD_REQUEST, page));
            }
        };
        let page = ledger_reading::page(portal.records(), &query).await?;
        let last = page.last().map(|s| s.entry.seq as i64);
        let full = page.len() == 1000;
        entries.extend(ledger_reading::readable(&viewer.caller(), page));
        match last {
            Some(seq) if full && entries.len() < CSV_MOST => form.before = Some(seq),
            _ => break,
        }
    }
    entries.truncate(CSV_MOST);
    let names = names_for(&portal, &viewer, &entries).await?;
    let mut csv =
        String::from("number,time (UTC),who,who (id),what,action,target,organization\r\n");
    let org_names: BTreeMap<&str, &str> =
        names.organizations.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for stored in &entries {
        let e = &stored.entry;
        let at =
            tessera_core::UnixTime::from_unix(e.at).map(|t| t.to_rfc3339()).unwrap_or_default();
        let org = e.org.as_deref().map(|id| org_names.get(id).copied().unwrap_or(id)).unwrap_or("");
        let cells = [
            e.seq.to_string(),
            at,
            names.actor_plain(&e.actor),
            e.actor.clone(),
            names.plain(stored),
            e.action.clone(),
            e.target.clone(),
            org.to_owned(),
        ];
        csv.push_str(
            &cells.iter().map(|c| super::csv::quoted_cell(c)).collect::<Vec<_>>().join(","),
        );
        csv.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response())
}
