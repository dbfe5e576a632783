//! The real `tessera-hub run` serving its status socket: a request with a nonce gets an
//! answer signed with the hub key over that nonce and this machine's boot id; a client that
//! never sends its request is dropped, and holds nobody else up meanwhile.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera_core::local_status::{self, BootId, LocalAnswer, LocalRequest, LocalStatus};
use tessera_core::receipt::Nonce;
use tessera_testkit::{Daemon, run};

use crate::helpers::Vendor;

fn hub(state: &Path) -> Command {
    let mut command = tessera_testkit::command("tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

/// One line written, one line read back.
fn exchange(socket: &Path, request: &[u8]) -> LocalAnswer {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request).expect("request");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("an answer");
    serde_json::from_str(&line).expect("an answer line")
}

/// A hub activated offline (no portal needed), serving its status socket.
fn serving_hub(dir: &Path) -> (Daemon, std::path::PathBuf) {
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let license_path = dir.join("acme.license");
    std::fs::write(&license_path, &license).expect("license");
    let key_path = dir.join("signing.key");
    std::fs::write(&key_path, format!("{}\n", &*vendor.key.to_secret_text())).expect("key");
    std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let state = dir.join("state");
    let (request, answer) = (dir.join("request.txt"), dir.join("answer.txt"));
    run(hub(&state)
        .args(["activation-request", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path())
        .arg("--out")
        .arg(&request))
    .ok();
    run(tessera_testkit::command("tessera")
        .arg("activate-offline")
        .arg(&request)
        .arg("--license")
        .arg(&license_path)
        .arg("--key")
        .arg(&key_path)
        .arg("--out")
        .arg(&answer))
    .ok();
    run(hub(&state).args(["activate", "--offline"]).arg(&answer)).ok();
    let socket = dir.join("status.sock");
    let mut command = hub(&state);
    command.args(["run", "--runner-listen", "127.0.0.1:0", "--status-socket"]).arg(&socket);
    (Daemon::start(command, "runners: listening on "), state)
}

#[test]
fn the_status_socket_signs_its_answer_over_the_nonce_and_drops_a_silent_client() {
    let dir = tempfile::tempdir().expect("dir");
    let (daemon, state) = serving_hub(dir.path());
    let socket = dir.path().join("status.sock");

    // A client that connects and never sends its request.
    let mut silent = UnixStream::connect(&socket).expect("connect");
    silent.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let connected = Instant::now();

    // Meanwhile a request is answered: signed with the hub key, echoing the nonce and this
    // machine's boot id.
    let nonce = Nonce::generate().expect("nonce");
    let request = LocalRequest { version: LocalStatus::VERSION, nonce };
    let mut line = serde_json::to_vec(&request).expect("json");
    line.push(b'\n');
    let answer = exchange(&socket, &line);
    assert_eq!((answer.version, answer.unsigned.as_ref()), (LocalStatus::VERSION, None));
    let status = local_status::open_signed(answer.signed.as_ref().expect("signed")).expect("open");
    let hub_key =
        tessera_core::keyfile::load_or_create_plain(&state.join("hub.key")).expect("hub key").0;
    assert_eq!(&status.evidence.hub_key, hub_key.public_key());
    assert_eq!(status.nonce, nonce);
    assert_eq!(status.boot_id, BootId::of_this_machine().expect("this machine's boot id"));
    assert!(status.boot_id.is_some(), "this machine shows a boot id");
    assert_eq!(status.status, tessera_core::Status::Valid, "{}", status.reason);
    assert!(status.evidence.activation.is_some());

    // The silent client gets nothing and is dropped within the agent's request timeout (2 s).
    let mut buffer = Vec::new();
    let read = silent.read_to_end(&mut buffer);
    let waited = connected.elapsed();
    assert!(
        matches!(read, Ok(0)),
        "a client that sent no request got {:?}: {}",
        read,
        String::from_utf8_lossy(&buffer)
    );
    assert!(waited < Duration::from_secs(5), "dropped after {waited:?}");

    // A request that is not one, and one in another format version: unsigned, and say so.
    let answer = exchange(&socket, b"hello\n");
    let said = answer.unsigned.expect("unsigned");
    assert_eq!(said.status, tessera_core::Status::Malformed);
    assert!(said.reason.contains("not one"), "{}", said.reason);
    let newer = format!("{{\"version\": 3, \"nonce\": \"{nonce}\"}}\n");
    let said = exchange(&socket, newer.as_bytes()).unsigned.expect("unsigned");
    assert!(said.reason.contains("format version 3"), "{}", said.reason);
    daemon.stop();
}

/// A stranger who may open the socket holds many connections that never send their request
/// (more than the agent answers at once and more than it keeps open, re-opened as the
/// agent drops them): a genuine request, written at once, is still answered within a 1 s
/// deadline. A silent connection that held one of the 16 places for the 2 s request timeout
/// would queue the genuine one behind it: a wrong "no" (`hub_unreachable`) for a paying
/// customer.
#[test]
fn silent_connections_do_not_starve_a_genuine_request() {
    const SILENT: usize = 300;
    const GENUINE: usize = 20;
    let dir = tempfile::tempdir().expect("dir");
    let (daemon, _state) = serving_hub(dir.path());
    let socket = dir.path().join("status.sock");

    // The stranger: SILENT connections at all times, each re-opened when the agent drops it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stranger = {
        let (socket, stop) = (socket.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held: Vec<UnixStream> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                held.retain(|stream| {
                    let mut byte = [0u8; 1];
                    // Still open: the read would block (nonblocking: WouldBlock).
                    matches!((&*stream).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                });
                while held.len() < SILENT {
                    let Ok(stream) = UnixStream::connect(&socket) else { break };
                    stream.set_nonblocking(true).expect("nonblocking");
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    // Three rounds of GENUINE callers at once, each with a 1 s deadline.
    for _ in 0..3 {
        let callers: Vec<_> = (0..GENUINE)
            .map(|_| {
                let socket = socket.clone();
                std::thread::spawn(move || genuine_call(&socket, Duration::from_secs(1)))
            })
            .collect();
        for caller in callers {
            if let Err(problem) = caller.join().expect("a caller") {
                panic!("while a stranger holds {SILENT} silent connections: {problem}");
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    stranger.join().expect("stranger");
    daemon.stop();
}

/// One request with a fresh nonce, written at once: `Ok` when the signed, valid answer to it
/// came within `deadline`.
fn genuine_call(socket: &Path, deadline: Duration) -> Result<(), String> {
    let nonce = Nonce::generate().expect("nonce");
    let request = LocalRequest { version: LocalStatus::VERSION, nonce };
    let mut line = serde_json::to_vec(&request).expect("json");
    line.push(b'\n');
    let started = Instant::now();
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(deadline)).expect("timeout");
    stream.write_all(&line).map_err(|e| format!("request: {e}"))?;
    let mut answer = String::new();
    let read = BufReader::new(&stream).read_line(&mut answer);
    if !matches!(read, Ok(n) if n > 0) {
        return Err(format!(
            "no answer within {deadline:?}: {read:?} after {:?}",
            started.elapsed()
        ));
    }
    let answer: LocalAnswer = serde_json::from_str(&answer).expect("an answer line");
    let status = local_status::open_signed(answer.signed.as_ref().expect("signed")).expect("open");
    assert_eq!(status.nonce, nonce);
    assert_eq!(status.status, tessera_core::Status::Valid, "{}", status.reason);
    Ok(())
}
