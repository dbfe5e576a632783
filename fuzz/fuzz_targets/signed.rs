//! Every other signed kind on arbitrary bytes: delegations, receipts (through a delegation),
//! offline activation requests and answers, leases. Never a panic; nothing opens under a
//! signature it does not carry.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_core::activation;
use tessera_core::delegation::{Delegation, DelegationClaims};
use tessera_core::keys::SigningKey;
use tessera_core::receipt;
use tessera_core::{TrustSet, UnixTime};

struct Keys {
    trust: TrustSet,
    delegation: Delegation,
    hub: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let vendor = SigningKey::from_seed(&[0x11; 32]);
        let portal = SigningKey::from_seed(&[0x22; 32]);
        let t = |s: i64| UnixTime::from_unix(s).expect("time");
        Keys {
            trust: TrustSet::single(vendor.public_key().clone()),
            delegation: Delegation {
                claims: DelegationClaims {
                    portal_key: portal.public_key().clone(),
                    issued_at: t(1_700_000_000),
                    not_before: t(1_700_000_000),
                    not_after: t(1_900_000_000),
                },
                vendor_key_id: vendor.key_id(),
            },
            hub: SigningKey::from_seed(&[0x33; 32]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    let now = UnixTime::from_unix(1_800_000_000).expect("time");
    let _ = Delegation::verify(data, &k.trust, now);
    let _ = receipt::verify(data, &k.delegation);
    if let Ok(request) = activation::open_request(data) {
        // A request opens only under the key it carries.
        assert_eq!(
            tessera_core::armor::Envelope::parse(tessera_core::armor::Kind::ActivationRequest, data)
                .expect("parsed once")
                .key_id(),
            request.hub_key.key_id()
        );
    }
    let _ = activation::verify_activation(data, &k.trust, now);
    let _ = activation::verify_lease(data, k.hub.public_key());
});
