//! `siteassist-bridge migrate-store`: copies what a running bridge needs to carry on from
//! one store into another, typically from the single-process sled store into a
//! PostgreSQL database that several replicas can share.
//!
//! What is copied: thread links (so every thread continues its SiteAssist conversation),
//! reply links (so reactions on old answers still become feedback), the feedback last
//! sent per answer (so a reaction removed later clears the right value), handoffs (so
//! relays to a person re-open) and replies left in flight by a run that did not finish
//! them (so the next start closes them visibly, as a restart on the old store would).
//!
//! What is not: event claims. They only stop a platform's redelivery of an event from
//! being handled twice within `bridge.dedupe_ttl_secs`, and a platform redelivers only
//! events that were never acknowledged; a bridge stopped for the move has acknowledged
//! what it handled. Copying them would carry a day of short-lived keys for nothing.
//!
//! The target must be empty: merging two histories could link one thread to two
//! conversations, and refusing is the only answer that never loses a link. The check
//! comes before the first write, so a refusal writes nothing. The copy is not one
//! transaction (the [`Store`] trait has none): a copy that fails half-way leaves a
//! partial target, which must be emptied before trying again (the error says so).

use super::{Store, StoreError};
use crate::bridge::ids::{MessageRef, ThreadKey};
use crate::config::StoreSettings;
use crate::secret::Secret;
use crate::siteassist::ids::MessageId;
use std::path::PathBuf;
use std::sync::Arc;

/// Records read per page: large enough that a networked store's round trips do not
/// dominate, small enough that a page of reply links stays a few hundred kilobytes.
const PAGE: usize = 500;

/// Where a store is, as `--from` and `--to` name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// `sled:PATH`: a sled directory.
    Sled(PathBuf),
    /// `postgres:URL` (or a bare `postgres://…` URL); `postgres` alone takes the URL from
    /// `store.url` / `DATABASE_URL`, which keeps the password off the command line.
    Postgres(Option<Secret>),
}

impl StoreLocation {
    /// Parses `sled:PATH`, `postgres:URL`, `postgres://…`, `postgresql://…` or `postgres`.
    pub fn parse(text: &str) -> Result<Self, MigrateError> {
        let url = |u: &str| Some(Secret::new(u)).filter(|s| !s.is_empty());
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(url(text)));
        }
        match text.split_once(':') {
            Some(("sled", path)) if !path.trim().is_empty() => Ok(Self::Sled(path.into())),
            Some(("postgres" | "postgresql", rest)) => Ok(Self::Postgres(url(rest))),
            None if text == "postgres" || text == "postgresql" => Ok(Self::Postgres(None)),
            // Only the part before the colon is named: the rest may hold a password.
            other => Err(MigrateError::BadLocation(
                other.map_or("(no kind)", |(kind, _)| kind).to_string(),
            )),
        }
    }

    /// Opens the store. A sled source must exist: opening a mistyped path would create
    /// an empty store and copy nothing, successfully.
    pub async fn open(
        &self,
        settings: &StoreSettings,
        must_exist: bool,
    ) -> Result<(Arc<dyn Store>, String), MigrateError> {
        match self {
            Self::Sled(path) => {
                let name = format!("sled store at {}", path.display());
                if must_exist && !path.join("db").is_file() {
                    return Err(MigrateError::Missing(name));
                }
                let opened = super::SledStore::open(path)
                    .map_err(|source| MigrateError::Open { name: name.clone(), source })?;
                Ok((Arc::new(opened), name))
            }
            Self::Postgres(url) => {
                let url = url.as_ref().unwrap_or(&settings.url);
                if url.is_empty() {
                    return Err(MigrateError::NoUrl);
                }
                let name = format!("PostgreSQL at {}", crate::secret::redact_url(url.expose()));
                let ca = Some(settings.ca_file.trim()).filter(|c| !c.is_empty());
                let opened =
                    super::PostgresStore::connect(url.expose(), settings.pool_size, None, ca)
                        .await
                        .map_err(|source| MigrateError::Open { name: name.clone(), source })?;
                Ok((Arc::new(opened), name))
            }
        }
    }
}

/// Why a migration did not happen, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// `--from` or `--to` is neither `sled:PATH` nor `postgres:URL`. Carries only the
    /// kind that was given, never the rest (it may hold a password).
    #[error("not a store location (given kind {0:?}): use sled:PATH or postgres:URL")]
    BadLocation(String),
    /// `postgres` without a URL, and no `store.url` or `DATABASE_URL` either.
    #[error("no PostgreSQL URL: give postgres:URL, or set DATABASE_URL (keeps it out of `ps`)")]
    NoUrl,
    /// The source names a sled directory that holds no store.
    #[error("there is no {0} (check the path)")]
    Missing(String),
    /// A store could not be opened. For sled this is most often its lock: a bridge (or
    /// another migrate-store) still runs on it, and must be stopped first.
    #[error("cannot open the {name}: {source}")]
    Open {
        /// Which store, password masked.
        name: String,
        /// What the backend said.
        #[source]
        source: StoreError,
    },
    /// The target already holds records; nothing was written.
    #[error(
        "the target {name} is not empty (it holds {records} records); nothing was written. \
         migrate-store only copies into an empty store, so that no thread ends up with two \
         conversations"
    )]
    TargetNotEmpty {
        /// Which store, password masked.
        name: String,
        /// How many records it holds.
        records: u64,
    },
    /// Reading the source failed; the target may hold part of the copy.
    #[error(
        "reading the source failed after {copied}: {source}; empty the target before trying again"
    )]
    Read {
        /// What had been copied by then.
        copied: Copied,
        /// What the backend said.
        #[source]
        source: StoreError,
    },
    /// Writing the target failed; it may hold part of the copy.
    #[error(
        "writing the target failed after {copied}: {source}; empty the target before trying again"
    )]
    Write {
        /// What had been copied by then.
        copied: Copied,
        /// What the backend said.
        #[source]
        source: StoreError,
    },
}

/// How many records of each kind were copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Threads linked to their conversation.
    pub thread_links: usize,
    /// Bot messages linked to the answer they show.
    pub reply_links: usize,
    /// Answers with feedback recorded.
    pub feedback: usize,
    /// Threads handed to a person (or watched for a takeover).
    pub handoffs: usize,
    /// Replies a previous run left unfinished.
    pub in_flight: usize,
    /// Event claims in the source, not copied (see the module docs).
    pub claims_not_copied: u64,
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} thread links, {} reply links, {} feedback, {} handoffs, {} replies in flight",
            self.thread_links, self.reply_links, self.feedback, self.handoffs, self.in_flight
        )
    }
}

/// Copies `from` into `to`, which must be empty (see the module docs). `to_name` names
/// the target in the refusal.
pub async fn copy(from: &dyn Store, to: &dyn Store, to_name: &str) -> Result<Copied, MigrateError> {
    let held = to
        .stats()
        .await
        .map_err(|source| MigrateError::Open { name: to_name.to_string(), source })?;
    if held.records > 0 {
        return Err(MigrateError::TargetNotEmpty {
            name: to_name.to_string(),
            records: held.records,
        });
    }
    let mut copied = Copied::default();
    let read = |copied: Copied| move |source| MigrateError::Read { copied, source };
    let write = |copied: Copied| move |source| MigrateError::Write { copied, source };

    let mut after: Option<ThreadKey> = None;
    loop {
        let page = from.thread_links_after(after.as_ref(), PAGE).await.map_err(read(copied))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (thread, link) in &page {
            let stored = to.put_thread_link_if_absent(thread, link).await.map_err(write(copied))?;
            if stored != *link {
                // Someone linked it meanwhile: a bridge runs on the target.
                let source = StoreError::Backend(format!(
                    "thread {thread} was linked to another conversation meanwhile: is a \
                     bridge running on the target?"
                ));
                return Err(MigrateError::Write { copied, source });
            }
            copied.thread_links += 1;
        }
    }
    let mut after: Option<MessageRef> = None;
    loop {
        let page = from.reply_links_after(after.as_ref(), PAGE).await.map_err(read(copied))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (message, link) in &page {
            to.put_reply_link(message, link).await.map_err(write(copied))?;
            copied.reply_links += 1;
        }
    }
    let mut after: Option<MessageId> = None;
    loop {
        let page = from.feedback_after(after.as_ref(), PAGE).await.map_err(read(copied))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (message, feedback) in &page {
            to.put_feedback(message, Some(*feedback)).await.map_err(write(copied))?;
            copied.feedback += 1;
        }
    }
    for handoff in from.handoffs().await.map_err(read(copied))? {
        to.put_handoff(&handoff).await.map_err(write(copied))?;
        copied.handoffs += 1;
    }
    for reply in from.in_flight().await.map_err(read(copied))? {
        to.put_in_flight(&reply).await.map_err(write(copied))?;
        copied.in_flight += 1;
    }
    copied.claims_not_copied = from.stats().await.map_err(read(copied))?.claims;
    Ok(copied)
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
