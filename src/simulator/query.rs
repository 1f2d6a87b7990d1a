//! Query parameters of the list endpoints, validated as the API documents them, and the
//! pure sorting and paging behind `GET /conversations` and `GET …/messages`.

use super::error::ApiError;
use super::state::{ConvStatus, Conversation, Message, MsgStatus, Role};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The `orderBy` values of `GET /conversations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderBy {
    Id,
    CreatedAt,
    UpdatedAt,
    LastInteractionAt,
    Status,
    ClosedAt,
    IsHumanHandled,
    Title,
}

impl OrderBy {
    /// Only the current spelling: the old `lastInterationAt` typo is refused, so a client
    /// still sending it fails loudly here rather than in production.
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "id" => OrderBy::Id,
            "createdAt" => OrderBy::CreatedAt,
            "updatedAt" => OrderBy::UpdatedAt,
            "lastInteractionAt" => OrderBy::LastInteractionAt,
            "status" => OrderBy::Status,
            "closedAt" => OrderBy::ClosedAt,
            "isHumanHandled" => OrderBy::IsHumanHandled,
            "title" => OrderBy::Title,
            _ => return None,
        })
    }
}

/// Validated parameters of `GET /conversations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConversationQuery {
    pub limit: usize,
    pub offset: usize,
    pub status: Option<ConvStatus>,
    pub order_by: OrderBy,
    pub descending: bool,
}

/// Validated parameters of `GET /conversations/{id}/messages`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MessageQuery {
    /// `None`: all messages.
    pub limit: Option<usize>,
    pub offset: usize,
    pub role: Option<Role>,
    pub status: Option<MsgStatus>,
}

fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Option<usize>, ApiError> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::validation(name, format!("must be an integer between {min} and {max}"))),
    }
}

fn enum_param<T>(
    q: &HashMap<String, String>,
    name: &str,
    allowed: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(raw) => parse(raw)
            .map(Some)
            .ok_or_else(|| ApiError::validation(name, format!("must be one of {allowed}"))),
    }
}

/// Parses `limit` (1–100, default 10), `offset`, `status`, `orderBy` (default
/// `lastInteractionAt`) and `orderDir` (default `desc`).
pub(crate) fn parse_conversation_query(
    q: &HashMap<String, String>,
) -> Result<ConversationQuery, ApiError> {
    let status = enum_param(q, "status", "open, closed", |s| match s {
        "open" => Some(ConvStatus::Open),
        "closed" => Some(ConvStatus::Closed),
        _ => None,
    })?;
    let order_by = enum_param(
        q,
        "orderBy",
        "id, createdAt, updatedAt, lastInteractionAt, status, closedAt, isHumanHandled, title",
        OrderBy::parse,
    )?;
    let descending = enum_param(q, "orderDir", "asc, desc", |s| match s {
        "asc" => Some(false),
        "desc" => Some(true),
        _ => None,
    })?;
    Ok(ConversationQuery {
        limit: int_param(q, "limit", 1, 100)?.unwrap_or(10),
        offset: int_param(q, "offset", 0, usize::MAX)?.unwrap_or(0),
        status,
        order_by: order_by.unwrap_or(OrderBy::LastInteractionAt),
        descending: descending.unwrap_or(true),
    })
}

/// Parses `limit` (1–1000, default all), `offset`, `role` and `status`.
pub(crate) fn parse_message_query(q: &HashMap<String, String>) -> Result<MessageQuery, ApiError> {
    Ok(MessageQuery {
        limit: int_param(q, "limit", 1, 1000)?,
        offset: int_param(q, "offset", 0, usize::MAX)?.unwrap_or(0),
        role: enum_param(q, "role", "user, assistant, human_agent", Role::parse)?,
        status: enum_param(q, "status", "complete, streaming, error", MsgStatus::parse)?,
    })
}

/// Nulls sort after values, as in PostgreSQL (so they come first in `desc`).
fn cmp_nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
    }
}

fn cmp_conversations(a: &Conversation, b: &Conversation, by: OrderBy) -> Ordering {
    let primary = match by {
        OrderBy::Id => a.id.cmp(&b.id),
        OrderBy::CreatedAt => a.created_at.cmp(&b.created_at),
        OrderBy::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        OrderBy::LastInteractionAt => a.last_interaction_at.cmp(&b.last_interaction_at),
        OrderBy::Status => a.status.cmp(&b.status),
        OrderBy::ClosedAt => cmp_nulls_last(&a.closed_at, &b.closed_at),
        OrderBy::IsHumanHandled => a.is_human_handled.cmp(&b.is_human_handled),
        OrderBy::Title => cmp_nulls_last(&a.title, &b.title),
    };
    primary.then(a.seq.cmp(&b.seq))
}

/// Filters, sorts and pages conversations; returns the total before paging and the page.
pub(crate) fn page_conversations<'a>(
    mut all: Vec<&'a Conversation>,
    q: &ConversationQuery,
) -> (usize, Vec<&'a Conversation>) {
    all.retain(|c| q.status.is_none_or(|s| c.status == s));
    all.sort_by(|a, b| {
        let o = cmp_conversations(a, b, q.order_by);
        if q.descending {
            o.reverse()
        } else {
            o
        }
    });
    let total = all.len();
    let page = all.into_iter().skip(q.offset).take(q.limit).collect();
    (total, page)
}

/// Filters and pages messages, which stay oldest first.
pub(crate) fn page_messages<'a>(all: Vec<&'a Message>, q: &MessageQuery) -> Vec<&'a Message> {
    all.into_iter()
        .filter(|m| q.role.is_none_or(|r| m.role == r))
        .filter(|m| q.status.is_none_or(|s| m.status == Some(s)))
        .skip(q.offset)
        .take(q.limit.unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::state::State;
    use chrono::{Duration, Utc};

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn conversation_query_defaults_and_limits() {
        let d = parse_conversation_query(&q(&[])).unwrap();
        assert_eq!(
            (d.limit, d.offset, d.order_by, d.descending),
            (10, 0, OrderBy::LastInteractionAt, true)
        );
        for bad in [
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "x"),
            ("offset", "-1"),
            ("orderBy", "lastInterationAt"),
            ("orderDir", "up"),
            ("status", "done"),
        ] {
            let e = parse_conversation_query(&q(&[bad])).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "VALIDATION_ERROR"), "{bad:?}");
            assert_eq!(e.details.unwrap()["field"], bad.0);
        }
        assert_eq!(parse_conversation_query(&q(&[("limit", "100")])).unwrap().limit, 100);
    }

    #[test]
    fn message_query_limit_is_optional_up_to_1000() {
        assert_eq!(parse_message_query(&q(&[])).unwrap().limit, None);
        assert_eq!(parse_message_query(&q(&[("limit", "1000")])).unwrap().limit, Some(1000));
        assert!(parse_message_query(&q(&[("limit", "1001")])).is_err());
        assert!(parse_message_query(&q(&[("role", "bot")])).is_err());
    }

    #[test]
    fn sorting_paging_and_null_order() {
        let mut s = State::default();
        let t0 = Utc::now();
        let ids: Vec<String> =
            (0..5).map(|i| s.create_conversation("v", t0 + Duration::seconds(i))).collect();
        s.conversations.get_mut(&ids[1]).unwrap().title = Some("b".into());
        s.conversations.get_mut(&ids[3]).unwrap().title = Some("a".into());
        let all: Vec<&Conversation> = s.conversations.values().collect();

        let dq = parse_conversation_query(&q(&[("limit", "2"), ("offset", "1")])).unwrap();
        let (total, page) = page_conversations(all.clone(), &dq);
        assert_eq!(total, 5);
        let got: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(got, [ids[3].as_str(), ids[2].as_str()]);

        let tq =
            parse_conversation_query(&q(&[("orderBy", "title"), ("orderDir", "asc")])).unwrap();
        let (_, page) = page_conversations(all, &tq);
        let got: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(got, [&ids[3], &ids[1], &ids[0], &ids[2], &ids[4]].map(String::as_str));
    }
}
