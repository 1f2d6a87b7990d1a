//! Button presses on the bot's messages (message component interactions) → the core's
//! [`ButtonPress`].
//!
//! Discord shows "This interaction failed" unless the press is answered within 3
//! seconds (API docs, "Receiving and Responding", checked 2026-12), so the gateway
//! handler answers first, with a deferred update (type 6: the message stays as it
//! is; the core edits it when there is something to show), and only then queues the
//! press for the ingress loop. The interaction id is the press's delivery id: Discord
//! never sends one twice, and a replay of the same one is a duplicate to the core.

use super::ids;
use crate::bridge::controls::ButtonAction;
use crate::bridge::event::ButtonPress;
use serenity::all::{ComponentInteraction, ComponentInteractionDataKind};

/// Interaction response type: acknowledge a component press without changing the
/// message (`DEFERRED_UPDATE_MESSAGE`).
pub(crate) const DEFERRED_UPDATE: u8 = 6;

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
