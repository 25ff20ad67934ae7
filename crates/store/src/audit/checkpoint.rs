//! Signed checkpoints of the audit log (the CloudTrail digest / Trillian
//! signed tree head idea, applied to one hash chain).
//!
//! A checkpoint says "at `time` the log had `event_count` events and its
//! last one, `head_seq`, hashed to `head_hash`", signed with an Ed25519 key
//! that lives outside the database. Kept outside the database too, it lets a
//! later `verify` prove that today's log extends the one that was signed:
//! the event at `head_seq` must still hash (recomputed in Rust from the
//! chain start) to `head_hash`. A superuser who rewrites, truncates or
//! back-dates anything up to that event cannot produce a matching chain
//! without breaking SHA-256, nor a new checkpoint without the key.
//!
//! # Signed bytes
//!
//! The signature is Ed25519 (RFC 8032, verified strictly) over the UTF-8
//! text of five lines, each ending in `\n`:
//!
//! ```text
//! organism-audit-checkpoint-v1
//! head_seq=<decimal>
//! head_hash=<64 lower-case hex>
//! event_count=<decimal>
//! time=<YYYY-MM-DDTHH:MM:SS.ffffffZ>
//! ```
//!
//! # Files
//!
//! A checkpoint is the JSON object `{"version": 1, "head_seq", "head_hash",
//! "event_count", "time", "public_key", "signature"}` (key and signature in
//! lower-case hex). A signing key file is text: `#` comment lines, then
//! `secret: <64 hex>` (the 32-byte Ed25519 seed) and `public: <64 hex>`. A
//! public key is given as its 64 hex digits, or a file holding them (alone
//! or on a `public:` line).

use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::canonical::{hex, is_hash};

/// The only checkpoint format so far.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Why a key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("signing key: {0}")]
    SigningKey(String),
    #[error("public key: {0}")]
    PublicKey(String),
    #[error("checkpoint: {0}")]
    Malformed(String),
    #[error("checkpoint is signed by key {signed_by}, not the trusted key {trusted}")]
    OtherKey { signed_by: String, trusted: String },
    #[error("checkpoint signature is not valid for its contents (the file was altered or forged)")]
    BadSignature,
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
}

/// The chain head a checkpoint records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
    pub event_count: i64,
}

/// An Ed25519 signing key. Its `Debug` shows the public half only.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key())
    }
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, CheckpointError> {
        use rand::TryRngCore;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| CheckpointError::Randomness(e.to_string()))?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Reads the text of a key file (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::SigningKey(m.to_string());
        let secret = labelled(text, "secret").ok_or_else(|| bad("no \"secret:\" line"))?;
        let seed = hex32(secret).ok_or_else(|| bad("the secret is not 64 hex digits"))?;
        let key = Self(ed25519_dalek::SigningKey::from_bytes(&seed));
        if let Some(public) = labelled(text, "public")
            && public != key.public_key().to_string()
        {
            return Err(bad("its public line does not belong to its secret"));
        }
        Ok(key)
    }

    /// The text of a key file.
    pub fn to_file_text(&self) -> String {
        format!(
            "# organism audit signing key (Ed25519). Keep it outside the database and\n\
             # away from its administrators: whoever holds it can sign checkpoints.\n\
             secret: {}\npublic: {}\n",
            hex(self.0.as_bytes()),
            self.public_key()
        )
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the chain head as of `time` (kept to the microsecond).
    pub fn sign(&self, head: &ChainHead, time: DateTime<Utc>) -> Checkpoint {
        let time = time.trunc_subsecs(6);
        let signature = self.0.sign(&signed_bytes(head, time));
        Checkpoint {
            version: CHECKPOINT_VERSION,
            head_seq: head.seq,
            head_hash: head.hash.clone(),
            event_count: head.event_count,
            time,
            public_key: self.public_key().to_string(),
            signature: hex(&signature.to_bytes()),
        }
    }
}

/// An Ed25519 public key; shown as 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// 64 hex digits, alone or on a `public:` line of a file's text.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let text = labelled(text, "public").unwrap_or(text.trim());
        let bytes =
            hex32(text).ok_or_else(|| CheckpointError::PublicKey("not 64 hex digits".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| CheckpointError::PublicKey("not a valid Ed25519 point".into()))
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(self.0.as_bytes()))
    }
}

/// A signed chain head, as written to a checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u32,
    pub head_seq: i64,
    pub head_hash: String,
    pub event_count: i64,
    pub time: DateTime<Utc>,
    pub public_key: String,
    pub signature: String,
}

impl Checkpoint {
    /// Reads a checkpoint file's JSON and checks its shape (not yet its
    /// signature: see [`Checkpoint::verify_signature`]).
    pub fn parse(json: &str) -> Result<Self, CheckpointError> {
        let bad = |m: String| CheckpointError::Malformed(m);
        let checkpoint: Checkpoint =
            serde_json::from_str(json).map_err(|e| bad(format!("not a checkpoint: {e}")))?;
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(bad(format!("unknown version {}", checkpoint.version)));
        }
        if checkpoint.head_seq < 0 || checkpoint.event_count < 0 {
            return Err(bad("head_seq and event_count cannot be negative".into()));
        }
        if !is_hash(&checkpoint.head_hash) {
            return Err(bad("head_hash is not 64 lower-case hex digits".into()));
        }
        if checkpoint.time.trunc_subsecs(6) != checkpoint.time {
            return Err(bad("time has more than six fraction digits".into()));
        }
        Ok(checkpoint)
    }

    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.head_seq,
            hash: self.head_hash.clone(),
            event_count: self.event_count,
        }
    }

    /// Checks the signature against `trusted`, or, without one, against the
    /// key the checkpoint names (which proves only that the file was not
    /// altered since its signer wrote it, not who the signer was).
    pub fn verify_signature(
        &self,
        trusted: Option<&PublicKey>,
    ) -> Result<PublicKey, CheckpointError> {
        let named = PublicKey::parse(&self.public_key)?;
        if let Some(trusted) = trusted
            && *trusted != named
        {
            return Err(CheckpointError::OtherKey {
                signed_by: named.to_string(),
                trusted: trusted.to_string(),
            });
        }
        let bytes: [u8; 64] = hex_bytes(&self.signature)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CheckpointError::Malformed("signature is not 128 hex digits".into()))?;
        named
            .0
            .verify_strict(
                &signed_bytes(&self.head(), self.time),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| CheckpointError::BadSignature)?;
        Ok(named)
    }
}

/// The bytes a checkpoint's signature covers (see the module documentation).
pub fn signed_bytes(head: &ChainHead, time: DateTime<Utc>) -> Vec<u8> {
    format!(
        "organism-audit-checkpoint-v1\nhead_seq={}\nhead_hash={}\nevent_count={}\ntime={}\n",
        head.seq,
        head.hash,
        head.event_count,
        time.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
    .into_bytes()
}

/// The value of the first `label: value` line of `text`.
fn labelled<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(':'))
        .map(str::trim)
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex_bytes(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head() -> ChainHead {
        ChainHead {
            seq: 12,
            hash: "ab".repeat(32),
            event_count: 12,
        }
    }

    fn time() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap()
    }

    #[test]
    fn the_signed_bytes_are_five_labelled_lines() {
        let text = String::from_utf8(signed_bytes(&head(), time())).unwrap();
        assert_eq!(
            text,
            format!(
                "organism-audit-checkpoint-v1\nhead_seq=12\nhead_hash={}\nevent_count=12\ntime=2023-11-14T22:13:20.123456Z\n",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn a_signed_checkpoint_round_trips_through_json_and_verifies() {
        let key = SigningKey::generate().unwrap();
        let checkpoint = key.sign(&head(), time());
        let json = serde_json::to_string_pretty(&checkpoint).unwrap();
        let read = Checkpoint::parse(&json).unwrap();
        assert_eq!(read, checkpoint);
        assert_eq!(
            read.verify_signature(Some(&key.public_key())),
            Ok(key.public_key())
        );
        assert_eq!(read.verify_signature(None), Ok(key.public_key()));
    }

    #[test]
    fn an_altered_checkpoint_or_another_key_is_refused() {
        let key = SigningKey::generate().unwrap();
        let mut checkpoint = key.sign(&head(), time());
        checkpoint.head_seq = 11;
        assert_eq!(
            checkpoint.verify_signature(Some(&key.public_key())),
            Err(CheckpointError::BadSignature)
        );
        // Re-signed by someone else: the file is self-consistent, but not by
        // the trusted key.
        let forger = SigningKey::generate().unwrap();
        let forged = forger.sign(&head(), time());
        assert!(forged.verify_signature(None).is_ok());
        assert!(matches!(
            forged.verify_signature(Some(&key.public_key())),
            Err(CheckpointError::OtherKey { .. })
        ));
    }

    #[test]
    fn a_key_file_round_trips_and_its_public_line_must_match() {
        let key = SigningKey::generate().unwrap();
        let text = key.to_file_text();
        let read = SigningKey::parse(&text).unwrap();
        assert_eq!(read.public_key(), key.public_key());
        assert_eq!(PublicKey::parse(&text).unwrap(), key.public_key());
        assert_eq!(
            PublicKey::parse(&format!(" {}\n", key.public_key())).unwrap(),
            key.public_key()
        );
        let other = SigningKey::generate().unwrap();
        let mixed = text.replace(
            &key.public_key().to_string(),
            &other.public_key().to_string(),
        );
        assert!(SigningKey::parse(&mixed).is_err());
        assert!(!format!("{key:?}").contains(&hex(key.0.as_bytes())));
        assert!(PublicKey::parse("xyz").is_err());
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let key = SigningKey::generate().unwrap();
        let good = serde_json::to_value(key.sign(&head(), time())).unwrap();
        for (field, value) in [
            ("version", serde_json::json!(2)),
            ("head_hash", serde_json::json!("AB")),
            ("head_seq", serde_json::json!(-1)),
            ("time", serde_json::json!("2023-11-14T22:13:20.123456789Z")),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert!(Checkpoint::parse(&bad.to_string()).is_err(), "{field}");
        }
        assert!(Checkpoint::parse("{}").is_err());
    }
}
