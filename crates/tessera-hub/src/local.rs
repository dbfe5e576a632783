//! Where the vendor's hub application asks the hub agent how the hub stands: a Unix socket
//! that only the local product reaches (file permissions, not the runner API on the LAN).
//! Each connection gets one JSON [`LocalStatus`] and is closed; the application checks the
//! signed evidence in it itself (the SDK's `hub_status`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use crate::agent::{Hub, LocalStatus};

/// Answers at once at most this many connections; more wait for the kernel's backlog.
const MAX_AT_ONCE: usize = 16;
/// A reader that does not take its answer within this is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The socket's default place: beside the hub's state.
pub fn default_socket(state_dir: &Path) -> PathBuf {
    state_dir.join("status.sock")
}

/// Binds the socket at `path` with mode 0660 (the hub's user and group): a stale socket
/// left by a crash is replaced, any other file there is an error.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// One connection's answer, as bytes.
fn answer(hub: &Hub) -> Vec<u8> {
    let status = hub.local_status().unwrap_or_else(|e| LocalStatus {
        version: LocalStatus::VERSION,
        status: e.status().unwrap_or(tessera_core::Status::NoLicense),
        reason: e.to_string(),
        evidence: None,
        high_water: tessera_core::UnixTime::EPOCH,
        runners_leased: 0,
    });
    let mut bytes = serde_json::to_vec(&status).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Serves the socket until `stop` turns true, then removes it.
pub async fn serve(
    hub: Arc<Hub>,
    listener: UnixListener,
    path: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_AT_ONCE));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (mut stream, _) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "status socket: accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let hub = hub.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // Reading the state and checking signatures is blocking work.
            let Ok(bytes) = tokio::task::spawn_blocking(move || answer(&hub)).await else {
                return;
            };
            let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
            let _ = stream.shutdown().await;
        });
    }
    let _ = std::fs::remove_file(&path);
}
