//! The fake Discord refuses what Discord refuses, with Discord's bodies and headers:
//! oversized and empty messages, and more posts in a channel than its limit allows; and
//! it notes a mention sent without `allowed_mentions`.
#![cfg(feature = "discord")]

mod fake_discord;

use fake_discord::{FakeDiscord, Limits, SUPPORT, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

async fn post(fake: &FakeDiscord, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let url = format!("{}/api/v10/channels/{SUPPORT}/messages", fake.api_url);
    let r = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn quiet() -> Value {
    json!({ "parse": [] })
}

#[tokio::test]
async fn oversized_and_empty_messages_are_refused_and_noted() {
    let fake = FakeDiscord::start().await;
    let (status, _, body) =
        post(&fake, json!({ "content": "x".repeat(2001), "allowed_mentions": quiet() })).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)), "{body}");
    let (status, _, body) =
        post(&fake, json!({ "content": " ", "allowed_mentions": quiet() })).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50006)), "{body}");
    let (status, _, _) =
        post(&fake, json!({ "content": "x".repeat(2000), "allowed_mentions": quiet() })).await;
    assert_eq!(status, 200, "2,000 characters fit");
    let (status, _, _) = post(&fake, json!({ "content": "hi @everyone" })).await;
    assert_eq!(status, 200, "Discord takes it, and pings everyone");
    let noted = fake.take_violations();
    assert_eq!(noted.len(), 3, "{noted:#?}");
    assert!(noted[2].contains("allowed_mentions"), "{noted:#?}");
}

#[tokio::test]
async fn a_sixth_post_in_five_seconds_gets_discords_429() {
    let fake = FakeDiscord::start().await;
    for i in 0..5 {
        let body = json!({ "content": format!("post {i}"), "allowed_mentions": quiet() });
        assert_eq!(post(&fake, body).await.0, 200, "post {i}");
    }
    let (status, headers, body) =
        post(&fake, json!({ "content": "one more", "allowed_mentions": quiet() })).await;
    assert_eq!(status, 429, "{body}");
    let retry_after = body["retry_after"].as_f64().expect("retry_after in the body");
    assert!(retry_after > 0.0 && retry_after <= 5.0, "{body}");
    assert_eq!(body["global"], false);
    for name in [
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(headers.contains_key(name), "{name} in {headers:?}");
    }
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    // A test may raise the limit.
    fake.set_limits(Limits {
        channel_actions: 100,
        channel_window: Duration::from_secs(5),
        ..Limits::default()
    });
    let (status, _, _) =
        post(&fake, json!({ "content": "now", "allowed_mentions": quiet() })).await;
    assert_eq!(status, 200);
}
