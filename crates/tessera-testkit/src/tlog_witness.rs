//! A transparency log witness written from the C2SP specifications alone (`tlog-witness`,
//! `tlog-cosignature`, `signed-note`, and RFC 9162 for the consistency proof), served on a
//! loopback port 0, for testing a log that asks witnesses to cosign. It shares no code with
//! the ledger it witnesses beyond the Ed25519 primitive: its proof check, its note reading
//! and its cosignature are its own, so a mistake in the portal's is not repeated here.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tessera_core::keys::{PublicKey, SigningKey};

/// What the witness holds: the logs it knows (origin → key) and the latest checkpoint it
/// cosigned for each (size, root).
#[derive(Default)]
struct State {
    logs: HashMap<String, PublicKey>,
    latest: HashMap<String, (u64, [u8; 32])>,
    /// Every answer's status, in order.
    answers: Vec<u16>,
}

/// A running witness. It stops when the test process ends.
pub struct TestWitness {
    /// Its submission prefix (`http://127.0.0.1:<port>`).
    pub url: String,
    name: String,
    key: SigningKey,
    state: Arc<Mutex<State>>,
}

impl TestWitness {
    /// Starts a witness named `name` on a loopback port.
    pub fn start(name: &str) -> TestWitness {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let key = SigningKey::generate().expect("witness key");
        let state = Arc::new(Mutex::new(State::default()));
        let (served, signer, named) = (state.clone(), key.to_secret_text(), name.to_owned());
        std::thread::spawn(move || {
            let key = SigningKey::from_secret_text(&signer).expect("key");
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &named, &key, &served);
            }
        });
        TestWitness { url, name: name.to_owned(), key, state }
    }

    /// The witness's verifier key: `<name>+<key id>+<base64(0x04 ‖ key)>`.
    pub fn verifier_key(&self) -> String {
        let public = self.key.public_key().as_bytes();
        let mut typed = vec![0x04];
        typed.extend(public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, 0x04, public)),
            STANDARD.encode(typed)
        )
    }

    /// Lets the witness cosign checkpoints of `origin` signed by `key`.
    pub fn trust_log(&self, origin: &str, key: &PublicKey) {
        self.state.lock().expect("state").logs.insert(origin.to_owned(), key.clone());
    }

    /// The latest checkpoint it cosigned for `origin`: size and root.
    pub fn latest(&self, origin: &str) -> Option<(u64, [u8; 32])> {
        self.state.lock().expect("state").latest.get(origin).copied()
    }

    /// The statuses it answered, in order.
    pub fn answers(&self) -> Vec<u16> {
        self.state.lock().expect("state").answers.clone()
    }
}

/// SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]: a signed-note key id.
fn key_id(name: &str, kind: u8, key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0a, kind]);
    hasher.update(key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// RFC 9162, 2.1.4.2: does `proof` show the tree of `new` leaves (root `new_root`) extends
/// the tree of `old` leaves (root `old_root`)? `0 < old < new`.
fn consistent(
    old: u64,
    new: u64,
    old_root: &[u8; 32],
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
) -> bool {
    let mut path: Vec<[u8; 32]> = Vec::new();
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some(first) = path.first().copied() else { return false };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &fr == old_root && &sr == new_root
}

/// One request, answered; the connection closes after it.
fn serve(
    stream: TcpStream,
    name: &str,
    key: &SigningKey,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((field, value)) = header.split_once(':')
            && field.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (status, kind, answer) = if request_line.starts_with("POST ")
        && request_line.split(' ').nth(1).is_some_and(|p| p.ends_with("/add-checkpoint"))
    {
        let mut state = state.lock().expect("state");
        let answered = add_checkpoint(&String::from_utf8_lossy(&body), name, key, &mut state);
        state.answers.push(answered.0);
        answered
    } else {
        (404, "text/plain", "not found\n".to_owned())
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Unprocessable Entity",
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// `add-checkpoint` as tlog-witness specifies it.
fn add_checkpoint(
    body: &str,
    name: &str,
    key: &SigningKey,
    state: &mut State,
) -> (u16, &'static str, String) {
    let bad = |why: &str| (400, "text/plain", format!("{why}\n"));
    let Some((head, note)) = body.split_once("\n\n") else { return bad("no empty line") };
    let mut lines = head.split('\n');
    let Some(old) =
        lines.next().and_then(|l| l.strip_prefix("old ")).and_then(|s| s.parse::<u64>().ok())
    else {
        return bad("old size");
    };
    let proof: Option<Vec<[u8; 32]>> =
        lines.map(|l| STANDARD.decode(l).ok().and_then(|b| b.try_into().ok())).collect();
    let Some(proof) = proof else { return bad("proof line") };
    // The checkpoint: origin, size, root, an empty line, signature lines.
    let Some((text, signatures)) = note.split_once("\n\n") else { return bad("checkpoint") };
    let text = format!("{text}\n");
    let mut body_lines = text.lines();
    let (Some(origin), Some(size), Some(root)) =
        (body_lines.next(), body_lines.next(), body_lines.next())
    else {
        return bad("checkpoint lines");
    };
    let (Ok(size), Some(root)) = (
        size.parse::<u64>(),
        STANDARD.decode(root).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()),
    ) else {
        return bad("checkpoint size or root");
    };
    let Some(log_key) = state.logs.get(origin) else {
        return (404, "text/plain", "unknown log\n".into());
    };
    let expected_id = key_id(origin, 0x01, log_key.as_bytes());
    let signed = signatures.lines().any(|line| {
        let Some((signer, signature)) =
            line.strip_prefix("\u{2014} ").and_then(|r| r.split_once(' '))
        else {
            return false;
        };
        let Ok(bytes) = STANDARD.decode(signature) else { return false };
        signer == origin
            && bytes.len() == 68
            && bytes[..4] == expected_id
            && <[u8; 64]>::try_from(&bytes[4..])
                .is_ok_and(|s| log_key.verify(text.as_bytes(), &s).is_ok())
    });
    if !signed {
        return (403, "text/plain", "no signature by the log's key\n".into());
    }
    if old > size {
        return bad("old size above the checkpoint's");
    }
    let (latest, latest_root) = state.latest.get(origin).copied().unwrap_or((0, [0; 32]));
    if old != latest {
        return (409, "text/x.tlog.size", format!("{latest}\n"));
    }
    if old == size && latest_root != root {
        return (409, "text/x.tlog.size", format!("{latest}\n"));
    }
    // From nothing, or to the same tree, the proof is empty.
    let holds = if old == 0 || old == size {
        proof.is_empty()
    } else {
        consistent(old, size, &latest_root, &root, &proof)
    };
    if !holds {
        return (422, "text/plain", "the consistency proof does not verify\n".into());
    }
    state.latest.insert(origin.to_owned(), (size, root));
    // A cosignature/v1: key id, the time, the signature of the header, time and text.
    let time = 1_900_000_000u64;
    let message = format!("cosignature/v1\ntime {time}\n{text}");
    let mut bytes = key_id(name, 0x04, key.public_key().as_bytes()).to_vec();
    bytes.extend(time.to_be_bytes());
    bytes.extend(key.sign(message.as_bytes()));
    (200, "text/plain", format!("\u{2014} {name} {}\n", STANDARD.encode(bytes)))
}
