//! The license list: its filters (a GET form, so that every list has an address), the
//! number that match, the table sorted by a column, the pages before and after, downloads.

use maud::{Markup, html};

use super::*;
use crate::domain::licenses::LicenseSummary;

/// The list's filters, sort and cursor, as the URL and the form hold them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ListForm {
    /// A part of the customer's (organization's) name.
    pub q: String,
    /// A whole license id.
    pub id: String,
    /// The `org` claim, exactly (the dashboard's and older links).
    pub org: String,
    pub product: String,
    pub standing: String,
    pub activated: String,
    /// Ends within this many days from now.
    pub ends_within: String,
    /// `past_grace`: bound hubs silent past their grace period.
    pub silent: String,
    /// `customer`, `ends`, `last_ping`, `state`; issue order when empty.
    pub sort: String,
    /// `asc` or `desc`.
    pub dir: String,
    pub after: String,
    pub before: String,
}

impl ListForm {
    /// The filters and the sort as a query string (no cursor): `sort` and `dir` replaced
    /// when given.
    fn query(&self, sort: Option<(&str, &str)>) -> String {
        let (sort, dir) = sort.unwrap_or((&self.sort, &self.dir));
        let pairs = [
            ("q", self.q.as_str()),
            ("id", &self.id),
            ("org", &self.org),
            ("product", &self.product),
            ("standing", &self.standing),
            ("activated", &self.activated),
            ("ends_within", &self.ends_within),
            ("silent", &self.silent),
            ("sort", sort),
            ("dir", dir),
        ];
        let given: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        url_query(&given)
    }

    /// The list's address with `extra` (a cursor) after the filters.
    fn address(&self, path: &str, extra: &str) -> String {
        let query = self.query(None);
        let joined: Vec<&str> =
            [query.as_str(), extra].into_iter().filter(|p| !p.is_empty()).collect();
        if joined.is_empty() { path.to_owned() } else { format!("{path}?{}", joined.join("&")) }
    }
}

/// What a page of the list shows.
pub struct ListView<'a> {
    pub form: &'a ListForm,
    pub rows: &'a [(LicenseSummary, tessera_core::Status)],
    /// How many match, counted up to `count_cap` + 1.
    pub count: Option<i64>,
    pub count_cap: u32,
    /// The first license of this page, when there is a page before it.
    pub previous: Option<&'a str>,
    /// The last license of this page, when there is a page after it.
    pub next: Option<&'a str>,
    pub error: Option<&'a str>,
    pub note: Option<&'a str>,
}

impl<'a> ListView<'a> {
    /// A list with nothing in it (a refused address).
    pub fn empty(form: &'a ListForm) -> ListView<'a> {
        ListView {
            form,
            rows: &[],
            count: None,
            count_cap: 0,
            previous: None,
            next: None,
            error: None,
            note: None,
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The sortable columns: the form's word and the header's text.
const SORTABLE: [(&str, &str); 4] = [
    ("customer", "Customer"),
    ("state", "Standing"),
    ("ends", "Ends"),
    ("last_ping", "Last validation"),
];

pub fn licenses(chrome: &Chrome<'_>, view: &ListView<'_>) -> Markup {
    let form = view.form;
    // A sortable column's header: a link that sorts by it, the other way when it already is.
    let header = |word: &str, text: &str| {
        let current = form.sort == word;
        let descending = current && form.dir == "desc";
        let next_dir = if current && !descending { "desc" } else { "asc" };
        let href = format!("/ui/licenses?{}", form.query(Some((word, next_dir))));
        let sort = match (current, descending) {
            (false, _) => None,
            (true, false) => Some("ascending"),
            (true, true) => Some("descending"),
        };
        let arrow = match sort {
            Some("ascending") => " ↑",
            Some(_) => " ↓",
            None => "",
        };
        let label =
            format!("{text}: sort {}", if next_dir == "desc" { "descending" } else { "ascending" });
        html! { th scope="col" aria-sort=[sort] { a href=(href) aria-label=(label) { (text) (arrow) } } }
    };
    page(
        "Licenses",
        Some(chrome),
        html! {
            h1 { "Licenses" }
            @if let Some(error) = view.error { p.error role="alert" { (error) } }
            @if let Some(note) = view.note { p.notice role="status" { (note) } }
            form.filters method="post" action="/ui/licenses/find" role="search" aria-label="Find one license" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div {
                    label for="find" { "License id or license key" }
                    input id="find" name="q" required maxlength="100" autocomplete="off" spellcheck="false";
                }
                button type="submit" { "Find" }
            }
            form.filters method="get" action="/ui/licenses" role="search" aria-label="Filter the licenses" {
                div { label for="f-q" { "Customer name contains" } input id="f-q" name="q" value=(form.q) maxlength="200" aria-describedby="f-q-hint"; span.hint id="f-q-hint" { "3 characters or more" } }
                div { label for="f-id" { "License id" } input id="f-id" name="id" value=(form.id) maxlength="64" autocomplete="off" spellcheck="false"; }
                div { label for="f-org" { "Organization (org claim)" } input id="f-org" name="org" value=(form.org) aria-describedby="f-org-hint"; span.hint id="f-org-hint" { "the whole name, exactly" } }
                div { label for="f-product" { "Product" } input id="f-product" name="product" value=(form.product); }
                div {
                    label for="f-standing" { "Standing" }
                    select id="f-standing" name="standing" {
                        option value="" { "any" }
                        @for s in LicenseStanding::ALL {
                            option value=(standing_word(s)) selected[form.standing == standing_word(s)] { (standing_word(s).replace('_', " ")) }
                        }
                    }
                }
                div { label for="f-ends" { "Ends within (days)" } input id="f-ends" name="ends_within" type="number" min="1" max="3650" inputmode="numeric" value=(form.ends_within); }
                div {
                    label for="f-activated" { "Bound to a hub" }
                    select id="f-activated" name="activated" {
                        option value="" { "either" }
                        option value="true" selected[form.activated == "true"] { "yes" }
                        option value="false" selected[form.activated == "false"] { "no" }
                    }
                }
                div {
                    label for="f-sort" { "Sort by" }
                    select id="f-sort" name="sort" {
                        option value="" { "issue order" }
                        @for (word, text) in SORTABLE {
                            option value=(word) selected[form.sort == word] { (text.to_lowercase()) }
                        }
                    }
                }
                div {
                    label for="f-dir" { "Direction" }
                    select id="f-dir" name="dir" {
                        option value="asc" selected[form.dir != "desc"] { "ascending" }
                        option value="desc" selected[form.dir == "desc"] { "descending" }
                    }
                }
                @if !form.silent.is_empty() { input type="hidden" name="silent" value=(form.silent); }
                button type="submit" { "Filter" }
                a href="/ui/licenses" { "Clear" }
            }
            @if form.silent == "past_grace" { p.muted { "Only bound hubs silent past their grace period." } }
            @if let Some(count) = view.count {
                p.count role="status" {
                    @if count > i64::from(view.count_cap) {
                        "More than " (thousands(i64::from(view.count_cap))) " licenses match."
                    } @else if count == 1 {
                        "1 license matches."
                    } @else {
                        (thousands(count)) " licenses match."
                    }
                }
            }
            @let bulk = chrome.caller.is_vendor();
            @if view.rows.is_empty() {
                @if view.count.is_some() { p { "No license matches." } }
            } @else {
                // The table is the bulk change's form for the vendor's staff: a checkbox a row.
                form id="bulk" method="post" action="/ui/licenses/bulk" {
                @if bulk { input type="hidden" name="csrf" value=(chrome.csrf); }
                div.table tabindex="0" role="region" aria-label="Licenses" {
                    table.list.stack {
                        caption.muted { "100 a page; sort by a column by choosing its heading" }
                        thead { tr {
                            @if bulk { th scope="col" { "Choose" } }
                            th scope="col" { "License" }
                            (header(SORTABLE[0].0, SORTABLE[0].1))
                            th scope="col" { "Product" }
                            (header(SORTABLE[1].0, SORTABLE[1].1))
                            (header(SORTABLE[2].0, SORTABLE[2].1))
                            (header(SORTABLE[3].0, SORTABLE[3].1))
                        } }
                        tbody {
                            @for (row, status) in view.rows {
                                tr {
                                    @if bulk { td data-label="Choose" { input type="checkbox" name="ids" value=(row.license.id) aria-label={ "Choose " (row.license.id) }; } }
                                    td data-label="License" { a href={ "/ui/licenses/" (row.license.id) } { code { (row.license.id) } } }
                                    td data-label="Customer" { (row.license.org) }
                                    td data-label="Product" { (row.license.product) }
                                    td data-label="Standing" { span class={ "status status-" (status.as_str()) } { (status.as_str().replace('_', " ")) } }
                                    td.nowrap data-label="Ends" { (day(row.license.expires_at)) }
                                    td.nowrap data-label="Last validation" { @if row.activated { (when(row.last_ping_at)) } @else { span.muted { "not activated" } } }
                                }
                            }
                        }
                    }
                }
                @if bulk {
                    div.bulk {
                        div {
                            label for="bulk-action" { "Change the chosen licenses" }
                            select id="bulk-action" name="action" {
                                option value="suspend" { "suspend" }
                                option value="reinstate" { "reinstate" }
                                option value="revoke" { "revoke" }
                            }
                        }
                        button type="submit" { "Review the change" }
                    }
                }
                }
            }
            @if view.previous.is_some() || view.next.is_some() {
                nav.pager aria-label="Pages of the list" {
                    @if let Some(first) = view.previous {
                        a href=(form.address("/ui/licenses", &format!("before={first}"))) rel="prev" { "← Previous page" }
                    }
                    @if let Some(last) = view.next {
                        a href=(form.address("/ui/licenses", &format!("after={last}"))) rel="next" { "Next page →" }
                    }
                }
            }
            @if view.count.is_some() {
                p { a href=(form.address("/ui/licenses.csv", "")) download="licenses.csv" { "Download this list (CSV)" } }
                p { a href=(form.address("/ui/usage.csv", "")) download="usage.csv" { "Download the monthly validations of these licenses (CSV)" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, text) in [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567")] {
            assert_eq!(thousands(n), text);
        }
    }
}
