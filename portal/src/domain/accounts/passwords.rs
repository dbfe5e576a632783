//! Passwords: the rules a new one must meet, hashing and checking (argon2id, off the
//! async workers), changing one, and resetting a forgotten one by a link.

use super::*;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest, so that hashing cannot be made expensive.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id cost of a password hash: 19 MiB, 2 passes, 1 lane (OWASP's first choice for
/// argon2id). Each stored hash names its own cost, so raising this leaves old hashes valid.
pub const PASSWORD_COST: (u32, u32, u32) = (19 * 1024, 2, 1);

const COMMON: &str = include_str!("common_passwords.txt");

/// A password a person typed: compared and hashed, never shown (`Debug` hides it).
pub struct Password(String);

impl Password {
    /// Wraps a typed password.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The least zxcvbn score (0 to 4) a new password needs: 3 is "safely unguessable: moderate
/// protection from an offline slow-hash attack" (at least 10^8 guesses).
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// The characters of a password the strength estimator reads: its time grows fast with the
/// length (a 1,000-character password took it seconds), and a hundred characters that pass
/// are strong enough whatever follows.
const STRENGTH_CHARS: usize = 100;

/// [`check_new_password`] off the async workers: the strength estimate is milliseconds of
/// CPU, up to three times per password, which must not hold up other requests.
pub async fn check_new_password_async(
    password: &Password,
    email: &str,
    personal: &[&str],
) -> Result<(), AccountError> {
    let password = Password::new(password.0.clone());
    let email = email.to_owned();
    let personal: Vec<String> = personal.iter().map(|p| (*p).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
        check_new_password(&password, &email, &personal)
    })
    .await
    .map_err(|e| AccountError::Unfinished(e.to_string()))?
}

/// Checks a new password against the rules; the error says, in one sentence, which one it
/// breaks. `email` and `personal` (the person's name, their organization's name) are the
/// person's own details: a password built on them is refused, as is one that the zxcvbn
/// strength estimator finds easy to guess (a word and a year, a keyboard row, a date).
pub fn check_new_password(
    password: &Password,
    email: &str,
    personal: &[&str],
) -> Result<(), AccountError> {
    let text = password.0.as_str();
    if text.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if text.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "the password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let lower = text.to_lowercase();
    let email = email.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let first = lower.chars().next().unwrap_or(' ');
    let common = COMMON.lines().any(|line| !line.starts_with('#') && line == lower)
        || lower.chars().all(|c| c == first);
    if common {
        return Err(AccountError::Invalid(
            "this password is too common (it is on a list of common passwords); choose another"
                .to_owned(),
        ));
    }
    // The person's details, whole, word by word and run together ("dana.smith", "dana",
    // "smith", "danasmith").
    let mut inputs: Vec<String> = vec![email.clone()];
    for detail in personal.iter().copied().chain([local]) {
        let detail = detail.trim().to_lowercase();
        inputs.extend(
            detail
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| word.chars().count() >= 3)
                .map(str::to_owned),
        );
        inputs.push(detail.chars().filter(|c| c.is_alphanumeric()).collect());
        inputs.push(detail);
    }
    inputs.retain(|input| input.chars().count() >= 3);
    inputs.sort();
    inputs.dedup();
    // The longest first, so that "dana.smith" goes whole before "dana" breaks it up.
    inputs.sort_by_key(|input| std::cmp::Reverse(input.len()));
    let personal_refusal = || {
        AccountError::Invalid(
            "this password is built on your email, name or organization's name; choose another"
                .to_owned(),
        )
    };
    // What is left once the person's details are taken out must be strong on its own: the
    // address and a year leaves a year.
    // zxcvbn reads the first STRENGTH_CHARS characters only (its time grows fast with the
    // length).
    let checked: String = text.chars().take(STRENGTH_CHARS).collect();
    let checked_lower = checked.to_lowercase();
    let mut left = checked_lower.clone();
    for input in &inputs {
        left = left.replace(input.as_str(), "");
    }
    if left != checked_lower && zxcvbn::zxcvbn(&left, &[]).score() < MIN_PASSWORD_SCORE {
        return Err(personal_refusal());
    }
    // The same details written backwards or in leetspeak ("nhoj", "j0hn.d0e2026").
    if built_on_disguised_details(&checked_lower, &inputs) {
        return Err(personal_refusal());
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(&checked, &inputs);
    if estimate.score() >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    // Weak only because of the person's details: say so (zxcvbn itself has no words for it).
    if zxcvbn::zxcvbn(&checked, &[]).score() >= MIN_PASSWORD_SCORE {
        return Err(personal_refusal());
    }
    let why = estimate.feedback().and_then(|feedback| {
        feedback
            .warning()
            .map(|warning| warning.to_string())
            .or_else(|| feedback.suggestions().first().map(ToString::to_string))
    });
    let why = why.map(|why| why.trim_end_matches('.').to_lowercase());
    Err(AccountError::Invalid(match why {
        Some(why) => format!(
            "this password is too easy to guess ({why}); a few unrelated words make a strong one"
        ),
        None => {
            "this password is too easy to guess; a few unrelated words make a strong one".to_owned()
        }
    }))
}

/// The characters leetspeak writes for letters, read back (`1` is `i` or `l`: both are
/// tried); every other character stays.
fn unleet(text: &str, one: char) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

/// Whether `password` (in lower case) is built on the person's details (`inputs`, in lower
/// case) once its leetspeak is read back, forwards or backwards: its letters, digits and
/// symbols left out, are mostly those details; or what is left once they are taken out is
/// easy to guess (the details and a year).
fn built_on_disguised_details(password: &str, inputs: &[String]) -> bool {
    // Each detail by its letters alone, forwards and backwards, the longest first.
    let mut details: Vec<String> = inputs
        .iter()
        .map(|input| input.chars().filter(|c| c.is_alphabetic()).collect::<String>())
        .filter(|letters| letters.chars().count() >= 3)
        .flat_map(|letters| {
            let backwards: String = letters.chars().rev().collect();
            [letters, backwards]
        })
        .collect();
    details.sort();
    details.dedup();
    details.sort_by_key(|detail| std::cmp::Reverse(detail.len()));
    let without_details = |text: &str| {
        let mut left = text.to_owned();
        for detail in &details {
            left = left.replace(detail.as_str(), "");
        }
        left
    };
    ['i', 'l'].into_iter().any(|one| {
        let read = unleet(password, one);
        // The letters alone: "j0hn.d0e2026" reads "johndoeo".
        let letters: String = read.chars().filter(|c| c.is_alphabetic()).collect();
        let left_letters = without_details(&letters);
        let personal = letters.chars().count() - left_letters.chars().count();
        if personal > 0 && personal * 2 >= letters.chars().count() {
            return true;
        }
        // Details inside the whole text, with what surrounds them.
        let left = without_details(&read);
        left != read && zxcvbn::zxcvbn(&left, &[]).score() < MIN_PASSWORD_SCORE
    })
}

/// The argon2id PHC string of a password under a fresh salt.
pub fn hash_password(password: &Password) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let (m, t, p) = PASSWORD_COST;
    let hash = argon2id(password.0.as_bytes(), &salt, m, t, p)
        .ok_or_else(|| AccountError::Invalid("password hashing failed".to_owned()))?;
    Ok(format!(
        "$argon2id$v=19$m={m},t={t},p={p}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    ))
}

pub(super) fn argon2id(password: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Option<[u8; 32]> {
    let params = Params::new(m, t, p, Some(32)).ok()?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut out)
        .ok()?;
    Some(out)
}

/// Whether `password` matches a stored PHC string (compared in constant time). A stored
/// string that does not parse, or asks for an unreasonable cost, matches nothing.
pub fn verify_password(password: &Password, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let ["", "argon2id", "v=19", params, salt, hash] = parts.as_slice() else { return false };
    let mut cost = [0u32; 3];
    for (slot, (field, name)) in cost.iter_mut().zip(params.split(',').zip(["m=", "t=", "p="])) {
        match field.strip_prefix(name).and_then(|v| v.parse().ok()) {
            Some(v) => *slot = v,
            None => return false,
        }
    }
    let [m, t, p] = cost;
    if m > 1024 * 1024 || t > 16 || p > 16 || password.0.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (Ok(salt), Ok(expected)) = (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(hash))
    else {
        return false;
    };
    argon2id(password.0.as_bytes(), &salt, m, t, p)
        .is_some_and(|got| bool::from(got.as_slice().ct_eq(&expected)))
}

/// Password checks running at once, at most: each takes 19 MiB and tens of milliseconds, so
/// a flood of sign-ins (any emails) waits in line instead of taking the machine's memory.
const CHECKS_AT_ONCE: usize = 4;

/// [`verify_password`] off the async workers, a few at a time.
pub(super) async fn password_matches(password: &Password, stored: &str) -> bool {
    static LINE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHECKS_AT_ONCE);
    let Ok(_turn) = LINE.acquire().await else { return false };
    let (typed, stored) = (Password::new(password.0.clone()), stored.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&typed, &stored)).await.unwrap_or(false)
}

/// A stored hash to check a password against when no one has the email: a sign-in for an
/// unknown email costs the same time as one for a known email.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&Password::new("decoy password, never anyone's")).unwrap_or_default()
    })
}

/// Changes a person's password after checking the current one; ends all their sessions.
pub async fn change_password(
    store: &Store,
    user: &UserRow,
    current: &Password,
    new: &Password,
    now: UnixTime,
) -> Result<(), AccountError> {
    super::signin::confirm_own_password(store, user, current, "the current password is wrong", now)
        .await?;
    let org_name = organization_name(store, user.org_id.as_deref()).await?;
    check_new_password_async(new, &user.email, &[&user.name, &org_name]).await?;
    store.set_password(&user.id, &hash_password(new)?, now.as_unix()).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.password_changed", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(())
}

/// How long a password-reset link works: 30 minutes.
pub const PASSWORD_RESET_SECS: i64 = 30 * 60;

/// Starts resetting a forgotten password: a one-time token whose SHA-256 alone is stored,
/// replacing any earlier link of the person. Answers the person and the token for the link,
/// or None when no one has the address (or it is not one). The caller answers the same for
/// both, and runs this off the request's path, so that neither the answer nor its time
/// tells whether an address has an account.
pub async fn request_password_reset(
    store: &Store,
    email: &str,
    now: UnixTime,
) -> Result<Option<(UserRow, InvitationToken)>, AccountError> {
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = InvitationToken(URL_SAFE_NO_PAD.encode(random));
    let user = match normalize_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let Some(user) = user else { return Ok(None) };
    let expires = now.as_unix() + PASSWORD_RESET_SECS;
    store.insert_password_reset(&token_digest(token.expose()), &user.id, expires).await?;
    let org = user.org_id.as_deref();
    audit::record(store, &Actor::Portal, "user.password_reset_sent", &user.id, org, now).await?;
    Ok(Some((user, token)))
}

/// The person a password-reset link's token is for, while it works (unknown, used and
/// expired tokens alike are none). The token is looked up by its SHA-256: how long the
/// look-up takes tells nothing about the token's own characters.
pub async fn password_reset_user(
    store: &Store,
    token: &str,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let Some((user_id, expires)) = store.password_reset(&token_digest(token)).await? else {
        return Ok(None);
    };
    if now.as_unix() > expires {
        return Ok(None);
    }
    Ok(store.user(&user_id).await?)
}

/// Sets a new password by a reset link's token (used once): the password rules of
/// [`check_new_password`] hold, every session of the person ends, their failed sign-ins are
/// cleared, and the ledger records it. A second factor stays on: the next sign-in asks it.
pub async fn reset_password(
    store: &Store,
    token: &str,
    new: &Password,
    now: UnixTime,
) -> Result<UserRow, AccountError> {
    let gone =
        || AccountError::Invalid("this link has expired or was used; ask for a new one".to_owned());
    let user = password_reset_user(store, token, now).await?.ok_or_else(gone)?;
    let org_name = organization_name(store, user.org_id.as_deref()).await?;
    check_new_password_async(new, &user.email, &[&user.name, &org_name]).await?;
    let hash = hash_password(new)?;
    if !store.use_password_reset(&token_digest(token), &user.id, &hash, now.as_unix()).await? {
        return Err(gone());
    }
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.password_reset", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(user)
}
