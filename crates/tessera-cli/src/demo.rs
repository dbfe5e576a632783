//! `tessera demo`: the main job once, end to end, in a temporary directory that is removed
//! afterwards. Every step prints what it did and the status it got.

use std::io::Write;

use tessera_core::license::{Expectations, LicenseTerms, sign, verify};
use tessera_core::time::UnixTime;
use tessera_core::{Status, TrustSet};

use crate::secrets::write_key_pair;

/// The demo failed: a step did not give the status it should have, or I/O failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    #[error("demo step {step:?} gave {got}, expected {expected}")]
    Unexpected { step: &'static str, got: Status, expected: Status },
    #[error("demo I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Keygen(#[from] crate::secrets::KeygenError),
    #[error(transparent)]
    Terms(#[from] crate::terms::TermsError),
    #[error(transparent)]
    Issue(#[from] tessera_core::license::IssueError),
    #[error(transparent)]
    Claim(#[from] tessera_core::license::ClaimError),
    #[error(transparent)]
    Trust(#[from] tessera_core::trust::TrustError),
}

/// Runs the demo at time `now`, writing its story to `out`.
pub fn run(now: UnixTime, out: &mut dyn Write) -> Result<(), DemoError> {
    let dir = tempfile::Builder::new().prefix("tessera-demo-").tempdir()?;
    writeln!(out, "Tessera demo in {} (removed at the end)\n", dir.path().display())?;

    let (key, files) = write_key_pair(&dir.path().join("vendor"), None, false)?;
    writeln!(
        out,
        "[1] keygen: vendor signing key {} -> {}",
        files.key_id,
        files.public_key_file.display()
    )?;

    let expires = now.saturating_add(std::time::Duration::from_secs(365 * 86_400));
    let raw = crate::terms::RawTerms {
        org: Some("Demo Customer Ltd".into()),
        product: Some("demo-hub".into()),
        runners: Some("2".into()),
        expires: Some(expires.to_rfc3339()),
        features: vec!["sso,audit-log".into()],
        portal_url: Some("https://portal.example.com".into()),
        ..Default::default()
    };
    let terms: LicenseTerms = raw.resolve()?;
    let claims = terms.issue(now)?;
    let text = sign(&claims, &key)?;
    let license_path = dir.path().join("demo.license");
    std::fs::write(&license_path, &text)?;
    writeln!(
        out,
        "[2] issue: license {} for {} ({} runners, expires {}) -> {}",
        claims.id,
        claims.org,
        claims.runners,
        claims.expires_at,
        license_path.display()
    )?;
    writeln!(out, "    license key: {}", claims.key.expose())?;

    let trust = TrustSet::parse(&std::fs::read(&files.public_key_file)?)?;
    let expect = Expectations::default();
    let mut step = |n: u8, label: &'static str, bytes: &[u8], at: UnixTime, expected: Status| {
        let verdict = verify(bytes, &trust, at, &expect);
        let got = verdict.status();
        let why = verdict.problem().map(|p| format!(" ({p})")).unwrap_or_default();
        writeln!(out, "[{n}] verify {label}: {got}{why}")?;
        if got == expected {
            Ok(())
        } else {
            Err(DemoError::Unexpected { step: label, got, expected })
        }
    };
    step(3, "today", text.as_bytes(), now, Status::Valid)?;
    let later = expires.saturating_add(std::time::Duration::from_secs(86_400));
    step(4, "a year and a day from now", text.as_bytes(), later, Status::Expired)?;
    let mut tampered = text.clone().into_bytes();
    // Change the runner limit's neighbourhood: any single byte of the payload will do.
    let payload_line = text.lines().position(str::is_empty).unwrap_or(5) + 2;
    let offset: usize = text.lines().take(payload_line).map(|l| l.len() + 1).sum::<usize>() + 10;
    tampered[offset] = if tampered[offset] == b'A' { b'B' } else { b'A' };
    step(5, "with one byte changed", &tampered, now, Status::BadSignature)?;
    let stranger = tessera_core::keys::SigningKey::generate().map_err(std::io::Error::other)?;
    let foreign = sign(&claims, &stranger)?;
    step(6, "signed by an unknown key", foreign.as_bytes(), now, Status::UnknownKey)?;

    dir.close()?;
    writeln!(out, "\nDone: every step gave the status it should. Temporary files removed.")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_runs_and_tells_its_story() {
        let mut out = Vec::new();
        let now = "2026-11-23T12:00:00Z".parse().expect("time");
        super::run(now, &mut out).expect("demo");
        let story = String::from_utf8(out).expect("utf8");
        for expected in ["verify today: valid", "expired", "bad_signature", "unknown_key"] {
            assert!(story.contains(expected), "{story}");
        }
    }
}
