//! The hub offline: the activation request it writes, and the vendor's signed answer it
//! installs and checks.

use tessera_core::Status;
use tessera_core::activation::{self, ActivationClaims, RequestClaims, sign_request};
use tessera_core::fingerprint::{FingerprintBinding, VERSION as FINGERPRINT_VERSION};

use super::{Hub, HubError, Installed, nonce};

impl Hub {
    pub(super) fn check_activation(
        &self,
        installed: &Installed,
        text: &[u8],
    ) -> Result<ActivationClaims, HubError> {
        let offline = |status: Status, message: &str| HubError::Offline {
            status,
            message: message.to_owned(),
        };
        let claims = activation::verify_activation(text, &installed.trust, self.now())
            .map_err(|e| offline(e.status(), &e.to_string()))?;
        if claims.license_id != installed.claims.id {
            return Err(offline(Status::Malformed, "the activation is for another license"));
        }
        if claims.hub_key_id != installed.key.key_id() {
            return Err(offline(
                Status::FingerprintMismatch,
                "the activation is for another hub key",
            ));
        }
        let binding = FingerprintBinding::new(claims.fingerprint.clone())
            .map_err(|e| offline(Status::Malformed, &e.to_string()))?;
        binding.check(&self.fingerprint_to_check(&installed.claims)?).map_err(|m| {
            offline(
                Status::FingerprintMismatch,
                &format!("this host matches {} of the {} components needed", m.matched, m.needed),
            )
        })?;
        Ok(claims)
    }

    /// Writes an offline activation request for `license` and remembers its nonce.
    pub fn activation_request(
        &self,
        license: &[u8],
        trust_text: &[u8],
    ) -> Result<String, HubError> {
        let (claims, _) = self.install_license(license, trust_text)?;
        let key = self.dir.hub_key()?;
        let request = RequestClaims {
            license_id: claims.id,
            product: claims.product.clone(),
            fingerprint: self.fingerprint(&claims)?,
            fingerprint_version: FINGERPRINT_VERSION,
            hub_key: key.public_key().clone(),
            nonce: nonce()?,
            created_at: self.now(),
        };
        self.record_secret_path()?;
        self.dir.update(|s| s.pending_request = Some(request.nonce))?;
        Ok(sign_request(&request, &key))
    }

    /// Installs the vendor's answer to this hub's outstanding request, once.
    pub fn install_offline(&self, text: &[u8]) -> Result<ActivationClaims, HubError> {
        let installed = self.installed()?;
        let _lock = self.dir.lock()?;
        let mut state = self.dir.load()?;
        let claims = self.check_activation(&installed, text)?;
        if state.pending_request != Some(claims.nonce) {
            return Err(HubError::Offline {
                status: Status::BadSignature,
                message: "this is not the answer to this hub's outstanding request (already \
                          installed, or made for another request)"
                    .into(),
            });
        }
        if self.now() > claims.not_after {
            return Err(HubError::Offline {
                status: Status::Expired,
                message: format!("the activation ended {}", claims.not_after),
            });
        }
        state.activation = Some(String::from_utf8_lossy(text).into_owned());
        state.pending_request = None;
        state.portal = None;
        state.receipt = None;
        state.fingerprint = None;
        state.delegation = None;
        state.raise_high_water([self.now(), claims.issued_at]);
        self.dir.save(&_lock, &state)?;
        Ok(claims)
    }
}
