//! HTTP basic authentication against bcrypt hashes (`basic_auth_users`).
//!
//! bcrypt is deliberately slow (tens of milliseconds at cost 10), so, as
//! exporter-toolkit does, a successful verification is cached (by a SHA-256
//! of user, hash and password; the password itself is never stored) and a
//! scrape every few seconds costs a hash lookup, not a bcrypt. At most two
//! bcrypt verifications run at once, on the blocking pool, so a flood of bad
//! passwords cannot take every core.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::sync::Semaphore;

/// A hash with the same cost as typical users', checked for unknown users so
/// that a wrong user name takes as long as a wrong password.
const DUMMY_HASH: &str = "$2y$10$PT2.DUzg2kdlW.9nzOWJ6e8IQxigACIv4wZQ389r0/G/LDSZ2IttC";

/// Most cached successful verifications; the cache is cleared when full.
const CACHE_MAX: usize = 1024;

/// The configured users and the verification cache. Rebuilt on reload, so a
/// changed or removed user's cache entries go with the old config.
#[derive(Debug)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    cache: Mutex<HashSet<[u8; 32]>>,
    bcrypt_slots: Arc<Semaphore>,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Basic` header, or an undecodable one.
    Missing,
    /// Unknown user or wrong password.
    Wrong,
}

impl BasicAuth {
    /// Users → bcrypt hashes (validated by the config parser).
    pub fn new(users: BTreeMap<String, String>) -> Self {
        BasicAuth {
            users,
            cache: Mutex::new(HashSet::new()),
            bcrypt_slots: Arc::new(Semaphore::new(2)),
        }
    }

    /// Checks an `Authorization` header value.
    pub async fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let (user, password) = authorization.and_then(parse_basic).ok_or(Denied::Missing)?;
        let hash = self.users.get(&user);
        let key = cache_key(&user, hash.map_or("", String::as_str), &password);
        if hash.is_some() && self.cache.lock().expect("auth cache").contains(&key) {
            return Ok(());
        }
        let hash_or_dummy = hash.cloned().unwrap_or_else(|| DUMMY_HASH.to_string());
        let _slot = self
            .bcrypt_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Denied::Wrong)?;
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(&password, &hash_or_dummy).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok && hash.is_some() {
            let mut cache = self.cache.lock().expect("auth cache");
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key);
            Ok(())
        } else {
            Err(Denied::Wrong)
        }
    }
}

/// `Basic base64(user:password)` → (user, password).
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, hash, password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn right_password_passes_and_is_cached() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("prom".to_string(), hash)]));
        assert_eq!(auth.check(Some(&header("prom", "s3cret"))).await, Ok(()));
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert_eq!(auth.check(Some(&header("prom", "s3cret"))).await, Ok(()));
        assert_eq!(
            auth.check(Some(&header("prom", "wrong"))).await,
            Err(Denied::Wrong)
        );
        assert_eq!(
            auth.check(Some(&header("other", "s3cret"))).await,
            Err(Denied::Wrong)
        );
        assert_eq!(auth.check(None).await, Err(Denied::Missing));
        assert_eq!(auth.check(Some(b"Bearer abc")).await, Err(Denied::Missing));
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
    }

    #[test]
    fn dummy_hash_is_a_valid_bcrypt_hash() {
        assert!(!bcrypt::verify("x", DUMMY_HASH).unwrap());
    }

    #[test]
    fn parse_basic_accepts_colons_in_the_password() {
        assert_eq!(
            parse_basic(&header("u", "a:b")),
            Some(("u".into(), "a:b".into()))
        );
        assert_eq!(parse_basic(b"Basic !!!"), None);
    }
}
