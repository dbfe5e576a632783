//! The JSON bodies that arrive over HTTP: the portal's activate and ping calls, the hub's
//! lease request, its bundle (as a runner reads it), and a runner's sealed cache file.
//! Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::activation::Bundle;
use tessera_core::armor::{Compact, Envelope, Kind};
use tessera_core::receipt::{ActivateCall, PingCall};

fuzz_target!(|data: &[u8]| {
    // What the portal does with a body (portal/src/hub.rs): JSON envelope, then the call.
    if let Ok(compact) = serde_json::from_slice::<Compact>(data) {
        for kind in [Kind::Activate, Kind::Ping] {
            if let Ok(envelope) = Envelope::from_compact(kind, &compact) {
                let _ = envelope.open::<ActivateCall>();
                let _ = envelope.open::<PingCall>();
            }
        }
    }
    // What a runner does with a hub's answer.
    let _ = serde_json::from_slice::<Bundle>(data);
    // What the hub's runner API does with a lease request.
    let _ = tessera_hub::runners::lease_request(data);
    // A runner's cache file, under a fixed key.
    let _ = tessera_runner::cache::open(data, &[7u8; 32]);
});
