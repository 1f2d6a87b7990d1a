//! The simulator's wire format, checked with raw HTTP (no crate client), so that the
//! simulator can in turn be trusted to check the client.

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use siteassist_bridge::simulator::{
    answer_for, spawn_local, Fault, FeedbackRecord, RunningSimulator, Simulator, SimulatorConfig,
};
use std::future::Future;
use std::time::{Duration, Instant};

/// Every test runs under this bound.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut).await.expect("test timed out")
}

fn fast() -> SimulatorConfig {
    SimulatorConfig { word_delay: Duration::from_millis(1), ..Default::default() }
}

async fn start() -> RunningSimulator {
    spawn_local(fast()).await.unwrap()
}

async fn wait(sim: &Simulator, pred: impl Fn(&Simulator) -> bool) {
    tokio::time::timeout(Duration::from_secs(10), sim.wait_until(pred))
        .await
        .expect("condition never held");
}

/// A visitor session: the base URL and the bearer token.
struct V {
    http: Client,
    base: String,
    token: String,
}

impl V {
    async fn init(rs: &RunningSimulator, sa_vid: &str) -> V {
        let http = Client::new();
        let r = http
            .post(format!("{}/identity/init", rs.base_url))
            .json(&json!({"apiKey": "pk_test", "saVid": sa_vid}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let body: Value = r.json().await.unwrap();
        V {
            http,
            base: rs.base_url.clone(),
            token: body["sessionToken"].as_str().unwrap().to_string(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    async fn conversation(&self) -> String {
        let r = self.post("/conversations").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["messages"], json!([]));
        c["id"].as_str().unwrap().to_string()
    }

    async fn send(&self, conv: &str, content: &str, stream: bool) -> Response {
        let body = json!({"content": content, "stream": stream});
        self.post(&format!("/conversations/{conv}/messages")).json(&body).send().await.unwrap()
    }

    async fn messages(&self, conv: &str) -> Vec<Value> {
        let r = self.get(&format!("/conversations/{conv}/messages")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "list");
        assert!(v.get("total").is_none(), "messages envelope has no total");
        v["data"].as_array().unwrap().clone()
    }
}

/// Splits an SSE body into its `data:` payloads, asserting the exact framing: every event
/// is one `data: ` line followed by a blank line, nothing else.
#[track_caller]
fn payloads(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "unterminated body: {body:?}");
    body[..body.len() - 2]
        .split("\n\n")
        .map(|event| {
            assert!(!event.contains('\n'), "multi-line event {event:?}");
            let data =
                event.strip_prefix("data: ").unwrap_or_else(|| panic!("not data: {event:?}"));
            data.to_string()
        })
        .collect()
}

fn chunks(body: &str) -> Vec<Value> {
    payloads(body)
        .iter()
        .filter(|p| *p != "[DONE]")
        .map(|p| serde_json::from_str(p).unwrap())
        .collect()
}

fn deltas(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter(|c| c["type"] == "text-delta")
        .map(|c| c["delta"].as_str().unwrap())
        .collect()
}

fn first_words(text: &str, n: usize) -> String {
    let mut out = String::new();
    let mut words = 0;
    for (i, c) in text.char_indices() {
        if !c.is_whitespace() && (i == 0 || text[..i].ends_with(char::is_whitespace)) {
            if words == n {
                break;
            }
            words += 1;
        }
        out.push(c);
    }
    out
}

#[track_caller]
fn assert_envelope(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

async fn envelope(r: Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn init_creates_then_finds_the_visitor() {
    within(async {
        let rs =
            spawn_local(SimulatorConfig { publishable_key: Some("pk_right".into()), ..fast() })
                .await
                .unwrap();
        let http = Client::new();
        let init = |key: &str| {
            http.post(format!("{}/identity/init", rs.base_url))
                .json(&json!({"apiKey": key, "saVid": "sab-console-alice"}))
                .send()
        };
        let first = init("pk_right").await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: Value = first.json().await.unwrap();
        let again = init("pk_right").await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        let again: Value = again.json().await.unwrap();
        assert_eq!(first["visitor"], again["visitor"]);
        assert_eq!(first["visitor"]["object"], "visitor");
        assert_eq!(first["visitor"]["type"], "anonymous");
        assert_eq!(first["visitor"]["externalId"], Value::Null);
        let token = first["sessionToken"].as_str().unwrap();
        assert!(token.starts_with("eyJ") && token.split('.').count() == 3, "{token}");
        assert_ne!(first["sessionToken"], again["sessionToken"]);
        assert_eq!(rs.sim.init_count(), 2);

        let me = http
            .get(format!("{}/identity/me", rs.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.json::<Value>().await.unwrap(), first["visitor"]);

        let (s, b) = envelope(init("pk_wrong").await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let (s, b) = envelope(init("").await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY");
        assert_eq!(b["error"]["details"], json!({"field": "apiKey"}));
        let long = http
            .post(format!("{}/identity/init", rs.base_url))
            .json(&json!({"apiKey": "pk_right", "saVid": "x".repeat(101)}))
            .send()
            .await
            .unwrap();
        let (s, b) = envelope(long).await;
        assert_envelope(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

        let p = http
            .get(format!("{}/projects/current?apiKey=pk_right", rs.base_url))
            .send()
            .await
            .unwrap();
        let p: Value = p.json().await.unwrap();
        assert_eq!(p["object"], "project");
        assert!(p["chatWidgetConfig"]["welcomeMessage"].is_string());
    })
    .await
}

#[tokio::test]
async fn a_streamed_answer_is_exact_ai_sdk_sse_and_is_stored() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let q = "How do I reset my password?";
        let r = v.send(&conv, q, true).await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        for (name, value) in [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("connection", "keep-alive"),
            ("x-vercel-ai-ui-message-stream", "v1"),
            ("x-accel-buffering", "no"),
        ] {
            assert_eq!(h.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
        }
        let body = String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap();
        let p = payloads(&body);
        let c = chunks(&body);
        let mid = c[0]["messageId"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(mid).is_ok(), "{mid}");
        let tid = c[2]["id"].as_str().unwrap();
        assert!(tid.starts_with("msg_") && tid.len() > 8, "{tid}");
        let s = |v: &str| serde_json::to_string(v).unwrap();
        let mut want = vec![
            format!(r#"{{"type":"start","messageId":{}}}"#, s(mid)),
            r#"{"type":"start-step"}"#.to_string(),
            format!(r#"{{"type":"text-start","id":{}}}"#, s(tid)),
        ];
        for d in c.iter().filter(|c| c["type"] == "text-delta") {
            let d = d["delta"].as_str().unwrap();
            let word = d.trim_end();
            assert!(
                !word.is_empty() && !word.contains(char::is_whitespace),
                "one word per delta: {d:?}"
            );
            want.push(format!(r#"{{"type":"text-delta","id":{},"delta":{}}}"#, s(tid), s(d)));
        }
        want.push(format!(r#"{{"type":"text-end","id":{}}}"#, s(tid)));
        want.push(r#"{"type":"finish-step"}"#.into());
        want.push(r#"{"type":"finish","finishReason":"stop"}"#.into());
        want.push("[DONE]".into());
        assert_eq!(p, want);
        assert_eq!(deltas(&c), answer_for(q));

        let msgs = v.messages(&conv).await;
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0]["role"], "user");
        assert_eq!(msgs[0]["parts"], json!([{"type": "text", "text": q}]));
        assert_eq!(msgs[1]["id"], mid);
        assert_eq!(msgs[1]["chatId"], conv.as_str());
        assert_eq!(msgs[1]["status"], "complete");
        let text: String = msgs[1]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "text")
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, answer_for(q));
        assert_eq!(
            rs.sim.conversation_messages(&conv)[1],
            ("assistant".into(), answer_for(q), "complete".into())
        );
    })
    .await
}

#[tokio::test]
async fn non_stream_answers_with_steps_json() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let r = v.send(&conv, "what are your pricing plans", false).await;
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        let step = &b["steps"][0];
        assert_eq!(step["content"], json!([{"type": "text", "text": answer_for("pricing")}]));
        assert_eq!(step["finishReason"], "stop");
        for k in
            ["inputTokens", "outputTokens", "totalTokens", "reasoningTokens", "cachedInputTokens"]
        {
            assert!(step["usage"][k].is_u64(), "{k}");
        }
        assert_eq!(v.messages(&conv).await[1]["status"], "complete");

        // A drop cuts the JSON half-way; the answer is stored all the same.
        rs.sim.push_fault(Fault::Drop { after_words: 0 });
        let mut r = v.send(&conv, "refund", false).await;
        let mut got = Vec::new();
        let end = loop {
            match r.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c),
                other => break other,
            }
        };
        assert!(end.is_err() && !got.is_empty(), "{end:?} after {got:?}");
        assert!(serde_json::from_slice::<Value>(&got).is_err());
        assert_eq!(rs.sim.conversation_messages(&conv)[3].1, answer_for("refund"));
    })
    .await
}

#[tokio::test]
async fn errors_use_the_envelope_with_the_documented_statuses() {
    within(async {
        let rs = start().await;
        let alice = V::init(&rs, "alice").await;
        let bob = V::init(&rs, "bob").await;
        let conv = alice.conversation().await;
        let http = Client::new();

        let r = http.get(format!("{}/conversations", rs.base_url)).send().await.unwrap();
        let (s, b) = envelope(r).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            b,
            json!({"error": {"message": "Authentication required", "code": "UNAUTHORIZED"}})
        );
        let r = http
            .get(format!("{}/identity/me", rs.base_url))
            .bearer_auth("eyJ.nope.x")
            .send()
            .await
            .unwrap();
        assert_eq!(envelope(r).await.1["error"]["code"], "UNAUTHORIZED");

        for req in [
            bob.get(&format!("/conversations/{conv}")),
            bob.get(&format!("/conversations/{conv}/messages")),
            bob.post(&format!("/conversations/{conv}/close")),
            bob.post(&format!("/conversations/{conv}/messages")).json(&json!({"content": "hi"})),
        ] {
            let (s, b) = envelope(req.send().await.unwrap()).await;
            assert_envelope(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
        }
        let unknown = uuid::Uuid::new_v4().to_string();
        let (s, b) =
            envelope(alice.get(&format!("/conversations/{unknown}")).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND");
        assert_eq!(b["error"]["details"], json!({"conversationId": unknown}));

        let path = format!("/conversations/{conv}/messages");
        for body in [json!({}), json!({"content": ""}), json!({"stream": true})] {
            let (s, b) = envelope(alice.post(&path).json(&body).send().await.unwrap()).await;
            assert_envelope(s, &b, StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY");
            assert_eq!(b["error"]["details"], json!({"field": "content"}));
        }
        let bad = alice.post(&path).header("content-type", "application/json").body("{not json");
        let (s, b) = envelope(bad.send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY");
        let long = json!({"content": "a".repeat(10_001)});
        let (s, b) = envelope(alice.post(&path).json(&long).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(b["error"]["details"]["field"], "content");
        assert!(b["error"]["details"]["reason"].is_string());
        let huge = json!({"content": "a", "pageContext": {"content": "p".repeat(70_000)}});
        let (s, b) = envelope(alice.post(&path).json(&huge).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        let (s, b) = envelope(alice.get("/conversations?limit=0").send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        let (s, b) = envelope(alice.get("/nowhere").send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");

        // Every message POST counts, rejected or not; nothing rejected was stored.
        assert_eq!(rs.sim.message_posts(), 7);
        assert!(rs.sim.conversation_messages(&conv).is_empty());
    })
    .await
}

#[tokio::test]
async fn http_faults_answer_before_anything_is_stored() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let cases = [
            (
                Fault::RateLimited { retry_after_secs: 7 },
                429,
                "RATE_LIMIT_EXCEEDED",
                json!({"retryAfter": 7}),
            ),
            (
                Fault::Unavailable { retry_after_secs: 3 },
                503,
                "SERVICE_UNAVAILABLE",
                json!({"retryAfter": 3}),
            ),
            (Fault::Internal, 500, "INTERNAL_SERVER_ERROR", Value::Null),
            (Fault::BadGateway, 502, "BAD_GATEWAY", json!({"service": "llm"})),
            (Fault::PaymentRequired, 402, "PAYMENT_REQUIRED", Value::Null),
        ];
        for (fault, status, code, details) in cases {
            rs.sim.push_fault(fault);
            let (s, b) = envelope(v.send(&conv, "hi", true).await).await;
            assert_envelope(s, &b, StatusCode::from_u16(status).unwrap(), code);
            if details.is_null() && status == 402 {
                for k in ["currentPlan", "requiredPlan", "feature"] {
                    assert!(b["error"]["details"][k].is_string(), "{k}");
                }
            } else if !details.is_null() {
                assert_eq!(b["error"]["details"], details);
            }
        }
        assert!(rs.sim.conversation_messages(&conv).is_empty());
        assert_eq!(rs.sim.message_posts(), 5);

        rs.sim.push_fault(Fault::Unauthorized);
        let (s, b) = envelope(v.send(&conv, "hi", false).await).await;
        assert_envelope(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        assert_eq!(v.get("/identity/me").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        let v2 = V::init(&rs, "alice").await;
        assert_eq!(v2.send(&conv, "hi", false).await.status(), StatusCode::OK);
    })
    .await
}

#[tokio::test]
async fn error_chunk_and_abort_end_the_stream_and_the_stored_message_with_an_error() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let q = "pricing";
        rs.sim.push_fault(Fault::ErrorChunk { after_words: 3 });
        let body = v.send(&conv, q, true).await.text().await.unwrap();
        let p = payloads(&body);
        assert_eq!(
            p[p.len() - 4..],
            [
                r#"{"type":"error","errorText":"An error occurred."}"#,
                r#"{"type":"finish-step"}"#,
                r#"{"type":"finish","finishReason":"error"}"#,
                "[DONE]"
            ]
        );
        let c = chunks(&body);
        assert!(!c.iter().any(|c| c["type"] == "text-end"));
        assert_eq!(deltas(&c), first_words(&answer_for(q), 3));
        let stored = &v.messages(&conv).await[1];
        assert_eq!(stored["status"], "error");
        assert_eq!(stored["error"], "An error occurred.");
        assert_eq!(stored["id"], c[0]["messageId"]);

        rs.sim.push_fault(Fault::Abort { after_words: 2 });
        let body = v.send(&conv, q, true).await.text().await.unwrap();
        let p = payloads(&body);
        assert_eq!(p[p.len() - 2..], [r#"{"type":"abort"}"#, "[DONE]"]);
        assert_eq!(deltas(&chunks(&body)), first_words(&answer_for(q), 2));
        let (_, text, status) = rs.sim.conversation_messages(&conv)[3].clone();
        assert_eq!((text, status.as_str()), (first_words(&answer_for(q), 2), "error"));
    })
    .await
}

/// Reads a response chunk by chunk until `done` holds for what arrived so far.
async fn read_until(r: &mut Response, done: impl Fn(&str) -> bool) -> String {
    let mut got = String::new();
    while !done(&got) {
        let chunk = r.chunk().await.unwrap().expect("body ended early");
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    got
}

#[tokio::test]
async fn a_stall_keeps_the_connection_open_while_generation_completes() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        rs.sim.push_fault(Fault::Stall { after_words: 2 });
        let mut r = v.send(&conv, "refund", true).await;
        let got =
            read_until(&mut r, |s| s.matches("text-delta").count() == 2 && s.ends_with("\n\n"))
                .await;
        wait(&rs.sim, |s| s.generations_in_flight() == 0).await;
        assert_eq!(rs.sim.conversation_messages(&conv)[1].1, answer_for("refund"));
        // Generation is over, yet nothing more arrives and the body does not end.
        let more = tokio::time::timeout(Duration::from_millis(200), r.chunk()).await;
        assert!(more.is_err(), "stalled stream delivered {more:?} after {got:?}");
        assert_eq!(rs.sim.open_streams(), 1);
        drop(r);
        wait(&rs.sim, |s| s.open_streams() == 0).await;
    })
    .await
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_a_stalled_stream() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        rs.sim.push_fault(Fault::Stall { after_words: 0 });
        let mut r = v.send(&conv, "refund", true).await;
        read_until(&mut r, |s| s.contains("text-start")).await;
        rs.shutdown().await.unwrap();
        let rest = loop {
            match r.chunk().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        };
        assert!(rest.is_err(), "a cut body is an error, not a clean end: {rest:?}");
    })
    .await
}

#[tokio::test]
async fn a_drop_cuts_the_body_without_done_but_the_answer_is_stored() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        rs.sim.push_fault(Fault::Drop { after_words: 3 });
        let mut r = v.send(&conv, "shipping", true).await;
        let mut got = String::new();
        let end = loop {
            match r.chunk().await {
                Ok(Some(c)) => got.push_str(std::str::from_utf8(&c).unwrap()),
                other => break other,
            }
        };
        assert!(end.is_err(), "expected a broken body, got {end:?}");
        assert!(!got.contains("[DONE]") && !got.contains("finish"));
        assert_eq!(deltas(&chunks(&got)), first_words(&answer_for("shipping"), 3));
        wait(&rs.sim, |s| s.conversation_messages(&conv).get(1).is_some_and(|m| m.2 == "complete"))
            .await;
        assert_eq!(rs.sim.conversation_messages(&conv)[1].1, answer_for("shipping"));
    })
    .await
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_still_gets_a_stored_answer() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let mut r = v.send(&conv, "api key", true).await;
        read_until(&mut r, |s| s.contains("text-delta")).await;
        drop(r);
        wait(&rs.sim, |s| s.generations_in_flight() == 0).await;
        let m = &v.messages(&conv).await[1];
        assert_eq!(
            (m["status"].as_str(), m["parts"][1]["text"].as_str()),
            (Some("complete"), Some(answer_for("api key").as_str()))
        );
    })
    .await
}

#[tokio::test]
async fn slow_first_byte_and_missing_message_id() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        rs.sim.push_fault(Fault::SlowFirstByte { delay_ms: 300 });
        let t = Instant::now();
        let r = v.send(&conv, "hi", true).await;
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
        assert!(r.text().await.unwrap().ends_with("data: [DONE]\n\n"));

        rs.sim.push_fault(Fault::NoMessageId);
        let body = v.send(&conv, "hi", true).await.text().await.unwrap();
        assert_eq!(payloads(&body)[0], r#"{"type":"start"}"#);
        assert_eq!(deltas(&chunks(&body)), answer_for("hi"));
    })
    .await
}

#[tokio::test]
async fn a_human_handled_conversation_stores_the_question_only() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        rs.sim.push_fault(Fault::HumanHandled);
        for _ in 0..2 {
            let r = v.send(&conv, "can I talk to a human", true).await;
            assert_eq!(r.status(), StatusCode::OK);
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("text/plain"), "{ct}");
            assert_eq!(r.text().await.unwrap(), "Message sent");
        }
        let roles: Vec<String> =
            rs.sim.conversation_messages(&conv).into_iter().map(|m| m.0).collect();
        assert_eq!(roles, ["user", "user"]);
        let c: Value =
            v.get(&format!("/conversations/{conv}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(c["isHumanHandled"], true);
        assert!(c["humanAgent"].is_object(), "{c}");
        assert!(rs.sim.set_human_handled(&conv, false));
        assert!(v.send(&conv, "hi", true).await.text().await.unwrap().contains("text-delta"));
    })
    .await
}

#[tokio::test]
async fn listing_pages_filters_and_closes() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let mut ids = Vec::new();
        for _ in 0..12 {
            ids.push(v.conversation().await);
        }
        V::init(&rs, "bob").await.conversation().await;
        assert_eq!(v.send(&ids[0], "refund please", false).await.status(), StatusCode::OK);

        let page: Value = v.get("/conversations").send().await.unwrap().json().await.unwrap();
        assert_eq!(
            (
                page["object"].as_str(),
                page["total"].as_u64(),
                page["limit"].as_u64(),
                page["offset"].as_u64()
            ),
            (Some("list"), Some(12), Some(10), Some(0))
        );
        let data = page["data"].as_array().unwrap();
        assert_eq!(data.len(), 10);
        assert_eq!(data[0]["id"], ids[0].as_str(), "most recent interaction first");
        assert_eq!(data[0]["lastMessage"]["role"], "assistant");
        assert_eq!(data[0]["title"], "refund please");
        assert_eq!(data[1]["lastMessage"], Value::Null);
        assert!(data[0].get("messages").is_none());

        let rest: Value = v
            .get("/conversations?offset=10&orderBy=createdAt&orderDir=asc")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got: Vec<&str> =
            rest["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(got, [ids[10].as_str(), ids[11].as_str()]);

        let too_long = json!({"closeReason": "x".repeat(257)});
        let (s, b) = envelope(
            v.post(&format!("/conversations/{}/close", ids[3]))
                .json(&too_long)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_envelope(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        let closed: Value = v
            .post(&format!("/conversations/{}/close", ids[3]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            closed,
            json!({"success": true, "message": "Conversation closed successfully."})
        );
        let c: Value =
            v.get("/conversations?status=closed").send().await.unwrap().json().await.unwrap();
        assert_eq!(
            (c["total"].as_u64(), c["data"][0]["status"].as_str()),
            (Some(1), Some("closed"))
        );
        assert!(c["data"][0]["closedAt"].is_string());

        let only: Value = v
            .get(&format!("/conversations/{}/messages?role=assistant&limit=1", ids[0]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(only["data"].as_array().unwrap().len(), 1);
        assert_eq!(only["data"][0]["role"], "assistant");
        assert_eq!(rs.sim.conversation_count(), 13);
    })
    .await
}

#[tokio::test]
async fn feedback_is_recorded_in_order_including_null() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "sab-alice").await;
        let conv = v.conversation().await;
        v.send(&conv, "pricing", false).await;
        let msgs = v.messages(&conv).await;
        let (user_id, mid) = (msgs[0]["id"].as_str().unwrap(), msgs[1]["id"].as_str().unwrap());
        let path = format!("/messages/{mid}/feedback");
        for value in [json!("like"), json!("dislike"), Value::Null] {
            let r: Value = v
                .post(&path)
                .json(&json!({"feedback": value}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(r, json!({"feedback": value}));
        }
        let rec = |value: Option<&str>| FeedbackRecord {
            message_id: mid.into(),
            visitor_sa_vid: "sab-alice".into(),
            value: value.map(String::from),
        };
        assert_eq!(rs.sim.feedback_log(), [rec(Some("like")), rec(Some("dislike")), rec(None)]);
        v.post(&path).json(&json!({"feedback": "like"})).send().await.unwrap();
        assert_eq!(v.messages(&conv).await[1]["feedback"], "like");

        let bob = V::init(&rs, "bob").await;
        let (s, b) =
            envelope(bob.post(&path).json(&json!({"feedback": "like"})).send().await.unwrap())
                .await;
        assert_envelope(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
        let (s, b) =
            envelope(v.post(&path).json(&json!({"feedback": "love"})).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        let (s, b) = envelope(v.post(&path).json(&json!({})).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY");
        let unknown = format!("/messages/{}/feedback", uuid::Uuid::new_v4());
        let (s, _) =
            envelope(v.post(&unknown).json(&json!({"feedback": "like"})).send().await.unwrap())
                .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let on_user = format!("/messages/{user_id}/feedback");
        let (s, _) =
            envelope(v.post(&on_user).json(&json!({"feedback": "like"})).send().await.unwrap())
                .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(rs.sim.feedback_log().len(), 4, "rejected feedback is not recorded");
    })
    .await
}

#[tokio::test]
async fn faults_can_be_set_over_http_and_persist_until_reset() {
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let http = Client::new();
        let root = rs.root_url();
        let set = json!({"next": [{"kind": "rate_limited", "retry_after_secs": 5}], "persistent": {"kind": "bad_gateway"}});
        let r = http.post(format!("{root}/__sim/faults")).json(&set).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let statuses = [v.send(&conv, "hi", true).await.status(), v.send(&conv, "hi", true).await.status(), v.send(&conv, "hi", false).await.status()];
        assert_eq!(statuses.map(|s| s.as_u16()), [429, 502, 502]);
        let state: Value = http.get(format!("{root}/__sim/state")).send().await.unwrap().json().await.unwrap();
        assert_eq!((state["message_posts"].as_u64(), state["conversations"].as_u64()), (Some(3), Some(1)));
        assert_eq!(state["persistent_fault"], json!({"kind": "bad_gateway"}));
        http.post(format!("{root}/__sim/reset")).send().await.unwrap();
        assert_eq!(v.send(&conv, "hi", false).await.status(), StatusCode::OK);
        let bad = http.post(format!("{root}/__sim/faults")).json(&json!({"next": [{"kind": "nope"}]})).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

        rs.sim.set_persistent_fault(Some(Fault::Internal));
        rs.sim.push_fault(Fault::NoMessageId);
        assert_eq!(v.send(&conv, "hi", true).await.status(), StatusCode::OK);
        assert_eq!(v.send(&conv, "hi", true).await.status(), StatusCode::INTERNAL_SERVER_ERROR);
        rs.sim.set_persistent_fault(None);
        assert_eq!(v.send(&conv, "hi", true).await.status(), StatusCode::OK);
    })
    .await
}

#[tokio::test]
async fn a_required_origin_is_enforced_on_every_v2_route() {
    within(async {
        let rs = spawn_local(SimulatorConfig {
            required_origin: Some("https://example.com".into()),
            ..fast()
        })
        .await
        .unwrap();
        let http = Client::new();
        let init = json!({"apiKey": "pk", "saVid": "a"});
        let url = format!("{}/identity/init", rs.base_url);
        let (s, b) = envelope(http.post(&url).json(&init).send().await.unwrap()).await;
        assert_envelope(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
        let (s, b) = envelope(
            http.post(&url).header("origin", "https://evil.test").json(&init).send().await.unwrap(),
        )
        .await;
        assert_envelope(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
        let ok = http
            .post(&url)
            .header("origin", "https://example.com")
            .json(&init)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
    })
    .await
}

#[tokio::test]
async fn the_long_answer_streams_whole() {
    within(async {
        let rs = spawn_local(SimulatorConfig { word_delay: Duration::ZERO, ..Default::default() })
            .await
            .unwrap();
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let body = v.send(&conv, "tell me everything", true).await.text().await.unwrap();
        let text = deltas(&chunks(&body));
        assert_eq!(text, answer_for("everything"));
        assert!(text.len() > 4500 && text.contains("```bash\n"));
    })
    .await
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The conversation WebSocket, as the widget opens it.
async fn socket(rs: &RunningSimulator, conv: &str, key: &str) -> Socket {
    let url = format!("{}/conversations/{conv}/ws?apiKey={key}", rs.base_url)
        .replacen("http://", "ws://", 1);
    tokio_tungstenite::connect_async(url).await.expect("the socket opens").0
}

/// The next text frame, as JSON (`pong` as a string).
async fn frame(ws: &mut Socket) -> Value {
    use futures_util::StreamExt;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
        match next.expect("a frame within 5 s") {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                return serde_json::from_str(&t).unwrap_or(Value::String(t.to_string()));
            }
            Some(Ok(_)) => {}
            other => panic!("the socket ended: {other:?}"),
        }
    }
}

async fn control(rs: &RunningSimulator, path: &str, body: Value) -> (StatusCode, Value) {
    let root = rs.base_url.trim_end_matches("/v2");
    let r = Client::new().post(format!("{root}/__control{path}")).json(&body).send().await.unwrap();
    envelope(r).await
}

/// The widget's socket: ping/pong; a handover, the agent's messages and the visitor's
/// echoes as frames; handing back; refusals before the upgrade; dropped sockets.
#[tokio::test]
async fn the_conversation_socket_carries_the_agents_side() {
    use futures_util::SinkExt;
    within(async {
        let rs = start().await;
        let v = V::init(&rs, "alice").await;
        let conv = v.conversation().await;
        let url = |key: &str, conv: &str| {
            format!("{}/conversations/{conv}/ws?apiKey={key}", rs.base_url)
                .replacen("http://", "ws://", 1)
        };
        // Refused before the upgrade: no key, unknown conversation.
        for (key, id, status) in [("", conv.as_str(), 401), ("pk_test", "nope", 404)] {
            match tokio_tungstenite::connect_async(url(key, id)).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                    assert_eq!(r.status().as_u16(), status)
                }
                other => panic!("expected HTTP {status}, got {other:?}"),
            }
        }
        assert_eq!(rs.sim.sockets_opened(), 0);

        let mut ws = socket(&rs, &conv, "pk_test").await;
        ws.send(tokio_tungstenite::tungstenite::Message::text("ping")).await.unwrap();
        assert_eq!(frame(&mut ws).await, "pong");

        let (status, _) =
            control(&rs, "/conversations/latest/handover", json!({"agent": "Dana"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(frame(&mut ws).await, json!({"type": "human_assigned", "chatId": conv}));
        let c: Value =
            v.get(&format!("/conversations/{conv}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            (c["isHumanHandled"].as_bool(), c["humanAgent"]["name"].as_str()),
            (Some(true), Some("Dana"))
        );

        // The visitor writes: stored, no AI answer, echoed on the socket.
        assert_eq!(
            v.send(&conv, "are you there?", true).await.text().await.unwrap(),
            "Message sent"
        );
        let echo = frame(&mut ws).await;
        assert_eq!(
            (echo["type"].as_str(), echo["message"]["role"].as_str()),
            (Some("new_message"), Some("user"))
        );

        let (_, sent) = control(
            &rs,
            &format!("/conversations/{conv}/agent-messages"),
            json!({"text": "Hi, Dana here."}),
        )
        .await;
        let got = frame(&mut ws).await;
        assert_eq!(got["message"], sent, "the frame carries the stored message");
        assert_eq!(got["message"]["role"], "human_agent");
        assert_eq!(got["message"]["humanAgent"]["name"], "Dana");
        assert_eq!(got["message"]["parts"][0]["text"], "Hi, Dana here.");
        let listed = v.messages(&conv).await;
        assert_eq!(listed.last().unwrap()["id"], sent["id"]);

        control(&rs, &format!("/conversations/{conv}/handback"), json!({})).await;
        assert_eq!(frame(&mut ws).await["type"], "human_assigned");
        let c: Value =
            v.get(&format!("/conversations/{conv}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(c["isHumanHandled"], false);

        // Bad control input changes nothing.
        let (status, _) =
            control(&rs, &format!("/conversations/{conv}/agent-messages"), json!({"text": " "}))
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) =
            control(&rs, "/conversations/nope/handover", json!({"agent": "Dana"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Dropped: the socket ends.
        assert_eq!(rs.sim.open_sockets(), 1);
        control(&rs, "/sockets/drop", json!({})).await;
        use futures_util::StreamExt;
        let end = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("it ends");
        assert!(
            !matches!(end, Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))),
            "{end:?}"
        );
        wait(&rs.sim, |s| s.open_sockets() == 0).await;
        assert_eq!(rs.sim.sockets_opened(), 1);
    })
    .await
}
