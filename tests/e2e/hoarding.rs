//! One machine hoarding connections, with the real binaries: it opens more connections than
//! either server holds at all, half idle and half sending a request body a byte a second,
//! and opens a new one whenever one is closed. Meanwhile a genuine hub pings the portal and
//! a genuine runner renews its lease at the hub, from another address, each within 2 s.
//! Every 127.x.y.z address reaches loopback on Linux: the hoarder's sockets are bound to
//! 127.0.0.2, the genuine processes connect from 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::kit::{Portal, Vendor, hub, in_keyring_session, run, runner};
use crate::scenarios::{install, site};

/// The hoarder's own address.
const HOARDER: &str = "127.0.0.2";
/// The deadline of a genuine call while the hoarder holds what it can.
const DEADLINE: Duration = Duration::from_secs(2);

/// A machine holding as many connections to one server as it can, in a thread.
struct Hoarder {
    stop: Arc<AtomicBool>,
    /// Its connections not yet seen closed.
    held: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

enum Kind {
    /// Connected, sends nothing.
    Idle,
    /// Sent a request's headers, sends its body a byte a second.
    SlowBody,
}

impl Hoarder {
    /// `n` connections to `server`, half of them sending `headers` (a request whose body
    /// is announced, not sent) and then its body a byte a second; each closed connection is
    /// opened again (up to 100 every tenth of a second). Returns once all `n` were opened.
    fn start(server: &str, n: usize, headers: String) -> Hoarder {
        let server: SocketAddr = server.parse().expect("server address");
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, held) = (stop.clone(), held.clone());
            std::thread::spawn(move || {
                let mut slots: Vec<(Kind, Option<TcpStream>)> = (0..n)
                    .map(|i| (if i % 2 == 0 { Kind::Idle } else { Kind::SlowBody }, None))
                    .collect();
                let mut ready = Some(ready_tx);
                let mut last_byte = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let mut opened = 0;
                    for (kind, slot) in &mut slots {
                        if slot.is_none() && (ready.is_some() || opened < 100) {
                            *slot = open(server, kind, &headers);
                            opened += 1;
                        }
                    }
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                    let trickle = last_byte.elapsed() >= Duration::from_secs(1);
                    if trickle {
                        last_byte = Instant::now();
                    }
                    for (kind, slot) in &mut slots {
                        let Some(stream) = slot else { continue };
                        let keep = still_open(stream)
                            && (!trickle
                                || !matches!(kind, Kind::SlowBody)
                                || stream.write_all(b"x").is_ok());
                        if !keep {
                            *slot = None;
                        }
                    }
                    held.store(
                        slots.iter().filter(|(_, s)| s.is_some()).count(),
                        Ordering::Relaxed,
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        ready_rx.recv().expect("the hoarder opened its connections");
        Hoarder { stop, held, thread: Some(thread) }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

impl Drop for Hoarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection from the hoarder's address, or `None` when the connect itself failed.
fn open(server: SocketAddr, kind: &Kind, headers: &str) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    let source: SocketAddr = format!("{HOARDER}:0").parse().expect("address");
    socket.bind(&source.into()).ok()?;
    socket.connect_timeout(&server.into(), Duration::from_secs(1)).ok()?;
    let mut stream: TcpStream = socket.into();
    if matches!(kind, Kind::SlowBody) {
        stream.write_all(headers.as_bytes()).ok()?;
    }
    stream.set_nonblocking(true).ok()?;
    Some(stream)
}

/// Whether the server has not closed `stream` (an answer, such as a 408, counts as closed).
fn still_open(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    matches!(stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// A request to `path` whose body of `length` bytes has not been sent.
fn announced_body(path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: hoarder\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{"
    )
}

#[test]
fn one_address_hoarding_the_portals_connections_stops_no_genuine_ping() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    let hub_state = dir.path().join("hub");
    // The portal holds 1,024 connections by default: the hoarder tries for more.
    let hoarder = Hoarder::start(&portal.address, 1100, announced_body("/v1/ping", 60_000));
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let ping = run(hub(&hub_state).args(["ping", "--json"]));
    let took = started.elapsed();
    let held = hoarder.held();
    eprintln!("ping: {took:?} beside a hoarder holding {held}");
    assert_eq!(ping.code, 0, "ping beside a hoarder holding {held}: {}", ping.stderr);
    assert_eq!(ping.status(), "valid", "{}", ping.stdout);
    assert!(took < DEADLINE, "the ping took {took:?} beside a hoarder holding {held}");
    // The hoarder did hold every connection it may (64 from one address by default).
    assert!(held >= 64, "the hoarder held only {held}");
    drop(hoarder);
    assert!(daemon.stop().success());
}

#[test]
fn one_address_hoarding_the_hubs_connections_stops_no_genuine_lease() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let r1 = dir.path().join("r1");
    // The hub's runner API holds 512 by default: the hoarder tries for more.
    let hoarder = Hoarder::start(&daemon.address, 600, announced_body("/v1/lease", 10_000));
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let lease = run(runner(&r1).arg("refresh"));
    let took = started.elapsed();
    let held = hoarder.held();
    eprintln!("lease: {took:?} beside a hoarder holding {held}");
    assert_eq!(lease.code, 0, "lease beside a hoarder holding {held}: {}", lease.stderr);
    assert!(took < DEADLINE, "the lease took {took:?} beside a hoarder holding {held}");
    assert!(held >= 64, "the hoarder held only {held}");
    drop(hoarder);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).ok().status(), "valid");
    assert!(daemon.stop().success());
}
