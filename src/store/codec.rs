//! The byte format of every stored value: a versioned JSON envelope.
//!
//! Every value a durable backend writes is `{"v":1,"data":<record as JSON>}`.
//!
//! Why versioned: a persisted format is a promise. The store outlives the binary that
//! wrote it (an upgrade restarts the bridge on yesterday's database), so the next
//! version of a record must be recognisable as such, and a build must refuse a record
//! it does not understand *by name* instead of silently misreading it. When a record
//! changes shape, add version 2 here, keep decoding version 1 (upgrading it in code),
//! and keep the golden tests below for version 1 unchanged: they are the promise.
//!
//! Why JSON: records are small and rare (a few per chat message), so readability of a
//! dumped database beats compactness, and serde_json is already a dependency.

use super::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// The envelope version this build writes, and the only one it reads.
pub const CURRENT_VERSION: u64 = 1;

/// What [`encode`] writes. Field order is part of the format (`v` first), which the
/// golden tests pin down.
#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u64,
    data: &'a T,
}

/// What [`decode`] reads. `data` stays untyped until the version is known, because a
/// future version's `data` need not match today's record type.
#[derive(Deserialize)]
struct EnvelopeIn {
    v: u64,
    data: serde_json::Value,
}

/// Encodes `value` as a version-[`CURRENT_VERSION`] envelope.
///
/// # Panics
///
/// Panics if `value`'s `Serialize` implementation fails. The store's records are plain
/// structs of strings, numbers and options, whose serialization cannot fail; a record
/// type that can fail would be a programming error, not bad input.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(&EnvelopeOut { v: CURRENT_VERSION, data: value })
        .expect("store records are plain data and always serialize to JSON")
}

/// Decodes a value written by [`encode`] (by this or an older build).
///
/// `key` is only used to name the record in the error. Bytes that are not an envelope,
/// an envelope of an unknown version, or data that does not fit `T` are all
/// [`StoreError::Corrupt`]; the reason names the version found.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: key.to_owned(), reason };
    let envelope: EnvelopeIn = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(format!("not a versioned record envelope: {e}")))?;
    match envelope.v {
        1 => serde_json::from_value(envelope.data)
            .map_err(|e| corrupt(format!("version 1 record has the wrong shape: {e}"))),
        other => Err(corrupt(format!(
            "unknown record version {other} (this build reads version {CURRENT_VERSION}; \
             was the store written by a newer bridge?)"
        ))),
    }
}

/// A held claim, as the sled backend stores it: when it stops counting.
///
/// Stored in the envelope like every other record, so claims written today stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClaimRecord {
    /// When the claim expires, in milliseconds since the Unix epoch. Milliseconds,
    /// because event de-duplication windows can be shorter than a few seconds.
    pub(crate) expires_at_ms: u64,
}

impl ClaimRecord {
    /// The claim made at `now` for `ttl`.
    pub(crate) fn new(now: SystemTime, ttl: Duration) -> Self {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self { expires_at_ms: unix_millis(now).saturating_add(ttl_ms) }
    }

    /// Whether the claim still holds at `now`. The one expiry rule of every backend: a
    /// claim holds strictly before its expiry instant and is expired from it on.
    pub(crate) fn is_live(&self, now: SystemTime) -> bool {
        unix_millis(now) < self.expires_at_ms
    }
}

/// A held lease, as the sled backend stores it: who holds it and until when. Unlike a
/// claim, a lease is renewed by its holder (a heartbeat) and released by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    /// The holder (a replica id).
    pub(crate) holder: String,
    /// When the lease expires unless renewed, in milliseconds since the Unix epoch.
    pub(crate) expires_at_ms: u64,
}

impl LeaseRecord {
    /// Whether `holder` may take (or renew) this lease at `now`: it holds it already,
    /// or it expired. The one lease rule of every backend.
    pub(crate) fn may_take(&self, holder: &str, now: SystemTime) -> bool {
        self.holder == holder || !self.is_live(now)
    }

    /// Whether the lease still holds at `now` (the same rule as a claim's).
    pub(crate) fn is_live(&self, now: SystemTime) -> bool {
        unix_millis(now) < self.expires_at_ms
    }
}

/// Milliseconds since the Unix epoch (0 for earlier times, which only a broken clock gives).
pub(crate) fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey, WorkspaceKey};
    use crate::siteassist::ids::{ConversationId, Feedback, MessageId, SaVid};
    use crate::store::{InFlightReply, ReplyLink, ThreadLink};

    fn thread_link() -> ThreadLink {
        ThreadLink {
            conversation: ConversationId::new("c-1"),
            owner: SaVid::new("sab-slack-T1-U2"),
            created_at: 1_700_000_000,
        }
    }

    #[track_caller]
    fn assert_corrupt_mentions(err: StoreError, key: &str, needle: &str) {
        match err {
            StoreError::Corrupt { key: k, reason } => {
                assert_eq!(k, key);
                assert!(reason.contains(needle), "reason {reason:?} lacks {needle:?}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    // Golden bytes: if one of these fails, the persisted format changed. Do not update
    // the expected bytes; add a new version instead (see the module docs).
    #[test]
    fn v1_thread_link_golden_bytes() {
        let golden: &[u8] = br#"{"v":1,"data":{"conversation":"c-1","owner":"sab-slack-T1-U2","created_at":1700000000}}"#;
        assert_eq!(encode(&thread_link()), golden);
        assert_eq!(decode::<ThreadLink>("t", golden).unwrap(), thread_link());
    }

    #[test]
    fn v1_reply_link_golden_bytes() {
        let link = ReplyLink {
            thread: ThreadKey::new("slack:T1:C2:1.2"),
            conversation: ConversationId::new("c-1"),
            assistant_message: Some(MessageId::new("m-1")),
            asker: UserKey::new("slack:T1:U2"),
            owner: SaVid::new("sab-slack-T1-U2"),
        };
        let golden: &[u8] = br#"{"v":1,"data":{"thread":"slack:T1:C2:1.2","conversation":"c-1","assistant_message":"m-1","asker":"slack:T1:U2","owner":"sab-slack-T1-U2"}}"#;
        assert_eq!(encode(&link), golden);
        assert_eq!(decode::<ReplyLink>("r", golden).unwrap(), link);
    }

    #[test]
    fn v1_in_flight_claim_and_feedback_golden_bytes() {
        let reply = InFlightReply {
            messages: vec![MessageRef::new("console:1:a")],
            ..InFlightReply::new(
                "u-1",
                "console",
                ThreadKey::new("console:1"),
                MessageRef::new("console:1:q"),
                5,
            )
        };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5}}"#;
        assert_eq!(encode(&reply), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), reply);
        // The optional asker, added later inside v1, is appended only when set.
        let with_asker = InFlightReply { asker: Some(UserKey::new("console:me")), ..reply };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me"}}"#;
        assert_eq!(encode(&with_asker), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), with_asker);
        // So are the channel and workspace keys, added after it.
        let with_keys = InFlightReply {
            channel: Some(ChannelKey::new("slack:T1:C2")),
            workspace: Some(WorkspaceKey::new("slack:T1")),
            ..with_asker
        };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me","channel":"slack:T1:C2","workspace":"slack:T1"}}"#;
        assert_eq!(encode(&with_keys), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), with_keys);
        // And the final text, added after them.
        let with_final = InFlightReply { final_markdown: Some("Done.".into()), ..with_keys };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me","channel":"slack:T1:C2","workspace":"slack:T1","final_markdown":"Done."}}"#;
        assert_eq!(encode(&with_final), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), with_final);
        // And the footer (the sources line) shown under it.
        let with_footer = InFlightReply { final_footer: Some("Sources: x".into()), ..with_final };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me","channel":"slack:T1:C2","workspace":"slack:T1","final_markdown":"Done.","final_footer":"Sources: x"}}"#;
        assert_eq!(encode(&with_footer), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), with_footer);
        // And the replica that owns it (records without one were written by a release
        // that ran one process only: any replica may take them over).
        let with_replica = InFlightReply { replica: Some("r-1".into()), ..with_footer };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me","channel":"slack:T1:C2","workspace":"slack:T1","final_markdown":"Done.","final_footer":"Sources: x","replica":"r-1"}}"#;
        assert_eq!(encode(&with_replica), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), with_replica);
        // And the native stream left open while it runs, with its Stop message.
        let streaming = InFlightReply {
            open_stream: Some(crate::store::NativeStream {
                message: MessageRef::new("console:1:a"),
                control: Some(MessageRef::new("console:1:b")),
            }),
            ..with_replica
        };
        let golden: &[u8] = br#"{"v":1,"data":{"id":"u-1","platform":"console","thread":"console:1","question":"console:1:q","conversation":null,"owner":null,"messages":["console:1:a"],"started_at":5,"asker":"console:me","channel":"slack:T1:C2","workspace":"slack:T1","final_markdown":"Done.","final_footer":"Sources: x","replica":"r-1","open_stream":{"message":"console:1:a","control":"console:1:b"}}}"#;
        assert_eq!(encode(&streaming), golden);
        assert_eq!(decode::<InFlightReply>("i", golden).unwrap(), streaming);

        let handoff = crate::store::Handoff {
            platform: "slack".into(),
            thread: ThreadKey::new("slack:T1:C2:1.2"),
            link: ThreadLink {
                conversation: ConversationId::new("c-1"),
                owner: SaVid::new("sab-slack-T1-U2"),
                created_at: 7,
            },
            since: 9,
            watching: false,
        };
        let golden: &[u8] = br#"{"v":1,"data":{"platform":"slack","thread":"slack:T1:C2:1.2","link":{"conversation":"c-1","owner":"sab-slack-T1-U2","created_at":7},"since":9}}"#;
        assert_eq!(encode(&handoff), golden);
        assert_eq!(decode::<crate::store::Handoff>("h", golden).unwrap(), handoff);
        let listening = crate::store::Handoff { watching: true, ..handoff };
        let golden: &[u8] = br#"{"v":1,"data":{"platform":"slack","thread":"slack:T1:C2:1.2","link":{"conversation":"c-1","owner":"sab-slack-T1-U2","created_at":7},"since":9,"watching":true}}"#;
        assert_eq!(encode(&listening), golden);
        assert_eq!(decode::<crate::store::Handoff>("h", golden).unwrap(), listening);

        let lease = LeaseRecord { holder: "r-1".into(), expires_at_ms: 43 };
        let golden: &[u8] = br#"{"v":1,"data":{"holder":"r-1","expires_at_ms":43}}"#;
        assert_eq!(encode(&lease), golden);
        assert_eq!(decode::<LeaseRecord>("l", golden).unwrap(), lease);

        let claim = ClaimRecord { expires_at_ms: 42 };
        let golden: &[u8] = br#"{"v":1,"data":{"expires_at_ms":42}}"#;
        assert_eq!(encode(&claim), golden);
        assert_eq!(decode::<ClaimRecord>("c", golden).unwrap(), claim);

        let golden: &[u8] = br#"{"v":1,"data":"dislike"}"#;
        assert_eq!(encode(&Feedback::Dislike), golden);
        assert_eq!(decode::<Feedback>("f", golden).unwrap(), Feedback::Dislike);
    }

    #[test]
    fn unknown_version_is_corrupt_and_named() {
        let bytes = br#"{"v":2,"data":{"conversation":"c-1"}}"#;
        let err = decode::<ThreadLink>("thread-9", bytes).unwrap_err();
        assert_corrupt_mentions(err, "thread-9", "unknown record version 2");
    }

    #[test]
    fn bad_bytes_are_corrupt() {
        let cases: [(&[u8], &str); 4] = [
            (b"\xff\x00garbage", "not a versioned record envelope"),
            (br#"{"conversation":"c-1"}"#, "not a versioned record envelope"),
            (br#"{"v":"1","data":{}}"#, "not a versioned record envelope"),
            (br#"{"v":1,"data":{"owner":"x"}}"#, "version 1 record has the wrong shape"),
        ];
        for (bytes, needle) in cases {
            let err = decode::<ThreadLink>("k", bytes).unwrap_err();
            assert_corrupt_mentions(err, "k", needle);
        }
    }

    #[test]
    fn claim_expiry_rule() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let claim = ClaimRecord::new(t0, Duration::from_millis(1_500));
        assert_eq!(claim.expires_at_ms, 1_001_500);
        assert!(claim.is_live(t0));
        assert!(claim.is_live(t0 + Duration::from_millis(1_499)));
        assert!(!claim.is_live(t0 + Duration::from_millis(1_500)));
        // A huge ttl saturates instead of wrapping into the past.
        assert!(ClaimRecord::new(t0, Duration::MAX).is_live(t0 + Duration::from_secs(1 << 40)));
        assert_eq!(unix_millis(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
