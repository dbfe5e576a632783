//! kill -9 in the middle of state writes, many times at random points: after a restart the
//! state is the old or the new one, never corrupt, and the status stays right.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kit::{Daemon, Portal, Vendor, hub, in_keyring_session, run, runner};

/// A small deterministic-per-run sequence of delays (xorshift seeded by the clock).
struct Delays(u64);

impl Delays {
    fn new() -> Self {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        eprintln!("crash delays seed: {seed}");
        Delays(seed | 1)
    }

    /// 0 to `max_ms` milliseconds.
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % (max_ms * 1000 + 1))
    }
}

fn kill_after(mut command: std::process::Command, delay: Duration) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[test]
fn hub_and_runner_state_survive_kill_9_at_random_points() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let license = vendor.issue(
        "acme.license",
        2,
        &[
            "--portal-url",
            &portal.url,
            "--register",
            &portal.url,
            "--api-key-file",
            portal.api_key_file.to_str().expect("path"),
        ],
    );
    let dir = tempfile::tempdir().expect("dir");
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));
    run(hub(&hub_state)
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    let mut serve = hub(&hub_state);
    serve.args(["run", "--runner-listen", "127.0.0.1:0", "--lease-ttl", "30d"]);
    let daemon = Daemon::start(serve, "runners: listening on ");
    let token = run(hub(&hub_state).arg("runner-token")).ok().stdout.trim().to_owned();
    run(runner(&r1)
        .args(["install", "--hub", &format!("http://{}", daemon.address), "--label", "r1"])
        .arg("--trust")
        .arg(vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", &token))
    .ok();

    let mut delays = Delays::new();
    for round in 0..40 {
        // The hub, killed during a ping (state.json rewritten after the receipt).
        let mut ping = hub(&hub_state);
        ping.arg("ping");
        kill_after(ping, delays.next(60));
        let status = run(hub(&hub_state).args(["status", "--json"]));
        assert_eq!(status.status(), "valid", "round {round}: {}\n{}", status.stdout, status.stderr);
        let state = std::fs::read(hub_state.join("state.json")).expect("state");
        serde_json::from_slice::<serde_json::Value>(&state).expect("state.json is whole");

        // The runner, killed during a refresh (cache file, then keystore generation).
        let mut refresh = runner(&r1);
        refresh.arg("refresh");
        kill_after(refresh, delays.next(60));
        let check = run(runner(&r1).args(["check", "--json"]));
        assert_eq!(check.status(), "valid", "round {round}: {}\n{}", check.stdout, check.stderr);
        // No temporary files pile up beyond the one a kill may leave.
        let temps = std::fs::read_dir(&r1)
            .expect("dir")
            .filter(|e| {
                e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tessera-"))
            })
            .count();
        assert!(temps <= round + 1);
    }
    // Both still work normally afterwards.
    // (Forty pings in a few seconds meet the portal's rate limit: wait it out.)
    let pinged = (0..20).any(|_| {
        let ran = run(hub(&hub_state).arg("ping"));
        if ran.code != 0 {
            assert!(ran.stderr.contains("rate_limited"), "{}", ran.stderr);
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        ran.code == 0
    });
    assert!(pinged, "the hub could not ping after the crashes");
    run(runner(&r1).arg("refresh")).ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).ok().status(), "valid");
}
