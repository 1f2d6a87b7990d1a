//! Tests of the stream decoder and [`AnswerStream`], on in-memory byte streams.

use super::*;
use bytes::Bytes;
use proptest::prelude::*;
use std::convert::Infallible;

const ID: &str = "5f0c2a9e-1d7b-4c61-9a0e-3b8f2d4c7e10";

fn sse(lines: &[&str], eol: &str) -> String {
    lines.iter().map(|l| format!("data: {l}{eol}{eol}")).collect()
}

fn typical(eol: &str) -> String {
    sse(
        &[
            &format!(r#"{{"type":"start","messageId":"{ID}"}}"#),
            r#"{"type":"start-step"}"#,
            r#"{"type":"text-start","id":"msg_68c2","providerMetadata":{"openai":{"itemId":"msg_68c2"}}}"#,
            r#"{"type":"text-delta","id":"msg_68c2","delta":"To reset "}"#,
            r#"{"type":"reasoning-delta","id":"r","delta":"(hidden)"}"#,
            r#"{"type":"text-delta","id":"msg_68c2","delta":"your password… ✓"}"#,
            r#"{"type":"text-end","id":"msg_68c2"}"#,
            r#"{"type":"finish-step"}"#,
            r#"{"type":"finish","finishReason":"stop"}"#,
            "[DONE]",
        ],
        eol,
    )
}

fn pieces(parts: Vec<Vec<u8>>) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p))))
}

fn split_at(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        out.push(body[from..cut].to_vec());
        from = cut;
    }
    out
}

fn stream_of(body: &str) -> AnswerStream {
    AnswerStream::from_byte_stream(pieces(vec![body.as_bytes().to_vec()]), DEFAULT_IDLE_TIMEOUT)
}

/// Every text seen at a `Text` event, and the end.
async fn drain(mut stream: AnswerStream) -> (Vec<String>, StreamEnd) {
    let mut texts = Vec::new();
    loop {
        match stream.next_event().await {
            StreamEvent::Text => texts.push(stream.text()),
            StreamEvent::End(end) => {
                // After the end, the end again.
                let again = stream.next_event().await;
                assert!(matches!(again, StreamEvent::End(ref e) if e.outcome == end.outcome));
                return (texts, end);
            }
        }
    }
}

async fn frames(parts: Vec<Vec<u8>>) -> Vec<Result<Frame, String>> {
    decode(pieces(parts)).collect().await
}

#[tokio::test]
async fn a_typical_answer_finishes_with_text_and_id() {
    let (texts, end) = drain(stream_of(&typical("\n"))).await;
    assert_eq!(texts, ["To reset ", "To reset your password… ✓"]);
    assert_eq!(end.text, "To reset your password… ✓");
    assert_eq!(end.outcome, StreamOutcome::Finished { reason: Some(FinishReason::Stop) });
    assert_eq!(end.message_id, Some(MessageId::new(ID)));
}

#[tokio::test]
async fn crlf_line_endings_decode_like_lf() {
    let lf = frames(vec![typical("\n").into_bytes()]).await;
    let crlf = frames(vec![typical("\r\n").into_bytes()]).await;
    assert_eq!(lf.len(), 10);
    assert_eq!(lf, crlf);
    let (_, end) = drain(stream_of(&typical("\r\n"))).await;
    assert_eq!(end.text, "To reset your password… ✓");
}

#[tokio::test]
async fn comment_lines_and_other_fields_are_ignored() {
    let body = ": keep-alive\n\n\
                : another comment\n\
                event: message\n\
                id: 7\n\
                data: {\"type\":\"text-delta\",\"id\":\"a\",\"delta\":\"hi\"}\n\n\
                data: [DONE]\n\n";
    let (texts, end) = drain(stream_of(body)).await;
    assert_eq!(texts, ["hi"]);
    assert_eq!(end.outcome, StreamOutcome::Finished { reason: None });
}

#[tokio::test]
async fn multi_line_data_is_joined_with_newlines() {
    let body = "data: {\"type\":\"text-delta\",\n\
                data: \"id\":\"a\",\n\
                data: \"delta\":\"joined\"}\n\n";
    let got = frames(vec![body.as_bytes().to_vec()]).await;
    assert_eq!(
        got,
        [Ok(Frame::Chunk(UiChunk::TextDelta { id: "a".into(), delta: "joined".into() }))]
    );
}

#[tokio::test]
async fn eof_without_done_is_truncated_with_partial_text() {
    let body = sse(
        &[
            r#"{"type":"start"}"#,
            r#"{"type":"text-start","id":"a"}"#,
            r#"{"type":"text-delta","id":"a","delta":"partial"}"#,
        ],
        "\n",
    );
    let (_, end) = drain(stream_of(&body)).await;
    assert_eq!(end.outcome, StreamOutcome::Truncated);
    assert_eq!(end.text, "partial");
    assert_eq!(end.message_id, None, "a start without messageId gives no id");
}

#[tokio::test]
async fn error_chunk_then_finish_error_is_an_error_with_partial_text() {
    let body = sse(
        &[
            r#"{"type":"start"}"#,
            r#"{"type":"text-start","id":"a"}"#,
            r#"{"type":"text-delta","id":"a","delta":"half an"}"#,
            r#"{"type":"error","errorText":"model overloaded"}"#,
            r#"{"type":"finish-step"}"#,
            r#"{"type":"finish","finishReason":"error"}"#,
            "[DONE]",
        ],
        "\n",
    );
    let (_, end) = drain(stream_of(&body)).await;
    assert_eq!(end.outcome, StreamOutcome::ErrorChunk { error_text: "model overloaded".into() });
    assert_eq!(end.text, "half an");
}

#[tokio::test]
async fn abort_ends_the_stream() {
    let body = sse(
        &[
            r#"{"type":"text-delta","id":"a","delta":"so far"}"#,
            r#"{"type":"abort"}"#,
            r#"{"type":"text-delta","id":"a","delta":" ignored"}"#,
        ],
        "\n",
    );
    let (_, end) = drain(stream_of(&body)).await;
    assert_eq!(end.outcome, StreamOutcome::Aborted);
    assert_eq!(end.text, "so far");
}

#[tokio::test]
async fn unknown_chunks_and_non_json_lines_do_not_end_the_stream() {
    let body = sse(
        &[
            r#"{"type":"from-the-future","x":1}"#,
            "not json at all",
            r#"{"type":"text-delta","id":"a","delta":"still here"}"#,
            "[DONE]",
        ],
        "\n",
    );
    let got = frames(vec![body.as_bytes().to_vec()]).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(matches!(&got[0], Ok(Frame::Chunk(UiChunk::Unknown(_)))));
    let (_, end) = drain(stream_of(&body)).await;
    assert_eq!(end.text, "still here");
    assert_eq!(end.outcome, StreamOutcome::Finished { reason: None });
}

#[tokio::test]
async fn a_non_uuid_message_id_is_not_trusted() {
    let body = sse(&[r#"{"type":"start","messageId":"local-123"}"#, "[DONE]"], "\n");
    let (_, end) = drain(stream_of(&body)).await;
    assert_eq!(end.message_id, None);
}

#[tokio::test]
async fn the_lookup_supplies_a_missing_id_and_not_a_present_one() {
    let found = MessageId::new("11111111-1111-4111-8111-111111111111");
    let lookup = |id: MessageId| -> IdLookup { Box::pin(async move { Some(id) }) };
    let body = sse(&[r#"{"type":"start"}"#, "[DONE]"], "\n");
    let (_, end) = drain(stream_of(&body).with_id_lookup(lookup(found.clone()))).await;
    assert_eq!(end.message_id, Some(found.clone()));
    let (_, end) = drain(stream_of(&typical("\n")).with_id_lookup(lookup(found))).await;
    assert_eq!(end.message_id, Some(MessageId::new(ID)));
}

#[tokio::test]
async fn a_transport_error_keeps_the_partial_text() {
    let parts: Vec<Result<Bytes, String>> = vec![
        Ok(Bytes::from_static(
            b"data: {\"type\":\"text-delta\",\"id\":\"a\",\"delta\":\"before\"}\n\n",
        )),
        Err("connection reset".into()),
    ];
    let stream =
        AnswerStream::from_byte_stream(futures_util::stream::iter(parts), DEFAULT_IDLE_TIMEOUT);
    let (_, end) = drain(stream).await;
    assert_eq!(end.text, "before");
    assert!(
        matches!(&end.outcome, StreamOutcome::Transport { error } if error.contains("connection reset")),
        "{:?}",
        end.outcome
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_stream_stalls_after_the_idle_timeout() {
    let first = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(
        b"data: {\"type\":\"text-delta\",\"id\":\"a\",\"delta\":\"waiting\"}\n\n",
    ))]);
    let silent = first.chain(futures_util::stream::pending());
    let idle = Duration::from_secs(90);
    let started = tokio::time::Instant::now();
    let (texts, end) = drain(AnswerStream::from_byte_stream(silent, idle)).await;
    assert_eq!(texts, ["waiting"]);
    assert_eq!(end.outcome, StreamOutcome::Stalled { after: idle });
    assert_eq!(end.text, "waiting");
    assert!(started.elapsed() >= idle);
}

#[test]
fn completed_answers_end_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let (texts, end) = rt.block_on(drain(AnswerStream::completed("done", None)));
    assert!(texts.is_empty());
    assert_eq!(end.text, "done");
    assert_eq!(end.outcome, StreamOutcome::Finished { reason: None });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Network reads split the body anywhere: inside a JSON string, inside a multi-byte
    /// character, between "\r" and "\n". The result must not depend on where.
    #[test]
    fn splitting_the_bytes_anywhere_changes_nothing(
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        crlf in any::<bool>(),
    ) {
        let body = typical(if crlf { "\r\n" } else { "\n" });
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let whole = rt.block_on(frames(vec![body.as_bytes().to_vec()]));
        let split = rt.block_on(frames(split_at(body.as_bytes(), &cuts)));
        prop_assert_eq!(&whole, &split);
        let parts = split_at(body.as_bytes(), &cuts);
        let (_, end) = rt.block_on(drain(AnswerStream::from_byte_stream(pieces(parts), DEFAULT_IDLE_TIMEOUT)));
        prop_assert_eq!(end.text, "To reset your password… ✓");
        prop_assert_eq!(end.outcome, StreamOutcome::Finished { reason: Some(FinishReason::Stop) });
    }
}

#[test]
fn every_single_split_point_gives_the_same_frames() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    for eol in ["\n", "\r\n"] {
        let body = typical(eol);
        let whole = rt.block_on(frames(vec![body.as_bytes().to_vec()]));
        for cut in 0..=body.len() {
            let split = rt.block_on(frames(split_at(body.as_bytes(), &[cut])));
            assert_eq!(whole, split, "cut at byte {cut} with {eol:?}");
        }
    }
}
