//! Checks the fake Slack itself with raw HTTP / websocket clients, then with slack-morphism
//! (the client the adapter uses), so adapter tests can trust what it answers.

mod fake_slack;

use fake_slack::{FailKind, FakeSlack, SlackLimits, APP_TOKEN, BOT_TOKEN};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn call(fake: &FakeSlack, method: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = reqwest::Client::new().post(format!("{}/{method}", fake.api_url())).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

async fn get(fake: &FakeSlack, method: &str, query: &[(&str, &str)]) -> Value {
    reqwest::Client::new()
        .get(format!("{}/{method}", fake.api_url()))
        .query(query)
        .bearer_auth(BOT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn calls_are_recorded_with_params_token_and_increasing_ts() {
    let fake = FakeSlack::start().await;
    let a =
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": "one"}))
            .await;
    let form = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", fake.api_url()))
        .form(&[
            ("token", BOT_TOKEN),
            ("channel", "C1"),
            ("text", "two"),
            ("thread_ts", a["ts"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let b: Value = form.json().await.unwrap();
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(b["ok"], true, "{b}");
    assert_eq!(a["message"]["user"], "UBOT");
    assert_eq!(a["message"]["bot_id"], "BBOT");
    let (ta, tb) = (a["ts"].as_str().unwrap(), b["ts"].as_str().unwrap());
    assert_eq!(ta, "1700000000.000100");
    assert!(tb > ta && tb.parse::<f64>().unwrap() > ta.parse::<f64>().unwrap());

    let user = get(&fake, "users.info", &[("user", "U42")]).await;
    assert_eq!(user["user"]["id"], "U42");
    assert!(user["user"]["profile"]["display_name"].is_string());
    let im = get(&fake, "conversations.info", &[("channel", "D9")]).await;
    assert_eq!(im["channel"]["is_im"], true);

    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].params, json!({"channel": "C1", "text": "one"}));
    assert_eq!(calls[0].token.as_deref(), Some(BOT_TOKEN));
    assert_eq!(calls[0].http_method, "POST");
    assert_eq!(calls[1].params["thread_ts"], ta, "form params recorded, token removed");
    assert!(calls[1].params.get("token").is_none());
    assert_eq!(calls[1].token.as_deref(), Some(BOT_TOKEN));
    assert_eq!(calls[2].method, "users.info");
    assert_eq!(calls[2].http_method, "GET");
    assert_eq!(calls[2].params, json!({"user": "U42"}));
    assert_eq!(
        fake.messages_in_thread("C1", ta),
        vec![(ta.into(), "one".into()), (tb.into(), "two".into())]
    );
}

#[tokio::test]
async fn tokens_and_methods_are_checked_like_slack() {
    let fake = FakeSlack::start().await;
    let body = json!({"channel": "C1", "text": "x"});
    let none = call(&fake, "chat.postMessage", None, body.clone()).await;
    let wrong = call(&fake, "chat.postMessage", Some("xoxb-nope"), body.clone()).await;
    let app = call(&fake, "chat.postMessage", Some(APP_TOKEN), body.clone()).await;
    let bot_open = call(&fake, "apps.connections.open", Some(BOT_TOKEN), json!({})).await;
    let unknown = call(&fake, "chat.frobnicate", Some(BOT_TOKEN), json!({})).await;
    let no_text = call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1"})).await;
    for (reply, code) in [
        (none, "not_authed"),
        (wrong, "invalid_auth"),
        (app, "not_allowed_token_type"),
        (bot_open, "not_allowed_token_type"),
        (unknown, "unknown_method"),
        (no_text, "no_text"),
    ] {
        assert_eq!(reply, json!({"ok": false, "error": code}));
    }
    assert!(fake.messages().is_empty());
    assert_eq!(fake.calls()[1].error.as_deref(), Some("invalid_auth"));
}

#[tokio::test]
async fn update_changes_what_the_user_sees() {
    let fake = FakeSlack::start().await;
    let parent = "1699999999.000100";
    let posted = call(
        &fake,
        "chat.postMessage",
        Some(BOT_TOKEN),
        json!({"channel": "C1", "text": "…", "thread_ts": parent}),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap();
    let updated = call(
        &fake,
        "chat.update",
        Some(BOT_TOKEN),
        json!({"channel": "C1", "ts": ts, "text": "Hello *world*"}),
    )
    .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["text"], "Hello *world*");
    assert_eq!(updated["message"]["text"], "Hello *world*");
    assert_eq!(fake.message_text("C1", ts).as_deref(), Some("Hello *world*"));
    assert_eq!(
        fake.messages_in_thread("C1", parent),
        vec![(ts.to_string(), "Hello *world*".to_string())]
    );
    assert_eq!(fake.calls_to("chat.update").len(), 1);

    let missing = call(
        &fake,
        "chat.update",
        Some(BOT_TOKEN),
        json!({"channel": "C1", "ts": "1.2", "text": "x"}),
    )
    .await;
    assert_eq!(missing["error"], "message_not_found");
    let link = get(&fake, "chat.getPermalink", &[("channel", "C1"), ("message_ts", ts)]).await;
    let expected = format!(
        "https://fake.slack.com/archives/C1/p{}?thread_ts={parent}&cid=C1",
        ts.replace('.', "")
    );
    assert_eq!(link["permalink"], expected);
}

#[tokio::test]
async fn failure_knobs_apply_once() {
    let fake = FakeSlack::start().await;
    fake.fail_next("chat.update", FailKind::RateLimited { retry_after_secs: 7 });
    fake.fail_next("chat.postMessage", FailKind::Error("channel_not_found"));
    let http = reqwest::Client::new();
    let limited = http
        .post(format!("{}/chat.update", fake.api_url()))
        .bearer_auth(BOT_TOKEN)
        .json(&json!({"channel": "C1", "ts": "1.1", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({"ok": false, "error": "ratelimited"})
    );
    let failed =
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": "a"}))
            .await;
    assert_eq!(failed["error"], "channel_not_found");
    let ok =
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": "a"}))
            .await;
    assert_eq!(ok["ok"], true, "knob is used once");
    assert_eq!(fake.messages().len(), 1);
}

/// Multi-byte text reaches the byte limit before the character limit: 1,001 emoji are
/// 1,001 characters, far under 4,000, and 4,004 bytes, just over. One fewer passes.
#[tokio::test]
async fn over_long_text_is_refused_by_bytes_as_well_as_characters() {
    let fake = FakeSlack::start().await;
    let post = |text: String| {
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": text}))
    };
    let refused = post("😀".repeat(1_001)).await;
    assert_eq!(refused["error"], "msg_too_long", "{refused}");
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1);
    assert!(violations[0].contains("4004 bytes"), "{violations:?}");
    assert_eq!(post("😀".repeat(1_000)).await["ok"], true, "4,000 bytes fit");
    // chat.update is measured the same way, and a refused update changes nothing.
    let ts = fake.messages()[0].ts.clone();
    let update = call(
        &fake,
        "chat.update",
        Some(BOT_TOKEN),
        json!({"channel": "C1", "ts": ts, "text": "日本語".repeat(445)}),
    )
    .await;
    assert_eq!(update["error"], "msg_too_long", "4,005 bytes: {update}");
    assert_eq!(fake.take_violations().len(), 1);
    assert_eq!(fake.messages()[0].text, "😀".repeat(1_000));
    // A test may raise the byte limit like the others.
    fake.set_limits(SlackLimits { max_text_bytes: 40_000, ..SlackLimits::default() });
    assert_eq!(post("😀".repeat(1_001)).await["ok"], true);
}

#[tokio::test]
async fn slacks_limits_are_enforced_with_slacks_answers() {
    let fake = FakeSlack::start().await;
    let long = "x".repeat(4_001);
    let refused =
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": long}))
            .await;
    assert_eq!(refused["error"], "msg_too_long", "{refused}");
    assert_eq!(fake.take_violations().len(), 1, "the bridge must never send one");
    let posted =
        call(&fake, "chat.postMessage", Some(BOT_TOKEN), json!({"channel": "C1", "text": "a"}))
            .await;
    let ts = posted["ts"].as_str().unwrap().to_string();
    // Tier 3: fifty updates a minute in the workspace, then 429 with Retry-After.
    let update = |i: usize| {
        reqwest::Client::new()
            .post(format!("{}/chat.update", fake.api_url()))
            .bearer_auth(BOT_TOKEN)
            .json(&json!({"channel": "C1", "ts": ts, "text": format!("v{i}")}))
            .send()
    };
    for i in 0..50 {
        assert_eq!(update(i).await.unwrap().status(), 200, "update {i}");
    }
    let over = update(50).await.unwrap();
    assert_eq!(over.status(), 429);
    let wait: u64 = over.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"], "ratelimited");
    // Every call carries when it arrived, in order.
    let calls = fake.calls();
    assert!(calls.windows(2).all(|w| w[0].at <= w[1].at));
    fake.set_limits(SlackLimits { updates_per_window: 1_000, ..SlackLimits::default() });
    assert_eq!(update(51).await.unwrap().status(), 200, "a test may raise the limit");
}

#[tokio::test]
async fn an_ack_later_than_three_seconds_is_noted() {
    let fake = FakeSlack::start().await;
    let (_, mut ws) = open_socket(&fake).await;
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    fake.wait_for_socket_connections(1).await;
    let id = fake.send_socket_event(fake_slack::app_mention("Ev1", "C1", "U1", "hi", "1.0", None));
    assert_eq!(next_json(&mut ws).await["envelope_id"], id.as_str());
    // A client that takes longer than Slack waits: this sleep is the behaviour under test.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    ws.send(Message::text(json!({ "envelope_id": id }).to_string())).await.unwrap();
    fake.wait_for_ack(&id).await;
    let noted = fake.take_violations();
    assert_eq!(noted.len(), 1, "{noted:?}");
    assert!(noted[0].contains("acknowledged after"), "{noted:?}");
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame ok");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

async fn open_socket(fake: &FakeSlack) -> (String, Ws) {
    let open = call(fake, "apps.connections.open", Some(APP_TOKEN), json!({})).await;
    let url = open["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("ws://127.0.0.1:") && url.contains("/socket?ticket="), "{url}");
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connects");
    (url, ws)
}

#[tokio::test]
async fn socket_mode_hello_ack_redeliver_disconnect() {
    let fake = FakeSlack::start().await;
    let (url, mut ws) = open_socket(&fake).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["connection_info"]["app_id"], "A1");
    assert_eq!(hello["num_connections"], 1);
    fake.wait_for_socket_connections(1).await;
    assert!(
        tokio_tungstenite::connect_async(url.as_str()).await.is_err(),
        "tickets are single-use"
    );

    let payload =
        fake_slack::app_mention("Ev1", "C1", "U1", "<@UBOT> hi", "1700000001.000100", None);
    let id = fake.send_socket_event(payload.clone());
    let envelope = next_json(&mut ws).await;
    assert_eq!(envelope["envelope_id"], id.as_str());
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["payload"], payload);
    assert_eq!(envelope["retry_attempt"], 0);
    assert_eq!(envelope["accepts_response_payload"], false);
    ws.send(Message::text(json!({"envelope_id": id}).to_string())).await.unwrap();
    fake.wait_for_ack(&id).await;

    fake.redeliver(&id);
    let again = next_json(&mut ws).await;
    assert_eq!(
        (again["envelope_id"].as_str(), again["retry_attempt"].as_i64()),
        (Some(id.as_str()), Some(1))
    );
    assert_eq!(again["retry_reason"], "timeout");
    ws.send(Message::text(json!({"envelope_id": id}).to_string())).await.unwrap();
    fake.wait_for_acks_of(&id, 2).await;

    assert_eq!(fake.disconnect_socket("refresh_requested"), 1);
    assert_eq!(fake.socket_connections(), 0);
    let bye = next_json(&mut ws).await;
    assert_eq!(
        (bye["type"].as_str(), bye["reason"].as_str()),
        (Some("disconnect"), Some("refresh_requested"))
    );
    let close = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closes");
    assert!(matches!(close, Some(Ok(Message::Close(_))) | None | Some(Err(_))), "{close:?}");

    // An event sent while nobody is connected waits for the next connection.
    let queued = fake.send_socket_event(fake_slack::im_message(
        "Ev2",
        "D1",
        "U1",
        "hi",
        "1700000002.000100",
        None,
    ));
    let (_, mut ws2) = open_socket(&fake).await;
    assert_eq!(next_json(&mut ws2).await["type"], "hello");
    assert_eq!(next_json(&mut ws2).await["envelope_id"], queued.as_str());
    assert_eq!(fake.socket_connections_total(), 2);
}

#[test]
fn signature_matches_slacks_published_example() {
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    assert_eq!(
        fake_slack::sign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    );
}

#[tokio::test]
async fn post_event_sends_slacks_headers() {
    use axum::http::HeaderMap;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, String)>();
    let app = axum::Router::new().route(
        "/slack/events",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let _ = tx.send((headers, body));
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body = fake_slack::url_verification("chal");
    let (status, text) =
        fake_slack::post_event(&url, "s3cret", &body, 1_700_000_000, Some(2)).await;
    assert_eq!((status.as_u16(), text.as_str()), (200, "ok"));
    let (headers, raw) = rx.recv().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), body);
    assert_eq!(headers["x-slack-request-timestamp"], "1700000000");
    assert_eq!(
        headers["x-slack-signature"],
        fake_slack::sign("s3cret", 1_700_000_000, &raw).as_str()
    );
    assert_eq!(headers["x-slack-retry-num"], "2");
    assert_eq!(headers["x-slack-retry-reason"], "http_timeout");
    assert_eq!(headers["content-type"], "application/json");
    server.abort();
}

/// A bot message with a Stop button under its text, posted as the bridge posts one.
async fn post_with_stop(fake: &FakeSlack) -> String {
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "Thinking…", "verbatim": true}},
        {"type": "actions", "elements": [{
            "type": "button", "action_id": "siteassist:stop", "value": "siteassist:stop",
            "style": "danger", "text": {"type": "plain_text", "text": "Stop"},
        }]},
    ]);
    let body = json!({"channel": "C1", "text": "Thinking…", "blocks": blocks});
    let posted = call(fake, "chat.postMessage", Some(BOT_TOKEN), body).await;
    posted["ts"].as_str().unwrap().to_string()
}

/// Presses are built from what the message shows: a new click each time, naming the
/// message, the user and the button as Slack does.
#[tokio::test]
async fn a_press_names_the_button_the_message_shows() {
    let fake = FakeSlack::start().await;
    let ts = post_with_stop(&fake).await;
    let first = fake.press_payload("C1", &ts, "U0ALICE", "siteassist:stop");
    let second = fake.press_payload("C1", &ts, "U0ALICE", "siteassist:stop");
    assert_eq!(first["type"], "block_actions");
    assert_eq!(first["container"]["message_ts"], ts.as_str());
    assert_eq!(first["container"]["channel_id"], "C1");
    assert_eq!(first["user"]["id"], "U0ALICE");
    let action = &first["actions"][0];
    assert_eq!(
        (action["type"].as_str(), action["action_id"].as_str()),
        (Some("button"), Some("siteassist:stop"))
    );
    assert_eq!(action["block_id"], first["message"]["blocks"][1]["block_id"]);
    assert_ne!(action["action_ts"], second["actions"][0]["action_ts"], "each click is new");
    assert!(fake_slack::form_body(&first).starts_with("payload=%7B"), "form-encoded JSON");
}

#[tokio::test]
#[should_panic(expected = "shows no button siteassist:like")]
async fn a_button_the_message_does_not_show_cannot_be_pressed() {
    let fake = FakeSlack::start().await;
    let ts = post_with_stop(&fake).await;
    fake.press_payload("C1", &ts, "U0ALICE", "siteassist:like");
}

/// The adapter's client against the fake: proves the fake speaks what slack-morphism sends.
#[cfg(feature = "slack")]
mod with_slack_morphism {
    use super::*;
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;
    use std::sync::{Arc, Mutex};

    /// The recipe for a slack-morphism client on a local `http://` fake; the connector type
    /// stays `SlackClientHyperHttpsConnector`, as in production.
    fn client_for(api_url: &str) -> Arc<SlackHyperClient> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .expect("native root certificates")
            .https_or_http()
            .enable_http1()
            .build();
        let connector: SlackClientHyperHttpsConnector =
            SlackClientHyperConnector::from(https).with_slack_api_url(api_url);
        Arc::new(SlackClient::new(connector))
    }

    fn token(value: &str) -> SlackApiToken {
        SlackApiToken::new(SlackApiTokenValue::new(value.into()))
    }

    #[tokio::test]
    async fn web_api_calls_decode() {
        let fake = FakeSlack::start().await;
        let client = client_for(&fake.api_url());
        let bot_token = token(BOT_TOKEN);
        let session = client.open_session(&bot_token);

        let me = session.auth_test().await.expect("auth.test");
        assert_eq!((me.user_id.0.as_str(), me.team_id.0.as_str()), ("UBOT", "T0001"));
        assert_eq!(me.bot_id.map(|b| b.0), Some("BBOT".into()));

        let post = SlackApiChatPostMessageRequest::new(
            "C1".into(),
            SlackMessageContent::new().with_text("thinking…".into()),
        )
        .with_thread_ts("1700000000.000001".into());
        let posted = session.chat_post_message(&post).await.expect("chat.postMessage");
        let update = SlackApiChatUpdateRequest::new(
            "C1".into(),
            SlackMessageContent::new().with_text("final answer".into()),
            posted.ts.clone(),
        );
        let updated = session.chat_update(&update).await.expect("chat.update");
        assert_eq!(updated.ts, posted.ts);
        assert_eq!(fake.message_text("C1", &posted.ts.0).as_deref(), Some("final answer"));
        assert_eq!(fake.calls_to("chat.postMessage")[0].params["thread_ts"], "1700000000.000001");
        assert_eq!(fake.calls_to("chat.update")[0].token.as_deref(), Some(BOT_TOKEN));

        let user = session.users_info(&SlackApiUsersInfoRequest::new("U7".into())).await.unwrap();
        assert_eq!(user.user.id.0, "U7");
        let chan = SlackApiConversationsInfoRequest::new("C1".into());
        assert_eq!(
            session.conversations_info(&chan).await.unwrap().channel.flags.is_channel,
            Some(true)
        );
        let link = SlackApiChatGetPermalinkRequest::new("C1".into(), posted.ts.clone());
        assert!(session
            .chat_get_permalink(&link)
            .await
            .unwrap()
            .permalink
            .as_str()
            .contains("/archives/C1/p"));

        fake.fail_next("chat.update", FailKind::RateLimited { retry_after_secs: 3 });
        match session.chat_update(&update).await {
            Err(SlackClientError::RateLimitError(e)) => {
                assert_eq!(e.retry_after, Some(Duration::from_secs(3)))
            }
            other => panic!("expected a rate limit error, got {other:?}"),
        }
        fake.fail_next("chat.postMessage", FailKind::Error("channel_not_found"));
        match session.chat_post_message(&post).await {
            Err(SlackClientError::ApiError(e)) => assert_eq!(e.code, "channel_not_found"),
            other => panic!("expected an API error, got {other:?}"),
        }
        let wrong_token = token("xoxb-wrong");
        let bad = client.open_session(&wrong_token);
        assert!(
            matches!(bad.auth_test().await, Err(SlackClientError::ApiError(e)) if e.code == "invalid_auth")
        );
    }

    #[test]
    fn event_builders_decode_as_slack_events() {
        use fake_slack::*;
        let ts = "1700000001.000100";
        let decode = |v: Value| match serde_json::from_value::<SlackPushEvent>(v.clone()) {
            Ok(SlackPushEvent::EventCallback(cb)) => cb.event,
            other => panic!("{v} decoded as {other:?}"),
        };
        assert!(matches!(decode(app_mention("Ev1", "C1", "U1", "<@UBOT> hi", ts, Some(ts))),
            SlackEventCallbackBody::AppMention(e) if e.origin.thread_ts.is_some()));
        for v in [
            message("Ev2", "C1", "U1", "hi", ts, None),
            im_message("Ev3", "D1", "U1", "hi", ts, None),
        ] {
            assert!(
                matches!(decode(v), SlackEventCallbackBody::Message(m) if m.sender.user.is_some())
            );
        }
        assert!(matches!(decode(bot_message("Ev4", "C1", "B9", "beep", ts, None)),
            SlackEventCallbackBody::Message(m) if m.subtype == Some(SlackMessageEventType::BotMessage)));
        assert!(matches!(decode(app_bot_message("Ev5", "C1", "UBOT", "BBOT", "me", ts, None)),
            SlackEventCallbackBody::Message(m) if m.sender.bot_id.is_some()));
        assert!(
            matches!(decode(message_changed("Ev6", "C1", "U1", ts, "a", "b", "1700000009.000100", None)),
            SlackEventCallbackBody::Message(m) if m.message.is_some() && m.previous_message.is_some())
        );
        assert!(matches!(decode(message_deleted("Ev7", "C1", "U1", ts, "a", "1700000009.000100")),
            SlackEventCallbackBody::Message(m) if m.deleted_ts.is_some()));
        assert!(matches!(
            decode(reaction("Ev8", true, "U1", "+1", "C1", ts, "UBOT")),
            SlackEventCallbackBody::ReactionAdded(_)
        ));
        assert!(matches!(
            decode(reaction("Ev9", false, "U1", "+1", "C1", ts, "UBOT")),
            SlackEventCallbackBody::ReactionRemoved(_)
        ));
        assert!(matches!(
            serde_json::from_value::<SlackPushEvent>(url_verification("c")),
            Ok(SlackPushEvent::UrlVerification(_))
        ));
    }

    #[test]
    fn slack_morphism_verifies_our_signatures() {
        let verifier = slack_morphism::signature_verifier::SlackEventSignatureVerifier::new(
            &SlackSigningSecret::new("s3cret".into()),
        );
        let now = fake_slack::unix_now();
        let body =
            fake_slack::message("Ev1", "C1", "U1", "hi", "1700000001.000100", None).to_string();
        let signature = fake_slack::sign("s3cret", now, &body);
        assert!(verifier.verify(&signature, &body, &now.to_string()).is_ok());
        let tampered = body.replace("hi", "ho");
        assert!(verifier.verify(&signature, &tampered, &now.to_string()).is_err());
    }

    type Seen = Arc<Mutex<Vec<String>>>;

    async fn on_push(
        event: SlackPushEventCallback,
        _client: Arc<SlackHyperClient>,
        states: SlackClientEventsUserState,
    ) -> UserCallbackResult<()> {
        let guard = states.read().await;
        if let Some(seen) = guard.get_user_state::<Seen>() {
            seen.lock().unwrap().push(event.event_id.0);
        }
        Ok(())
    }

    #[tokio::test]
    async fn socket_mode_client_acks_and_reconnects() {
        let fake = FakeSlack::start().await;
        let seen: Seen = Arc::default();
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(client_for(&fake.api_url()))
                .with_user_state(seen.clone()),
        );
        let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
        let callbacks = SlackSocketModeListenerCallbacks::new().with_push_events(on_push);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        listener.listen_for(&token(APP_TOKEN)).await.unwrap();
        listener.start().await;
        fake.wait_for_socket_connections(1).await;

        let ts = "1700000001.000100";
        let first = fake.send_socket_event(fake_slack::app_mention(
            "Ev1",
            "C1",
            "U1",
            "<@UBOT> hi",
            ts,
            None,
        ));
        fake.wait_for_ack(&first).await;

        assert_eq!(fake.disconnect_socket("refresh_requested"), 1);
        fake.wait_for_socket_connections(1).await;
        assert_eq!(fake.socket_connections_total(), 2);
        let second =
            fake.send_socket_event(fake_slack::im_message("Ev2", "D1", "U1", "hi", ts, None));
        fake.wait_for_ack(&second).await;
        assert_eq!(*seen.lock().unwrap(), vec!["Ev1".to_string(), "Ev2".to_string()]);
        assert_eq!(fake.calls_to("apps.connections.open").len(), 2);
        assert!(fake
            .calls_to("apps.connections.open")
            .iter()
            .all(|c| c.token.as_deref() == Some(APP_TOKEN)));
        listener.shutdown().await;
    }

    /// slack-morphism reads the fake's presses (Socket Mode hands the adapter this
    /// type), the feedback element's click included.
    #[tokio::test]
    async fn presses_parse_as_slack_morphism_interactions() {
        let fake = FakeSlack::start().await;
        let blocks = json!([{"type": "context_actions", "elements": [{
            "type": "feedback_buttons", "action_id": "siteassist:feedback",
            "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "siteassist:like"},
            "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "siteassist:dislike"},
        }]}]);
        let body = json!({"channel": "C1", "text": "Done.", "blocks": blocks});
        let ts = call(&fake, "chat.postMessage", Some(BOT_TOKEN), body).await["ts"].clone();
        let ts = ts.as_str().unwrap();
        for (n, button) in ["siteassist:stop", "siteassist:dislike"].into_iter().enumerate() {
            let payload = if n == 0 {
                let ts = post_with_stop(&fake).await;
                fake.press_payload("C1", &ts, "U1", button)
            } else {
                fake.press_payload("C1", ts, "U1", button)
            };
            let event: SlackInteractionEvent = serde_json::from_value(payload.clone())
                .unwrap_or_else(|e| panic!("{e}: {payload}"));
            let SlackInteractionEvent::BlockActions(press) = event else { panic!("{payload}") };
            let action = &press.actions.expect("actions")[0];
            let expected_type = if n == 0 { "button" } else { "feedback_buttons" };
            assert_eq!(action.action_type.0, expected_type);
            let read =
                if n == 0 { action.action_id.0.as_str() } else { action.value.as_deref().unwrap() };
            assert_eq!(read, button);
            assert!(action.action_ts.is_some() && press.message.is_some());
        }
    }
}
