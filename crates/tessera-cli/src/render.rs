//! How claims and verdicts look to people (aligned text) and to scripts (JSON).

use std::fmt::Write as _;

use serde::Serialize;
use tessera_core::Claims;
use tessera_core::fingerprint::FingerprintBinding;
use tessera_core::keys::KeyId;
use tessera_core::license::Verdict;

/// Claims with times as RFC 3339 and durations in plain units.
#[derive(Debug, Serialize)]
pub struct ClaimsView<'a> {
    pub id: String,
    pub key: String,
    pub org: &'a str,
    pub product: &'a str,
    pub runners: u32,
    pub issued_at: String,
    pub not_before: String,
    pub expires_at: String,
    pub terminates_at: Option<String>,
    pub features: Vec<&'a str>,
    pub grace_period_secs: u32,
    pub ping_interval_secs: u32,
    pub portal_url: Option<&'a str>,
    pub fingerprint: Option<&'a FingerprintBinding>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub runner_countersign: bool,
}

impl<'a> ClaimsView<'a> {
    pub fn new(claims: &'a Claims) -> Self {
        ClaimsView {
            id: claims.id.to_string(),
            key: claims.key.expose(),
            org: claims.org.as_str(),
            product: claims.product.as_str(),
            runners: claims.runners,
            issued_at: claims.issued_at.to_rfc3339(),
            not_before: claims.not_before.to_rfc3339(),
            expires_at: claims.expires_at.to_rfc3339(),
            terminates_at: claims.terminates_at.map(|t| t.to_rfc3339()),
            features: claims.features.iter().map(|f| f.as_str()).collect(),
            grace_period_secs: claims.grace_period_secs,
            ping_interval_secs: claims.ping_interval_secs,
            portal_url: claims.portal_url.as_ref().map(|u| u.as_str()),
            fingerprint: claims.fingerprint.as_ref(),
            runner_countersign: claims.runner_countersign,
        }
    }

    /// Aligned `name  value` lines, indented by two spaces.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut row = |name: &str, value: &str| {
            let _ = writeln!(out, "  {name:<14}{value}");
        };
        row("license id", &self.id);
        row("license key", &self.key);
        row("org", self.org);
        row("product", self.product);
        row("runners", &self.runners.to_string());
        if self.runner_countersign {
            row("countersign", "the portal countersigns runner keys");
        }
        row("issued at", &self.issued_at);
        row("not before", &self.not_before);
        row("expires at", &self.expires_at);
        if let Some(t) = &self.terminates_at {
            row("terminates at", t);
        }
        let features =
            if self.features.is_empty() { "-".to_owned() } else { self.features.join(", ") };
        row("features", &features);
        row("grace period", &duration(self.grace_period_secs));
        row("ping interval", &duration(self.ping_interval_secs));
        if let Some(url) = self.portal_url {
            row("portal", url);
        }
        if let Some(binding) = self.fingerprint {
            row(
                "bound to host",
                &format!(
                    "{} components, {} must match",
                    binding.fingerprint().len(),
                    binding.min_matches()
                ),
            );
        }
        out
    }
}

fn duration(secs: u32) -> String {
    humantime::format_duration(std::time::Duration::from_secs(secs.into())).to_string()
}

/// The JSON printed by `tessera verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifyReport<'a> {
    pub status: tessera_core::Status,
    pub valid: bool,
    pub problem: Option<String>,
    pub key_id: Option<KeyId>,
    pub checked_at: String,
    pub claims: Option<ClaimsView<'a>>,
}

impl<'a> VerifyReport<'a> {
    pub fn new(verdict: &'a Verdict, at: tessera_core::UnixTime) -> Self {
        VerifyReport {
            status: verdict.status(),
            valid: verdict.is_valid(),
            problem: verdict.problem().map(ToString::to_string),
            key_id: verdict.key_id(),
            checked_at: at.to_rfc3339(),
            claims: verdict.claims().map(ClaimsView::new),
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = format!("status: {}", self.status);
        if let Some(problem) = &self.problem {
            let _ = write!(out, " ({problem})");
        }
        out.push('\n');
        if let Some(key_id) = self.key_id {
            let _ = writeln!(out, "  {:<14}{key_id}", "signed by");
        }
        let _ = writeln!(out, "  {:<14}{}", "checked at", self.checked_at);
        if let Some(claims) = &self.claims {
            out.push_str(&claims.to_text());
        }
        out
    }
}
