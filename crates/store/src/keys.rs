//! API keys: created here, shown once, stored only as a SHA-256 hash.
//!
//! A key is 32 random bytes from the operating system's generator (through
//! `rand`'s thread generator, a CSPRNG seeded from the OS), written as
//! `otk_` and 64 hex digits. With 256 bits of entropy a plain (unsalted,
//! fast) hash is enough: nobody can guess a key by trying hashes, and the
//! lookup by hash needs no per-key salt. The key never reaches the database;
//! its hash does, so a stolen copy of the database gives no working key.

use chrono::{DateTime, Utc};
use organism_domain::{Role, TeamName, TeamsRule, ValidationError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Result, Store, StoreError};

/// The prefix of every key, so that a leaked key is recognisable in logs and
/// by secret scanners.
pub const KEY_PREFIX: &str = "otk_";

/// What a key may do: its role, and for a reader optionally (for a manager
/// always) the teams it is restricted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyGrant {
    pub key_id: String,
    pub role: Role,
    /// `None`: every team.
    pub teams: Option<Vec<String>>,
}

/// A key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub key_id: String,
    pub role: Role,
    pub teams: Option<Vec<String>>,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly created key: `key` is shown once and not stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub grant: KeyGrant,
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `key` has the shape of a key (so that junk is refused before any
/// database work, and never logged).
pub fn well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Store {
    /// Creates a key. Readers may be restricted to teams, managers must be
    /// (a manager sees its teams' aggregates only), writers and admins may
    /// not be (a writer or admin restricted to teams would be a promise the
    /// service does not keep).
    pub async fn create_api_key(
        &self,
        role: Role,
        teams: &[TeamName],
        label: &str,
    ) -> Result<NewKey> {
        match (role.teams_rule(), teams.is_empty()) {
            (TeamsRule::Forbidden, false) => {
                return Err(StoreError::Invalid(ValidationError::new(
                    "teams",
                    "only reader and manager keys can be restricted to teams",
                )));
            }
            (TeamsRule::Required, true) => {
                return Err(StoreError::Invalid(ValidationError::new(
                    "teams",
                    "a manager key needs the teams it manages",
                )));
            }
            _ => {}
        }
        let secret: [u8; 32] = rand::random();
        let key = format!("{KEY_PREFIX}{}", hex(&secret));
        let digest = hash(&key);
        let key_id = hex(&digest[..6]);
        let teams: Option<Vec<String>> = (!teams.is_empty()).then(|| {
            let mut t: Vec<String> = teams.iter().map(|t| t.as_str().to_string()).collect();
            t.sort();
            t.dedup();
            t
        });
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO api_keys (key_id, key_hash, role, teams, label) VALUES ($1, $2, $3, $4, $5)",
                &[&key_id, &digest, &role.as_str(), &teams, &label],
            )
            .await?;
        Ok(NewKey {
            key,
            grant: KeyGrant {
                key_id,
                role,
                teams,
            },
        })
    }

    /// The grant of a valid, unrevoked key; `None` for anything else.
    pub async fn authenticate(&self, key: &str) -> Result<Option<KeyGrant>> {
        if !well_formed(key) {
            return Ok(None);
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT key_id, role, teams FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            )
            .await?;
        let row = client.query_opt(&statement, &[&hash(key)]).await?;
        row.map(|r| {
            let role: String = r.get(1);
            Ok(KeyGrant {
                key_id: r.get(0),
                role: role
                    .parse()
                    .map_err(|e: ValidationError| StoreError::Database(e.to_string()))?,
                teams: r.get(2),
            })
        })
        .transpose()
    }

    /// Every key, newest first (without the keys themselves).
    pub async fn list_api_keys(&self) -> Result<Vec<KeyInfo>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key_id, role, teams, label, created_at, revoked_at FROM api_keys ORDER BY created_at DESC, key_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.get(1);
                Ok(KeyInfo {
                    key_id: r.get(0),
                    role: role
                        .parse()
                        .map_err(|e: ValidationError| StoreError::Database(e.to_string()))?,
                    teams: r.get(2),
                    label: r.get(3),
                    created_at: r.get(4),
                    revoked_at: r.get(5),
                })
            })
            .collect()
    }

    /// Revokes a key by its id; it stops working at once.
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
                &[&key_id],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "api key",
                id: key_id.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_shape_is_well_formed() {
        let key = format!("{KEY_PREFIX}{}", "ab".repeat(32));
        assert!(well_formed(&key));
        assert!(!well_formed(&key[..key.len() - 1]));
        assert!(!well_formed(&format!("{KEY_PREFIX}{}", "zz".repeat(32))));
        assert!(!well_formed("' OR 1=1 --"));
        assert!(!well_formed(""));
    }

    #[test]
    fn the_hash_is_sha256() {
        assert_eq!(
            hex(&hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
