//! The connection limits through `serve` on a real loopback listener: clients bound to other
//! loopback addresses (every 127.x.y.z reaches `lo` on Linux) play other machines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use tessera_http_server::{Limits, serve};

/// A server with `limits` on a loopback port, in its own runtime on a background thread.
fn start(limits: Limits) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("address")).expect("send");
            let router = Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/echo", post(|body: Bytes| async move { format!("{}", body.len()) }));
            serve(listener, router, limits, None, std::future::pending()).await.expect("serve");
        });
    });
    rx.recv().expect("address")
}

/// A connection to `server` from `source` (a loopback address).
fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let source: SocketAddr = format!("{source}:0").parse().expect("address");
    socket.bind(&source.into()).expect("bind the source address");
    socket.connect(&server.into()).expect("connect");
    socket.into()
}

/// What the server sends until it closes the connection (or `wait` passes: `None`).
fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(String::from_utf8_lossy(&answer).into_owned()),
        }
    }
}

/// One request on a fresh connection from `source`, closing it after: the whole answer.
fn request(source: &str, server: SocketAddr, request: &str) -> String {
    let mut stream = connect_from(source, server);
    stream.write_all(request.as_bytes()).expect("write");
    read_to_close(&mut stream, Duration::from_secs(20)).expect("an answer")
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// Timeouts long enough that only the limit under test can close a connection.
fn limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(120),
        body_read_timeout: Duration::from_secs(120),
        handshake_timeout: Duration::from_secs(120),
        max_connections: 64,
        max_connections_per_address: 4,
    }
}

#[test]
fn an_address_at_its_cap_has_new_connections_closed_and_others_get_in() {
    let server = start(limits());
    // Four silent connections fill 127.0.0.2's share; the server has seen each of them once
    // the request on the fifth (below) is answered or refused, since it accepts in order.
    let held: Vec<TcpStream> = (0..4).map(|_| connect_from("127.0.0.2", server)).collect();
    let mut fifth = connect_from("127.0.0.2", server);
    fifth.write_all(HEALTHZ.as_bytes()).expect("write");
    let refused = read_to_close(&mut fifth, Duration::from_secs(60)).expect("closed at once");
    assert_eq!(refused, "", "the fifth connection got an answer");
    // Another address is not held back.
    assert!(request("127.0.0.3", server, HEALTHZ).starts_with("HTTP/1.1 200"));
    // A connection given back is a place for the address again.
    drop(held);
    let mut again = None;
    for _ in 0..100 {
        let answer = request("127.0.0.2", server, HEALTHZ);
        if answer.starts_with("HTTP/1.1 200") {
            again = Some(answer);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(again.is_some(), "127.0.0.2 stayed refused after closing its connections");
}

#[test]
fn a_body_late_past_its_timeout_is_answered_408_and_a_timely_one_is_served() {
    let server = start(Limits { body_read_timeout: Duration::from_secs(1), ..limits() });
    let mut slow = connect_from("127.0.0.2", server);
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        .expect("write");
    let answer = read_to_close(&mut slow, Duration::from_secs(60)).expect("closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // A whole body, on time, from the same address.
    let body = "x".repeat(100);
    let on_time = request(
        "127.0.0.2",
        server,
        &format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{body}"
        ),
    );
    assert!(on_time.starts_with("HTTP/1.1 200"), "{on_time}");
    assert!(on_time.ends_with("100"), "{on_time}");
}

#[test]
fn a_full_server_closes_an_idle_connection_for_a_newcomer() {
    let server = start(Limits { max_connections: 4, max_connections_per_address: 3, ..limits() });
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.2", server)).collect();
    held.push(connect_from("127.0.0.3", server));
    // Every place is taken by silent connections; a newcomer from a third address is served.
    assert!(request("127.0.0.4", server, HEALTHZ).starts_with("HTTP/1.1 200"));
    // The oldest silent connection was closed for it.
    assert_eq!(read_to_close(&mut held[0], Duration::from_secs(60)).as_deref(), Some(""));
}

#[test]
fn connections_kept_busy_with_requests_every_few_hundred_ms_still_give_way_to_a_newcomer() {
    // Every place is held by kept-alive connections from other addresses, each sending a
    // request every 300 ms, so none is ever idle for long: a newcomer from yet another
    // address is still served within 2 s (one of them is closed between two requests).
    let server = start(Limits { max_connections: 4, max_connections_per_address: 1, ..limits() });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hoarders: Vec<_> = (2..6)
        .map(|last| {
            let stop = stop.clone();
            let mut stream = connect_from(&format!("127.0.0.{last}"), server);
            stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
            std::thread::spawn(move || {
                let mut served = 0u32;
                let mut buf = [0u8; 4096];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let keep_alive = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
                    if stream.write_all(keep_alive.as_bytes()).is_err() {
                        break;
                    }
                    match stream.read(&mut buf) {
                        Ok(n) if n > 0 => served += 1,
                        _ => break,
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
                served
            })
        })
        .collect();
    // Let every hoarder be served a few times, so the server is full of kept-alive connections.
    std::thread::sleep(Duration::from_millis(1000));
    let started = std::time::Instant::now();
    let answer = request("127.0.0.9", server, HEALTHZ);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(answer.starts_with("HTTP/1.1 200"), "the newcomer was not served: {answer:?}");
    assert!(took < Duration::from_secs(2), "the newcomer waited {took:?}");
    let served: Vec<u32> = hoarders.into_iter().map(|h| h.join().expect("hoarder")).collect();
    assert!(served.iter().all(|n| *n >= 2), "a hoarder was not kept alive first: {served:?}");
}
