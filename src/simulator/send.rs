//! `POST /v2/conversations/{id}/messages`: the one route with faults, streaming and the
//! human-handled answer.
//!
//! Order: the request's fault is taken first (a one-shot fault is consumed by the next
//! POST whatever it carries, like a gateway in front of the API); HTTP faults answer at
//! once; then the token (401), the body (400/422) and the conversation (404/403). Only
//! then is anything stored.

use super::error::{ApiError, JsonBody};
use super::faq::{actions_for, answer_for, sources_for};
use super::faults::Fault;
use super::request::{authenticate, bearer, path_id};
use super::state::{FaultHit, MsgStatus, PageContext, Role};
use super::stream::{self, word_chunks, Cut, Step};
use super::Simulator;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

/// Most characters of `content`, counted in UTF-16 units as the API's JavaScript does.
const MAX_CONTENT_UNITS: usize = 10_000;

/// A validated send-message body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SendRequest {
    pub content: String,
    pub stream: bool,
    pub page: PageContext,
}

/// Validates the body: 400 for a missing, empty or mistyped field, 422 for content over
/// 10,000 characters.
pub(crate) fn parse_send(body: Option<Value>) -> Result<SendRequest, ApiError> {
    let body = body.unwrap_or(Value::Null);
    let content = match body.get("content") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(ApiError::invalid_body("content is required", Some("content"))),
    };
    if content.encode_utf16().count() > MAX_CONTENT_UNITS {
        return Err(ApiError::validation(
            "content",
            format!("must be at most {MAX_CONTENT_UNITS} characters"),
        ));
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid_body("stream must be a boolean", Some("stream"))),
    };
    let page = match body.get("pageContext") {
        None | Some(Value::Null) => PageContext::default(),
        Some(Value::Object(o)) => {
            let field = |name: &str| match o.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid_body(
                    format!("pageContext.{name} must be a string or null"),
                    Some(&format!("pageContext.{name}")),
                )),
            };
            PageContext {
                url: field("url")?,
                title: field("title")?,
                content: field("content")?,
                text_selection: field("textSelection")?,
            }
        }
        Some(_) => {
            return Err(ApiError::invalid_body(
                "pageContext must be an object or null",
                Some("pageContext"),
            ))
        }
    };
    Ok(SendRequest { content, stream, page })
}

/// The handler.
pub(crate) async fn post_message(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody,
) -> Response {
    match handle(sim, headers, id, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    sim: Simulator,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Option<Value>, ApiError>,
) -> Result<Response, ApiError> {
    let content = body.as_ref().ok().and_then(Option::as_ref).and_then(|b| b.get("content"));
    let content = content.and_then(Value::as_str).map(str::to_owned);
    let fault = sim.with_state(|s| {
        let fault = s.faults.take();
        if let Some(fault) = &fault {
            s.fault_hits.push(FaultHit { fault: fault.clone(), content });
        }
        fault
    });
    if let Some(err) = fault.as_ref().and_then(Fault::http_error) {
        if fault == Some(Fault::Unauthorized) {
            if let Some(token) = bearer(&headers) {
                sim.with_state(|s| s.sessions.remove(token));
            }
        }
        return Err(err);
    }
    let visitor = authenticate(&sim, &headers)?;
    let conversation_id = path_id(id)?;
    let req = parse_send(body?)?;
    let now = Utc::now();
    let answer = answer_for(&req.content);
    let stored = sim.with_state(|s| {
        let conv = s.owned_conversation(&visitor.id, &conversation_id)?;
        if fault == Some(Fault::HumanHandled) {
            conv.is_human_handled = true;
        }
        let human = conv.is_human_handled;
        s.questions.push(super::ReceivedQuestion {
            content: req.content.clone(),
            page_url: req.page.url.clone(),
            page_title: req.page.title.clone(),
            page_content: req.page.content.clone(),
        });
        let asked = s.add_message(&conversation_id, Role::User, &req.content, None, req.page, now);
        if human {
            return Ok((asked, None));
        }
        let (text, status) = if req.stream {
            ("", MsgStatus::Streaming)
        } else {
            (answer.as_str(), MsgStatus::Complete)
        };
        let none = PageContext::default();
        let mid = s.add_message(&conversation_id, Role::Assistant, text, Some(status), none, now);
        Ok::<_, ApiError>((asked, Some(mid)))
    })?;
    // The widget's socket echoes the visitor's own message.
    sim.publish_message(&stored.0);
    let Some(message_id) = stored.1 else {
        let mut r = "Message sent".into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=UTF-8"));
        return Ok(r);
    };
    if req.stream {
        let sources = sources_for(&req.content);
        let actions = actions_for(&req.content);
        let extras = stream::Extras { sources: &sources, actions: &actions };
        Ok(start_stream(&sim, &answer, extras, fault.as_ref(), message_id).await)
    } else {
        non_stream(&sim, &req.content, &answer, fault.as_ref(), &message_id).await
    }
}

/// Starts the generation task and answers with its SSE body.
async fn start_stream(
    sim: &Simulator,
    answer: &str,
    extras: stream::Extras<'_>,
    fault: Option<&Fault>,
    message_id: String,
) -> Response {
    let text_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let steps = stream::script(answer, extras, fault, &message_id, &text_id);
    let stall = steps.contains(&Step::Cut(Cut::Stall));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    sim.with_state(|s| s.generating += 1);
    tokio::spawn(stream::run(sim.clone(), message_id, steps, tx));
    if let Some(Fault::SlowFirstByte { delay_ms }) = fault {
        tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
    }
    stream::sse_response(sim, rx, stall)
}

/// The `steps` JSON. Stream faults map onto what a JSON response can show: an error
/// chunk or abort becomes a 500 (the message is stored with status `error`), a stall
/// never answers, a drop cuts the body half-way. The full answer is stored first in the
/// other cases, so it is there whatever happens to the response.
async fn non_stream(
    sim: &Simulator,
    question: &str,
    answer: &str,
    fault: Option<&Fault>,
    message_id: &str,
) -> Result<Response, ApiError> {
    let words = word_chunks(answer);
    match fault {
        Some(Fault::ErrorChunk { after_words } | Fault::Abort { after_words }) => {
            let partial = words[..(*after_words).min(words.len())].concat();
            let error = if matches!(fault, Some(Fault::Abort { .. })) {
                stream::ABORT_ERROR_TEXT
            } else {
                stream::STREAM_ERROR_TEXT
            };
            sim.with_state(|s| {
                if let Some(m) = s.messages.get_mut(message_id) {
                    m.text = partial;
                }
            });
            sim.finish_message(message_id, MsgStatus::Error, Some(error));
            return Err(ApiError::internal());
        }
        Some(Fault::Stall { .. }) => {
            sim.closed().await;
            return Err(ApiError::internal());
        }
        Some(Fault::SlowFirstByte { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
        }
        _ => {}
    }
    let input_tokens = question.split_whitespace().count() + 40;
    let output_tokens = words.len();
    let body = json!({ "steps": [ {
        "content": [ { "type": "text", "text": answer } ],
        "finishReason": "stop",
        "usage": {
            "inputTokens": input_tokens, "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
            "reasoningTokens": 0, "cachedInputTokens": 0
        }
    } ] });
    if let Some(Fault::Drop { .. }) = fault {
        let text = Bytes::from(body.to_string());
        let half = text.slice(..text.len() / 2);
        let cut = futures_util::stream::once(async {
            // Pending once first, so hyper flushes the half before the cut.
            tokio::task::yield_now().await;
            Err(std::io::Error::other("simulated dropped connection"))
        });
        let parts = futures_util::stream::once(async { Ok(half) }).chain(cut);
        let mut r = Response::new(Body::from_stream(parts));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(r);
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(v: Value) -> (u16, &'static str, Option<Value>) {
        let e = parse_send(Some(v)).unwrap_err();
        (e.status.as_u16(), e.code, e.details)
    }

    #[test]
    fn content_is_required_and_bounded() {
        let field = |f: &str| Some(json!({ "field": f }));
        assert_eq!(err(json!({})), (400, "INVALID_REQUEST_BODY", field("content")));
        assert_eq!(err(json!({"content": ""})), (400, "INVALID_REQUEST_BODY", field("content")));
        assert_eq!(err(json!({"content": 5})), (400, "INVALID_REQUEST_BODY", field("content")));
        let (status, code, details) = err(json!({ "content": "a".repeat(10_001) }));
        assert_eq!((status, code), (422, "VALIDATION_ERROR"));
        assert_eq!(details.unwrap()["field"], "content");
        assert!(parse_send(Some(json!({ "content": "a".repeat(10_000) }))).is_ok());
        assert!(parse_send(None).is_err());
    }

    #[test]
    fn stream_and_page_context_are_typed() {
        let r = parse_send(Some(json!({
            "content": "hi", "stream": true,
            "pageContext": {"url": "https://x.test/", "title": null, "content": "page", "textSelection": "sel"}
        })))
        .unwrap();
        assert!(r.stream);
        assert_eq!(r.page.url.as_deref(), Some("https://x.test/"));
        assert_eq!(r.page.title, None);
        assert_eq!(r.page.text_selection.as_deref(), Some("sel"));
        assert_eq!(err(json!({"content": "hi", "stream": "yes"})).0, 400);
        assert_eq!(err(json!({"content": "hi", "pageContext": {"url": 1}})).0, 400);
        assert!(!parse_send(Some(json!({"content": "hi"}))).unwrap().stream);
    }
}
