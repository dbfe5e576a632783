//! Finding licenses: the list's filters, sort and pages (all in the URL, so a list can be
//! bookmarked and sent), its count, and the same list as a CSV file.

use super::*;
use crate::domain::licenses::{self as domain_licenses, LicenseSort, ListCursor, ListOrder};
use pages::ListView;

/// The most days "ends within" takes (ten years).
const MOST_DAYS: u32 = 3650;
/// Licenses read per page of a CSV download.
const CSV_PAGE: u32 = 1000;

/// A list request made sense of: what to show, in what order, from where; and what to tell.
pub(super) struct ListRequest {
    pub(super) filter: LicenseFilter,
    pub(super) order: ListOrder,
    /// The cursor's license id and whether the page is the one before it.
    pub(super) cursor: Option<(String, bool)>,
    /// Why the form's values were refused (the page answers 400).
    pub(super) error: Option<String>,
    /// What the page should say about the search (a name too short to search by).
    pub(super) note: Option<String>,
}

impl ListRequest {
    fn cursor(&self) -> ListCursor<'_> {
        match &self.cursor {
            None => ListCursor::Start,
            Some((id, false)) => ListCursor::After(id),
            Some((id, true)) => ListCursor::Before(id),
        }
    }
}

/// A license id as a cursor or filter value: hex and dashes, as ids are written.
fn license_id(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
    .then(|| text.to_ascii_lowercase())
}

/// The list's filters, order and cursor from the form, within what the viewer may see.
pub(super) fn list_request(viewer: &Viewer, form: &ListForm, now: i64) -> ListRequest {
    let mut filter = viewer.scope();
    let mut errors: Vec<String> = Vec::new();
    let given = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    filter.org = given(&form.org);
    filter.product = given(&form.product);
    if [&filter.org, &filter.product, &given(&form.q)]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.chars().any(char::is_control)))
    {
        errors.push("Names and products hold no control characters.".to_owned());
        filter.org = None;
        filter.product = None;
    }
    let note = match domain_licenses::name_search(&form.q) {
        Ok(name) => {
            filter.name = name.filter(|n| !n.chars().any(char::is_control));
            None
        }
        Err(note) => Some(note),
    };
    if !form.id.trim().is_empty() {
        match license_id(&form.id) {
            Some(id) => filter.ids = Some(vec![id]),
            None => errors.push("A license id is written in hex digits and dashes.".to_owned()),
        }
    }
    filter.standing =
        LicenseStanding::ALL.into_iter().find(|s| s.status().as_str() == form.standing);
    if !form.standing.is_empty() && filter.standing.is_none() {
        errors.push(format!("There is no standing {:?}.", form.standing));
    }
    filter.activated = match form.activated.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        "" => None,
        _ => {
            errors.push("Bound to a hub is yes, no or either.".to_owned());
            None
        }
    };
    if !form.ends_within.trim().is_empty() {
        match form.ends_within.trim().parse::<u32>() {
            Ok(days @ 1..=MOST_DAYS) => {
                filter.ending_from = Some(now);
                filter.expiring_before = Some(now + i64::from(days) * 86_400);
            }
            _ => errors.push(format!("Ends within takes a number of days from 1 to {MOST_DAYS}.")),
        }
    }
    match form.silent.as_str() {
        "" => {}
        "past_grace" => filter.past_grace = Some(now),
        _ => errors.push("Silent hubs are asked for with silent=past_grace.".to_owned()),
    }
    let sort = match form.sort.as_str() {
        "" | "issued" => LicenseSort::Issued,
        "customer" => LicenseSort::Customer,
        "ends" => LicenseSort::Ends,
        "last_ping" => LicenseSort::LastPing,
        "state" => LicenseSort::State,
        other => {
            errors.push(format!(
                "The list sorts by customer, ends, last_ping or state, not {other:?}."
            ));
            LicenseSort::Issued
        }
    };
    let descending = match form.dir.as_str() {
        "" | "asc" => false,
        "desc" => true,
        _ => {
            errors.push("The direction of a sort is asc or desc.".to_owned());
            false
        }
    };
    let cursor = match (form.after.trim(), form.before.trim()) {
        ("", "") => None,
        (after, "") => license_id(after).map(|id| (id, false)),
        ("", before) => license_id(before).map(|id| (id, true)),
        _ => None,
    };
    let cursor_given = !form.after.trim().is_empty() || !form.before.trim().is_empty();
    if cursor_given && cursor.is_none() {
        errors.push("That page link is broken: start again from the first page.".to_owned());
    }
    let error = (!errors.is_empty()).then(|| errors.join(" "));
    ListRequest { filter, order: ListOrder { sort, descending }, cursor, error, note }
}

pub(super) async fn licenses(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Ok(Query(form)) = query else { return Ok(bad_address(&viewer)) };
    let request = list_request(&viewer, &form, portal.now().as_unix());
    list_page(&portal, &viewer, &form, &request, StatusCode::OK, None).await
}

/// A page of the license list (100 from the cursor), each with its standing now, and the
/// number that match.
pub(super) async fn list_page(
    portal: &Portal,
    viewer: &Viewer,
    form: &ListForm,
    request: &ListRequest,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, UiError> {
    if let Some(refused) = &request.error {
        let view = ListView { error: Some(refused), ..ListView::empty(form) };
        return Ok(html(StatusCode::BAD_REQUEST, pages::licenses(&viewer.chrome(), &view)));
    }
    let now = portal.now();
    let cursor = request.cursor();
    let (filter, order) = (&request.filter, request.order);
    let records = portal.records();
    let cap = domain_licenses::LIST_COUNT_CAP;
    let (mut page, count) =
        domain_licenses::list_counted(records, filter, order, cursor, PAGE + 1, cap, now).await?;
    let more = page.len() > PAGE as usize;
    // The extra license read says whether there is a page beyond, on the side walked.
    let backwards = matches!(cursor, ListCursor::Before(_));
    if more {
        if backwards {
            page.remove(0);
        } else {
            page.truncate(PAGE as usize);
        }
    }
    let first = page.first().map(|r| r.license.id.clone());
    let last = page.last().map(|r| r.license.id.clone());
    let (previous, next) = match cursor {
        ListCursor::Start => (None, if more { last } else { None }),
        ListCursor::After(_) => (first, if more { last } else { None }),
        ListCursor::Before(_) => (if more { first } else { None }, last),
    };
    let rows: Vec<_> = page
        .into_iter()
        .map(|row| {
            let status = license_status(&row.license, now);
            (row, status)
        })
        .collect();
    let view = ListView {
        form,
        rows: &rows,
        count: Some(count),
        count_cap: domain_licenses::LIST_COUNT_CAP,
        previous: previous.as_deref(),
        next: next.as_deref(),
        error,
        note: request.note.as_deref(),
    };
    Ok(html(status, pages::licenses(&viewer.chrome(), &view)))
}

/// `GET /ui/licenses.csv`: the list as the same filters and sort show it, every page,
/// streamed as it is read.
pub(super) async fn licenses_csv(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Ok(Query(form)) = query else { return Ok(bad_address(&viewer)) };
    let request = list_request(&viewer, &form, portal.now().as_unix());
    if request.error.is_some() {
        return list_page(&portal, &viewer, &form, &request, StatusCode::BAD_REQUEST, None).await;
    }
    let walk = CsvWalk {
        portal,
        filter: request.filter,
        order: request.order,
        after: None,
        started: false,
        done: false,
    };
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(walk, CsvWalk::next));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"licenses.csv\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// The list's answer to an address whose query does not parse: 400, and the empty form.
pub(super) fn bad_address(viewer: &Viewer) -> Response {
    let message = "That list address is not one the portal makes: start again from here.";
    let form = ListForm::default();
    let view = ListView { error: Some(message), ..ListView::empty(&form) };
    html(StatusCode::BAD_REQUEST, pages::licenses(&viewer.chrome(), &view))
}

/// The CSV download's walk through the list, a page at a time: the next page is read only
/// once the client has taken the last one.
struct CsvWalk {
    portal: Arc<Portal>,
    filter: LicenseFilter,
    order: ListOrder,
    after: Option<String>,
    started: bool,
    done: bool,
}

const CSV_HEADER: &str = "license,customer,product,standing,ends,last_validation,bound\r\n";

impl CsvWalk {
    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let now = self.portal.now();
        let cursor = self.after.as_deref().map_or(ListCursor::Start, ListCursor::After);
        let records = self.portal.records();
        let page =
            domain_licenses::list(records, &self.filter, self.order, cursor, CSV_PAGE, now).await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // The headers are gone: breaking the body is the only way left to say so.
                tracing::error!(error = %e, "license list download failed");
                self.done = true;
                return Some((Err(std::io::Error::other("license list download failed")), self));
            }
        };
        let mut text = String::new();
        if !self.started {
            text.push_str(CSV_HEADER);
            self.started = true;
        }
        for row in &page {
            let l = &row.license;
            let last = if row.activated { pages::when(row.last_ping_at) } else { String::new() };
            let cells = [
                l.id.as_str(),
                &l.org,
                &l.product,
                license_status(l, now).as_str(),
                &pages::day(l.expires_at),
                &last,
                if row.activated { "yes" } else { "no" },
            ];
            let cells: Vec<String> = cells.iter().map(|c| super::csv::cell(c)).collect();
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        self.done = page.len() < CSV_PAGE as usize;
        self.after = page.last().map(|r| r.license.id.clone());
        Some((Ok(bytes::Bytes::from(text)), self))
    }
}
