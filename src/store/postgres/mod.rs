//! A [`Store`] on PostgreSQL, for several bridge replicas sharing one state (sled holds
//! a file lock: one process only).
//!
//! One table, `sab_records`, keyed by `(kind, key)` like sled's trees, each value the
//! same versioned [`codec`](super::codec) envelope as sled's, so both backends read and
//! write records alike. Claims keep their expiry in a column too, so that claiming and
//! sweeping are single statements: `INSERT … ON CONFLICT DO UPDATE … WHERE expired`
//! takes a claim atomically (the row lock makes concurrent claimers wait and then see
//! the winner's expiry), and [`Store::claim_and_record`] runs its claims (in key order,
//! so two callers cannot deadlock) and the in-flight record in one transaction.
//!
//! Durability: PostgreSQL commits are durable when the call returns (with the server's
//! default `synchronous_commit`), as the trait requires.
//!
//! Replicas: leases live in `sab_leases` (key, holder, expiry), taken by one statement
//! (`INSERT … ON CONFLICT DO UPDATE … WHERE same holder OR expired`); in-flight records
//! carry their thread and a place from the `sab_arrival` sequence, given at the first
//! write and kept by updates, which orders a thread's queue across replicas.
//!
//! Schema changes are numbered migrations embedded here, applied at connect under a
//! session advisory lock, so replicas starting together do not race; each is recorded
//! in `sab_migrations`. Connections come from a pool (deadpool-postgres over
//! tokio-postgres: no compile-time query checking, which keeps the build small), with
//! TLS by rustls (ring) as libpq does it (see [`tls`]).

mod tls;

use super::codec::{decode, encode, unix_millis, ClaimRecord};
use super::{Handoff, InFlightReply, ReplyLink, Store, StoreError, StoreStats, ThreadLink};
use crate::bridge::ids::{MessageRef, ThreadKey};
use crate::siteassist::ids::{Feedback, MessageId};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::{Duration, Instant, SystemTime};
use tls::tls;

/// The schema, one migration per entry (never edit one that has shipped; add another).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sab_records (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value BYTEA NOT NULL,
        expires_ms BIGINT,
        sort BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX IF NOT EXISTS sab_claims_by_expiry ON sab_records (expires_ms)
        WHERE kind = 'claim';",
    // Replicas: leases (a replica's liveness, a thread's turn), and each in-flight
    // record's thread and place in arrival order (the thread's queue across replicas).
    "CREATE TABLE IF NOT EXISTS sab_leases (
        key TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sab_leases_by_holder ON sab_leases (holder);
    CREATE SEQUENCE IF NOT EXISTS sab_arrival;
    ALTER TABLE sab_records ADD COLUMN IF NOT EXISTS thread TEXT;
    ALTER TABLE sab_records ADD COLUMN IF NOT EXISTS arrival BIGINT;
    CREATE INDEX IF NOT EXISTS sab_in_flight_by_thread ON sab_records (thread, arrival)
        WHERE kind = 'in_flight';",
];

/// How many migrations there are (tests check each ran once).
#[cfg(test)]
pub(crate) const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// Serializes schema changes across replicas (`pg_advisory_lock` key: "sab" + 1).
const MIGRATION_LOCK: i64 = 0x7361_6200_0000_0001;

/// How long a call waits for a connection (or to open one) before it fails.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// A [`Store`] in a PostgreSQL database. See the module docs.
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    // The pool's config holds the password: show nothing of it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// A pooled connection for one store operation. Dropped at the operation's end, it
/// reports how long the operation held it (`siteassist_bridge_store_query_seconds`:
/// the statements and their round trips, not the wait for a free connection).
struct Conn {
    object: deadpool_postgres::Object,
    since: Instant,
    /// For the pool's use once this connection is back (`siteassist_bridge_store_pool_connections`).
    pool: Pool,
}

impl std::ops::Deref for Conn {
    type Target = deadpool_postgres::Object;

    fn deref(&self) -> &Self::Target {
        &self.object
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.object
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        crate::ops::metrics::store_query(self.since.elapsed());
        // The object goes back to the pool right after this: count it as returned.
        let status = self.pool.status();
        let in_use = status.size.saturating_sub(status.available).saturating_sub(1);
        crate::ops::metrics::store_pool(in_use, status.size);
    }
}

/// A backend error naming what failed and why: the error and its sources
/// (tokio-postgres says only "db error" at the top; the server's message is its
/// source).
fn backend(what: &str, e: impl std::error::Error) -> StoreError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    StoreError::Backend(format!("postgres: {what}: {message}"))
}

/// Writes a record, replacing the one under the same key (`$1` kind, `$2` key, `$3`
/// value, `$4` sort order).
const UPSERT: &str = "INSERT INTO sab_records (kind, key, value, sort) VALUES ($1, $2, $3, $4)
     ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, sort = EXCLUDED.sort";

impl PostgresStore {
    /// Connects to `url` (`postgres://user:pass@host/db?sslmode=…`) with up to
    /// `pool_size` connections, in `schema` when given (created if missing; tests use a
    /// schema each), verifying the server against `ca_file` when given (see [`tls`]),
    /// and applies the migrations not applied yet.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        schema: Option<&str>,
        ca_file: Option<&str>,
    ) -> Result<Self, StoreError> {
        // The URL's own error text can quote it, password included: say only what.
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
            StoreError::Backend("postgres: store.url is not a valid connection URL".into())
        })?;
        if let Some(schema) = schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Backend(format!("postgres: bad schema name {schema:?}")));
            }
            config.options(format!("-c search_path={schema}"));
        }
        let manager = Manager::from_config(
            config,
            tls(ca_file)?,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        // Bounded waits: an unreachable database fails calls (and /readyz) rather
        // than hanging replies.
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| backend("cannot build the connection pool", e))?;
        let store = Self { pool };
        store.migrate(schema).await?;
        Ok(store)
    }

    async fn client(&self) -> Result<Conn, StoreError> {
        let object = self.pool.get().await.map_err(|e| backend("no connection", e))?;
        let status = self.pool.status();
        crate::ops::metrics::store_pool(status.size.saturating_sub(status.available), status.size);
        Ok(Conn { object, since: Instant::now(), pool: self.pool.clone() })
    }

    async fn migrate(&self, schema: Option<&str>) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| backend("migration lock", e))?;
        // Under the lock too: `IF NOT EXISTS` is no guard against a concurrent create.
        let applied = match schema {
            Some(schema) => client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(|e| backend("create schema", e)),
            None => Ok(()),
        };
        let applied = match applied {
            Ok(()) => self.apply_migrations(&client).await,
            Err(e) => Err(e),
        };
        let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
        applied?;
        unlocked.map_err(|e| backend("migration unlock", e))?;
        Ok(())
    }

    async fn apply_migrations(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS sab_migrations (
                    version INT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
            .map_err(|e| backend("migrations table", e))?;
        let row = client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM sab_migrations", &[])
            .await
            .map_err(|e| backend("read migrations", e))?;
        let done: i32 = row.get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
            let version = i as i32 + 1;
            client
                .batch_execute(sql)
                .await
                .map_err(|e| backend(&format!("migration {version}"), e))?;
            client
                .execute("INSERT INTO sab_migrations (version) VALUES ($1)", &[&version])
                .await
                .map_err(|e| backend("record migration", e))?;
            tracing::info!(version, "applied a store migration");
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz` and `check`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.batch_execute("SELECT 1").await.map_err(|e| backend("ping", e))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT value FROM sab_records WHERE kind = $1 AND key = $2", &[&kind, &key])
            .await
            .map_err(|e| backend("read", e))?;
        row.map(|r| decode(key, r.get::<_, &[u8]>(0))).transpose()
    }

    async fn put(
        &self,
        kind: &str,
        key: &str,
        value: Vec<u8>,
        sort: i64,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(UPSERT, &[&kind, &key, &value, &sort])
            .await
            .map_err(|e| backend("write", e))?;
        Ok(())
    }

    async fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM sab_records WHERE kind = $1 AND key = $2", &[&kind, &key])
            .await
            .map_err(|e| backend("delete", e))?;
        Ok(())
    }

    async fn list<T: serde::de::DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT key, value FROM sab_records WHERE kind = $1 ORDER BY sort, key",
                &[&kind],
            )
            .await
            .map_err(|e| backend("list", e))?;
        rows.iter().map(|r| decode(r.get::<_, &str>(0), r.get::<_, &[u8]>(1))).collect()
    }

    /// One page of `kind`'s records after `after` in the primary key's order (the
    /// database's collation: consistent between `>` and `ORDER BY`, which is all paging
    /// needs), each key wrapped by `id`.
    async fn page_after<K, T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
        id: impl Fn(String) -> K,
    ) -> Result<Vec<(K, T)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT key, value FROM sab_records
                 WHERE kind = $1 AND ($2::TEXT IS NULL OR key > $2)
                 ORDER BY key LIMIT $3",
                &[&kind, &after, &limit],
            )
            .await
            .map_err(|e| backend("list a page", e))?;
        rows.iter()
            .map(|r| {
                let key: &str = r.get(0);
                Ok((id(key.to_owned()), decode(key, r.get::<_, &[u8]>(1))?))
            })
            .collect()
    }
}

/// The claim statement: takes `key` unless an unexpired claim holds it; a row comes
/// back when this call got it.
const CLAIM: &str =
    "INSERT INTO sab_records (kind, key, value, expires_ms) VALUES ('claim', $1, $2, $3)
     ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, expires_ms = EXCLUDED.expires_ms
     WHERE sab_records.expires_ms <= $4
     RETURNING 1";

fn millis(t: SystemTime) -> i64 {
    i64::try_from(unix_millis(t)).unwrap_or(i64::MAX)
}

fn claim_params(now: SystemTime, ttl: Duration) -> (Vec<u8>, i64, i64) {
    let record = ClaimRecord::new(now, ttl);
    let expires = i64::try_from(record.expires_at_ms).unwrap_or(i64::MAX);
    (encode(&record), expires, millis(now))
}

#[async_trait]
impl Store for PostgresStore {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        self.get("thread", thread.as_str()).await
    }

    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        let client = self.client().await?;
        // Two statements, not one CTE: a statement sees the rows committed when it
        // started, so a CTE losing the race to another replica would find neither its
        // own row nor the winner's. The insert waits for a concurrent inserter to
        // finish; the read after it sees the winner. (Looped for a link removed in
        // between, which leaves the thread free again.)
        let value = encode(link);
        loop {
            let inserted = client
                .query_opt(
                    "INSERT INTO sab_records (kind, key, value) VALUES ('thread', $1, $2)
                     ON CONFLICT (kind, key) DO NOTHING RETURNING value",
                    &[&thread.as_str(), &value],
                )
                .await
                .map_err(|e| backend("link a thread", e))?;
            if inserted.is_some() {
                return Ok(link.clone());
            }
            // On this connection: asking the pool for a second one while holding this
            // one deadlocks once every connection is held so.
            let winner = client
                .query_opt(
                    "SELECT value FROM sab_records WHERE kind = 'thread' AND key = $1",
                    &[&thread.as_str()],
                )
                .await
                .map_err(|e| backend("read a thread link", e))?;
            if let Some(row) = winner {
                return decode(thread.as_str(), row.get::<_, &[u8]>(0));
            }
        }
    }

    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.delete("thread", thread.as_str()).await
    }

    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.put("reply", message.as_str(), encode(link), 0).await
    }

    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        self.get("reply", message.as_str()).await
    }

    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        let (value, expires, now) = claim_params(now, ttl);
        let row = self
            .client()
            .await?
            .query_opt(CLAIM, &[&key, &value, &expires, &now])
            .await
            .map_err(|e| backend("claim", e))?;
        Ok(row.is_some())
    }

    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        let (value, expires, now) = claim_params(now, ttl);
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| backend("begin", e))?;
        for key in sorted {
            let row = tx
                .query_opt(CLAIM, &[&key, &value, &expires, &now])
                .await
                .map_err(|e| backend("claim", e))?;
            if row.is_none() {
                // Dropping the transaction rolls it back: nothing written.
                return Ok(false);
            }
        }
        let (value, sort) = (encode(reply), sort_of(reply));
        tx.execute(IN_FLIGHT_UPSERT, &[&reply.id, &value, &sort, &reply.thread.as_str()])
            .await
            .map_err(|e| backend("record in flight", e))?;
        tx.commit().await.map_err(|e| backend("commit", e))?;
        Ok(true)
    }

    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        let removed = self
            .client()
            .await?
            .execute(
                "DELETE FROM sab_records WHERE kind = 'claim' AND expires_ms <= $1",
                &[&millis(now)],
            )
            .await
            .map_err(|e| backend("sweep", e))?;
        Ok(removed as usize)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE kind = 'claim'),
                        COUNT(*) + (SELECT COUNT(*) FROM sab_leases) FROM sab_records",
                &[],
            )
            .await
            .map_err(|e| backend("stats", e))?;
        let (claims, records): (i64, i64) = (row.get(0), row.get(1));
        Ok(StoreStats { claims: claims as u64, records: records as u64, bytes_on_disk: None })
    }

    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        let (value, sort) = (encode(reply), sort_of(reply));
        self.client()
            .await?
            .execute(IN_FLIGHT_UPSERT, &[&reply.id, &value, &sort, &reply.thread.as_str()])
            .await
            .map_err(|e| backend("record in flight", e))?;
        Ok(())
    }

    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        self.delete("in_flight", id).await
    }

    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        // `ORDER BY sort, key`: started_at, then id, as the other backends.
        self.list("in_flight").await
    }

    async fn thread_queue(&self, thread: &ThreadKey) -> Result<Vec<InFlightReply>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT key, value FROM sab_records WHERE kind = 'in_flight' AND thread = $1
                 ORDER BY arrival, key",
                &[&thread.as_str()],
            )
            .await
            .map_err(|e| backend("read a thread's queue", e))?;
        rows.iter().map(|r| decode(r.get::<_, &str>(0), r.get::<_, &[u8]>(1))).collect()
    }

    async fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let expires = i64::try_from(ClaimRecord::new(now, ttl).expires_at_ms).unwrap_or(i64::MAX);
        let row = self
            .client()
            .await?
            .query_opt(
                "INSERT INTO sab_leases (key, holder, expires_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE
                 SET holder = EXCLUDED.holder, expires_ms = EXCLUDED.expires_ms
                 WHERE sab_leases.holder = EXCLUDED.holder OR sab_leases.expires_ms <= $4
                 RETURNING 1",
                &[&key, &holder, &expires, &millis(now)],
            )
            .await
            .map_err(|e| backend("take a lease", e))?;
        Ok(row.is_some())
    }

    async fn lease_holder(&self, key: &str, now: SystemTime) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT holder FROM sab_leases WHERE key = $1 AND expires_ms > $2",
                &[&key, &millis(now)],
            )
            .await
            .map_err(|e| backend("read a lease", e))?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM sab_leases WHERE key = $1 AND holder = $2", &[&key, &holder])
            .await
            .map_err(|e| backend("release a lease", e))?;
        Ok(())
    }

    async fn live_leases(&self, prefix: &str, now: SystemTime) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT key FROM sab_leases WHERE starts_with(key, $1) AND expires_ms > $2
                     ORDER BY key",
                &[&prefix, &millis(now)],
            )
            .await
            .map_err(|e| backend("list leases", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn release_leases_of(&self, holder: &str) -> Result<usize, StoreError> {
        let released = self
            .client()
            .await?
            .execute("DELETE FROM sab_leases WHERE holder = $1", &[&holder])
            .await
            .map_err(|e| backend("release leases", e))?;
        Ok(released as usize)
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.put("handoff", handoff.thread.as_str(), encode(handoff), 0).await
    }

    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.delete("handoff", thread.as_str()).await
    }

    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        self.list("handoff").await
    }

    async fn handoff(&self, thread: &ThreadKey) -> Result<Option<Handoff>, StoreError> {
        self.get("handoff", thread.as_str()).await
    }

    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        self.get("feedback", message.as_str()).await
    }

    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        match feedback {
            Some(f) => self.put("feedback", message.as_str(), encode(&f), 0).await,
            None => self.delete("feedback", message.as_str()).await,
        }
    }

    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        self.page_after("thread", after.map(ThreadKey::as_str), limit, ThreadKey::new).await
    }

    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        self.page_after("reply", after.map(MessageRef::as_str), limit, MessageRef::new).await
    }

    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        self.page_after("feedback", after.map(MessageId::as_str), limit, MessageId::new).await
    }
}

fn sort_of(reply: &InFlightReply) -> i64 {
    i64::try_from(reply.started_at).unwrap_or(i64::MAX)
}

/// Writes an in-flight record (`$1` id, `$2` value, `$3` sort, `$4` thread). A new
/// record takes the next place in arrival order; an update keeps its place.
const IN_FLIGHT_UPSERT: &str = "INSERT INTO sab_records (kind, key, value, sort, thread, arrival)
     VALUES ('in_flight', $1, $2, $3, $4, nextval('sab_arrival'))
     ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, sort = EXCLUDED.sort";
