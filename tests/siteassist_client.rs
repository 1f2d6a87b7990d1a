//! The SiteAssist client against recording fakes that speak the v2 wire format.

mod support_client;

use serde_json::{json, Value};
use siteassist_bridge::siteassist::client::{
    Client, ClientConfig, NewMessage, PageContext, SendOutcome, StreamStart,
};
use siteassist_bridge::siteassist::error::{ApiError, Error};
use siteassist_bridge::siteassist::ids::{ConversationId, Feedback, MessageId, SaVid};
use siteassist_bridge::siteassist::model::ConversationStatus;
use siteassist_bridge::siteassist::stream::{
    AnswerStream, FinishReason, StreamEnd, StreamEvent, StreamOutcome,
};
use std::time::{Duration, Instant};
use support_client::*;

const ANSWER_ID: &str = "5f0c2a9e-1d7b-4c61-9a0e-3b8f2d4c7e10";
const MESSAGES: &str = "/v2/conversations/c1/messages";

fn vid() -> SaVid {
    SaVid::new("sab-test-user")
}

fn conv() -> ConversationId {
    ConversationId::new("c1")
}

fn answer_chunks(start: Value) -> Vec<Value> {
    vec![
        start,
        json!({"type":"start-step"}),
        json!({"type":"text-start","id":"msg_1","providerMetadata":{"openai":{"itemId":"msg_1"}}}),
        json!({"type":"text-delta","id":"msg_1","delta":"Hello, "}),
        json!({"type":"text-delta","id":"msg_1","delta":"world"}),
        json!({"type":"text-end","id":"msg_1"}),
        json!({"type":"finish-step"}),
        json!({"type":"finish","finishReason":"stop"}),
    ]
}

fn with_id() -> Vec<Value> {
    answer_chunks(json!({"type":"start","messageId": ANSWER_ID}))
}

async fn stream_to_end(client: &Client, content: &str) -> Result<StreamEnd, Error> {
    match client.send_message_stream(&vid(), &conv(), &NewMessage::text(content)).await? {
        StreamStart::Streaming(stream) => Ok(drain(stream).await),
        StreamStart::StoredNoReply => panic!("expected a stream"),
    }
}

async fn drain(mut stream: AnswerStream) -> StreamEnd {
    loop {
        if let StreamEvent::End(end) = stream.next_event().await {
            return end;
        }
    }
}

#[tokio::test]
async fn a_streamed_answer_arrives_piece_by_piece() {
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(8);
    let rx = std::sync::Mutex::new(Some(rx));
    let fake = Fake::start(move |req, _| {
        assert!(req.is("POST", MESSAGES), "unexpected {req:?}");
        sse_channel(rx.lock().unwrap().take().expect("one stream"))
    })
    .await;
    let client = fake.client();
    let chunks = with_id();
    tx.send(sse_text(&chunks[..4], false)).await.unwrap();
    let message = NewMessage {
        content: "How do I reset my password?".into(),
        page_context: Some(PageContext {
            url: Some("https://example.com/help".into()),
            title: Some("Help Center".into()),
            content: None,
            text_selection: None,
        }),
    };
    let start = client.send_message_stream(&vid(), &conv(), &message).await.unwrap();
    let StreamStart::Streaming(mut stream) = start else { panic!("expected a stream") };
    // The first words show while the server still holds the rest.
    assert!(matches!(stream.next_event().await, StreamEvent::Text));
    assert_eq!(stream.text(), "Hello, ");
    assert_eq!(stream.message_id(), Some(&MessageId::new(ANSWER_ID)));
    tx.send(sse_text(&chunks[4..], true)).await.unwrap();
    let end = drain(stream).await;
    assert_eq!(end.text, "Hello, world");
    assert_eq!(end.outcome, StreamOutcome::Finished { reason: Some(FinishReason::Stop) });
    assert_eq!(end.message_id, Some(MessageId::new(ANSWER_ID)));

    let init = &fake.to("POST", "/v2/identity/init")[0];
    assert_eq!(init.json(), json!({"apiKey": "pk_test_123", "saVid": "sab-test-user"}));
    let post = &fake.to("POST", MESSAGES)[0];
    assert_eq!(
        post.json(),
        json!({"content": "How do I reset my password?", "stream": true,
               "pageContext": {"url": "https://example.com/help", "title": "Help Center",
                               "content": null}})
    );
    assert_eq!(post.header("authorization").as_deref(), Some("Bearer tok-1"));
    assert_eq!(post.header("content-type").as_deref(), Some("application/json"));
    assert!(post.header("user-agent").unwrap().starts_with("siteassist-bridge/"));
    assert_eq!(post.header("origin"), None, "no Origin unless configured");
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_post_sent_exactly_twice() {
    let fake = Fake::start(|req, nth| match nth {
        0 => api_error(429, "RATE_LIMIT_EXCEEDED", Some(json!({"retryAfter": 1}))),
        _ if req.is("POST", MESSAGES) => sse(&with_id()),
        _ => panic!("unexpected {req:?}"),
    })
    .await;
    let client =
        Client::new(ClientConfig { max_retry_wait: Duration::from_secs(60), ..fake.config() })
            .unwrap();
    let started = Instant::now();
    let end = stream_to_end(&client, "hi").await.unwrap();
    assert_eq!(end.text, "Hello, world");
    assert_eq!(fake.to("POST", MESSAGES).len(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "retryAfter honoured");
}

#[tokio::test]
async fn a_persistent_outage_gives_up_after_max_attempts() {
    let fake =
        Fake::start(|_, _| api_error(503, "SERVICE_UNAVAILABLE", Some(json!({"retryAfter": 30}))))
            .await;
    let client = fake.client(); // 3 attempts, waits capped at 20 ms
    let err = stream_to_end(&client, "hi").await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(ApiError::ServiceUnavailable { status: 503, .. })),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(fake.to("POST", MESSAGES).len(), 3);
}

#[tokio::test]
async fn an_expired_session_is_renewed_once_with_the_same_visitor() {
    let fake = Fake::start(|req, _| {
        if req.header("authorization").as_deref() == Some("Bearer tok-1") {
            return api_error(401, "UNAUTHORIZED", None);
        }
        json_response(200, json!({"object": "visitor", "id": "visitor-1", "type": "anonymous"}))
    })
    .await;
    let client = fake.client();
    let me = client.me(&vid()).await.unwrap();
    assert_eq!(me.id, "visitor-1");
    let inits = fake.to("POST", "/v2/identity/init");
    assert_eq!(inits.len(), 2);
    assert!(inits.iter().all(|r| r.json()["saVid"] == "sab-test-user"));
    let calls = fake.to("GET", "/v2/identity/me");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].header("authorization").as_deref(), Some("Bearer tok-2"));
    // The renewed token is cached: the next call needs no init.
    client.me(&vid()).await.unwrap();
    assert_eq!(fake.to("POST", "/v2/identity/init").len(), 2);
}

#[tokio::test]
async fn a_rejected_renewal_is_not_retried_again() {
    let fake = Fake::start(|_, _| api_error(401, "UNAUTHORIZED", None)).await;
    let err = fake.client().me(&vid()).await.unwrap_err();
    assert!(matches!(err, Error::Api(ApiError::Unauthorized { .. })), "{err:?}");
    assert_eq!(fake.to("POST", "/v2/identity/init").len(), 2);
    assert_eq!(fake.to("GET", "/v2/identity/me").len(), 2);
}

#[tokio::test]
async fn message_sent_as_text_means_stored_without_reply() {
    let fake = Fake::start(|_, _| text_plain("Message sent")).await;
    let client = fake.client();
    let start = client.send_message_stream(&vid(), &conv(), &NewMessage::text("hi")).await.unwrap();
    assert!(matches!(start, StreamStart::StoredNoReply));
    let sent = client.send_message(&vid(), &conv(), &NewMessage::text("hi")).await;
    assert_eq!(sent, Ok(SendOutcome::StoredNoReply));
    assert_eq!(fake.to("POST", MESSAGES)[1].json()["stream"], false);
}

#[tokio::test]
async fn a_non_stream_answer_is_the_last_steps_text() {
    let fake = Fake::start(|_, _| {
        json_response(200, json!({"steps": [
            {"content": [{"type": "text", "text": "looking it up"}], "finishReason": "tool-calls"},
            {"content": [{"type": "text", "text": "Hello!"}, {"type": "text", "text": "Bye."}],
             "finishReason": "stop"}
        ]}))
    })
    .await;
    let sent = fake.client().send_message(&vid(), &conv(), &NewMessage::text("hi")).await;
    assert_eq!(sent, Ok(SendOutcome::Answer { text: "Hello!\n\nBye.".into() }));
}

#[tokio::test]
async fn invalid_content_never_reaches_the_server() {
    let fake = Fake::start(|req, _| panic!("unexpected {req:?}")).await;
    let client = fake.client();
    let too_long = NewMessage::text("é".repeat(10_001));
    let err = client.send_message_stream(&vid(), &conv(), &too_long).await.unwrap_err();
    assert_eq!(err, Error::ContentTooLong { chars: 10_001, max: 10_000 });
    let err = client.send_message(&vid(), &conv(), &too_long).await.unwrap_err();
    assert_eq!(err, Error::ContentTooLong { chars: 10_001, max: 10_000 });
    let err = client.send_message(&vid(), &conv(), &NewMessage::text("  \n")).await.unwrap_err();
    assert_eq!(err, Error::EmptyContent);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn feedback_is_sent_as_like_dislike_or_null() {
    let fake =
        Fake::start(|req, _| json_response(200, json!({"feedback": req.json()["feedback"]}))).await;
    let client = fake.client();
    let id = MessageId::new(ANSWER_ID);
    for value in [Some(Feedback::Like), Some(Feedback::Dislike), None] {
        assert_eq!(client.send_feedback(&vid(), &id, value).await, Ok(value));
    }
    let bodies: Vec<Value> = fake
        .to("POST", &format!("/v2/messages/{ANSWER_ID}/feedback"))
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(
        bodies,
        [json!({"feedback": "like"}), json!({"feedback": "dislike"}), json!({"feedback": null})]
    );
}

#[tokio::test]
async fn listing_all_conversations_follows_total() {
    let fake = Fake::start(|req, _| {
        let offset: usize = req.param("offset").unwrap().parse().unwrap();
        // Like the API, the fake clamps the page size.
        let limit = req.param("limit").unwrap().parse::<usize>().unwrap().min(40);
        let data: Vec<Value> = (offset..(offset + limit).min(95))
            .map(|i| json!({"object": "conversation", "id": format!("c{i}"), "status": "open",
                            "lastInteractionAt": "2024-01-15T10:35:00.000Z", "isHumanHandled": false,
                            "humanAgent": null, "title": null, "lastMessage": null}))
            .collect();
        json_response(200, json!({"object": "list", "total": 95, "limit": limit, "offset": offset,
                                  "data": data}))
    })
    .await;
    let all =
        fake.client().list_all_conversations(&vid(), Some(ConversationStatus::Open)).await.unwrap();
    let ids: Vec<String> = all.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, (0..95).map(|i| format!("c{i}")).collect::<Vec<_>>());
    let pages = fake.to("GET", "/v2/conversations");
    let offsets: Vec<String> = pages.iter().map(|r| r.param("offset").unwrap()).collect();
    assert_eq!(offsets, ["0", "40", "80"]);
    assert_eq!(pages[0].param("orderBy").as_deref(), Some("lastInteractionAt"));
    assert_eq!(pages[0].param("orderDir").as_deref(), Some("desc"));
    assert_eq!(pages[0].param("status").as_deref(), Some("open"));
}

#[tokio::test]
async fn a_start_without_message_id_takes_the_id_from_the_messages_endpoint() {
    let fake = Fake::start(|req, _| {
        if req.is("POST", MESSAGES) {
            return sse(&answer_chunks(json!({"type": "start"})));
        }
        assert!(req.is("GET", MESSAGES), "unexpected {req:?}");
        json_response(
            200,
            json!({"object": "list", "data": [
                message("11111111-1111-4111-8111-111111111111", "assistant", "an older answer"),
                message("22222222-2222-4222-8222-222222222222", "user", "hi"),
                message(ANSWER_ID, "assistant", "Hello, world"),
            ]}),
        )
    })
    .await;
    let end = stream_to_end(&fake.client(), "hi").await.unwrap();
    assert_eq!(end.message_id, Some(MessageId::new(ANSWER_ID)));
    assert_eq!(fake.to("GET", MESSAGES).len(), 1);
}

#[tokio::test]
async fn a_cut_stream_does_not_claim_the_previous_answer() {
    let fake = Fake::start(|req, _| {
        if req.is("POST", MESSAGES) {
            let mut chunks = answer_chunks(json!({"type": "start"}));
            chunks.truncate(4);
            return sse_channel_closed(&chunks);
        }
        json_response(
            200,
            json!({"object": "list", "data": [
                message("11111111-1111-4111-8111-111111111111", "assistant", "an older answer"),
                message("22222222-2222-4222-8222-222222222222", "user", "hi"),
            ]}),
        )
    })
    .await;
    let end = stream_to_end(&fake.client(), "hi").await.unwrap();
    assert_eq!(end.outcome, StreamOutcome::Truncated);
    assert_eq!(end.text, "Hello, ");
    assert_eq!(end.message_id, None);
    assert_eq!(fake.to("GET", MESSAGES).len(), 1);
}

fn sse_channel_closed(chunks: &[Value]) -> axum::response::Response {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.try_send(sse_text(chunks, false)).unwrap();
    drop(tx);
    sse_channel(rx)
}

#[tokio::test]
async fn the_origin_header_goes_on_every_request_when_configured() {
    let fake = Fake::start(|_, _| {
        json_response(200, json!({"object": "visitor", "id": "visitor-1", "type": "anonymous"}))
    })
    .await;
    let client =
        Client::new(ClientConfig { origin: Some("https://example.com".into()), ..fake.config() })
            .unwrap();
    client.me(&vid()).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    for r in requests {
        assert_eq!(r.header("origin").as_deref(), Some("https://example.com"), "{}", r.path);
    }
}

#[tokio::test]
async fn the_project_is_read_with_the_key_in_the_query_and_no_session() {
    let fake = Fake::start(|_, _| {
        json_response(
            200,
            json!({"object": "project", "id": "p1", "name": "Acme Inc",
                                  "description": null,
                                  "chatWidgetConfig": {"welcomeMessage": "Hi!"}}),
        )
    })
    .await;
    let project = fake.client().current_project().await.unwrap();
    assert_eq!(project.name, "Acme Inc");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "no identity/init for the project");
    assert_eq!(requests[0].path, "/v2/projects/current");
    assert_eq!(requests[0].param("apiKey").as_deref(), Some("pk_test_123"));
    assert_eq!(requests[0].header("authorization"), None);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_without_the_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(ClientConfig {
        api_url: format!("http://{addr}/v2").parse().unwrap(),
        publishable_key: siteassist_bridge::secret::Secret::new("pk_secret_key"),
        max_attempts: 2,
        max_retry_wait: Duration::from_millis(10),
        ..ClientConfig::default()
    })
    .unwrap();
    let err = client.current_project().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(!err.to_string().contains("pk_secret_key"), "{err}");
}

#[tokio::test]
async fn an_empty_key_is_a_configuration_error() {
    let err = Client::new(ClientConfig::default()).unwrap_err();
    assert!(matches!(err, Error::NotConfigured(_)), "{err:?}");
}
