//! The visitor endpoints of [`Client`] (§2–§5 of the API notes). Each method takes the
//! visitor it acts as: SiteAssist lets only a conversation's owner read or write it.

use super::client::{read_json, with_query, Call, Client};
use super::error::{describe_transport, Error};
use super::ids::{ConversationId, Feedback, MessageId, SaVid};
use super::model::{
    validate_content, Conversation, ConversationList, ConversationStatus, ConversationSummary,
    FeedbackBody, ListConversations, ListMessages, Message, MessageList, NewMessage, OrderBy,
    OrderDir, Project, Role, SendBody, StepsResponse, Visitor,
};
use super::stream::{AnswerStream, IdLookup};
use futures_util::TryStreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// The page size [`Client::list_all_conversations`] asks for (the API's maximum).
const PAGE_SIZE: u32 = 100;
/// Pages [`Client::list_all_conversations`] reads at most, should `total` never shrink.
const MAX_PAGES: usize = 1_000;

/// What a non-stream `send_message` produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// The AI's answer.
    Answer {
        /// The last step's text, blocks joined with `"\n\n"`.
        text: String,
    },
    /// The message was stored but the AI will not answer: a human handles the
    /// conversation (the API's `text/plain` "Message sent").
    StoredNoReply,
}

/// What a `send_message_stream` started.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per answer and unpacked at once; a Box would only add noise"
)]
pub enum StreamStart {
    /// The answer is streaming; read it to the end.
    Streaming(AnswerStream),
    /// The message was stored but the AI will not answer (human-handled conversation).
    StoredNoReply,
}

/// The body of a 2xx answer to a send, before it is interpreted.
enum SendBodyKind {
    EventStream,
    NoReply,
    Json,
}

fn classify(response: &Response) -> SendBodyKind {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("text/event-stream") {
        SendBodyKind::EventStream
    } else if content_type.starts_with("text/plain") {
        SendBodyKind::NoReply
    } else {
        SendBodyKind::Json
    }
}

/// Reads a JSON send answer: the `steps` object, or the JSON string "Message sent".
async fn read_steps(response: Response) -> Result<Option<StepsResponse>, Error> {
    match read_json::<Value>(response, "send message").await? {
        Value::String(_) => Ok(None),
        value => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::Decode(format!("send message: {e}"))),
    }
}

impl Client {
    fn call(&self, method: Method, segments: &[&str], vid: Option<&SaVid>) -> Call {
        Call { method, url: self.url(segments), body: None, auth: vid.cloned(), stream: false }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
        what: &str,
    ) -> Result<T, Error> {
        read_json(self.execute(&call).await?, what).await
    }

    /// `GET /identity/me`: the visitor `vid` is.
    pub async fn me(&self, vid: &SaVid) -> Result<Visitor, Error> {
        self.get(self.call(Method::GET, &["identity", "me"], Some(vid)), "identity/me").await
    }

    /// `GET /projects/current`: the key's project (key in the query, no session).
    pub async fn current_project(&self) -> Result<Project, Error> {
        let mut call = self.call(Method::GET, &["projects", "current"], None);
        let key = self.inner.cfg.publishable_key.expose();
        call.url.query_pairs_mut().append_pair("apiKey", key);
        self.get(call, "projects/current").await
    }

    /// `POST /conversations`, with the page it starts from when known.
    pub async fn create_conversation(
        &self,
        vid: &SaVid,
        page_url: Option<&str>,
    ) -> Result<Conversation, Error> {
        let mut call = self.call(Method::POST, &["conversations"], Some(vid));
        call.body = page_url.map(|url| json!({ "context": { "pageUrl": url } }));
        self.get(call, "create conversation").await
    }

    /// `GET /conversations`: one page.
    pub async fn list_conversations(
        &self,
        vid: &SaVid,
        query: &ListConversations,
    ) -> Result<ConversationList, Error> {
        let mut call = self.call(Method::GET, &["conversations"], Some(vid));
        call.url = with_query(call.url, query);
        self.get(call, "list conversations").await
    }

    /// Every conversation of `vid`, newest activity first, following pages while
    /// `total > offset + limit` as the widget does.
    pub async fn list_all_conversations(
        &self,
        vid: &SaVid,
        status: Option<ConversationStatus>,
    ) -> Result<Vec<ConversationSummary>, Error> {
        let mut all = Vec::new();
        let mut query = ListConversations {
            limit: Some(PAGE_SIZE),
            offset: Some(0),
            status,
            order_by: Some(OrderBy::LastInteractionAt),
            order_dir: Some(OrderDir::Desc),
        };
        for _ in 0..MAX_PAGES {
            let page = self.list_conversations(vid, &query).await?;
            let empty = page.data.is_empty();
            all.extend(page.data);
            // The server may clamp the limit: step by what it used.
            let next = page.offset.saturating_add(page.limit);
            if empty || page.limit == 0 || page.total <= next {
                break;
            }
            query.offset = Some(u32::try_from(next).unwrap_or(u32::MAX));
        }
        Ok(all)
    }

    /// `GET /conversations/{id}`, with its messages.
    pub async fn get_conversation(
        &self,
        vid: &SaVid,
        id: &ConversationId,
    ) -> Result<Conversation, Error> {
        let call = self.call(Method::GET, &["conversations", id.as_str()], Some(vid));
        self.get(call, "get conversation").await
    }

    /// `POST /conversations/{id}/close`, with an optional reason (max 256 chars).
    pub async fn close_conversation(
        &self,
        vid: &SaVid,
        id: &ConversationId,
        reason: Option<&str>,
    ) -> Result<(), Error> {
        let mut call = self.call(Method::POST, &["conversations", id.as_str(), "close"], Some(vid));
        call.body = Some(match reason {
            Some(reason) => json!({ "closeReason": reason }),
            None => json!({}),
        });
        self.execute(&call).await.map(drop)
    }

    /// `GET /conversations/{id}/messages`, oldest first.
    pub async fn list_messages(
        &self,
        vid: &SaVid,
        id: &ConversationId,
        query: &ListMessages,
    ) -> Result<Vec<Message>, Error> {
        let mut call =
            self.call(Method::GET, &["conversations", id.as_str(), "messages"], Some(vid));
        call.url = with_query(call.url, query);
        let list: MessageList = self.get(call, "list messages").await?;
        Ok(list.data)
    }

    /// The conversation's newest assistant message (`?role=assistant`, last one).
    pub async fn last_assistant_message(
        &self,
        vid: &SaVid,
        id: &ConversationId,
    ) -> Result<Option<Message>, Error> {
        let query = ListMessages { role: Some(Role::Assistant), ..ListMessages::default() };
        Ok(self.list_messages(vid, id, &query).await?.pop())
    }

    fn send_call(
        &self,
        vid: &SaVid,
        id: &ConversationId,
        message: &NewMessage,
        stream: bool,
    ) -> Result<Call, Error> {
        validate_content(&message.content)?;
        let body = SendBody {
            content: &message.content,
            stream,
            page_context: message.page_context.as_ref(),
        };
        let mut call =
            self.call(Method::POST, &["conversations", id.as_str(), "messages"], Some(vid));
        call.body = Some(serde_json::to_value(body).map_err(|e| Error::Decode(e.to_string()))?);
        call.stream = stream;
        Ok(call)
    }

    /// `POST /conversations/{id}/messages` without streaming: waits for the whole answer.
    /// The content is checked first ([`Error::EmptyContent`], [`Error::ContentTooLong`]).
    pub async fn send_message(
        &self,
        vid: &SaVid,
        id: &ConversationId,
        message: &NewMessage,
    ) -> Result<SendOutcome, Error> {
        let call = self.send_call(vid, id, message, false)?;
        let response = self.execute(&call).await?;
        match classify(&response) {
            SendBodyKind::NoReply => Ok(SendOutcome::StoredNoReply),
            SendBodyKind::EventStream => {
                Err(Error::Decode("send message: an event stream to a non-stream request".into()))
            }
            SendBodyKind::Json => Ok(match read_steps(response).await? {
                Some(steps) => SendOutcome::Answer { text: steps.text() },
                None => SendOutcome::StoredNoReply,
            }),
        }
    }

    /// `POST /conversations/{id}/messages` with `"stream": true`. The content is checked
    /// first. 429/503 are retried before the stream starts; once it has started nothing
    /// is re-sent. When the stream's `start` has no message id, the id is looked up
    /// after the end (the conversation's last message, if it is the assistant's).
    pub async fn send_message_stream(
        &self,
        vid: &SaVid,
        id: &ConversationId,
        message: &NewMessage,
    ) -> Result<StreamStart, Error> {
        let call = self.send_call(vid, id, message, true)?;
        let response = self.execute(&call).await?;
        match classify(&response) {
            SendBodyKind::NoReply => Ok(StreamStart::StoredNoReply),
            SendBodyKind::EventStream => {
                let body = response.bytes_stream().map_err(describe_transport);
                let stream = AnswerStream::from_byte_stream(body, self.inner.cfg.idle_timeout);
                Ok(StreamStart::Streaming(stream.with_id_lookup(self.answer_id_lookup(vid, id))))
            }
            // A server that ignored `stream`: the whole answer is already here.
            SendBodyKind::Json => Ok(match read_steps(response).await? {
                Some(steps) => {
                    let reason = steps.steps.last().and_then(|s| s.finish_reason);
                    let stream = AnswerStream::completed(&steps.text(), reason);
                    StreamStart::Streaming(stream.with_id_lookup(self.answer_id_lookup(vid, id)))
                }
                None => StreamStart::StoredNoReply,
            }),
        }
    }

    /// Finds the id of the answer just streamed. Only the conversation's very last
    /// message counts, and only if the assistant wrote it: after a cut stream the
    /// answer may not be stored yet, and the previous answer must not get its feedback.
    fn answer_id_lookup(&self, vid: &SaVid, id: &ConversationId) -> IdLookup {
        let (client, vid, id) = (self.clone(), vid.clone(), id.clone());
        Box::pin(async move {
            let limit = client.inner.cfg.request_timeout;
            let listed = tokio::time::timeout(
                limit,
                client.list_messages(&vid, &id, &ListMessages::default()),
            )
            .await;
            match listed {
                Ok(Ok(messages)) => {
                    messages.last().filter(|m| m.role == Role::Assistant).map(|m| m.id.clone())
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "could not look up the answer's message id");
                    None
                }
                Err(_) => None,
            }
        })
    }

    /// `POST /messages/{id}/feedback`: sets (`Some`) or clears (`None`) the feedback;
    /// returns the value the server stored.
    pub async fn send_feedback(
        &self,
        vid: &SaVid,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<Option<Feedback>, Error> {
        let mut call =
            self.call(Method::POST, &["messages", message.as_str(), "feedback"], Some(vid));
        call.body = Some(json!({ "feedback": feedback }));
        let body: FeedbackBody = self.get(call, "feedback").await?;
        Ok(body.feedback)
    }
}
