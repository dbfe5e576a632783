//! `HubOptions::timeout` is the whole call's deadline, whatever serves the socket: a peer
//! that never accepts, stalls, trickles a byte at a time, floods or closes early gives a
//! documented error naming what happened, by the deadline. Real Unix sockets, served by test
//! threads.
//!
//! This is a correctness test, not a speed test: the margin asserted is a second (a loaded
//! two-core CI machine); what was measured is printed (`--nocapture`) and is what
//! docs/INTEGRATION.md states.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};
use tessera::{Error, HubOptions, TrustSet, UnixTime};

use crate::socket_path;

const TIMEOUT: Duration = Duration::from_secs(2);
/// How long a misbehaving peer keeps misbehaving at most (the test stays bounded even when
/// the call under test does not keep its deadline).
const PEER_LIFETIME: Duration = Duration::from_secs(20);

/// What the peer does once it accepted the connection (and read nothing).
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Holds the connection open, silent.
    Stalls,
    /// One byte of a plausible answer every 300 ms, never a newline.
    Trickles,
    /// Bytes as fast as the socket takes them, never a newline.
    Floods,
    /// Half an answer, then closes.
    ClosesMidAnswer,
    /// Closes at once.
    ClosesSilently,
}

/// Serves `peer` on one connection at a new socket in `dir`; ends within PEER_LIFETIME or
/// when `done` is sent.
fn serve(dir: &Path, peer: Peer, done: mpsc::Receiver<()>) -> PathBuf {
    let path = socket_path(dir);
    let listener = UnixListener::bind(&path).expect("bind");
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        let until = Instant::now() + PEER_LIFETIME;
        let over = |done: &mpsc::Receiver<()>| Instant::now() > until || done.try_recv().is_ok();
        match peer {
            Peer::Stalls => {
                let _ = done.recv_timeout(PEER_LIFETIME);
            }
            Peer::Trickles => {
                for byte in b"{\"version\": 2, \"signed\": {\"key_id\": \"".iter().cycle() {
                    if over(&done) || stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
            Peer::Floods => {
                let block = [b'x'; 64 * 1024];
                while !over(&done) && stream.write_all(&block).is_ok() {}
            }
            Peer::ClosesMidAnswer => {
                let _ = stream.write_all(b"{\"version\": 2, \"signed\": {\"key_id\"");
            }
            Peer::ClosesSilently => {}
        }
    });
    path
}

/// A listener that never accepts, with a backlog of one connection already taken: a new
/// connection waits in connect.
fn full_backlog(dir: &Path) -> (PathBuf, Socket, UnixStream) {
    let path = socket_path(dir);
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
    listener.bind(&SockAddr::unix(&path).expect("address")).expect("bind");
    listener.listen(0).expect("listen");
    let first = UnixStream::connect(&path).expect("the connection that fills the backlog");
    (path, listener, first)
}

/// Asks `socket` with TIMEOUT; the error and how long the call took.
fn ask(socket: PathBuf) -> (Error, Duration) {
    let trust =
        TrustSet::parse(tessera_testkit::Vendor::new().trust_text().as_bytes()).expect("trust set");
    let mut options = HubOptions::new(socket);
    options.timeout = TIMEOUT;
    let now = UnixTime::from_unix(1_800_000_000).expect("time");
    let start = Instant::now();
    let result = tessera::hub_status(&options, &trust, now);
    let took = start.elapsed();
    (result.expect_err("a misbehaving socket is no answer"), took)
}

#[test]
fn a_misbehaving_socket_never_holds_the_call_past_its_deadline() {
    let dir = tempfile::tempdir().expect("dir");
    // (peer, the error code, words of its message, whether the call must wait it out)
    let cases = [
        (Peer::Stalls, "hub_unreachable", "the agent sent nothing", true),
        (Peer::Trickles, "hub_unreachable", "bytes of its answer, not all of it", true),
        (Peer::Floods, "bad_answer", "longer than", false),
        (Peer::ClosesMidAnswer, "bad_answer", "closed the connection after", false),
        (Peer::ClosesSilently, "bad_answer", "closed the connection without answering", false),
    ];
    let mut measured = Vec::new();
    std::thread::scope(|scope| {
        let mut runs = Vec::new();
        for (peer, code, words, waits) in cases {
            let (done, done_rx) = mpsc::channel();
            let socket = serve(dir.path(), peer, done_rx);
            runs.push((peer, code, words, waits, done, scope.spawn(move || ask(socket))));
        }
        let (socket, _listener, _first) = full_backlog(dir.path());
        let backlog = scope.spawn(move || ask(socket));
        for (peer, code, words, waits, done, run) in runs {
            let (e, took) = run.join().expect("the call");
            let _ = done.send(());
            check(&format!("{peer:?}"), &e, took, code, words, waits);
            measured.push((format!("{peer:?}"), took));
        }
        let (e, took) = backlog.join().expect("the call");
        check("NeverAccepts", &e, took, "hub_unreachable", "did not accept the connection", true);
        measured.push(("NeverAccepts".into(), took));
    });
    for (peer, took) in measured {
        println!("deadline {TIMEOUT:?}: {peer} returned after {took:?}");
    }
}

fn check(peer: &str, e: &Error, took: Duration, code: &str, words: &str, waits: bool) {
    assert!(took < TIMEOUT + Duration::from_secs(1), "{peer}: the call took {took:?}: {e}");
    assert_eq!(e.code(), code, "{peer}: {e}");
    assert!(e.to_string().contains(words), "{peer}: {e}");
    if waits {
        assert!(took >= TIMEOUT, "{peer}: gave up after {took:?}, before its deadline: {e}");
    }
}

#[test]
fn a_zero_timeout_is_a_bad_argument() {
    let dir = tempfile::tempdir().expect("dir");
    let (done, done_rx) = mpsc::channel();
    let socket = serve(dir.path(), Peer::Stalls, done_rx);
    let mut options = HubOptions::new(socket);
    options.timeout = Duration::ZERO;
    let trust =
        TrustSet::parse(tessera_testkit::Vendor::new().trust_text().as_bytes()).expect("trust set");
    let e = tessera::hub_status(&options, &trust, tessera::now()).expect_err("an error");
    let _ = done.send(());
    assert_eq!(e.code(), "bad_argument", "{e}");
    assert!(e.to_string().contains("timeout"), "{e}");
}

/// A deadline too far to be a point in time (`Duration::MAX`, or a huge number of seconds
/// from Python) waits as long as it takes: the answer, never a panic.
#[test]
fn a_timeout_too_long_to_add_to_now_is_no_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = crate::fake_agent(dir.path(), |_| {
        crate::line(&tessera_core::local_status::LocalAnswer::unsigned(
            tessera::Status::NoLicense,
            "no license here".into(),
        ))
    });
    let mut options = HubOptions::new(socket);
    options.timeout = Duration::MAX;
    let trust =
        TrustSet::parse(tessera_testkit::Vendor::new().trust_text().as_bytes()).expect("trust set");
    let status = std::panic::catch_unwind(|| tessera::hub_status(&options, &trust, tessera::now()))
        .expect("no panic")
        .expect("the agent's answer");
    assert_eq!(status.status, tessera::Status::NoLicense, "{}", status.reason);
}
