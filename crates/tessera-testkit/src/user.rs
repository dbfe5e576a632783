//! A fresh user for one test (the tests run as root, as CI does): made with `useradd`,
//! removed with `userdel` when dropped. For "the same answer as another user, from every
//! context" tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A user made for one test.
#[derive(Debug)]
pub struct FreshUser {
    /// The user's login name (`tsr` and random hex).
    pub name: String,
    /// The user's numeric id.
    pub uid: u32,
}

impl FreshUser {
    /// Makes the user (no home directory, `/bin/sh`); panics, naming the cause, when this
    /// process may not (not root).
    pub fn new() -> Self {
        let me = Command::new("id").arg("-u").output().expect("id");
        assert_eq!(
            String::from_utf8_lossy(&me.stdout).trim(),
            "0",
            "a test that makes a user runs as root (CI does)"
        );
        let name = format!("tsr{}", hex::encode(crate::random_bytes::<4>()));
        let made = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", &name])
            .output()
            .expect("useradd (Debian: the passwd package)");
        assert!(made.status.success(), "useradd: {}", String::from_utf8_lossy(&made.stderr));
        let id = Command::new("id").args(["-u", &name]).output().expect("id");
        let uid = String::from_utf8_lossy(&id.stdout).trim().parse().expect("uid");
        FreshUser { name, uid }
    }

    /// A new directory `name` in `parent`, owned by the user.
    pub fn owned_dir(&self, parent: &Path, name: &str) -> PathBuf {
        let path = parent.join(name);
        std::fs::create_dir(&path).expect("dir");
        self.chown(&path);
        path
    }

    /// Gives `path` to the user.
    pub fn chown(&self, path: &Path) {
        let chown = Command::new("chown").arg(&self.name).arg(path).status().expect("chown");
        assert!(chown.success(), "chown {}", path.display());
    }
}

impl Default for FreshUser {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FreshUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").args(["--force", &self.name]).output();
    }
}
