//! The freedesktop Secret Service (gnome-keyring, KeePassXC) over the session's D-Bus: the
//! runner's key is one item with the attributes `service` = `tessera-runner` and `username` =
//! the account, in the default collection. The secret travels in a "plain" session: the bus
//! is a socket of this user's, and the session encryption would bring a Diffie-Hellman stack
//! into every product for no gain against an attacker who can read that socket.

use std::sync::Mutex;

use zeroize::Zeroizing;

use super::dbus::wire::Value;
use super::dbus::{Call, Connection, DbusError};
use super::{Backend, KeystoreError, SERVICE, Secret};

const BUS_NAME: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_INTERFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_INTERFACE: &str = "org.freedesktop.Secret.Item";
/// The path the API uses for "no prompt needed".
const NO_PROMPT: &str = "/";

/// The entry `tessera-runner`/`account` in the session's Secret Service.
pub struct Entry {
    account: String,
    session: Mutex<Session>,
}

struct Session {
    connection: Connection,
    /// The "plain" session the secrets travel in.
    path: String,
}

impl Entry {
    /// Connects to the session bus and opens a session with its Secret Service.
    pub fn open(account: &str) -> Result<Self, KeystoreError> {
        let mut connection = Connection::session().map_err(failed)?;
        let reply = connection
            .call(
                &service("OpenSession"),
                &[Value::Str("plain".into()), Value::Variant(Box::new(Value::Str(String::new())))],
            )
            .map_err(failed)?;
        let path = match &reply[..] {
            [Value::Variant(_), Value::Path(path)] => path.clone(),
            _ => return Err(failed(DbusError::Reply("OpenSession"))),
        };
        Ok(Entry { account: account.to_owned(), session: Mutex::new(Session { connection, path }) })
    }

    pub fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        let mut session = self.session();
        let Some(item) = session.the_item(&self.account)? else { return Ok(None) };
        let path = Value::Path(session.path.clone());
        let reply = session.call(&item_call(&item, "GetSecret"), &[path]).map_err(failed)?;
        let value = match &reply[..] {
            [Value::Struct(fields)] => match &fields[..] {
                [Value::Path(_), Value::Bytes(_), Value::Bytes(value), Value::Str(_)] => value,
                _ => return Err(failed(DbusError::Reply("GetSecret"))),
            },
            _ => return Err(failed(DbusError::Reply("GetSecret"))),
        };
        Secret::from_bytes(value)
            .map(Some)
            .ok_or(KeystoreError::Damaged { backend: Backend::SecretService.name() })
    }

    /// Replaces the item's secret, or creates the item in the default collection.
    pub fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        let mut session = self.session();
        let bytes = Zeroizing::new(secret.to_bytes().to_vec());
        let secret = Value::Struct(vec![
            Value::Path(session.path.clone()),
            Value::Bytes(Zeroizing::new(Vec::new())),
            Value::Bytes(bytes),
            Value::Str("application/octet-stream".into()),
        ]);
        if let Some(item) = session.the_item(&self.account)? {
            session.call(&item_call(&item, "SetSecret"), &[secret]).map_err(failed)?;
            return Ok(());
        }
        let reply =
            session.call(&service("ReadAlias"), &[Value::Str("default".into())]).map_err(failed)?;
        let collection = match &reply[..] {
            [Value::Path(path)] if path != NO_PROMPT => path.clone(),
            [Value::Path(_)] => {
                return Err(unavailable(
                    "the Secret Service has no default collection (create a keyring and make \
                     it the default)",
                ));
            }
            _ => return Err(failed(DbusError::Reply("ReadAlias"))),
        };
        let attributes = attributes(&self.account);
        let properties = Value::Array(
            "{sv}".into(),
            vec![
                property("org.freedesktop.Secret.Item.Label", Value::Str(label(&self.account))),
                property("org.freedesktop.Secret.Item.Attributes", attributes),
            ],
        );
        let create = Call {
            destination: BUS_NAME,
            path: &collection,
            interface: COLLECTION_INTERFACE,
            member: "CreateItem",
        };
        let reply =
            session.call(&create, &[properties, secret, Value::Bool(true)]).map_err(failed)?;
        match &reply[..] {
            [Value::Path(_), Value::Path(prompt)] if prompt == NO_PROMPT => Ok(()),
            [Value::Path(_), Value::Path(_)] => Err(locked_error()),
            _ => Err(failed(DbusError::Reply("CreateItem"))),
        }
    }

    pub fn delete(&self) -> Result<(), KeystoreError> {
        let mut session = self.session();
        let (unlocked, locked) = session.search(&self.account)?;
        for item in unlocked.iter().chain(&locked) {
            let reply = session.call(&item_call(item, "Delete"), &[]).map_err(failed)?;
            match &reply[..] {
                [Value::Path(prompt)] if prompt == NO_PROMPT => {}
                [Value::Path(_)] => return Err(locked_error()),
                _ => return Err(failed(DbusError::Reply("Delete"))),
            }
        }
        Ok(())
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Session {
    fn call(&mut self, call: &Call<'_>, args: &[Value]) -> Result<Vec<Value>, DbusError> {
        self.connection.call(call, args)
    }

    /// The items with this account's attributes: (unlocked, locked).
    fn search(&mut self, account: &str) -> Result<(Vec<String>, Vec<String>), KeystoreError> {
        let reply = self.call(&service("SearchItems"), &[attributes(account)]).map_err(failed)?;
        match &reply[..] {
            [unlocked, locked] => match (unlocked.as_paths(), locked.as_paths()) {
                (Some(unlocked), Some(locked)) => Ok((unlocked, locked)),
                _ => Err(failed(DbusError::Reply("SearchItems"))),
            },
            _ => Err(failed(DbusError::Reply("SearchItems"))),
        }
    }

    /// This account's one item, unlocked; `None` when there is none.
    fn the_item(&mut self, account: &str) -> Result<Option<String>, KeystoreError> {
        let (mut unlocked, locked) = self.search(account)?;
        if !locked.is_empty() {
            // A locked keyring unlocks without a prompt only where the service allows it;
            // a prompt needs a person at a desktop, which a runner's check does not have.
            let reply = self
                .call(&service("Unlock"), &[Value::Array("o".into(), paths(&locked))])
                .map_err(failed)?;
            match &reply[..] {
                [done, Value::Path(prompt)] if prompt == NO_PROMPT => {
                    unlocked.extend(done.as_paths().unwrap_or_default());
                }
                _ => return Err(locked_error()),
            }
        }
        match &unlocked[..] {
            [] => Ok(None),
            [item] => Ok(Some(item.clone())),
            more => Err(unavailable(format!(
                "{} items hold this runner's key (service {SERVICE}, username {account}): \
                 remove all but one (seahorse, secret-tool clear)",
                more.len()
            ))),
        }
    }
}

fn service(member: &'static str) -> Call<'static> {
    Call { destination: BUS_NAME, path: SERVICE_PATH, interface: SERVICE_INTERFACE, member }
}

fn item_call<'a>(item: &'a str, member: &'a str) -> Call<'a> {
    Call { destination: BUS_NAME, path: item, interface: ITEM_INTERFACE, member }
}

fn attributes(account: &str) -> Value {
    Value::string_dict([("service", SERVICE), ("username", account)])
}

fn label(account: &str) -> String {
    format!("Tessera runner cache key ({account})")
}

fn property(name: &str, value: Value) -> Value {
    Value::DictEntry(Box::new(Value::Str(name.into())), Box::new(Value::Variant(Box::new(value))))
}

fn paths(items: &[String]) -> Vec<Value> {
    items.iter().map(|p| Value::Path(p.clone())).collect()
}

fn unavailable(detail: impl Into<String>) -> KeystoreError {
    KeystoreError::unavailable(Backend::SecretService, detail)
}

fn locked_error() -> KeystoreError {
    unavailable(
        "the keyring that holds the key is locked, and unlocking it needs a person to answer a \
         prompt",
    )
}

fn failed(e: DbusError) -> KeystoreError {
    match &e {
        DbusError::Remote { name, .. } if name == "org.freedesktop.DBus.Error.ServiceUnknown" => {
            unavailable("no Secret Service is running in this D-Bus session")
        }
        DbusError::Remote { name, .. } if name == "org.freedesktop.Secret.Error.IsLocked" => {
            locked_error()
        }
        _ => unavailable(e.to_string()),
    }
}
