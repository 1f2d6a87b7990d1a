//! Tests of the API types.

use super::*;
use serde_json::json;

#[test]
fn conversation_accepts_both_spellings_of_last_interaction() {
    for key in ["lastInteractionAt", "lastInterationAt"] {
        let c: Conversation = serde_json::from_value(json!({
            "object": "conversation", "id": "c1",
            "createdAt": "2024-01-15T10:30:00.000Z", "updatedAt": "2024-01-15T10:30:00.000Z",
            "status": "open", "closedAt": null, "closeReason": null,
            key: "2024-01-15T10:35:00.000Z", "isHumanHandled": false,
            "humanAgent": null, "messages": []
        }))
        .unwrap();
        assert!(c.last_interaction_at.is_some(), "{key}");
        assert_eq!(c.messages, Some(vec![]));
    }
    let bare: Conversation = serde_json::from_value(json!({"id": "c2"})).unwrap();
    assert_eq!(bare.last_interaction_at, None);
    assert_eq!(bare.messages, None);
}

#[test]
fn messages_keep_unknown_parts_and_join_text_parts() {
    let m: Message = serde_json::from_value(json!({
        "object": "message", "id": "m1", "createdAt": "2025-08-19T09:29:41.469Z",
        "chatId": "c1", "role": "human_agent",
        "parts": [
            {"type": "step-start"},
            {"type": "text", "text": "Hello", "state": "done"},
            {"type": "tool-action_display-link", "toolCallId": "t", "state": "output-available",
             "output": {"href": "https://x"}},
            {"type": "text", "text": "world"}
        ],
        "status": "complete", "error": null, "feedback": "like", "feedbackAt": null,
        "metadata": {"any": 1}, "humanAgent": {"name": "Ann", "image": null},
        "pageUrl": null, "pageTitle": null, "textSelection": null
    }))
    .unwrap();
    assert_eq!(m.role, Role::HumanAgent);
    assert_eq!(m.status, Some(MessageStatus::Complete));
    assert_eq!(m.feedback, Some(Feedback::Like));
    assert_eq!(m.parts.len(), 4);
    assert!(matches!(&m.parts[2], MessagePart::Unknown(v) if v["output"]["href"] == "https://x"));
    assert_eq!(message_text(&m), "Hello\n\nworld");
    // What a fake serializes is what the client reads.
    let again: Message = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
    assert_eq!(again, m);
}

#[test]
fn project_tolerates_missing_and_extra_widget_fields() {
    let p: Project = serde_json::from_value(json!({
        "object": "project", "id": "p1", "name": "Acme Inc", "description": null,
        "status": "active",
        "chatWidgetConfig": {"welcomeMessage": "Hi!", "position": "right", "theme": "light",
                             "offset": {"x": 16, "y": 16}, "customCSSStyles": ""},
        "quickPrompts": [{"id": "q", "title": "Pricing", "prompt": "How much?"}]
    }))
    .unwrap();
    assert_eq!(p.chat_widget_config.welcome_message.as_deref(), Some("Hi!"));
    assert_eq!(p.chat_widget_config.custom_css_styles.as_deref(), Some(""));
    assert_eq!(p.chat_widget_config.display_name, None);
    assert_eq!(p.quick_prompts.unwrap()[0].prompt, "How much?");
    let bare: Project = serde_json::from_value(json!({"id": "p2"})).unwrap();
    assert_eq!(bare.chat_widget_config, ChatWidgetConfig::default());
}

#[test]
fn queries_serialize_as_the_api_spells_them() {
    let all = [
        (OrderBy::Id, "id"),
        (OrderBy::CreatedAt, "createdAt"),
        (OrderBy::UpdatedAt, "updatedAt"),
        (OrderBy::LastInteractionAt, "lastInteractionAt"),
        (OrderBy::Status, "status"),
        (OrderBy::ClosedAt, "closedAt"),
        (OrderBy::IsHumanHandled, "isHumanHandled"),
        (OrderBy::Title, "title"),
    ];
    for (order_by, name) in all {
        assert_eq!(serde_json::to_value(order_by).unwrap(), json!(name));
    }
    let q = ListConversations {
        limit: Some(20),
        status: Some(ConversationStatus::Closed),
        order_dir: Some(OrderDir::Asc),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&q).unwrap(),
        json!({"limit": 20, "status": "closed", "orderDir": "asc"})
    );
    let m = ListMessages {
        role: Some(Role::HumanAgent),
        status: Some(MessageStatus::Error),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"role": "human_agent", "status": "error"})
    );
}

#[test]
fn send_body_sends_text_selection_only_when_set() {
    let mut page = PageContext {
        url: Some("https://example.com/help".into()),
        title: None,
        content: None,
        text_selection: None,
    };
    let body = |page: &PageContext| {
        serde_json::to_value(SendBody { content: "Hi", stream: true, page_context: Some(page) })
            .unwrap()
    };
    assert_eq!(
        body(&page),
        json!({"content": "Hi", "stream": true,
               "pageContext": {"url": "https://example.com/help", "title": null, "content": null}})
    );
    page.text_selection = Some("reset".into());
    assert_eq!(body(&page)["pageContext"]["textSelection"], "reset");
    let bare = SendBody { content: "Hi", stream: false, page_context: None };
    assert_eq!(serde_json::to_value(bare).unwrap(), json!({"content": "Hi", "stream": false}));
}

#[test]
fn steps_text_is_the_last_steps_text_blocks() {
    let r: StepsResponse = serde_json::from_value(json!({"steps": [
        {"content": [{"type": "text", "text": "tool round"}], "finishReason": "tool-calls"},
        {"content": [{"type": "text", "text": "Hello!"}, {"type": "reasoning", "text": "x"},
                     {"type": "text", "text": "Bye."}],
         "finishReason": "stop",
         "usage": {"inputTokens": 2409, "outputTokens": 11, "totalTokens": 2420,
                   "reasoningTokens": 0, "cachedInputTokens": 0}}
    ]}))
    .unwrap();
    assert_eq!(r.text(), "Hello!\n\nBye.");
    assert_eq!(r.steps[1].finish_reason, Some(FinishReason::Stop));
    assert_eq!(StepsResponse::default().text(), "");
}

#[test]
fn content_is_checked_in_characters() {
    use crate::siteassist::error::Error;
    assert_eq!(validate_content(""), Err(Error::EmptyContent));
    assert_eq!(validate_content(" \n\t "), Err(Error::EmptyContent));
    assert_eq!(validate_content(&"é".repeat(MAX_CONTENT_CHARS)), Ok(()));
    assert_eq!(
        validate_content(&"a".repeat(MAX_CONTENT_CHARS + 1)),
        Err(Error::ContentTooLong { chars: MAX_CONTENT_CHARS + 1, max: MAX_CONTENT_CHARS })
    );
}

#[test]
fn identity_reads_the_token_and_never_shows_it() {
    let i: Identity = serde_json::from_value(json!({
        "sessionToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.secret",
        "visitor": {"object": "visitor", "id": "v1", "type": "identified",
                    "externalId": "e", "name": null, "avatarUrl": null}
    }))
    .unwrap();
    assert_eq!(i.session_token.expose(), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.secret");
    assert_eq!(i.visitor.kind, VisitorKind::Identified);
    assert!(!format!("{i:?}").contains("eyJ"));
}

#[test]
fn an_odd_timestamp_reads_as_none_instead_of_failing() {
    let m: Message = serde_json::from_value(json!({
        "id": "m1", "role": "user", "createdAt": "yesterday", "feedbackAt": 5, "parts": []
    }))
    .unwrap();
    assert_eq!(m.created_at, None);
    assert_eq!(m.feedback_at, None);
    let c: Conversation = serde_json::from_value(json!({
        "id": "c1", "createdAt": "2024-01-15T10:30:00.000Z", "closedAt": null
    }))
    .unwrap();
    assert_eq!(c.created_at.unwrap().to_rfc3339(), "2024-01-15T10:30:00+00:00");
}
