//! How a license is extended. A license is a file the vendor signs with a key the portal
//! never holds, so the portal cannot extend one: the page says how the vendor issues the
//! renewal (the command, with this license's terms) and what follows, and nothing else.

use super::*;
use crate::domain::licenses::LicenseRow;

/// What the extend page shows.
pub struct RenewalView<'a> {
    pub license: &'a LicenseRow,
    /// The suggested new end (a year after the current one) and, for a license with a hard
    /// stop, the stop moved by as much.
    pub expires: i64,
    pub terminates: Option<i64>,
    /// The portal's address, when configured (the new license's portal and where it is
    /// registered).
    pub portal_url: Option<&'a str>,
}

/// `text` as one word of a POSIX shell command: as it is when it is plainly safe, else in
/// single quotes (a quote inside written `'\''`).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+=,".contains(&b));
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

/// A file name for the renewed license: the organization's letters and digits.
fn file_name(org: &str) -> String {
    let mut name: String = org
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    name = name.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if name.is_empty() { "renewed.license".to_owned() } else { format!("{name}-renewed.license") }
}

/// The `tessera issue` command that makes the renewal: this license's terms, the new end.
pub fn renewal_command(view: &RenewalView<'_>) -> String {
    let l = view.license;
    let portal = view.portal_url.map(|u| u.trim_end_matches('/')).unwrap_or("https://PORTAL");
    let interval = match l.ping_interval_secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", (s / 60).max(1)),
    };
    // One option a line: it reads on a phone and copies as one command.
    let mut lines = vec![
        "tessera issue --key signing.key".to_owned(),
        format!("  --org {}", shell_word(&l.org)),
        format!("  --product {}", shell_word(&l.product)),
        format!("  --runners {}", l.runners),
        format!("  --expires {}", day(view.expires)),
    ];
    if let Some(t) = view.terminates {
        lines.push(format!("  --terminates {}", day(t)));
    }
    lines.push(format!("  --grace-days {}", l.grace_period_secs / 86_400));
    lines.push(format!("  --ping-interval {interval}"));
    lines.push("  --feature FEATURES-OF-THE-LICENSE".to_owned());
    lines.push(format!("  --portal-url {}", shell_word(portal)));
    lines.push(format!("  --out {}", file_name(&l.org)));
    lines.push(format!("  --register {}", shell_word(portal)));
    lines.join(" \\\n")
}

pub fn renewal(chrome: &Chrome<'_>, view: &RenewalView<'_>) -> Markup {
    let l = view.license;
    let file = file_name(&l.org);
    page(
        "Extend",
        Some(chrome),
        html! {
            h1 { "Extend license " code { (l.id) } }
            p { (l.org) " · " (l.product) " · ends " (day(l.expires_at)) }
            p {
                "The portal cannot extend a license: a license is a file signed with your signing key, "
                "which the portal never holds. A renewal is a new license, with its own id and license key, "
                "issued with " code { "tessera issue" } " where your key is. The portal does not replace a "
                "registered license with another of the same id: registering a license that is already "
                "there leaves it as it is."
            }
            h2 { "1. Issue the renewal and register it" }
            p {
                "This license's terms, with an end one year after the current one: change "
                code { "--expires" } " to the end you sold. The portal does not keep the license's "
                "features: " code { "tessera inspect" } " of the current file lists them, one "
                code { "--feature" } " each."
            }
            @if view.portal_url.is_none() {
                p { "Replace " code { "https://PORTAL" } " with this portal's address (the setting "
                    code { "public_url" } " is not set)." }
            }
            pre.command {
                code { (renewal_command(view)) }
            }
            p { code { "--register" } " registers the new license here at once (an API key with the write scope in "
                code { "TESSERA_API_KEY" } "); or upload the file on " a href="/ui/register" { "Register licenses" } "." }
            h2 { "2. The customer activates it" }
            p { "Send the new file to the customer. On the machine that runs their hub:" }
            pre.command {
                code { "tessera-hub activate --license " (file) }
            }
            p { "The hub keeps its key and is bound again with the new license; its runners take the new license at their next refresh." }
            h2 { "3. Retire this one" }
            p {
                "Once the new license validates, revoke this one, or let it end on " (day(l.expires_at)) "."
            }
            div.actions {
                a href={ "/ui/licenses/" (l.id) } { "Back to the license" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_word_is_quoted_only_when_it_must_be() {
        assert_eq!(shell_word("acme-hub"), "acme-hub");
        assert_eq!(shell_word("https://p.example/x"), "https://p.example/x");
        assert_eq!(shell_word("Acme Corp"), "'Acme Corp'");
        assert_eq!(shell_word("O'Brien $HOME"), r"'O'\''Brien $HOME'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn the_file_name_keeps_letters_and_digits() {
        assert_eq!(file_name("O'Brien & Co"), "o-brien-co-renewed.license");
        assert_eq!(file_name("=="), "renewed.license");
    }
}
