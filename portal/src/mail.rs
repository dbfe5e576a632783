//! Emails the portal sends — invitations, email changes, password resets — through the vendor's SMTP relay (lettre), when
//! one is configured. Failing to send never fails what the person did: the page says so and
//! shows the link to send by hand.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpUrl;

/// Why an email was not sent (never holds the relay's credentials).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The SMTP relay setting is not usable.
    #[error("the SMTP relay setting is not usable: {0}")]
    Config(String),
    /// An email address is not usable.
    #[error("the email address {0:?} is not usable")]
    Address(String),
    /// The relay refused or could not be reached.
    #[error("the SMTP relay refused or could not be reached: {0}")]
    Send(String),
}

/// The relay, the sender, and the portal's public address that every emailed link is built
/// from (never a request's `Host`, which whoever sends the request chooses).
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer(from {})", self.from)
    }
}

impl Mailer {
    /// A mailer for `url`, sending as `from` (`Name <address>` or an address), its links
    /// under `public_url` (the `public_url` setting).
    pub fn new(url: &SmtpUrl, from: &str, public_url: &str) -> Result<Mailer, MailError> {
        // The relay's error text may quote the URL: keep only the kind of problem.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|_| MailError::Config("give smtp://host:port or smtps://host:port".into()))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        let public_url = public_url.trim_end_matches('/').to_owned();
        Ok(Mailer { transport, from, public_url })
    }

    /// The link to `path` (`/ui/…`) for an email: under `public_url` alone.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Sends a plain-text email.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to = to.parse().map_err(|_| MailError::Address(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Send(e.to_string()))?;
        self.transport.send(message).await.map_err(|e| MailError::Send(e.to_string()))?;
        Ok(())
    }
}

/// The invitation email: who invites, as what, the link, and how long it works.
pub fn invitation_text(
    inviter: &str,
    role: &str,
    organization: Option<&str>,
    link: &str,
) -> String {
    let place = organization.map(|o| format!(" for {o}")).unwrap_or_default();
    format!(
        "{inviter} invites you to the Tessera license portal as {role}{place}.\n\n\
         Open this link to choose your password and sign in. It works once, for 7 days:\n\n\
         {link}\n\n\
         If you did not expect this, ignore this email: nothing happens unless the link is \
         opened.\n"
    )
}

/// Sent instead of an invitation to an address that already has an account: no link that
/// could make another, but where to sign in and reset a forgotten password.
pub fn already_member_text(inviter: &str, signin: &str, forgot: &str) -> String {
    format!(
        "{inviter} invited this address to the Tessera license portal, but it already has an \
         account there: nothing was changed.\n\n\
         Sign in at {signin}\n\
         Forgot your password? {forgot}\n\n\
         If you did not expect this, ignore this email.\n"
    )
}

/// The email to an address someone asked to change their own email to, when it has an
/// account already: no link, what to do instead.
pub fn address_taken_text(asker: &str, signin: &str, forgot: &str) -> String {
    format!(
        "Someone signed in as {asker} on the Tessera license portal asked to use this address \
         for their account, but it already has an account there: nothing was changed.\n\n\
         Sign in at {signin}\n\
         Forgot your password? {forgot}\n\n\
         If you did not expect this, ignore this email.\n"
    )
}

/// The password-reset email: the link, how long it works, and what to do if it was not them.
pub fn password_reset_text(name: &str, link: &str) -> String {
    format!(
        "Hello {name},\n\n\
         someone asked to reset your password on the Tessera license portal. Open this link to \
         choose a new one. It works once, for 30 minutes:\n\n\
         {link}\n\n\
         If it was not you, ignore this email: your password stays as it is.\n"
    )
}
