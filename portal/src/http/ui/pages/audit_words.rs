//! A ledger entry in words, for people: "Dana Smith revoked license 3f2a1b9c… of Acme Corp",
//! with the people, licenses and keys it names as links where the reader may follow them.
//! Rendering only: the stored entries (hashed into the ledger's tree) keep their ids.

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, html};

use super::url_query;
use crate::domain::StoredEntry;

/// Every action the ledger records, with its words for the filter.
pub const ACTIONS: &[(&str, &str)] = &[
    ("license.registered", "license registered"),
    ("license.suspended", "license suspended"),
    ("license.reinstated", "license reinstated"),
    ("license.revoked", "license revoked"),
    ("license.binding_reset", "hub binding reset"),
    ("license.binding_reset_by_customer", "hub binding reset by the customer"),
    ("license.runner_places_freed", "runner places freed"),
    ("license.assigned", "license assigned"),
    ("organization.created", "organization created"),
    ("user.created", "account created"),
    ("user.invited", "person invited"),
    ("invitation.cancelled", "invitation cancelled"),
    ("user.joined", "person joined"),
    ("user.role_changed", "role changed"),
    ("user.erased", "person removed"),
    ("user.name_changed", "name changed"),
    ("user.email_changed", "email changed"),
    ("user.password_changed", "password changed"),
    ("user.password_reset_sent", "password reset sent"),
    ("user.password_reset", "password reset"),
    ("user.second_factor_on", "two-step sign-in turned on"),
    ("user.second_factor_off", "two-step sign-in turned off"),
    ("user.sign_in_delayed", "sign-ins delayed"),
    ("user.code_delayed", "codes delayed"),
    ("user.signed_out_everywhere", "signed out everywhere"),
    ("api_key.created", "API key made"),
    ("api_key.revoked", "API key revoked"),
    ("ledger.cut", "old entries cut"),
];

/// What the words may name, as the reader may see it.
#[derive(Default)]
pub struct AuditNames {
    /// People by id: their name, and whether the reader may open their page.
    pub people: BTreeMap<String, (String, bool)>,
    /// Organizations by id: their name.
    pub organizations: BTreeMap<String, String>,
    /// The API keys the reader may see.
    pub keys: BTreeSet<String>,
    /// The reader's own id.
    pub reader: String,
}

/// A piece of a sentence.
enum Piece {
    Text(String),
    Link { href: String, text: String },
    Code(String),
}

fn text(t: impl Into<String>) -> Piece {
    Piece::Text(t.into())
}

/// A license by the first characters of its id, linking to its page.
fn license(id: &str) -> Piece {
    let short: String = id.chars().take(8).collect();
    let text = if short.len() < id.len() { format!("{short}…") } else { short };
    Piece::Link { href: format!("/ui/licenses/{id}"), text }
}

impl AuditNames {
    fn person(&self, id: &str, capital: bool) -> Piece {
        match self.people.get(id) {
            Some((name, _)) if id == self.reader => {
                Piece::Link { href: "/ui/profile".to_owned(), text: name.clone() }
            }
            Some((name, true)) => {
                Piece::Link { href: format!("/ui/users/{id}"), text: name.clone() }
            }
            Some((name, false)) => text(name.clone()),
            None if capital => text("A removed person"),
            None => text("a removed person"),
        }
    }

    fn key(&self, id: &str) -> Piece {
        if self.keys.contains(id) {
            Piece::Link { href: "/ui/api-keys".to_owned(), text: id.to_owned() }
        } else {
            Piece::Code(id.to_owned())
        }
    }

    fn organization(&self, id: &str) -> Piece {
        match self.organizations.get(id) {
            Some(name) => Piece::Link {
                href: format!("/ui/licenses?{}", url_query(&[("org", name)])),
                text: name.clone(),
            },
            None => text("another organization"),
        }
    }

    fn actor(&self, actor: &str) -> Vec<Piece> {
        match actor {
            "cli" => vec![text("Someone at the portal's command line")],
            "portal" => vec![text("The portal")],
            _ => match actor.strip_prefix("key:") {
                Some(key) => vec![text("API key "), self.key(key)],
                None => vec![self.person(actor, true)],
            },
        }
    }

    /// The entry as a sentence.
    fn sentence(&self, stored: &StoredEntry) -> Vec<Piece> {
        let e = &stored.entry;
        let ids: Vec<&str> = e.target.split(' ').filter(|t| !t.is_empty()).collect();
        let first = ids.first().copied().unwrap_or_default();
        let mut out = self.actor(&e.actor);
        let of_org = |out: &mut Vec<Piece>| {
            if let Some(org) = &e.org {
                out.push(text(" of "));
                out.push(self.organization(org));
            }
        };
        let licenses = |out: &mut Vec<Piece>, ids: &[&str]| {
            out.push(text(if ids.len() == 1 { "license " } else { "licenses " }));
            for (n, id) in ids.iter().take(3).enumerate() {
                if n > 0 {
                    out.push(text(", "));
                }
                out.push(license(id));
            }
            if ids.len() > 3 {
                out.push(text(format!(" and {} more", ids.len() - 3)));
            }
        };
        let self_or = |out: &mut Vec<Piece>, verb: &str, whose: &str| {
            if first == e.actor {
                out.push(text(format!(" {verb} their {whose}")));
            } else {
                out.push(text(format!(" {verb} the {whose} of ")));
                out.push(self.person(first, false));
            }
        };
        let verb = |out: &mut Vec<Piece>, words: &str| out.push(text(format!(" {words} ")));
        match e.action.as_str() {
            "license.registered" => {
                verb(&mut out, "registered");
                licenses(&mut out, &ids);
            }
            "license.suspended" | "license.reinstated" | "license.revoked" => {
                verb(&mut out, &e.action["license.".len()..]);
                licenses(&mut out, &ids);
                of_org(&mut out);
            }
            "license.binding_reset" | "license.binding_reset_by_customer" => {
                verb(&mut out, "reset the hub binding of");
                licenses(&mut out, &ids[..ids.len().min(1)]);
                of_org(&mut out);
            }
            "license.runner_places_freed" => {
                match ids.get(1).and_then(|p| p.strip_prefix("place:")) {
                    Some(place) => {
                        verb(&mut out, "freed the runner place");
                        out.push(Piece::Code(place.to_owned()));
                        out.push(text(" of "));
                    }
                    None => verb(&mut out, "freed the runner places of"),
                }
                licenses(&mut out, &ids[..ids.len().min(1)]);
                of_org(&mut out);
            }
            "license.assigned" => {
                verb(&mut out, "assigned");
                licenses(&mut out, &ids[..ids.len().min(1)]);
                match ids.get(1) {
                    Some(&"-") | None => out.push(text(" to no organization")),
                    Some(org) => {
                        out.push(text(" to "));
                        out.push(self.organization(org));
                    }
                }
            }
            "organization.created" => {
                verb(&mut out, "created the organization");
                out.push(self.organization(first));
            }
            "user.created" => {
                verb(&mut out, "created the account of");
                out.push(self.person(first, false));
            }
            "user.invited" => out.push(text(" invited someone")),
            "invitation.cancelled" => out.push(text(" cancelled an invitation")),
            "user.joined" => out.push(text(" joined by invitation")),
            "user.role_changed" => {
                verb(&mut out, "made");
                out.push(self.person(first, false));
                out.push(text(format!(" {}", ids.get(1).unwrap_or(&"?"))));
            }
            "user.erased" if first == e.actor => out.push(text(" deleted their account")),
            "user.erased" => {
                verb(&mut out, "removed");
                out.push(self.person(first, false));
            }
            "user.name_changed" => self_or(&mut out, "changed", "name"),
            "user.email_changed" => self_or(&mut out, "changed", "email"),
            "user.password_changed" => self_or(&mut out, "changed", "password"),
            "user.password_reset" => self_or(&mut out, "reset", "password"),
            "user.password_reset_sent" => {
                verb(&mut out, "sent a password reset link to");
                out.push(self.person(first, false));
            }
            "user.second_factor_on" => self_or(&mut out, "turned on", "two-step sign-in"),
            "user.second_factor_off" => self_or(&mut out, "turned off", "two-step sign-in"),
            "user.sign_in_delayed" | "user.code_delayed" => {
                verb(&mut out, "slowed the sign-ins of");
                out.push(self.person(first, false));
                out.push(text(" after repeated failures"));
            }
            "user.signed_out_everywhere" => out.push(text(" signed out everywhere")),
            "api_key.created" => {
                verb(&mut out, "made API key");
                out.push(self.key(first));
            }
            "api_key.revoked" => {
                verb(&mut out, "revoked API key");
                out.push(self.key(first));
                if ids.get(1) == Some(&"owner-rights-changed") {
                    out.push(text(" (its owner's rights changed)"));
                }
            }
            "ledger.cut" => out.push(text(" cut the entries past retention")),
            other => {
                out.push(text(" did "));
                out.push(Piece::Code(other.to_owned()));
                out.push(text(" to "));
                out.push(Piece::Code(e.target.clone()));
            }
        }
        out.push(text("."));
        out
    }

    /// The entry in words, with links.
    pub fn words(&self, stored: &StoredEntry) -> Markup {
        html! {
            @for piece in self.sentence(stored) {
                @match piece {
                    Piece::Text(t) => (t),
                    Piece::Link { href, text } => a href=(href) { (text) },
                    Piece::Code(c) => code { (c) },
                }
            }
        }
    }

    /// The entry in plain words (for the CSV export).
    pub fn plain(&self, stored: &StoredEntry) -> String {
        self.sentence(stored)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(t) | Piece::Code(t) | Piece::Link { text: t, .. } => t,
            })
            .collect()
    }

    /// The actor in plain words (for the CSV export).
    pub fn actor_plain(&self, actor: &str) -> String {
        self.actor(actor)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(t) | Piece::Code(t) | Piece::Link { text: t, .. } => t,
            })
            .collect()
    }
}
