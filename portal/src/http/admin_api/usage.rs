//! The usage export: pings per license and month, streamed as JSON, JSON lines or CSV.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::query::{ListQuery, MAX_PAGE};
use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::licenses::{self, LicenseFilter, UsagePage};
use crate::http::error::ApiError;
use crate::http::extract::AdminKey;

/// How a usage export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    JsonLines,
    Csv,
    /// CSV for a person's spreadsheet (the web pages' download): a cell a spreadsheet would
    /// run as a formula is written as text (`http/ui/csv.rs`).
    SpreadsheetCsv,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::JsonLines => "application/jsonl",
            Format::Csv | Format::SpreadsheetCsv => "text/csv; charset=utf-8",
        }
    }

    /// One page of rows; `first` says whether rows were written before. Written by hand
    /// from the page's borrowed strings: an export is millions of rows.
    fn rows(self, page: &UsagePage, first: bool) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(page.rows.len() * 100);
        let csv_format = matches!(self, Format::Csv | Format::SpreadsheetCsv);
        if csv_format && first && !page.rows.is_empty() {
            out.extend_from_slice(CSV_HEADER);
        }
        let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for (i, row) in page.rows.iter().enumerate() {
            let license = &page.licenses[row.license];
            let (mut month, mut pings) = (itoa::Buffer::new(), itoa::Buffer::new());
            let (month, pings) = (month.format(row.month), pings.format(row.pings));
            match self {
                Format::Csv => {
                    csv.write_record([
                        license.id.as_str(),
                        &license.org,
                        &license.product,
                        month,
                        pings,
                    ])
                    .map_err(|e| e.to_string())?;
                }
                Format::SpreadsheetCsv => {
                    use crate::http::ui::csv::as_text;
                    let (org, product) = (as_text(&license.org), as_text(&license.product));
                    csv.write_record([license.id.as_str(), &org, &product, month, pings])
                        .map_err(|e| e.to_string())?;
                }
                Format::Json | Format::JsonLines => {
                    if self == Format::Json && !(first && i == 0) {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"license_id\":");
                    serde_json::to_writer(&mut out, &license.id).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"org\":");
                    serde_json::to_writer(&mut out, &license.org).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"product\":");
                    serde_json::to_writer(&mut out, &license.product).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"month\":");
                    out.extend_from_slice(month.as_bytes());
                    out.extend_from_slice(b",\"pings\":");
                    out.extend_from_slice(pings.as_bytes());
                    out.push(b'}');
                    if self == Format::JsonLines {
                        out.push(b'\n');
                    }
                }
            }
        }
        if csv_format {
            out.extend_from_slice(&csv.into_inner().map_err(|e| e.to_string())?);
        }
        Ok(out)
    }
}

/// The CSV export's header line.
const CSV_HEADER: &[u8] = b"license_id,org,product,month,pings\n";

/// Where a streamed export is.
struct Export {
    portal: Arc<Portal>,
    filter: LicenseFilter,
    format: Format,
    after: Option<String>,
    wrote_rows: bool,
    done: bool,
}

impl Export {
    /// The next piece of the body, or None at its end. A page is read only when the client
    /// has taken the previous one, so a client that stops reading (or disconnects) stops the
    /// work.
    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let page = licenses::usage_page(
            self.portal.records(),
            &self.filter,
            self.after.as_deref(),
            MAX_PAGE,
            self.portal.now(),
        )
        .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // Headers are gone: the only way left to say so is to break the body.
                tracing::error!(error = %e, "usage export failed");
                self.done = true;
                return Some((Err(std::io::Error::other("usage export failed")), self));
            }
        };
        let mut bytes = match self.format.rows(&page, !self.wrote_rows) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "usage export failed");
                self.done = true;
                return Some((Err(std::io::Error::other("usage export failed")), self));
            }
        };
        self.wrote_rows |= !page.rows.is_empty();
        self.portal.metrics.export_rows.inc_by(page.rows.len() as u64);
        self.after = page.next;
        if self.after.is_none() {
            self.done = true;
            match self.format {
                Format::Json => bytes.extend_from_slice(b"]}\n"),
                // A CSV export without rows still has its header line.
                Format::Csv if !self.wrote_rows => bytes.extend_from_slice(CSV_HEADER),
                _ => {}
            }
        }
        Some((Ok(bytes::Bytes::from(bytes)), self))
    }
}

/// `GET /v1/admin/usage`: pings per license and month, for the licenses the filters select,
/// streamed in license id order as JSON (`{"usage":[…]}`), JSON lines or CSV.
pub async fn usage(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    let query = ListQuery::parse(query)?;
    if query.limit.is_some() || query.after.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "the usage export is never paged: it streams every row",
        ));
    }
    let format = match query.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "jsonl" => Format::JsonLines,
        "csv" => Format::Csv,
        other => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format {other:?}: use json, jsonl or csv"),
            ));
        }
    };
    let mut filter = query.filter()?;
    key.limit(&mut filter);
    Ok(stream_usage(portal, filter, format))
}

/// The usage rows of the licenses `filter` covers, streamed page by page as they are read.
fn stream_usage(portal: Arc<Portal>, filter: LicenseFilter, format: Format) -> Response {
    let head: &'static [u8] = if format == Format::Json { b"{\"usage\":[" } else { b"" };
    let export = Export { portal, filter, format, after: None, wrote_rows: false, done: false };
    let pages = futures_util::stream::unfold(export, Export::next);
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(bytes::Bytes::from_static(head)) }),
        pages,
    );
    ([(header::CONTENT_TYPE, format.content_type())], Body::from_stream(body)).into_response()
}

/// The usage export as CSV, for the web pages' download (the same rows and columns as
/// `GET /v1/admin/usage?format=csv`, with a formula cell written as text: a person opens
/// this one in a spreadsheet; the API's stays the data as stored).
pub(crate) fn usage_csv(portal: Arc<Portal>, filter: LicenseFilter) -> Response {
    stream_usage(portal, filter, Format::SpreadsheetCsv)
}
