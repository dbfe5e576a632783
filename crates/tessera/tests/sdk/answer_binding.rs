//! The hub agent's answer is bound to this request (a fresh nonce), this hub (signed with the
//! hub key the receipt names) and this machine (the kernel's boot id): an old answer, an
//! answer signed by another key, one without signature, or one relayed from an agent on
//! another machine is `tampered`, each with a reason that names the cause. The real agents
//! of the test kit's scene; "another machine" is the real agent run in a mount namespace
//! where the kernel's boot id file shows another id.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use tessera::{HubOptions, Status};
use tessera_core::keys::SigningKey;
use tessera_core::local_status::LocalAnswer;
use tessera_core::receipt::Nonce;
use tessera_testkit::scene::PRODUCT;
use tessera_testkit::{Daemon, Keystore, Scene, have, in_keystore_session};

use crate::{fake_agent, genuine_answer, line, opened, signed_line, trust};

#[test]
fn a_hubs_answer_is_bound_to_this_request_this_hub_key_and_this_machine() {
    if !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let mut scene = Scene::new();
    let trust = trust(&scene);
    let now = scene.now;
    let dir = tempfile::tempdir().expect("dir");
    let ask = |socket: &Path| {
        tessera::hub_status(&HubOptions::new(socket).product(PRODUCT), &trust, now)
            .expect("a status")
    };
    let hub = scene.hub_socket.clone();

    // The genuine answer, passed on by a process in the middle on this machine: still this
    // hub's answer to this request.
    let socket = fake_agent(dir.path(), {
        let hub = hub.clone();
        move |nonce| line(&genuine_answer(&hub, nonce))
    });
    let status = ask(&socket);
    assert_eq!(status.status, Status::Valid, "{}", status.reason);

    // A recorded answer: genuine, signed, but to another request.
    let recorded = line(&genuine_answer(&hub, Nonce::generate().expect("nonce")));
    let socket = fake_agent(dir.path(), move |_| recorded);
    let status = ask(&socket);
    assert_eq!((status.status, status.agent_status), (Status::Tampered, Status::Valid));
    assert!(status.reason.contains("not to this request"), "{}", status.reason);

    // This hub's answer to this request, signed by another key.
    let other = Arc::new(SigningKey::generate().expect("key"));
    let socket = fake_agent(dir.path(), {
        let (hub, other) = (hub.clone(), other.clone());
        move |nonce| signed_line(&opened(&genuine_answer(&hub, nonce)), &other)
    });
    let status = ask(&socket);
    assert_eq!(status.status, Status::Tampered, "{}", status.reason);
    assert!(status.reason.contains("not by the hub key it shows"), "{}", status.reason);

    // ... and showing that other key as the hub's: the receipt names this hub's key.
    let socket = fake_agent(dir.path(), {
        let (hub, other) = (hub.clone(), other.clone());
        move |nonce| {
            let mut status = opened(&genuine_answer(&hub, nonce));
            status.evidence.hub_key = other.public_key().clone();
            signed_line(&status, &other)
        }
    });
    let status = ask(&socket);
    assert_eq!(status.status, Status::Tampered, "{}", status.reason);
    assert!(status.reason.contains("another license or hub"), "{}", status.reason);

    // No signature: a "yes" is not believed, a "no" is.
    let socket =
        fake_agent(dir.path(), |_| line(&LocalAnswer::unsigned(Status::Valid, "trust me".into())));
    let status = ask(&socket);
    assert_eq!((status.status, status.agent_status), (Status::Tampered, Status::Valid));
    assert!(status.reason.contains("shows no license"), "{}", status.reason);
    let socket = fake_agent(dir.path(), |_| {
        line(&LocalAnswer::unsigned(Status::NoLicense, "not activated".into()))
    });
    let status = ask(&socket);
    assert_eq!((status.status, status.reason.as_str()), (Status::NoLicense, "not activated"));

    // The real agent of this hub on another machine (another kernel boot id), its answer
    // relayed here: refused, though signed, fresh and for this hub.
    scene.stop_hubs();
    let foreign = foreign_agent(&scene, dir.path());
    let status = ask(&dir.path().join("foreign.sock"));
    assert_eq!((status.status, status.agent_status), (Status::Tampered, Status::Valid));
    assert!(status.reason.contains("another machine"), "{}", status.reason);
    foreign.stop();
}

/// `tessera-hub run` on the scene's hub, serving `dir/foreign.sock`, in a mount namespace
/// whose kernel boot id file shows another id: what an agent on another machine answers.
fn foreign_agent(scene: &Scene, dir: &Path) -> Daemon {
    assert!(have("unshare", "util-linux"), "unshare is needed (Debian: util-linux)");
    let boot_id = dir.join("foreign-boot-id");
    std::fs::write(&boot_id, "00000000-0000-4000-8000-000000000001\n").expect("boot id file");
    let agent = tessera_testkit::command("tessera-hub");
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind \"$0\" /proc/sys/kernel/random/boot_id && exec \"$@\"",
        ])
        .arg(&boot_id)
        .arg(agent.get_program())
        .arg("--state-dir")
        .arg(scene.path("hub"))
        .args(["run", "--runner-listen", "127.0.0.1:0", "--status-socket"])
        .arg(dir.join("foreign.sock"));
    for (name, value) in agent.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    // Mounting needs root (CI runs as root): a failure shows as a missing first line.
    Daemon::start(command, "runners: listening on ")
}
