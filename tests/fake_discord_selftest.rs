//! The fake Discord refuses what Discord refuses, with Discord's bodies and headers:
//! oversized and empty messages, and more posts in a channel than its limit allows; and
//! it notes a mention sent without `allowed_mentions`. Its gateway resumes sessions as
//! Discord does.
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

type Gateway =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next gateway payload (heartbeat acks skipped), within five seconds.
async fn next_payload(ws: &mut Gateway) -> Value {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the fake gateway speaks")
            .expect("the connection is open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let payload: Value = serde_json::from_str(&text).unwrap();
            if payload["op"] != 11 {
                return payload;
            }
        }
    }
}

async fn connect(fake: &FakeDiscord, first: Value) -> Gateway {
    use futures_util::SinkExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(fake.gateway_url.as_str()).await.unwrap();
    assert_eq!(next_payload(&mut ws).await["op"], 10, "Hello first");
    ws.send(tokio_tungstenite::tungstenite::Message::text(first.to_string())).await.unwrap();
    ws
}

/// Sessions outlive connections: a RESUME replays what the client missed, in order,
/// then RESUMED; a session the fake invalidated gets INVALID_SESSION.
#[tokio::test]
async fn the_gateway_resumes_sessions_and_refuses_invalid_ones() {
    let fake = FakeDiscord::start().await;
    let identify = json!({ "op": 2, "d": { "token": TOKEN, "intents": 0, "properties": {} } });
    let mut ws = connect(&fake, identify.clone()).await;
    let ready = next_payload(&mut ws).await;
    assert_eq!((ready["t"].as_str(), ready["s"].as_u64()), (Some("READY"), Some(1)));
    let session = ready["d"]["session_id"].as_str().unwrap().to_string();
    assert_eq!(next_payload(&mut ws).await["t"], "GUILD_CREATE");
    fake.dispatch("TYPING_START", json!({ "n": 1 }));
    let seen = next_payload(&mut ws).await;
    assert_eq!((seen["d"]["n"].as_u64(), seen["s"].as_u64()), (Some(1), Some(3)));

    // Asked to reconnect, then cut off: what comes meanwhile waits for the resume.
    fake.request_reconnect();
    assert_eq!(next_payload(&mut ws).await["op"], 7, "RECONNECT");
    assert_eq!(fake.cut_gateway(), 1);
    fake.dispatch("TYPING_START", json!({ "n": 2 }));
    fake.dispatch("TYPING_START", json!({ "n": 3 }));
    let resume = json!({ "op": 6, "d": { "token": TOKEN, "session_id": session, "seq": 3 } });
    let mut ws = connect(&fake, resume.clone()).await;
    for (n, s) in [(2, 4), (3, 5)] {
        let replayed = next_payload(&mut ws).await;
        assert_eq!((replayed["d"]["n"].as_u64(), replayed["s"].as_u64()), (Some(n), Some(s)));
    }
    assert_eq!(next_payload(&mut ws).await["t"], "RESUMED");
    fake.dispatch("TYPING_START", json!({ "n": 4 }));
    assert_eq!(next_payload(&mut ws).await["d"]["n"], 4, "live again on the new connection");
    assert_eq!(fake.read(|r| (r.sessions_opened, r.resumes)), (1, 1));

    // Invalidated: the RESUME is refused, and an Identify on the same connection works.
    fake.invalidate_sessions();
    fake.cut_gateway();
    let mut ws = connect(&fake, resume).await;
    let refused = next_payload(&mut ws).await;
    assert_eq!((refused["op"].as_u64(), refused["d"].as_bool()), (Some(9), Some(false)));
    {
        use futures_util::SinkExt;
        let frame = tokio_tungstenite::tungstenite::Message::text(identify.to_string());
        ws.send(frame).await.unwrap();
    }
    let ready = next_payload(&mut ws).await;
    assert_eq!(ready["t"], "READY");
    assert_ne!(ready["d"]["session_id"].as_str(), Some(session.as_str()), "a new session");
    assert_eq!(fake.read(|r| (r.sessions_opened, r.invalid_resumes)), (2, 1));
}
