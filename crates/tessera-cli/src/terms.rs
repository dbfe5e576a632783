//! License terms as typed by a person (command-line options or CSV cells) → typed terms.

use std::time::Duration;

use tessera_core::license::{Feature, LicenseTerms, Org, PortalUrl, ProductId};
use tessera_core::time::UnixTime;

/// One field that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TermsError {
    pub field: &'static str,
    pub reason: String,
}

/// The most runners a license whose runners the portal counts may allow: each hourly ping
/// names every runner holding a slot (8 bytes each, with the receipt it holds naming as
/// many), and a signed ping is at most 64 KiB.
pub const MAX_COUNTERSIGNED_RUNNERS: u32 = 500;

fn error(field: &'static str, reason: impl Into<String>) -> TermsError {
    TermsError { field, reason: reason.into() }
}

/// Terms as text, before any checking. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawTerms {
    pub org: Option<String>,
    pub product: Option<String>,
    pub runners: Option<String>,
    pub expires: Option<String>,
    pub not_before: Option<String>,
    pub terminates: Option<String>,
    /// Feature names; each entry may hold several separated by `,` or `;`.
    pub features: Vec<String>,
    pub grace_days: Option<String>,
    pub ping_interval: Option<String>,
    pub portal_url: Option<String>,
    /// The portal countersigns runner keys (`runner_countersign`).
    pub runner_countersign: bool,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl RawTerms {
    /// These terms, with each absent field taken from `defaults`.
    pub fn or_defaults(mut self, defaults: &RawTerms) -> RawTerms {
        let fill = |mine: &mut Option<String>, theirs: &Option<String>| {
            if present(mine).is_none() {
                mine.clone_from(theirs);
            }
        };
        fill(&mut self.org, &defaults.org);
        fill(&mut self.product, &defaults.product);
        fill(&mut self.runners, &defaults.runners);
        fill(&mut self.expires, &defaults.expires);
        fill(&mut self.not_before, &defaults.not_before);
        fill(&mut self.terminates, &defaults.terminates);
        fill(&mut self.grace_days, &defaults.grace_days);
        fill(&mut self.ping_interval, &defaults.ping_interval);
        fill(&mut self.portal_url, &defaults.portal_url);
        self.runner_countersign |= defaults.runner_countersign;
        if self.features.iter().all(|f| f.trim().is_empty()) {
            self.features.clone_from(&defaults.features);
        }
        self
    }

    /// Typed terms, or the first field that is missing or wrong.
    pub fn resolve(&self) -> Result<LicenseTerms, TermsError> {
        fn required<'a>(
            field: &'static str,
            value: &'a Option<String>,
        ) -> Result<&'a str, TermsError> {
            present(value).ok_or_else(|| error(field, "is required"))
        }
        let org: Org = parse_claim("org", required("org", &self.org)?)?;
        let product: ProductId = parse_claim("product", required("product", &self.product)?)?;
        let runners_text = required("runners", &self.runners)?;
        let runners = runners_text
            .parse::<u32>()
            .map_err(|_| error("runners", format!("{runners_text:?} is not a whole number")))?;
        let time = |field, value: &str, end: bool| {
            let parsed =
                if end { UnixTime::parse_end(value) } else { UnixTime::parse_start(value) };
            parsed.map_err(|e| error(field, e.to_string()))
        };
        let expires_at = time("expires", required("expires", &self.expires)?, true)?;
        let mut terms = LicenseTerms::new(org, product, runners, expires_at);
        if let Some(value) = present(&self.not_before) {
            terms.not_before = Some(time("not_before", value, false)?);
        }
        if let Some(value) = present(&self.terminates) {
            terms.terminates_at = Some(time("terminates", value, true)?);
        }
        for name in self.features.iter().flat_map(|f| f.split([',', ';'])) {
            let name = name.trim();
            if !name.is_empty() {
                terms.features.push(parse_claim::<Feature>("features", name)?);
            }
        }
        if let Some(value) = present(&self.grace_days) {
            let days: u64 = value
                .parse()
                .map_err(|_| error("grace_days", format!("{value:?} is not a whole number")))?;
            terms.grace_period = Duration::from_secs(days.saturating_mul(86_400));
        }
        if let Some(value) = present(&self.ping_interval) {
            terms.ping_interval = humantime::parse_duration(value)
                .map_err(|e| error("ping_interval", format!("{value:?}: {e} (try 1h or 30m)")))?;
        }
        if let Some(value) = present(&self.portal_url) {
            terms.portal_url = Some(parse_claim::<PortalUrl>("portal_url", value)?);
        }
        terms.runner_countersign = self.runner_countersign;
        if terms.runner_countersign && runners > MAX_COUNTERSIGNED_RUNNERS {
            return Err(error(
                "runners",
                format!(
                    "at most {MAX_COUNTERSIGNED_RUNNERS} on a license whose runners the portal \
                     counts (runner_countersign): every ping names each runner, and a ping has \
                     a size limit"
                ),
            ));
        }
        Ok(terms)
    }
}

fn parse_claim<T>(field: &'static str, value: &str) -> Result<T, TermsError>
where
    T: std::str::FromStr<Err = tessera_core::license::ClaimError>,
{
    value.parse().map_err(|e: tessera_core::license::ClaimError| {
        // ClaimError already names the field; keep only its reason.
        let text = e.to_string();
        let reason = text.split_once(": ").map_or(text.as_str(), |(_, r)| r).to_owned();
        error(field, reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_countersigned_license_allows_at_most_the_runners_a_ping_can_name() {
        let terms = |runners: &str| RawTerms {
            runners: Some(runners.into()),
            runner_countersign: true,
            ..raw()
        };
        assert!(terms("500").resolve().is_ok());
        let refused = terms("501").resolve().expect_err("over the limit");
        assert_eq!(refused.field, "runners");
        assert!(refused.reason.contains("at most 500"), "{}", refused.reason);
        let plain = RawTerms { runners: Some("5000".into()), ..raw() };
        assert!(plain.resolve().is_ok(), "without countersigning, no such limit");
    }

    fn raw() -> RawTerms {
        RawTerms {
            org: Some("Acme Corp".into()),
            product: Some("acme-hub".into()),
            runners: Some("5".into()),
            expires: Some("2027-01-31".into()),
            ..RawTerms::default()
        }
    }

    #[test]
    fn minimal_terms_resolve_with_defaults() {
        let terms = raw().resolve().expect("terms");
        assert_eq!(terms.runners, 5);
        assert_eq!(terms.expires_at.to_rfc3339(), "2027-01-31T23:59:59Z");
        assert_eq!(terms.ping_interval, Duration::from_secs(3600));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Spoil = fn(&mut RawTerms);
        let cases: [(Spoil, &str); 6] = [
            (|t| t.org = None, "org"),
            (|t| t.runners = Some("five".into()), "runners"),
            (|t| t.expires = Some("31/01/2027".into()), "expires"),
            (|t| t.product = Some("Acme Hub".into()), "product"),
            (|t| t.ping_interval = Some("hourly".into()), "ping_interval"),
            (|t| t.features = vec!["ok,Not Ok".into()], "features"),
        ];
        for (spoil, field) in cases {
            let mut terms = raw();
            spoil(&mut terms);
            let err = terms.resolve().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn empty_cells_take_the_defaults() {
        let row = RawTerms { runners: Some(" ".into()), features: vec![String::new()], ..raw() };
        let defaults = RawTerms {
            runners: Some("9".into()),
            features: vec!["sso".into()],
            ..RawTerms::default()
        };
        let terms = row.or_defaults(&defaults).resolve().expect("terms");
        assert_eq!(terms.runners, 9);
        assert_eq!(terms.features.len(), 1);
    }
}
