//! The portal as a running thing: the state every request shares, made once at start.

use std::sync::Arc;

use tessera_core::UnixTime;
use tessera_core::keys::SigningKey;
use tessera_core::ledger::LedgerHead;
use tessera_core::time::Clock;
use tessera_core::trust::TrustSet;

use crate::config::Settings;
use crate::domain::ledger_signing::Signer;
use crate::domain::pings::{PingPath, PingPathError, ReceiptKeys};
use crate::domain::witnesses::Witnesses;
use crate::limits::RateLimits;
use crate::metrics::Metrics;
use crate::startup::{self, LoadedDelegation, ReceiptKeyError};
use crate::store::{RollupReport, Store, StoreError};

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The receipt key could not be loaded or made.
    #[error(transparent)]
    ReceiptKey(#[from] ReceiptKeyError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ping path could not be started.
    #[error(transparent)]
    Pings(#[from] PingPathError),
    /// The portal's own secret could not be made or read.
    #[error("cannot make the portal's secret: {0}")]
    Secret(String),
    /// The SMTP setting is not usable.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    /// A ledger witness setting is not usable.
    #[error(transparent)]
    Witness(#[from] crate::domain::witnesses::WitnessSettingError),
}

/// What the portal lacks to serve hubs: the trust set or a valid delegation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the portal is not ready: {missing}")]
pub struct NotReady {
    /// What is missing (a trust set, a delegation).
    pub missing: String,
}

/// Everything a request handler needs.
pub struct Portal {
    /// The database.
    pub store: Store,
    /// The settings the portal was started with.
    pub settings: Settings,
    /// The clock every rule reads.
    pub clock: Arc<dyn Clock>,
    /// The key that signs receipts.
    pub receipt_key: SigningKey,
    /// The vendor trust set licenses are checked against, when configured.
    pub trust: Option<TrustSet>,
    delegation: Option<LoadedDelegation>,
    /// What was wrong with the configuration at start (missing trust set, bad delegation).
    setup_problems: Vec<String>,
    /// The in-memory rate limits.
    pub limits: Arc<RateLimits>,
    /// The Prometheus metrics.
    pub metrics: Metrics,
    /// Where pings are judged and recorded.
    pub pings: PingPath,
    /// The key of device cookies and form tokens, shared by every instance (in the store).
    ui_secret: Vec<u8>,
    /// The vendor's ledger delegation of the receipt key: lets the portal sign ledger heads.
    ledger_delegation: Option<String>,
    /// Why checkpoints are not signed, when they are not.
    ledger_refused: std::sync::Mutex<Option<String>>,
    /// When the stored ledger was last checked whole against the witness file (0: not yet).
    ledger_checked_at: std::sync::atomic::AtomicI64,
    /// Where signed checkpoints go besides the database and the witness file.
    ledger_witnesses: Witnesses,
    /// The last checkpoint signed, as receipts carry it: read from memory on every ping,
    /// refreshed from the witness file whenever signing runs (the command line signs too).
    ledger_head: std::sync::RwLock<Option<LedgerHead>>,
    /// The ledger's tree, kept for the proofs auditors ask for.
    pub ledger_proofs: crate::domain::ledger_proofs::ProofTree,
    /// The SMTP relay for invitation emails, when one is configured.
    pub mailer: Option<crate::mail::Mailer>,
    /// The staff dashboard's figures and when they were counted: one pass over every
    /// license, so done at most once a minute per instance however many people look.
    pub dashboard: tokio::sync::Mutex<Option<(UnixTime, crate::store::LicenseCounts)>>,
    /// How many rounds of the periodic jobs ([`run_jobs`]) have finished: the first runs at
    /// start, and whoever must not race it (a test moving the clock) waits for it here.
    pub job_rounds: tokio::sync::watch::Sender<u64>,
}

impl Portal {
    /// Opens the store, loads or makes the receipt key, loads the trust set and delegation
    /// (noting what is missing rather than failing), and starts the ping path.
    pub async fn start(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Portal>, StartError> {
        startup::private_data_dir(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
        // A backup or restore that crashed may have left a plaintext copy here.
        crate::backup::remove_leftovers(&settings.data_dir);
        let receipt_key = startup::receipt_key(
            &settings.data_dir,
            settings.receipt_key_file.as_deref(),
            settings.receipt_key_passphrase_file.as_deref(),
        )?;
        let store = Store::open(settings.database_url.expose()).await?.with_entry_tags(
            startup::ledger_tag_key(settings.ledger_tag_key_file.as_deref(), &receipt_key)?,
        );
        let mut problems = Vec::new();
        let trust = startup::load_trust(&settings.trust, &mut problems);
        let delegation = startup::load_delegation(
            settings.delegation.as_deref(),
            trust.as_ref(),
            &receipt_key,
            clock.now(),
            &settings.data_dir,
            &mut problems,
        );
        let ledger_delegation = startup::load_ledger_delegation(
            settings.ledger_delegation.as_deref(),
            trust.as_ref(),
            &receipt_key,
            clock.now(),
        );
        for problem in &problems {
            tracing::warn!(%problem, "hubs cannot be served until this is fixed");
        }
        let ui_secret = {
            let mut fresh = [0u8; 32];
            tessera_core::keys::fill_random(&mut fresh)
                .map_err(|e| StartError::Secret(e.to_string()))?;
            let stored = store.portal_secret("ui", &hex::encode(fresh)).await?;
            hex::decode(stored).map_err(|_| {
                StartError::Store(StoreError::Corrupt("portal secret \"ui\"".to_owned()))
            })?
        };
        let mailer = match &settings.smtp {
            Some((url, from)) => {
                // Settings::resolve refuses a relay without public_url; this holds for
                // settings made otherwise too.
                let base = settings.public_url.as_deref().ok_or_else(|| {
                    crate::mail::MailError::Config("smtp_url needs public_url".to_owned())
                })?;
                Some(crate::mail::Mailer::new(url, from, base)?)
            }
            None => None,
        };
        let metrics = Metrics::default();
        let ledger_witnesses = witnesses(&settings, metrics.ledger_witness_failures.clone())?;
        let limits = Arc::new(RateLimits::new(settings.limits));
        // The delegations served are kept with the database: the receipts hubs hold stay
        // proofs after a restore with a new receipt key.
        if let Some(loaded) = &delegation {
            let key_id = loaded.delegation.claims.portal_key.key_id().to_string();
            store.record_delegation(&key_id, &loaded.text, clock.now().as_unix()).await?;
        }
        let receipt_keys = ReceiptKeys::new(
            receipt_key.public_key().clone(),
            &store.delegations().await?,
            trust.as_ref(),
            clock.now(),
        );
        let pings =
            PingPath::start(&store, metrics.ping_batches.clone(), limits.clone(), receipt_keys)?;
        let portal = Arc::new(Portal {
            limits,
            store,
            settings,
            clock,
            receipt_key,
            trust,
            delegation,
            setup_problems: problems,
            metrics,
            pings,
            ui_secret,
            ledger_delegation,
            ledger_refused: std::sync::Mutex::new(None),
            ledger_checked_at: std::sync::atomic::AtomicI64::new(0),
            ledger_witnesses,
            ledger_head: std::sync::RwLock::new(None),
            ledger_proofs: Default::default(),
            mailer,
            dashboard: tokio::sync::Mutex::new(None),
            job_rounds: tokio::sync::watch::Sender::new(0),
        });
        portal.remember_ledger_head();
        Ok(portal)
    }

    /// The key of device cookies and form tokens.
    pub fn ui_secret(&self) -> &[u8] {
        &self.ui_secret
    }

    /// The records, to hand to the domain's functions: the HTTP layer reads and writes
    /// nothing itself (the domain's functions apply the rules and scopes).
    pub fn records(&self) -> &Store {
        &self.store
    }

    /// Whether the database answers (the readiness check).
    pub async fn database_answers(&self) -> Result<(), StoreError> {
        self.store.ping_database().await
    }

    /// The time now, by the portal's clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// What is still missing before hubs can be served; empty when ready.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = self.setup_problems.clone();
        if let Some(loaded) = &self.delegation
            && let Err(e) = loaded.delegation.check_window(self.now())
        {
            missing.push(format!("delegation: {e}"));
        }
        missing
    }

    /// The trust set and the delegation's text, or what is missing.
    pub fn hub_ready(&self) -> Result<(&TrustSet, &str), NotReady> {
        let missing = self.missing();
        match (&self.trust, &self.delegation) {
            (Some(trust), Some(loaded)) if missing.is_empty() => Ok((trust, &loaded.text)),
            _ => Err(NotReady { missing: missing.join("; ") }),
        }
    }

    /// The delegation's armored text, if one is loaded.
    pub fn delegation_text(&self) -> Option<&str> {
        self.delegation.as_ref().map(|d| d.text.as_str())
    }

    /// Deletes the licenses whose contract ended more than `keep_ended_licenses_days` ago.
    pub async fn forget_ended_licenses(&self) -> Result<u64, StoreError> {
        let keep = self.settings.keep_ended_licenses_days.saturating_mul(86_400);
        self.store.delete_ended_licenses(self.now().as_unix().saturating_sub(keep)).await
    }

    /// The witness file: the last checkpoint of the audit ledger the portal signed, kept
    /// apart from the database (docs/OPERATIONS.md).
    pub fn ledger_witness(&self) -> std::path::PathBuf {
        self.settings.data_dir.join(LEDGER_WITNESS_FILE)
    }

    /// What signing the ledger's checkpoints needs, with the witness file at `witness`.
    fn ledger_signer<'a>(&'a self, witness: &'a std::path::Path) -> Signer<'a> {
        Signer {
            key: &self.receipt_key,
            delegation: self.ledger_delegation.as_deref(),
            name: self.settings.ledger_name.as_deref(),
            witness,
            witnesses: &self.ledger_witnesses,
            check_all: self.ledger_check_due(),
        }
    }

    /// Whether the stored ledger is due a whole check against the witness file: at the first
    /// signing after a start, then once an hour (it reads every entry).
    fn ledger_check_due(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = self.now().as_unix();
        let last = self.ledger_checked_at.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LEDGER_CHECK_SECS;
        if due {
            self.ledger_checked_at.store(now.max(1), Ordering::Relaxed);
        }
        due
    }

    /// Why the portal refuses to sign the audit ledger's checkpoints, if it does (`/readyz`
    /// says it; pings are served all the same).
    pub fn ledger_refused(&self) -> Option<String> {
        self.ledger_refused.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Each tlog witness's URL and why it did not cosign the last checkpoint, if it did not.
    pub fn ledger_witness_failures(&self) -> Vec<(String, Option<String>)> {
        self.ledger_witnesses.failing()
    }

    /// The audit ledger's latest signed checkpoint, for a receipt (no store query: pings
    /// read it).
    pub fn ledger_head(&self) -> Option<LedgerHead> {
        self.ledger_head.read().map(|h| h.clone()).unwrap_or_default()
    }

    /// Reads the witness file's checkpoint into memory, for the receipts that follow.
    fn remember_ledger_head(&self) {
        let head = crate::domain::ledger_signing::last_signed(&self.ledger_witness());
        if let Ok(mut slot) = self.ledger_head.write() {
            *slot = head.as_ref().map(LedgerHead::from);
        }
    }

    /// Signs a checkpoint of the audit ledger if it grew (see
    /// `domain::ledger_signing::sign_checkpoint`); a refusal is logged, kept for `/readyz` and counted.
    pub async fn sign_ledger_head(&self) -> Result<bool, StoreError> {
        use crate::domain::ledger_signing::{Signing, sign_checkpoint};
        let witness = self.ledger_witness();
        let signing =
            sign_checkpoint(&self.store, &self.ledger_signer(&witness), self.now()).await?;
        self.remember_ledger_head();
        let refused = match &signing {
            Signing::Refused(why) => {
                tracing::error!(
                    why,
                    "the audit ledger's checkpoint is not signed: the stored ledger does not extend the last one signed"
                );
                self.metrics.ledger_refusals.inc();
                Some(why.clone())
            }
            Signing::Signed(_) | Signing::Checked => None,
            // Nothing new: the last verdict stands.
            Signing::Unchanged => return Ok(false),
        };
        self.metrics.ledger_signing_refused.set(i64::from(refused.is_some()));
        if let Ok(mut slot) = self.ledger_refused.lock() {
            *slot = refused;
        }
        Ok(matches!(signing, Signing::Signed(_)))
    }

    /// Cuts the audit ledger's entries older than `keep_ledger_days`, at a signed checkpoint.
    pub async fn cut_ledger(&self) -> Result<u64, StoreError> {
        let keep = self.settings.keep_ledger_days.saturating_mul(86_400);
        let before = UnixTime::from_unix(self.now().as_unix().saturating_sub(keep))
            .unwrap_or(UnixTime::EPOCH);
        let witness = self.ledger_witness();
        let cut = crate::domain::ledger_signing::cut(
            &self.store,
            &self.ledger_signer(&witness),
            before,
            self.now(),
        )
        .await;
        self.remember_ledger_head();
        cut
    }

    /// Runs the rollup now and counts it.
    pub async fn rollup(&self) -> Result<RollupReport, StoreError> {
        let report = self.store.rollup(self.now()).await?;
        self.metrics.rollups.inc();
        self.metrics.rolled_days.inc_by(report.days_rolled);
        Ok(report)
    }
}

/// The checkpoint directory and tlog witnesses the settings name, failures counted in
/// `failures`.
pub fn witnesses(
    settings: &Settings,
    failures: prometheus_client::metrics::counter::Counter,
) -> Result<Witnesses, crate::domain::witnesses::WitnessSettingError> {
    let remotes: Vec<(String, String)> =
        settings.ledger_witnesses.iter().map(|w| (w.url.clone(), w.key.clone())).collect();
    Witnesses::new(settings.ledger_checkpoint_dir.clone(), &remotes, failures)
}

/// The witness file's name in the data directory.
pub const LEDGER_WITNESS_FILE: &str = "ledger-witness.jsonl";

/// How often the audit ledger's checkpoint is signed when entries arrived.
pub const LEDGER_SIGN_SECS: u64 = 60;

/// How often the whole stored ledger is checked against the witness file when no entry
/// arrived (reading every entry: at a million, about a second).
const LEDGER_CHECK_SECS: i64 = 3600;

/// The periodic jobs, until the task is aborted: signing the audit ledger's head every
/// minute when it moved, and each `rollup_every_secs` the rollup, deleting expired sessions,
/// invitations and email changes and the licenses past their retention, and forgetting idle
/// rate-limit keys. One round of each runs at start, in that order, before any timer: a
/// portal restarted more often than `rollup_every_secs` still rolls up, and the first round
/// is one known event ([`Portal::job_rounds`]) rather than a race with what comes next.
pub async fn run_jobs(portal: Arc<Portal>) {
    let every = std::time::Duration::from_secs(portal.settings.rollup_every_secs);
    let mut every = tokio::time::interval(every);
    let mut heads = tokio::time::interval(std::time::Duration::from_secs(LEDGER_SIGN_SECS));
    // Both timers' first ticks are immediate: they are the round at start.
    every.tick().await;
    heads.tick().await;
    sign_ledger_head(&portal).await;
    periodic_jobs(&portal).await;
    loop {
        tokio::select! {
            _ = every.tick() => periodic_jobs(&portal).await,
            _ = heads.tick() => sign_ledger_head(&portal).await,
        }
    }
}

async fn sign_ledger_head(portal: &Portal) {
    if let Err(e) = portal.sign_ledger_head().await {
        tracing::error!(error = %e, "signing the audit ledger's head failed");
    }
}

/// One round of the jobs that run each `rollup_every_secs`; counted in [`Portal::job_rounds`].
async fn periodic_jobs(portal: &Portal) {
    match portal.rollup().await {
        Ok(report) if report.days_rolled > 0 => {
            tracing::info!(days = report.days_rolled, pings = report.pings_moved, "rolled up");
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "rollup failed"),
    }
    let now = portal.now().as_unix();
    let rules = portal.settings.sessions;
    if let Err(e) =
        portal.store.delete_expired_sessions(now - rules.idle_secs, now - rules.max_secs).await
    {
        tracing::error!(error = %e, "deleting expired sessions failed");
    }
    if let Err(e) = portal.store.delete_expired_invitations(now).await {
        tracing::error!(error = %e, "deleting expired invitations failed");
    }
    if let Err(e) = portal.store.delete_expired_email_changes(now).await {
        tracing::error!(error = %e, "deleting expired email changes failed");
    }
    if let Err(e) = portal.store.delete_expired_password_resets(now).await {
        tracing::error!(error = %e, "deleting expired password resets failed");
    }
    if let Err(e) = portal.store.delete_old_unknown_address_signins(now - 86_400).await {
        tracing::error!(error = %e, "deleting the counts of unknown addresses failed");
    }
    match portal.cut_ledger().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(entries = n, "audit ledger entries past their retention cut"),
        Err(e) => tracing::error!(error = %e, "cutting the audit ledger failed"),
    }
    match portal.forget_ended_licenses().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(licenses = n, "licenses past their retention deleted"),
        Err(e) => tracing::error!(error = %e, "deleting licenses past their retention failed"),
    }
    portal.limits.shrink();
    portal.job_rounds.send_modify(|rounds| *rounds += 1);
}
