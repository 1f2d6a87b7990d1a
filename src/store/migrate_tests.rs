use super::*;
use crate::bridge::ids::UserKey;
use crate::siteassist::ids::{ConversationId, Feedback, SaVid};
use crate::store::{Handoff, InFlightReply, MemoryStore, ReplyLink, ThreadLink};
use std::time::{Duration, SystemTime};

fn link(c: &str) -> ThreadLink {
    ThreadLink { conversation: ConversationId::new(c), owner: SaVid::new("sab-u"), created_at: 1 }
}

/// A store with every kind of record: 1,203 threads (more than two pages), a reply
/// link and feedback per thread, a handoff, a reply in flight and two claims.
async fn filled() -> MemoryStore {
    let store = MemoryStore::new();
    for i in 0..1_203 {
        let thread = ThreadKey::new(format!("console:t{i}"));
        store.put_thread_link_if_absent(&thread, &link(&format!("c-{i}"))).await.unwrap();
        let reply = ReplyLink {
            thread: thread.clone(),
            conversation: ConversationId::new(format!("c-{i}")),
            assistant_message: Some(MessageId::new(format!("m-{i}"))),
            asker: UserKey::new("console:u"),
            owner: SaVid::new("sab-u"),
        };
        store.put_reply_link(&MessageRef::new(format!("console:t{i}:b1")), &reply).await.unwrap();
        store.put_feedback(&MessageId::new(format!("m-{i}")), Some(Feedback::Like)).await.unwrap();
    }
    let thread = ThreadKey::new("console:t7");
    let handoff = Handoff {
        platform: "console".into(),
        thread,
        link: link("c-7"),
        since: 5,
        watching: false,
    };
    store.put_handoff(&handoff).await.unwrap();
    let reply = InFlightReply::new(
        "r-1",
        "console",
        ThreadKey::new("console:t8"),
        MessageRef::new("console:t8:u1"),
        3,
    );
    store.put_in_flight(&reply).await.unwrap();
    for key in ["event:1", "message:1"] {
        assert!(store.claim(key, SystemTime::now(), Duration::from_secs(60)).await.unwrap());
    }
    store
}

#[tokio::test]
async fn copies_every_durable_record_but_not_claims() {
    let (from, to) = (filled().await, MemoryStore::new());
    let copied = copy(&from, &to, "target").await.unwrap();
    let expected = Copied {
        thread_links: 1_203,
        reply_links: 1_203,
        feedback: 1_203,
        handoffs: 1,
        in_flight: 1,
        claims_not_copied: 2,
    };
    assert_eq!(copied, expected);
    let thread = ThreadKey::new("console:t1202");
    assert_eq!(to.thread_link(&thread).await.unwrap(), Some(link("c-1202")));
    let reply = MessageRef::new("console:t5:b1");
    assert_eq!(to.reply_link(&reply).await.unwrap(), from.reply_link(&reply).await.unwrap());
    assert_eq!(to.feedback(&MessageId::new("m-9")).await.unwrap(), Some(Feedback::Like));
    assert_eq!(to.handoffs().await.unwrap(), from.handoffs().await.unwrap());
    assert_eq!(to.in_flight().await.unwrap(), from.in_flight().await.unwrap());
    let stats = to.stats().await.unwrap();
    assert_eq!((stats.claims, stats.records), (0, 3 * 1_203 + 2));
}

#[tokio::test]
async fn a_target_with_any_record_is_refused_and_left_as_it_was() {
    let from = filled().await;
    let to = MemoryStore::new();
    // Even a single claim counts: a bridge has run on it.
    assert!(to.claim("event:x", SystemTime::now(), Duration::from_secs(5)).await.unwrap());
    let err = copy(&from, &to, "PostgreSQL at postgres://bot@db/bridge").await.unwrap_err();
    assert!(matches!(err, MigrateError::TargetNotEmpty { records: 1, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not empty") && text.contains("nothing was written"), "{text}");
    assert_eq!(to.stats().await.unwrap().records, 1);
}

#[test]
fn locations_parse_and_errors_never_echo_a_url() {
    let sled = StoreLocation::parse("sled:/var/lib/bridge").unwrap();
    assert_eq!(sled, StoreLocation::Sled("/var/lib/bridge".into()));
    let url = "postgres://bot:pw1@db/bridge";
    for text in [url.to_string(), format!("postgres:{url}")] {
        let parsed = StoreLocation::parse(&text).unwrap();
        assert_eq!(parsed, StoreLocation::Postgres(Some(Secret::new(url))));
    }
    for bare in ["postgres", "postgres:", "postgresql:"] {
        assert_eq!(StoreLocation::parse(bare).unwrap(), StoreLocation::Postgres(None));
    }
    for bad in ["mysql://bot:pw1@db/x", "sled:", "redis:pw1", "pw1"] {
        let err = StoreLocation::parse(bad).unwrap_err().to_string();
        assert!(!err.contains("pw1"), "{err}");
        assert!(err.contains("sled:PATH or postgres:URL"), "{err}");
    }
}

#[tokio::test]
async fn a_sled_source_that_does_not_exist_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo");
    let location = StoreLocation::Sled(path.clone());
    let env = std::collections::HashMap::new();
    let settings = crate::config::Settings::load(None, &env).unwrap().store;
    let err = location.open(&settings, true).await.map(drop).unwrap_err();
    assert!(matches!(err, MigrateError::Missing(_)), "{err:?}");
    assert!(!path.exists(), "nothing was created");
}
