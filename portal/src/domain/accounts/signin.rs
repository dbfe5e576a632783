//! Signing in: the password step with growing delays, the second factor (TOTP or a
//! recovery code), and the cookie that carries a sign-in between the two.

use super::*;

/// How long the next sign-in waits after `failed` failures in a row: none up to 3, then
/// 1 s, 2 s, 4 s … at most 15 minutes.
pub fn signin_delay(failed: i64) -> i64 {
    if failed < 4 { 0 } else { (1i64 << (failed - 4).min(10)).min(900) }
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the person.
    Welcome(Box<UserRow>),
    /// Wrong email or password (the same answer for both).
    Refused,
    /// Too soon after failed attempts: try again in this many seconds (the second step's
    /// answer; the first step answers [`SignIn::Refused`], so as not to tell that an address
    /// has an account).
    Wait(i64),
}

/// Checks an email and password at `now`. `trusted_device`: the browser holds a device
/// cookie of this person (it signed in as them before): other people's failures do not
/// delay it. `secret`: the portal's, under which an address no one has is counted (by its
/// tag, [`unknown_address_tag`]) as an account is, so that its answer takes the same reads,
/// writes and password check as a known address's: neither the answer nor its time tells
/// whether an address has an account.
pub async fn sign_in(
    store: &Store,
    secret: &[u8],
    email: &str,
    password: &Password,
    trusted_device: &(dyn Fn(&UserRow) -> bool + Sync),
    now: UnixTime,
) -> Result<SignIn, AccountError> {
    let user = match normalize_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        // Counted and held as an account's attempt, then the same password check, against
        // a hash that matches nothing.
        let tag = unknown_address_tag(secret, email);
        let _ = claim_attempt(store, Counted::UnknownAddress(&tag), false, now).await?;
        let _ = password_matches(password, decoy_hash()).await;
        return Ok(SignIn::Refused);
    };
    let counted = Counted::Password(&user.id);
    let failed = match claim_attempt(store, counted, trusted_device(&user), now).await? {
        Claim::Go { failed } => failed,
        // A held account answers as a wrong password does, after the same work: whether an
        // address has an account is not told by a different answer or time.
        Claim::Wait(_) => {
            let _ = password_matches(password, decoy_hash()).await;
            return Ok(SignIn::Refused);
        }
    };
    let now = now.as_unix();
    let good = password_matches(password, &user.password_hash).await;
    if good {
        // Codes are counted apart: a right password clears the password count only, so it
        // buys no undelayed guesses at the code.
        store.clear_failed_signins(&user.id).await?;
        return Ok(SignIn::Welcome(Box::new(user)));
    }
    if failed == 4 {
        tracing::warn!(user = %user.id, "repeated failed sign-ins: delays begin");
        // Recorded beside the answer, not before it: an unknown address's fourth try has no
        // entry to write, and the answer's time must not tell the two apart.
        let (store, user) = (store.clone(), user.clone());
        let at = UnixTime::from_unix(now).unwrap_or(UnixTime::EPOCH);
        tokio::spawn(async move {
            let org = user.org_id.as_deref();
            let entry = "user.sign_in_delayed";
            if let Err(e) = audit::record(&store, &Actor::Portal, entry, &user.id, org, at).await {
                tracing::error!(error = %e, user = %user.id, "recording a sign-in delay failed");
            }
        });
    }
    Ok(SignIn::Refused)
}

/// The tag an address no one has is counted under: an HMAC of the address as typed (trimmed,
/// in lower case) under the portal's secret, so that the count's table never holds it.
pub fn unknown_address_tag(secret: &[u8], email: &str) -> String {
    tag(secret, &["unknown address", &email.trim().to_lowercase()])
}

/// Turns on a person's second factor: `secret` (made by [`totp::new_secret`] and shown to
/// them) is stored once they typed a code of it. Answers the recovery codes, to show once.
pub async fn enable_second_factor(
    store: &Store,
    user: &UserRow,
    secret: &str,
    typed: &str,
    now: UnixTime,
) -> Result<Vec<String>, AccountError> {
    let step = totp::matching_step(secret, typed, now).ok_or_else(|| {
        AccountError::Invalid(
            "that code does not match; check the device's clock and try the next one".to_owned(),
        )
    })?;
    let codes = totp::recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_digest(c)).collect();
    store.set_second_factor(&user.id, Some(secret), &hashes).await?;
    store.use_totp_step(&user.id, step).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.second_factor_on", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(codes)
}

/// Turns a person's second factor off (their password is asked again first).
pub async fn disable_second_factor(
    store: &Store,
    user: &UserRow,
    password: &Password,
    now: UnixTime,
) -> Result<(), AccountError> {
    confirm_own_password(store, user, password, "the password is wrong", now).await?;
    store.set_second_factor(&user.id, None, &[]).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.second_factor_off", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(())
}

/// The second step of signing in, for a person with a second factor who gave their
/// password: a code of their authenticator, or one of their recovery codes (used up). Wrong
/// codes are counted apart from wrong passwords, with the same growing delays: a right
/// password does not clear them, and they do not hold up the password step.
pub async fn second_step(
    store: &Store,
    user: &UserRow,
    typed: &str,
    trusted_device: bool,
    now: UnixTime,
) -> Result<SignIn, AccountError> {
    let Some(secret) = &user.totp_secret else {
        return Ok(SignIn::Welcome(Box::new(user.clone())));
    };
    let counted = Counted::Code(&user.id);
    let failed = match claim_attempt(store, counted, trusted_device, now).await? {
        Claim::Go { failed } => failed,
        Claim::Wait(secs) => return Ok(SignIn::Wait(secs)),
    };
    let good = match totp::matching_step(secret, typed, now) {
        Some(step) => store.use_totp_step(&user.id, step).await?,
        None => {
            let cleaned = typed.trim();
            cleaned.len() >= 10
                && store.use_recovery_code(&user.id, &totp::recovery_digest(cleaned)).await?
        }
    };
    if good {
        store.clear_code_failures(&user.id).await?;
        store.clear_failed_signins(&user.id).await?;
        return Ok(SignIn::Welcome(Box::new(user.clone())));
    }
    if failed == 4 {
        tracing::warn!(user = %user.id, "repeated wrong second-factor codes: delays begin");
        let org = user.org_id.as_deref();
        audit::record(store, &Actor::Portal, "user.code_delayed", &user.id, org, now).await?;
    }
    Ok(SignIn::Refused)
}

/// Whose failures an attempt counts on: each count is delayed on its own.
#[derive(Debug, Clone, Copy)]
enum Counted<'a> {
    /// A person's passwords (the first step), by their id.
    Password(&'a str),
    /// A person's second-factor and recovery codes (the second step), by their id.
    Code(&'a str),
    /// The passwords tried for an address no one has, by its tag: counted as a person's are.
    UnknownAddress(&'a str),
}

/// Whether an attempt may be checked now.
enum Claim {
    /// Checked; counted as the `failed`-th failure until it proves good.
    Go { failed: i64 },
    /// Held: the account waits this many more seconds.
    Wait(i64),
}

/// Checks the password a signed-in person types again to confirm a change of their own
/// (a new password, the second factor off, erasing themself), counted and delayed as a
/// sign-in's: a stolen session cookie buys no free guesses at the password. `what_wrong`
/// names the password in the answer ("the current password is wrong").
pub async fn confirm_own_password(
    store: &Store,
    user: &UserRow,
    password: &Password,
    what_wrong: &str,
    now: UnixTime,
) -> Result<(), AccountError> {
    match claim_attempt(store, Counted::Password(&user.id), false, now).await? {
        Claim::Go { .. } => {}
        Claim::Wait(secs) => {
            let unit = if secs == 1 { "second" } else { "seconds" };
            return Err(AccountError::Invalid(format!(
                "too many wrong passwords: try again in {secs} {unit}"
            )));
        }
    }
    if password_matches(password, &user.password_hash).await {
        store.clear_failed_signins(&user.id).await?;
        Ok(())
    } else {
        Err(AccountError::Invalid(what_wrong.to_owned()))
    }
}

/// Claims one sign-in attempt (a password or a code, each on its own count) for an
/// account: it is counted as
/// failed, and the delay the next attempt waits is set, BEFORE the secret is checked, with
/// a compare-and-set on the count. So attempts sent in parallel are each counted, and once
/// the delays begin they wait their turn instead of all being checked. A good attempt clears
/// the count afterwards. `trusted`: the browser signed in as this person before (its own
/// attempts are counted but not held by others' failures). An address no one has is
/// counted the same way, one read and one write, on a row of its own.
async fn claim_attempt(
    store: &Store,
    counted: Counted<'_>,
    trusted: bool,
    now: UnixTime,
) -> Result<Claim, AccountError> {
    let now = now.as_unix();
    // Each lost race means another attempt was counted: a few rounds always settle.
    for _ in 0..16 {
        let (seen, next_at) = match counted {
            Counted::Password(user_id) => {
                let user = store.user(user_id).await?.ok_or(AccountError::NoSuchUser)?;
                (user.failed_signins, user.next_signin_at)
            }
            Counted::Code(user_id) => {
                store.code_failures(user_id).await?.ok_or(AccountError::NoSuchUser)?
            }
            Counted::UnknownAddress(tag) => {
                store.unknown_address_signins(tag).await?.unwrap_or((0, 0))
            }
        };
        if now < next_at && !trusted {
            return Ok(Claim::Wait(next_at - now));
        }
        let failed = seen.saturating_add(1);
        let until = now + signin_delay(failed);
        let claimed = match counted {
            Counted::Password(user_id) => {
                store.claim_signin_attempt(user_id, seen, failed, until).await?
            }
            Counted::Code(user_id) => {
                store.claim_code_attempt(user_id, seen, failed, until).await?
            }
            Counted::UnknownAddress(tag) => {
                store.claim_unknown_address_attempt(tag, seen, failed, until).await?
            }
        };
        if claimed {
            return Ok(Claim::Go { failed });
        }
    }
    Ok(Claim::Wait(1))
}

/// The cookie that carries a sign-in between the password and the second factor: the
/// person's id and an expiry (5 minutes), tagged under the portal's secret.
pub fn pending_sign_in(secret: &[u8], user: &UserRow, now: UnixTime) -> String {
    let expires = (now.as_unix() + 300).to_string();
    let changed = user.credentials_changed_at.to_string();
    let tag = tag(secret, &["second step", &user.id, &expires, &changed]);
    format!("{}.{expires}.{tag}", user.id)
}

/// The person of a pending sign-in cookie, if it is genuine and not expired.
pub async fn pending_user(
    store: &Store,
    secret: &[u8],
    cookie: &str,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    let mut parts = cookie.splitn(3, '.');
    let (Some(id), Some(expires), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let Ok(expiry) = expires.parse::<i64>() else { return Ok(None) };
    if now.as_unix() > expiry || id.len() != 32 {
        return Ok(None);
    }
    let Some(user) = store.user(id).await? else { return Ok(None) };
    let changed = user.credentials_changed_at.to_string();
    let expected = tag(secret, &["second step", &user.id, expires, &changed]);
    Ok(same_tag(given, &expected).then_some(user))
}

/// A TOTP secret offered for enrolment, tagged so the form cannot swap it for another.
pub fn enrolment_tag(secret: &[u8], user: &UserRow, totp_secret: &str) -> String {
    tag(secret, &["enrol", &user.id, totp_secret])
}

/// Clears a person's sign-in delays, of passwords and of codes alike (the operator's unlock).
pub async fn clear_signin_delays(store: &Store, user: &UserRow) -> Result<(), AccountError> {
    store.clear_failed_signins(&user.id).await?;
    store.clear_code_failures(&user.id).await?;
    Ok(())
}

/// Turns a person's second factor off and ends their sessions (the operator's reset, for a
/// person who lost their device and codes); answers how many sessions ended.
pub async fn reset_second_factor(store: &Store, user: &UserRow) -> Result<u64, AccountError> {
    store.set_second_factor(&user.id, None, &[]).await?;
    end_sessions_of(store, user).await
}
