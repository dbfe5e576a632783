//! The SDK on real state: a real portal, real hub agents serving their status sockets, a
//! runner installed on the real kernel keyring (the test kit's [`Scene`]).

mod answer_binding;
mod concurrency;
mod deadline;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use tessera::{Error, HubOptions, RunnerOptions, Status, TrustSet, UnixTime};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::local_status::{self, LocalAnswer, LocalRequest, LocalStatus};
use tessera_core::receipt::Nonce;
use tessera_testkit::scene::{FEATURES, PRODUCT};
use tessera_testkit::{Keystore, Scene, in_keystore_session};

fn at(seconds: i64) -> UnixTime {
    UnixTime::from_unix(seconds).expect("time")
}

fn trust(scene: &Scene) -> TrustSet {
    TrustSet::parse(&std::fs::read(&scene.trust).expect("trust file")).expect("trust set")
}

/// A new socket path in `dir`.
fn socket_path(dir: &Path) -> PathBuf {
    dir.join(format!("fake-{}.sock", u32::from_ne_bytes(tessera_testkit::random_bytes::<4>())))
}

/// Serves one connection on a new socket in `dir`, as a hostile or broken agent would: reads
/// the request line and answers what `answer` makes of its nonce.
fn fake_agent(dir: &Path, answer: impl FnOnce(Nonce) -> Vec<u8> + Send + 'static) -> PathBuf {
    let path = socket_path(dir);
    let listener = UnixListener::bind(&path).expect("bind");
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let request: LocalRequest = serde_json::from_str(&line).expect("a request line");
            let _ = stream.write_all(&answer(request.nonce));
        }
    });
    path
}

/// What the real agent at `socket` answers a request with `nonce`.
fn genuine_answer(socket: &Path, nonce: Nonce) -> LocalAnswer {
    let mut stream = UnixStream::connect(socket).expect("connect");
    let request = LocalRequest { version: LocalStatus::VERSION, nonce };
    stream.write_all(&serde_json::to_vec(&request).expect("json")).expect("request");
    stream.write_all(b"\n").expect("request");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("answer");
    serde_json::from_str(&line).expect("an answer line")
}

/// The signed status inside a genuine answer.
fn opened(answer: &LocalAnswer) -> LocalStatus {
    local_status::open_signed(answer.signed.as_ref().expect("a signed answer")).expect("open")
}

/// `status` signed with `key` as an answer line (what root on the hub, who can read the hub
/// key, can serve).
fn signed_line(status: &LocalStatus, key: &SigningKey) -> Vec<u8> {
    line(&LocalAnswer::signed(status, key))
}

fn line(answer: &LocalAnswer) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(answer).expect("json");
    bytes.push(b'\n');
    bytes
}

/// The key of the scene's hub in state directory `state`.
fn hub_key(scene: &Scene, state: &str) -> SigningKey {
    let path = scene.path(state).join("hub.key");
    tessera_core::keyfile::load_or_create_plain(&path).expect("hub key").0
}

/// A signed envelope of the wrong kind must never pass as an answer: kept here so that the
/// test names every way in.
fn lease_kind_line(status: &LocalStatus, key: &SigningKey) -> Vec<u8> {
    let compact = Envelope::sign_body(Kind::Lease, key, status).to_compact();
    line(&LocalAnswer { version: LocalStatus::VERSION, signed: Some(compact), unsigned: None })
}

#[test]
fn licenses_runners_and_hubs_are_decided_in_process_on_real_state() {
    if !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let mut scene = Scene::new();
    let trust = trust(&scene);
    let license = std::fs::read(&scene.license).expect("license");
    let now = scene.now;

    // A license file.
    let check = tessera::verify_license(&license, &trust, Some(PRODUCT), now).expect("verify");
    assert_eq!(check.status, Status::Valid, "{}", check.reason);
    let terms = check.license.expect("terms");
    assert_eq!(terms.id, scene.claims.id.to_string());
    assert_eq!(terms.features, FEATURES);
    assert!(terms.has_feature("sso") && !terms.has_feature("sso2"));
    assert_eq!(terms.runner_limit, 2);
    let tampered = std::fs::read(&scene.tampered).expect("tampered");
    let check = tessera::verify_license(&tampered, &trust, None, now).expect("verify");
    assert_eq!(check.status, Status::BadSignature, "{}", check.reason);
    assert!(check.license.is_none());
    let check =
        tessera::verify_license(&license, &trust, None, scene.expired_at()).expect("verify");
    assert_eq!(check.status, Status::Expired);
    assert!(check.license.is_some(), "an expired license still shows its terms");
    let check =
        tessera::verify_license(&license, &trust, Some("other-product"), now).expect("verify");
    assert_eq!(check.status, Status::WrongProduct);
    let other =
        TrustSet::parse(tessera_testkit::Vendor::new().trust_text().as_bytes()).expect("trust");
    assert_eq!(
        tessera::verify_license(&license, &other, None, now).expect("verify").status,
        Status::UnknownKey
    );
    let e = tessera::verify_license(&license, &trust, Some("Not A Product!"), now)
        .expect_err("an error");
    assert_eq!(e.code(), "bad_argument");

    // The hub application asks its agent.
    let hub = HubOptions::new(&scene.hub_socket).product(PRODUCT);
    let status = tessera::hub_status(&hub, &trust, now).expect("hub status");
    assert_eq!(status.status, Status::Valid, "{}", status.reason);
    assert_eq!(status.mode, tessera::Mode::Online);
    assert_eq!(status.agent_status, Status::Valid);
    assert_eq!(status.runners_leased, 1);
    assert_eq!(status.license.as_ref().expect("terms").features, FEATURES);
    let status = tessera::hub_status(&hub, &trust, scene.grace_at()).expect("hub status");
    assert_eq!(status.status, Status::Grace, "{}", status.reason);
    let left = status.grace_left_secs.expect("grace left");
    assert!(left > 20 * 3600 && left <= 22 * 3600, "{left}");
    let status = tessera::hub_status(&hub, &trust, scene.past_grace_at()).expect("hub status");
    assert_eq!(status.status, Status::GraceExpired, "{}", status.reason);
    let revoked = HubOptions::new(&scene.revoked_hub_socket);
    let status = tessera::hub_status(&revoked, &trust, now).expect("hub status");
    assert_eq!(status.status, Status::Revoked, "{}", status.reason);
    let wrong = HubOptions::new(&scene.hub_socket).product("other-product");
    assert_eq!(
        tessera::hub_status(&wrong, &trust, now).expect("status").status,
        Status::WrongProduct
    );
    // A hub whose clock the application sees set back far below what the hub has seen.
    let status = tessera::hub_status(&hub, &trust, at(now.as_unix() - 86_400)).expect("status");
    assert_eq!(status.status, Status::ClockRollback, "{}", status.reason);

    // A hostile agent (root on the hub, who can read the hub key and sign): its word is not
    // taken, the evidence is checked.
    let dir = tempfile::tempdir().expect("dir");
    let key = std::sync::Arc::new(hub_key(&scene, "hub"));
    let (socket, revoked_socket) = (scene.hub_socket.clone(), scene.revoked_hub_socket.clone());
    let hostile = |edit: fn(&mut LocalStatus, &LocalStatus)| {
        let (socket, revoked_socket, key) = (socket.clone(), revoked_socket.clone(), key.clone());
        fake_agent(dir.path(), move |nonce| {
            let mut status = opened(&genuine_answer(&socket, nonce));
            edit(&mut status, &opened(&genuine_answer(&revoked_socket, nonce)));
            signed_line(&status, &key)
        })
    };
    let ask = |socket: PathBuf| tessera::hub_status(&HubOptions::new(socket), &trust, now);
    let socket = hostile(|status, revoked| {
        status.evidence.receipt.clone_from(&revoked.evidence.receipt);
    });
    let status = ask(socket).expect("status");
    assert_eq!(status.status, Status::Tampered, "{}", status.reason);
    assert!(status.reason.contains("receipt is for another license"), "{}", status.reason);
    let tampered_license = std::fs::read_to_string(&scene.tampered).expect("tampered");
    let socket = fake_agent(dir.path(), {
        let (socket, key) = (scene.hub_socket.clone(), key.clone());
        move |nonce| {
            let mut status = opened(&genuine_answer(&socket, nonce));
            status.evidence.license = tampered_license;
            signed_line(&status, &key)
        }
    });
    let status = ask(socket).expect("status");
    assert_eq!(status.status, Status::BadSignature, "{}", status.reason);
    let socket = hostile(|status, _| {
        status.evidence.receipt = None;
        status.evidence.delegation = None;
    });
    let status = ask(socket).expect("status");
    assert_eq!((status.status, status.agent_status), (Status::NoLicense, Status::Valid));
    let socket = fake_agent(dir.path(), |_| b"{\"version\": 2, \"signed\": ".to_vec());
    let e = ask(socket).expect_err("an error");
    assert!(matches!(e, Error::BadAnswer(_)), "{e}");
    assert_eq!(e.code(), "bad_answer");
    let socket = fake_agent(dir.path(), {
        let (socket, key) = (scene.hub_socket.clone(), key.clone());
        move |nonce| lease_kind_line(&opened(&genuine_answer(&socket, nonce)), &key)
    });
    let status = ask(socket).expect("status");
    assert_eq!(status.status, Status::Tampered, "{}", status.reason);

    // A runner checks offline, from its sealed cache on the real kernel keyring.
    let runner =
        RunnerOptions::new(&scene.runner_state).keystore_named("keyutils").expect("keystore");
    let check = tessera::runner_check(&runner, now).expect("runner check");
    assert_eq!(check.status, Status::Valid, "{}", check.reason);
    assert_eq!(check.runner.as_deref(), Some("scene-runner"));
    let terms = check.license.expect("terms");
    assert_eq!(
        (terms.features.as_slice(), terms.runner_limit),
        (&FEATURES.map(String::from)[..], 2)
    );
    let check = tessera::runner_check(&runner, scene.grace_at()).expect("runner check");
    assert_eq!(check.status, Status::Grace, "{}", check.reason);
    assert!(check.grace_left_secs.is_some_and(|s| s > 20 * 3600));
    let check = tessera::runner_check(&runner, scene.past_grace_at()).expect("runner check");
    assert_eq!(check.status, Status::GraceExpired, "{}", check.reason);
    // A time passed in decides that answer only: the state keeps the time the system clock
    // has seen, so later real checks (in process and from the binary) are right...
    let check = tessera::runner_check(&runner, tessera::now()).expect("runner check");
    assert_eq!(check.status, Status::Valid, "{}", check.reason);
    let binary = tessera_testkit::run(
        tessera_testkit::command("tessera-runner")
            .arg("--state-dir")
            .arg(&scene.runner_state)
            .args(["check", "--json"]),
    );
    assert_eq!(binary.status(), "valid", "{}{}", binary.stdout, binary.stderr);
    // ...and a time far behind what the runner has seen is still a rolled-back clock.
    let check = tessera::runner_check(&runner, at(now.as_unix() - 86_400)).expect("runner check");
    assert_eq!(check.status, Status::ClockRollback, "{}", check.reason);
    // Asking for another keystore than the one installed: an error, not a status.
    let other =
        RunnerOptions::new(&scene.runner_state).keystore_named("secret-service").expect("keystore");
    let e = tessera::runner_check(&other, now).expect_err("an error");
    assert_eq!(e.code(), "keystore", "{e}");
    assert!(e.to_string().contains("installed with the keyutils keystore"), "{e}");
    let empty = tempfile::tempdir().expect("dir");
    let options = RunnerOptions::new(empty.path()).keystore_named("keyutils").expect("keystore");
    let check = tessera::runner_check(&options, now).expect("runner check");
    assert_eq!(check.status, Status::NoLicense, "{}", check.reason);
    let e = RunnerOptions::new(empty.path()).keystore_named("floppy").expect_err("an error");
    assert_eq!(e.code(), "bad_argument");

    // The example of docs/INTEGRATION.md (cargo test builds the examples).
    let example = |socket: &Path| {
        let exe = std::env::current_exe().expect("test executable");
        let path =
            exe.parent().and_then(Path::parent).expect("target dir").join("examples/hub_start");
        std::process::Command::new(path)
            .arg(socket)
            .env("VENDOR_TRUST_FILE", &scene.trust)
            .output()
            .expect("run the hub_start example")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");

    // The agent stopped: its socket is gone.
    scene.stop_hubs();
    let e = tessera::hub_status(&hub, &trust, now).expect_err("an error");
    assert_eq!(e.code(), "hub_unreachable", "{e}");
}

/// An example binary of this crate (cargo builds them for `cargo test`).
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe.parent().and_then(Path::parent).expect("target dir").join("examples").join(name);
    assert!(path.exists(), "{} is missing: `cargo test -p tessera` builds it", path.display());
    path
}

/// The first `runner_check` of a fresh process answers as the later ones do, in every
/// context a product is started in: with no keyring session of its own (systemd, cron, a
/// container's entry point), a fresh session, `setsid`, `env -i`, `runuser`. Not inside a
/// keystore session: the contexts are made here.
#[test]
fn the_first_runner_check_of_a_process_is_as_right_as_the_later_ones() {
    if !tessera_testkit::have("keyctl", "keyutils") {
        return;
    }
    let scene = Scene::new();
    let gate = example("runner_gate");
    let contexts: &[(&str, &[&str])] = &[
        ("this process's context", &[]),
        ("no keyring session of its own", &["keyctl", "session", "_uid_ses.0"]),
        ("a fresh session keyring", &["keyctl", "session", "-"]),
        ("setsid, env -i", &["setsid", "--wait", "env", "-i"]),
        ("runuser (PAM, pam_keyinit)", &["runuser", "-u", "root", "--"]),
    ];
    for (what, wrapper) in contexts {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = std::process::Command::new(program);
                c.args(rest).arg(&gate);
                c
            }
            None => std::process::Command::new(&gate),
        };
        command.arg(&scene.runner_state).arg("3").env_remove("DBUS_SESSION_BUS_ADDRESS");
        let ran = tessera_testkit::run(&mut command);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{what}: {}\n{}", ran.stdout, ran.stderr);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with("valid:"), "{what}, check {}: {line}", i + 1);
        }
        assert_eq!(ran.code, 0, "{what}");
    }
}

/// A runner installed by a fresh user is checked in process by that user from every context
/// (`runuser`, `env -i`, `setsid` with no keyring session of its own, `su -`, `setpriv` with
/// root's session keyring), with no D-Bus session; root asking is told whose keystore it is.
#[test]
fn a_fresh_users_runner_is_checked_in_process_from_every_context() {
    if !tessera_testkit::have("keyctl", "keyutils")
        || !tessera_testkit::have("setpriv", "util-linux")
    {
        return;
    }
    let scene = Scene::new();
    let user = tessera_testkit::FreshUser::new();
    // Not under /tmp, whose mode other tests' hubs may narrow: every parent is reachable.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let home = user.owned_dir(dir.path(), "home");
    let state = home.join("state");
    let token = home.join("token");
    std::fs::write(&token, scene.runner_token()).expect("token");
    user.chown(&token);
    let trust = dir.path().join("vendor.pub");
    std::fs::copy(&scene.trust, &trust).expect("trust");
    let runner = tessera_testkit::workspace_binary("tessera-runner");
    let installed = tessera_testkit::run(
        std::process::Command::new("runuser")
            .args(["-u", &user.name, "--"])
            .arg(&runner)
            .arg("--state-dir")
            .arg(&state)
            .args(["--keystore", "keyutils", "install", "--label", "fresh", "--hub"])
            .arg(scene.hub_url())
            .arg("--token-file")
            .arg(&token)
            .arg("--trust")
            .arg(&trust)
            .env_remove("DBUS_SESSION_BUS_ADDRESS"),
    );
    assert_eq!(installed.code, 0, "{}{}", installed.stdout, installed.stderr);

    let gate = example("runner_gate");
    let uid = user.uid.to_string();
    let user_session = format!("_uid_ses.{uid}");
    let line = format!("{} {} 3", gate.display(), state.display());
    let contexts: Vec<(&str, Vec<&str>)> = vec![
        ("runuser", vec!["runuser", "-u", &user.name, "--"]),
        ("runuser, env -i", vec!["runuser", "-u", &user.name, "--", "env", "-i"]),
        (
            "runuser, setsid, no keyring session of its own",
            vec![
                "runuser",
                "-u",
                &user.name,
                "--",
                "setsid",
                "--wait",
                "keyctl",
                "session",
                &user_session,
            ],
        ),
        ("setpriv", vec!["setpriv", "--reuid", &uid, "--regid", &uid, "--clear-groups"]),
        ("su -", vec!["su", "--shell", "/bin/sh", "--login", &user.name, "--command", &line]),
    ];
    for (what, wrapper) in &contexts {
        let mut command = std::process::Command::new(wrapper[0]);
        command.args(&wrapper[1..]).env_remove("DBUS_SESSION_BUS_ADDRESS");
        if *what != "su -" {
            command.arg(&gate).arg(&state).arg("3");
        }
        let ran = tessera_testkit::run(&mut command);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{what}: {}\n{}", ran.stdout, ran.stderr);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with("valid:"), "{what}, check {}: {line}", i + 1);
        }
    }
    // Root asking: an error naming the user's keystore, not a status.
    let ran = tessera_testkit::run(std::process::Command::new(&gate).arg(&state));
    assert_eq!(ran.code, 69, "{}", ran.stdout);
    assert!(ran.stdout.starts_with("error keystore:"), "{}", ran.stdout);
    assert!(ran.stdout.contains(&format!("keyutils keystore of uid {uid}")), "{}", ran.stdout);
}

#[test]
fn the_integration_doc_shows_the_rust_example_verbatim() {
    tessera_testkit::assert_doc_shows(
        "docs/INTEGRATION.md",
        "crates/tessera/examples/hub_start.rs",
    );
}
