//! Where the vendor's hub application asks the hub agent how the hub stands: a Unix socket
//! that only the local product reaches (file permissions, not the runner API on the LAN).
//! Each connection writes one JSON [`LocalRequest`] line (a fresh nonce) and gets one JSON
//! [`LocalAnswer`] line, signed with the hub key over that nonce and this machine's boot id,
//! then is closed; the application checks the answer and the signed evidence in it itself
//! (the SDK's `hub_status`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_core::Status;
use tessera_core::local_status::{BootId, LocalAnswer, LocalRequest, LocalStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::task::AbortHandle;

use crate::agent::Hub;

/// Makes at most this many answers at once (reading the state, checking and signing);
/// more requests wait their turn.
const MAX_AT_ONCE: usize = 16;
/// Keeps at most this many connections open (file descriptors the agent also needs for its
/// state and its runners). When all are taken, the oldest connection still waiting for its
/// request is dropped to make room: connections that never send theirs cannot keep out a
/// genuine request, which is written at once.
const MAX_OPEN: usize = 256;
/// A reader that does not take its answer within this is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A client that has not written its whole request within this is dropped: the SDK writes
/// it at once, so only a broken or hostile client waits, and it must not hold a place.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The most a request may be (a nonce and a version are under 100 bytes).
const MAX_REQUEST: u64 = 1024;

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

/// Reads one request line, within [`REQUEST_TIMEOUT`] and [`MAX_REQUEST`] bytes. `None`: the
/// client sent nothing whole in time (it gets no answer).
async fn read_request(stream: &mut tokio::net::UnixStream) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut reader = BufReader::new(stream).take(MAX_REQUEST);
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Ok(Ok(n)) if n > 0 => Some(line),
        _ => None,
    }
}

/// The answer to one request's bytes, as one line.
fn answer(hub: &Hub, request: &[u8]) -> Vec<u8> {
    let answer = match serde_json::from_slice::<LocalRequest>(request.trim_ascii_end()) {
        Ok(request) if request.version == LocalStatus::VERSION => hub.local_answer(request.nonce),
        Ok(request) => LocalAnswer::unsigned(
            Status::Malformed,
            format!(
                "the request is in format version {} (this agent reads {}): update the hub \
                 agent or the library",
                request.version,
                LocalStatus::VERSION
            ),
        ),
        Err(e) => LocalAnswer::unsigned(Status::Malformed, format!("the request is not one: {e}")),
    };
    let mut bytes = serde_json::to_vec(&answer).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Serves the socket until `stop` turns true, then removes it.
///
/// Every connection's request is read without holding one of the `MAX_AT_ONCE` places:
/// only making the answer does. So a local user who opens many connections and sends
/// nothing (or sends slowly) holds no place a genuine request needs; of `MAX_OPEN`
/// connections, the oldest silent one makes room for a new one, and none waits longer than
/// `REQUEST_TIMEOUT`.
pub async fn serve(
    hub: Arc<Hub>,
    listener: UnixListener,
    path: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Read now, while descriptors are plenty; every answer then signs the same one.
    if let Err(e) = BootId::of_this_machine() {
        tracing::warn!(error = %e, "status socket: this machine's boot id");
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_AT_ONCE));
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_OPEN));
    // The connections still reading their request, oldest first.
    let mut awaited: VecDeque<AbortHandle> = VecDeque::new();
    loop {
        awaited.retain(|reading| !reading.is_finished());
        if open.available_permits() == 0 {
            // Dropping its task closes it and gives its place back; connections being
            // answered give theirs back as soon as the answer is written.
            if let Some(oldest) = awaited.pop_front() {
                oldest.abort();
            }
        }
        let place = tokio::select! {
            place = open.clone().acquire_owned() => place,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Ok(place) = place else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, _) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "status socket: accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (hub, permits) = (hub.clone(), permits.clone());
        let reading = tokio::spawn(async move {
            let mut stream = stream;
            if let Some(request) = read_request(&mut stream).await {
                // A task of its own: dropping a silent connection to make room must never
                // cut an answer short.
                tokio::spawn(respond(hub, permits, stream, request, place));
            }
        });
        awaited.push_back(reading.abort_handle());
    }
    for reading in awaited {
        reading.abort();
    }
    let _ = std::fs::remove_file(&path);
}

/// Makes and writes the answer to one request, holding one of the [`MAX_AT_ONCE`] places
/// while the answer is made.
async fn respond(
    hub: Arc<Hub>,
    permits: Arc<tokio::sync::Semaphore>,
    mut stream: tokio::net::UnixStream,
    request: Vec<u8>,
    _place: tokio::sync::OwnedSemaphorePermit,
) {
    let bytes = {
        let Ok(_permit) = permits.acquire_owned().await else { return };
        // Reading the state and checking and making signatures is blocking work.
        let Ok(bytes) = tokio::task::spawn_blocking(move || answer(&hub, &request)).await else {
            return;
        };
        bytes
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
    let _ = stream.shutdown().await;
}
