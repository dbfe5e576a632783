//! Sessions, and the keyed tags of cookies and forms.

use super::*;

/// How long sessions last (a setting).
pub use crate::config::SessionRules;

/// A session token as the cookie holds it (`Debug` hides it).
pub struct SessionToken(pub(super) String);

impl SessionToken {
    /// The token's text, for the session cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 the store keeps.
    pub fn digest(&self) -> String {
        token_digest(&self.0)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

pub(super) fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for a person who just signed in.
pub async fn start_session(
    store: &Store,
    user: &UserRow,
    now: UnixTime,
) -> Result<SessionToken, AccountError> {
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = SessionToken(URL_SAFE_NO_PAD.encode(random));
    store.insert_session(&token.digest(), &user.id, now.as_unix()).await?;
    store.note_signin(&user.id, now.as_unix()).await?;
    Ok(token)
}

/// The person of a session cookie, if the session is live at `now`; notes its use.
pub async fn session_user(
    store: &Store,
    token: &str,
    rules: SessionRules,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let digest = token_digest(token);
    let Some(session) = store.session(&digest).await? else { return Ok(None) };
    let now = now.as_unix();
    if now - session.last_seen_at > rules.idle_secs || now - session.created_at > rules.max_secs {
        store.delete_session(&digest).await?;
        return Ok(None);
    }
    // At most a write a minute per session, not one per page.
    if now - session.last_seen_at >= 60 {
        store.touch_session(&digest, now).await?;
    }
    Ok(store.user(&session.user_id).await?)
}

/// Ends one session (sign-out).
pub async fn end_session(store: &Store, token: &str) -> Result<(), AccountError> {
    Ok(store.delete_session(&token_digest(token)).await?)
}

/// Ends every session of a person (their own choice, recorded in the ledger); answers how
/// many there were.
pub async fn end_every_session(
    store: &Store,
    user: &UserRow,
    now: UnixTime,
) -> Result<u64, AccountError> {
    let ended = end_sessions_of(store, user).await?;
    let actor = Actor::Person(user.id.clone());
    let org = user.org_id.as_deref();
    audit::record(store, &actor, "user.signed_out_everywhere", &user.id, org, now).await?;
    Ok(ended)
}

/// Ends every session of a person, unrecorded (the caller records why); answers how many.
pub async fn end_sessions_of(store: &Store, user: &UserRow) -> Result<u64, AccountError> {
    Ok(store.delete_sessions_of(&user.id).await?)
}

/// A keyed tag, for device cookies and form tokens: HMAC-SHA-256 under the portal's
/// secret, base64url.
pub fn tag(secret: &[u8], parts: &[&str]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two tags in constant time.
pub fn same_tag(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The device cookie of a person on a browser they signed in on: tied to their password
/// (a new password retires every device cookie).
pub fn device_token(secret: &[u8], user: &UserRow) -> String {
    tag(secret, &["device", &user.id, &user.credentials_changed_at.to_string()])
}

/// The form token of a session: every state-changing form carries it.
pub fn csrf_token(secret: &[u8], session_token: &str) -> String {
    tag(secret, &["csrf", session_token])
}
