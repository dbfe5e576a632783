//! The machine this runner runs on, as its leases name it ([`MachineDigest`]): the id
//! systemd (or D-Bus) gives the machine, read once per process.

use std::path::Path;
use std::sync::OnceLock;

use tessera_core::keys::KeyId;
use tessera_core::machine::MachineDigest;

/// Where Linux keeps the machine's id: systemd's, else D-Bus's.
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// A machine, by its id; no `Debug` of the id (it identifies the machine).
#[derive(Clone)]
pub struct Machine {
    id: Option<String>,
}

impl Machine {
    /// This machine, read once per process: the id does not change while the machine
    /// runs, and a check stays a file read cheaper.
    pub fn this_host() -> Self {
        static ID: OnceLock<Option<String>> = OnceLock::new();
        let id = ID.get_or_init(|| MACHINE_ID_FILES.iter().find_map(|f| read_id(Path::new(f))));
        Machine { id: id.clone() }
    }

    /// A machine with the given id (tests, and hosts described by hand).
    pub fn with_id(id: &str) -> Self {
        Machine { id: Some(id.to_owned()) }
    }

    /// A machine without an id (a minimal container): its leases name no machine.
    pub fn without_id() -> Self {
        Machine { id: None }
    }

    /// This machine's digest for `runner_key`, when it has an id.
    pub fn digest(&self, runner_key: &KeyId) -> Option<MachineDigest> {
        self.id.as_deref().and_then(|id| MachineDigest::of(id, runner_key))
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.id.is_some() { "Machine(with an id)" } else { "Machine(no id)" })
    }
}

fn read_id(path: &Path) -> Option<String> {
    let bytes = tessera_core::fsutil::read_capped(path, 128).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}
