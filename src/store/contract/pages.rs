//! Contract bodies for listing records page by page (`*_after`), which `migrate-store`
//! copies a store with.

use super::{reply_link, thread_link};
use crate::bridge::ids::{MessageRef, ThreadKey};
use crate::siteassist::ids::{Feedback, MessageId};
use crate::store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Reads every page of size `limit` through `page` (the last key of one page is the
/// `after` of the next) and returns the keys in the order read.
async fn read_all<K: Clone, V, F, Fut>(limit: usize, page: F) -> Vec<(K, V)>
where
    F: Fn(Option<K>) -> Fut,
    Fut: std::future::Future<Output = Vec<(K, V)>>,
{
    let mut all: Vec<(K, V)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let got = page(after).await;
        assert!(got.len() <= limit, "a page holds at most `limit` records");
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

/// Paging visits every record of a kind exactly once, in one key order, whatever the
/// page size; other kinds and claims do not show up; an empty store lists nothing.
pub(crate) async fn pages_list_each_record_once(store: Arc<dyn Store>) {
    assert!(store.thread_links_after(None, 10).await.unwrap().is_empty());
    assert!(store.reply_links_after(None, 10).await.unwrap().is_empty());
    assert!(store.feedback_after(None, 10).await.unwrap().is_empty());
    // Keys that differ in case and punctuation, so a backend whose order is not its
    // own `>` would skip or repeat some.
    let names: Vec<String> =
        (0..23).map(|i| format!("test:{}:T{i}", ["a", "B", "c_", "D-"][i % 4])).collect();
    for (i, name) in names.iter().enumerate() {
        let link = thread_link(&format!("c-{i}"));
        store.put_thread_link_if_absent(&ThreadKey::new(name), &link).await.unwrap();
        store.put_reply_link(&MessageRef::new(name), &reply_link(Some("m-1"))).await.unwrap();
        let f = if i % 2 == 0 { Feedback::Like } else { Feedback::Dislike };
        store.put_feedback(&MessageId::new(name), Some(f)).await.unwrap();
    }
    store.put_feedback(&MessageId::new(&names[0]), None).await.unwrap();
    let t0 = std::time::SystemTime::UNIX_EPOCH;
    assert!(store.claim("test:claim", t0, std::time::Duration::from_secs(9)).await.unwrap());
    let expected: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    for limit in [1, 4, 23, 100] {
        let threads = read_all(limit, |after: Option<ThreadKey>| {
            let store = store.clone();
            async move { store.thread_links_after(after.as_ref(), limit).await.unwrap() }
        })
        .await;
        let keys: Vec<&str> = threads.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), expected, "limit {limit}");
        assert_eq!(keys.len(), names.len(), "each thread once (limit {limit})");
        for (key, link) in &threads {
            assert_eq!(store.thread_link(key).await.unwrap().as_ref(), Some(link));
        }
        let replies = read_all(limit, |after: Option<MessageRef>| {
            let store = store.clone();
            async move { store.reply_links_after(after.as_ref(), limit).await.unwrap() }
        })
        .await;
        assert_eq!(replies.len(), names.len(), "each reply link once (limit {limit})");
        assert!(replies.iter().all(|(_, l)| *l == reply_link(Some("m-1"))));
        let feedback = read_all(limit, |after: Option<MessageId>| {
            let store = store.clone();
            async move { store.feedback_after(after.as_ref(), limit).await.unwrap() }
        })
        .await;
        assert_eq!(feedback.len(), names.len() - 1, "cleared feedback is not listed");
        for (key, f) in &feedback {
            assert_eq!(store.feedback(key).await.unwrap(), Some(*f));
        }
    }
}
