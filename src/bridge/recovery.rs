//! Restart recovery: replies a previous run left unfinished (a crash, a kill, a grace
//! period that ran out) are closed visibly at the next start.

use super::ids::{ChannelKey, UserKey};
use super::notice;
use super::pacing::BudgetKeys;
use super::reply::Reply;
use super::{BridgeError, Inner};
use crate::siteassist::client::message_text;
use crate::siteassist::model::MessageStatus;
use crate::store::ReplyLink;

/// A run killed between posting a message and saving its id left a message no record
/// names: a placeholder (a question's reply), or a whole message (a person's message
/// relayed into the thread, whose record holds its final text). Where the adapter can
/// find it, the reply takes it over instead of posting a second message beside it.
async fn adopt_unrecorded(inner: &Inner, reply: &mut Reply<'_>) {
    if !reply.record.messages.is_empty() {
        return;
    }
    // The final text first: a record that has one and no message was about to post it.
    let mut texts = Vec::new();
    if let Some(markdown) = &reply.record.final_markdown {
        let rendered = inner.adapter.render(markdown);
        let limit = inner.adapter.capabilities().message_limit();
        texts.extend(super::split::split_message_within(&rendered, &|_| limit).into_iter().next());
    }
    texts.push(inner.cfg.placeholder.clone());
    let (thread, question) = (&reply.record.thread, &reply.record.question);
    let adapter = &inner.adapter;
    for text in &texts {
        // Retried like any platform call: a restart looks in every unfinished thread at
        // once, and a 429 on the look must not become a second message beside the
        // first (the full campaign's Discord kill phase caught exactly that).
        let look = || adapter.find_unrecorded(thread, question, text);
        match super::reply::retry(adapter.name(), look).await {
            Ok(Some(message)) => {
                tracing::info!(%message, "adopting a message a previous run did not record");
                reply.record.messages.push(message);
                reply.save().await;
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not look for an unrecorded message"),
        }
    }
}

/// Closes every reply of this adapter that a previous run left unfinished: shows the
/// final answer if SiteAssist has it, else a note to ask again.
pub(super) async fn recover_unfinished(inner: &Inner) -> Result<usize, BridgeError> {
    let mut closed = 0;
    for record in inner.store.in_flight().await? {
        if record.platform != inner.adapter.name() {
            continue;
        }
        let channel =
            record.channel.clone().unwrap_or_else(|| ChannelKey::new(record.thread.as_str()));
        let keys = BudgetKeys::new(&channel, record.workspace.as_ref());
        let (conversation, owner) = (record.conversation.clone(), record.owner.clone());
        let asker = record.asker.clone();
        let started_at = record.started_at;
        let final_markdown = record.final_markdown.clone();
        let final_footer = record.final_footer.clone();
        inner.adapter.resume_thread(&record.thread, &record.question).await;
        let mut reply = Reply::new(inner, keys, record);
        adopt_unrecorded(inner, &mut reply).await;
        let mut link = None;
        if let Some(markdown) = final_markdown {
            // The run got as far as its last show (the reply's links, if any, were
            // recorded before it): show it again, which changes nothing the user already
            // sees, and finish.
            reply.show_markdown_with(&markdown, final_footer.as_deref()).await;
        } else if let (Some(conversation), Some(owner)) = (conversation, owner) {
            match inner.client.last_assistant_message(&owner, &conversation).await {
                Ok(Some(m))
                    if m.created_at.is_some_and(|t| t.timestamp() + 5 >= started_at as i64) =>
                {
                    // The whole answer if SiteAssist finished it; otherwise whatever it has
                    // (the user may already have read part of it) with the note.
                    let text = message_text(&m);
                    // The stored text still holds its reference definitions: shown as
                    // a live answer would be (the streamed sources are not stored).
                    let (body, cited) = super::sources::cite(&text, &[]);
                    let footer = super::answer::sources_line(inner, cited);
                    let shown = match m.status {
                        Some(MessageStatus::Complete) => body,
                        _ if text.trim().is_empty() => notice::interrupted(),
                        _ => format!("{}\n\n{}", body.trim_end(), notice::interrupted()),
                    };
                    reply.show_markdown_with(&shown, footer.as_deref()).await;
                    if !text.trim().is_empty() {
                        link = Some(ReplyLink {
                            thread: reply.thread.clone(),
                            conversation,
                            assistant_message: Some(m.id.clone()),
                            asker: asker.unwrap_or_else(|| UserKey::new("")),
                            owner,
                        });
                    }
                }
                _ => reply.show_markdown(&notice::interrupted()).await,
            }
        } else {
            reply.show_markdown(&notice::interrupted()).await;
        }
        reply.finish(link).await;
        closed += 1;
    }
    if closed > 0 {
        tracing::info!(closed, "closed replies left unfinished by an earlier run");
    }
    Ok(closed)
}
