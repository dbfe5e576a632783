//! A mail relay for the tests of what the portal emails: aiosmtpd on a free port, printing
//! every message it is sent, and a portal that sends through it.

use std::io::BufRead;
use std::sync::{Arc, Condvar, Mutex};

use crate::helpers::{Db, TestApp, spawn_app_with};

/// A Python with aiosmtpd, from TESSERA_AIOSMTPD (`.ci/run` installs it), or None — said
/// loudly, and a failure under CI.
pub fn aiosmtpd() -> Option<std::path::PathBuf> {
    match std::env::var_os("TESSERA_AIOSMTPD") {
        Some(path) if std::path::Path::new(&path).exists() => Some(path.into()),
        _ => {
            let message = "aiosmtpd is not installed: set TESSERA_AIOSMTPD to a python that has \
                           it (python3 -m venv v && v/bin/pip install aiosmtpd==1.4.6)";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("\n!!! NOT RUN: {message}\n");
            None
        }
    }
}

/// A local SMTP server (aiosmtpd) whose printed messages are read as they come.
pub struct Relay {
    child: std::process::Child,
    port: u16,
    printed: Arc<(Mutex<String>, Condvar)>,
}

impl Relay {
    pub fn start(python: &std::path::Path) -> Relay {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new(python)
            .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Debugging"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let printed = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = printed.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (text, more) = &*sink;
                let mut text = text.lock().expect("lock");
                // Quoted-printable soft line breaks joined again.
                match line.strip_suffix('=') {
                    Some(cut) => text.push_str(cut),
                    None => {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
                more.notify_all();
            }
        });
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Relay { child, port, printed };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on {port}");
    }

    /// Everything printed once `needle` has been (a minute at most: a failure then).
    pub fn wait_for(&self, needle: &str) -> String {
        let (text, more) = &*self.printed;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut text = text.lock().expect("lock");
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "no mail with {needle:?}: {text}");
            text = more.wait_timeout(text, left).expect("lock").0;
        }
        text.clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A portal (on SQLite) that sends its mail through `relay`, its links built from
/// `https://portal.vendor.example`.
pub async fn app_with(relay: &Relay) -> TestApp {
    let url = format!("smtp://127.0.0.1:{}", relay.port);
    spawn_app_with(Db::Sqlite, |layer| tessera_portal::config::Layer {
        smtp_url: Some(url.into()),
        smtp_from: Some("Tessera portal <portal@vendor.example>".into()),
        public_url: Some("https://portal.vendor.example".into()),
        ..layer
    })
    .await
    .expect("app")
}

/// The last invitation link (`/ui/invite/…` on `base`) in what the relay printed.
pub fn emailed_invitation_link(printed: &str, base: &str) -> String {
    let start = printed.rfind(&format!("{base}/ui/invite/")).expect("an invitation link in a mail");
    let rest = &printed[start..];
    rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_owned()
}
