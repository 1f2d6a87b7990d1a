//! Interactions → the core: button presses on the bot's messages (message component
//! interactions) become [`ButtonPress`]es, slash commands (see [`commands`]) become
//! questions addressed to the bot or `/new`.
//!
//! Discord shows "This interaction failed" unless the press is answered within 3
//! seconds (API docs, "Receiving and Responding", checked 2026-12), so the gateway
//! handler answers first, with a deferred update (type 6: the message stays as it
//! is; the core edits it when there is something to show), and only then queues the
//! press for the ingress loop. The interaction id is the press's delivery id: Discord
//! never sends one twice, and a replay of the same one is a duplicate to the core.

use super::commands::{self, Invocation};
use super::ingress::{posts_in_thread, Ingress, Located, Outcome};
use super::rest::Rest;
use super::{format, ids, reading};
use crate::bridge::controls::ButtonAction;
use crate::bridge::decide::{Command, Facts};
use crate::bridge::event::{ButtonPress, InboundEvent, InboundMessage, MessageContext};
use crate::bridge::{notice, Disposition, Ignored};
use serde_json::json;
use serenity::all::{CommandInteraction, ComponentInteraction, ComponentInteractionDataKind};

/// The core's view of a press, or `None` for a component the bridge did not make.
pub(crate) fn press(interaction: &ComponentInteraction) -> Option<ButtonPress> {
    if !matches!(interaction.data.kind, ComponentInteractionDataKind::Button) {
        return None;
    }
    let action = ButtonAction::from_id(&interaction.data.custom_id)?;
    Some(ButtonPress {
        event_id: interaction.id.get().to_string(),
        message: ids::message(interaction.channel_id.get(), interaction.message.id.get()),
        user: ids::user(interaction.user.id.get()),
        action,
    })
}

/// Interaction callback message flag: only the person who ran the command sees it.
const EPHEMERAL: u64 = 1 << 6;
/// Message flag: no link previews.
const SUPPRESS_EMBEDS: u64 = 1 << 2;

/// Answers a command within Discord's 3 seconds: `/ask` with the question itself (the
/// message the answer's thread starts from), `/new` and `/help` with a deferred private
/// reply. Returns what the command invokes and the message `/ask`'s answer created
/// (`None` when answering failed); `None` for a command the bridge did not register,
/// which is told so privately.
pub(crate) async fn answer(
    rest: &Rest,
    command: &CommandInteraction,
) -> Option<(Invocation, Option<u64>)> {
    let (id, token) = (command.id.get(), command.token.as_str());
    let Some(invocation) = commands::invocation(command) else {
        tracing::debug!(name = %command.data.name, "a command the bridge does not know");
        let unknown =
            json!({ "type": 4, "data": { "content": "Unknown command.", "flags": EPHEMERAL } });
        if let Err(e) = rest.respond(id, token, &unknown).await {
            tracing::info!(error = %e.error, "could not answer a command");
        }
        return None;
    };
    let response = match &invocation {
        Invocation::Ask(question) => json!({ "type": 4, "data": {
            "content": commands::shown_question(&commands::asker_name(command), question),
            "allowed_mentions": { "parse": [] },
            "flags": SUPPRESS_EMBEDS,
        } }),
        Invocation::New | Invocation::Help => json!({ "type": 5, "data": { "flags": EPHEMERAL } }),
    };
    match rest.respond(id, token, &response).await {
        Ok(shown) => Some((invocation, shown)),
        Err(e) => {
            tracing::warn!(error = %e.error, "could not answer a command");
            Some((invocation, None))
        }
    }
}

/// A line under `/ask`'s question when the core will not answer it, so the asker is
/// not left waiting; `None` where silence is right (a duplicate) or the core says so
/// itself (rate limits, a busy thread).
fn not_answered(why: Ignored) -> Option<&'static str> {
    match why {
        Ignored::ChannelNotAllowed => Some("-# I don't answer in this channel."),
        Ignored::ShuttingDown => Some("-# I am restarting; please ask again in a minute."),
        Ignored::Empty => Some("-# There was no question to ask."),
        _ => None,
    }
}

impl Ingress {
    /// Hands a command to the core (`/ask` as a question addressed to the bot, `/new`
    /// as the command) and fills in the private replies.
    pub(crate) async fn command(
        &self,
        command: &CommandInteraction,
        invocation: Invocation,
        shown: Option<u64>,
    ) -> Outcome {
        let guild = command.guild_id.map(|g| g.get());
        let channel = command.channel_id.get();
        match invocation {
            Invocation::Help => {
                let help = format!(
                    "{}\n\nSlash commands: `/ask` asks a question anywhere (in a channel the \
                     answer comes in a thread), `/new` starts over in a thread or a direct \
                     message, `/help` shows this.",
                    notice::help()
                );
                self.reply_privately(command, &format::render(&help)).await;
                Outcome::Core(Disposition::Help)
            }
            Invocation::New => {
                let located = self.locate(guild, channel).await;
                if located.new_thread {
                    let text = "Use /new in a thread with me or in a direct message: that is \
                                where a conversation lives.";
                    self.reply_privately(command, text).await;
                    return Outcome::Skipped(Ignored::NotForBot);
                }
                let mut inbound =
                    self.command_message(command, &located, channel, command.id.get(), "/new");
                inbound.facts.command = Some(Command::New);
                let handled = self.bridge.handle(InboundEvent::Message(Box::new(inbound))).await;
                let text = match &handled {
                    Ok(Disposition::NewConversation) => "Starting a new conversation here.",
                    Ok(Disposition::Ignored(Ignored::ChannelNotAllowed)) => {
                        "I don't answer in this channel."
                    }
                    Ok(_) => "There is no conversation with me here to restart.",
                    Err(_) => "Something went wrong; please try again.",
                };
                self.reply_privately(command, text).await;
                outcome(handled)
            }
            Invocation::Ask(question) => {
                let Some(shown) = shown else {
                    return Outcome::Failed("the command could not be answered".into());
                };
                let located = self.locate(guild, channel).await;
                // In a text channel the answer opens a thread on the shown question.
                let post_channel = if located.new_thread { shown } else { channel };
                let asker = commands::asker_name(command);
                let inbound =
                    self.command_message(command, &located, post_channel, shown, &question);
                let name = reading::thread_name(&question, &asker);
                let expected = located.new_thread
                    && !self.bridge.will_ignore(&inbound)
                    && self.adapter.expect_thread(post_channel, channel, name);
                let handled = self.bridge.handle(InboundEvent::Message(Box::new(inbound))).await;
                if expected && !handled.as_ref().is_ok_and(|d| posts_in_thread(*d)) {
                    self.adapter.forget_thread(post_channel);
                }
                if let Ok(Disposition::Ignored(why)) = &handled {
                    if let Some(note) = not_answered(*why) {
                        let text =
                            format!("{}\n{note}", commands::shown_question(&asker, &question));
                        self.reply_privately(command, &text).await;
                    }
                }
                outcome(handled)
            }
        }
    }

    /// The question (or command) a command stands for, as a message addressed to the
    /// bot: `message` is the message that shows it (or the interaction, for `/new`).
    fn command_message(
        &self,
        command: &CommandInteraction,
        located: &Located,
        post_channel: u64,
        message: u64,
        text: &str,
    ) -> InboundMessage {
        let guild = command.guild_id.map(|g| g.get());
        let channel = command.channel_id.get();
        let mut facts = Facts::person(located.place.clone());
        facts.mentions_bot = true;
        InboundMessage {
            event_id: command.id.get().to_string(),
            message: ids::message(channel, message),
            thread: ids::thread(guild, post_channel),
            channel: ids::channel(post_channel),
            workspace: guild.map(ids::workspace),
            author: ids::user(command.user.id.get()),
            author_name: Some(commands::asker_name(command)),
            facts,
            text: text.to_string(),
            context: MessageContext {
                url: Some(reading::message_link(guild, channel, message)),
                place_name: located.channel_name.clone(),
                workspace_name: guild.map(|_| located.guild.name.clone()).filter(|n| !n.is_empty()),
            },
            attachments: Vec::new(),
        }
    }

    /// Fills in (or replaces) the command's first reply; for `/ask` that is the shown
    /// question, which stays public.
    async fn reply_privately(&self, command: &CommandInteraction, text: &str) {
        if let Err(e) = self.rest.edit_reply(self.bot, &command.token, text).await {
            tracing::info!(error = %e.error, "could not fill in a command's reply");
        }
    }
}

fn outcome(handled: Result<Disposition, crate::bridge::BridgeError>) -> Outcome {
    match handled {
        Ok(disposition) => Outcome::Core(disposition),
        Err(e) => {
            tracing::error!(error = %e, "could not handle a Discord command");
            Outcome::Failed(e.to_string())
        }
    }
}
