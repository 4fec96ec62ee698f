//! One-time login challenges.
//!
//! A portal issues a nonce when the login page asks for one, keeps it in the user's session
//! (cookie), and hands it to [`ChallengeStore::take`] when the token arrives. `take` removes
//! the nonce atomically, so a nonce can complete at most one login, even when several replicas
//! race for it (Redis `GETDEL`). An expired nonce and a nonce this store never issued (or
//! already consumed) are different errors, so the portal can say "too slow, try again" rather
//! than "something is wrong".

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use geid_protocol::ChallengeNonce;

use crate::VerifyError;

/// Default time to live of a challenge: 5 minutes, as Web eID.
pub const DEFAULT_CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// Issues single-use challenge nonces and consumes them.
///
/// Object-safe: portals keep an `Arc<dyn ChallengeStore>` in their axum state.
#[async_trait]
pub trait ChallengeStore: Send + Sync {
    /// Generates a fresh 32-byte nonce, remembers it for the store's TTL and returns it.
    async fn issue(&self) -> Result<ChallengeNonce, VerifyError>;

    /// Consumes `nonce`: `Ok` exactly once for a nonce issued by this store within its TTL;
    /// [`VerifyError::NonceExpired`] when its TTL has passed; [`VerifyError::NonceUnknown`]
    /// when never issued here or already taken.
    async fn take(&self, nonce: &ChallengeNonce) -> Result<(), VerifyError>;
}

fn fresh_nonce() -> Result<ChallengeNonce, VerifyError> {
    ChallengeNonce::generate().map_err(|e| VerifyError::ChallengeStoreUnavailable(e.to_string()))
}

struct Memory {
    /// nonce → expiry.
    live: HashMap<String, Instant>,
    /// Issue order, which is expiry order since the TTL is fixed.
    order: VecDeque<(Instant, String)>,
}

/// An in-process challenge store for a single-replica portal.
///
/// Bounded: at most `capacity` nonces are remembered; beyond that the oldest go first.
/// Expired nonces are kept for one more TTL (to answer "expired" rather than "unknown"),
/// then evicted on the next `issue`.
pub struct MemoryChallengeStore {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Memory>,
}

impl Default for MemoryChallengeStore {
    fn default() -> Self {
        MemoryChallengeStore::new(DEFAULT_CHALLENGE_TTL, 100_000)
    }
}

impl MemoryChallengeStore {
    /// A store whose nonces live `ttl` and which remembers at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> MemoryChallengeStore {
        MemoryChallengeStore {
            ttl,
            capacity: capacity.max(1),
            inner: Mutex::new(Memory {
                live: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// How many nonces are remembered now (live or recently expired).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.live.len()).unwrap_or(0)
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Memory>, VerifyError> {
        self.inner
            .lock()
            .map_err(|_| VerifyError::ChallengeStoreUnavailable("store lock poisoned".into()))
    }
}

#[async_trait]
impl ChallengeStore for MemoryChallengeStore {
    async fn issue(&self) -> Result<ChallengeNonce, VerifyError> {
        let nonce = fresh_nonce()?;
        let now = Instant::now();
        let mut m = self.lock()?;
        // Evict what expired more than one TTL ago, then the oldest while over capacity.
        while let Some((expires, key)) = m.order.front().cloned() {
            let stale = expires + self.ttl <= now;
            if !(stale || m.live.len() >= self.capacity) {
                break;
            }
            m.order.pop_front();
            if m.live.get(&key) == Some(&expires) {
                m.live.remove(&key);
            }
        }
        let expires = now + self.ttl;
        m.live.insert(nonce.as_str().to_owned(), expires);
        m.order.push_back((expires, nonce.as_str().to_owned()));
        Ok(nonce)
    }

    async fn take(&self, nonce: &ChallengeNonce) -> Result<(), VerifyError> {
        let expires = self
            .lock()?
            .live
            .remove(nonce.as_str())
            .ok_or(VerifyError::NonceUnknown)?;
        if Instant::now() >= expires {
            return Err(VerifyError::NonceExpired);
        }
        Ok(())
    }
}

/// A challenge store in Redis, shared by every replica of a portal.
///
/// `issue` runs `SET <prefix><nonce> <expiry-ms> NX EX <2×ttl>`; `take` runs `GETDEL`, which is
/// atomic, so of two replicas racing for one nonce exactly one wins. The value is the expiry
/// time (Unix milliseconds); the key outlives it by one TTL so a late `take` can be told
/// "expired" rather than "unknown". Needs Redis ≥ 6.2 (`GETDEL`).
pub struct RedisChallengeStore {
    connection: redis::aio::MultiplexedConnection,
    prefix: String,
    ttl: Duration,
}

fn redis_error(e: redis::RedisError) -> VerifyError {
    VerifyError::ChallengeStoreUnavailable(format!("redis: {e}"))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RedisChallengeStore {
    /// Connects to `url` (`redis://host:port/db`); keys are `<prefix><nonce>`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<RedisChallengeStore, VerifyError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let connection = client
            .get_multiplexed_tokio_connection()
            .await
            .map_err(redis_error)?;
        Ok(RedisChallengeStore {
            connection,
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    fn key(&self, nonce: &ChallengeNonce) -> String {
        format!("{}{}", self.prefix, nonce.as_str())
    }
}

#[async_trait]
impl ChallengeStore for RedisChallengeStore {
    async fn issue(&self) -> Result<ChallengeNonce, VerifyError> {
        let nonce = fresh_nonce()?;
        let expires = unix_ms(SystemTime::now() + self.ttl);
        let keep_secs = (2 * self.ttl).as_secs().max(1);
        let mut con = self.connection.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(&nonce))
            .arg(expires)
            .arg("NX")
            .arg("EX")
            .arg(keep_secs)
            .query_async(&mut con)
            .await
            .map_err(redis_error)?;
        if set.is_none() {
            // 256 random bits collided: the generator is broken; refuse rather than reuse.
            return Err(VerifyError::ChallengeStoreUnavailable(
                "a freshly generated nonce already exists".into(),
            ));
        }
        Ok(nonce)
    }

    async fn take(&self, nonce: &ChallengeNonce) -> Result<(), VerifyError> {
        let mut con = self.connection.clone();
        let value: Option<String> = redis::cmd("GETDEL")
            .arg(self.key(nonce))
            .query_async(&mut con)
            .await
            .map_err(redis_error)?;
        let value = value.ok_or(VerifyError::NonceUnknown)?;
        let expires: u64 = value.parse().map_err(|_| VerifyError::NonceUnknown)?;
        if unix_ms(SystemTime::now()) >= expires {
            return Err(VerifyError::NonceExpired);
        }
        Ok(())
    }
}
