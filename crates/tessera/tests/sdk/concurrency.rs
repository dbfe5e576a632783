//! Many threads of one vendor product asking the real hub agent at once (more than the 16
//! answers it makes at once): every genuine call gets the hub's real standing, never a wrong
//! "no" (`hub_unreachable`, `bad_answer`, `tampered`) because others asked at the same time.

use std::sync::{Arc, Barrier};

use tessera::{HubOptions, Status};
use tessera_testkit::scene::PRODUCT;
use tessera_testkit::{Keystore, Scene, in_keystore_session};

use crate::trust;

const CALLERS: usize = 100;

#[test]
fn a_hundred_concurrent_calls_all_get_the_genuine_answer() {
    if !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let scene = Scene::new();
    let trust = Arc::new(trust(&scene));
    let now = scene.now;
    let start = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (trust, start, socket) = (trust.clone(), start.clone(), scene.hub_socket.clone());
            std::thread::spawn(move || {
                start.wait();
                tessera::hub_status(&HubOptions::new(socket).product(PRODUCT), &trust, now)
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for caller in callers {
        match caller.join().expect("a caller thread") {
            Ok(status) if status.status == Status::Valid => {}
            Ok(status) => wrong.push(format!("{}: {}", status.status, status.reason)),
            Err(e) => wrong.push(format!("{}: {e}", e.code())),
        }
    }
    assert!(wrong.is_empty(), "{} of {CALLERS} calls got a wrong answer: {wrong:#?}", wrong.len());
}
