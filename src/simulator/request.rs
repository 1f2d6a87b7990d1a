//! What every simulator route reads from a request the same way: the visitor behind a
//! session token, and a path id. Shared by the routes and the message-send handler.

use super::error::ApiError;
use super::state::Visitor;
use super::Simulator;
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::{header, HeaderMap};

/// A path id as axum extracts it, rejection included (so a bad one is our 400).
pub(crate) type PathArg = Result<Path<String>, PathRejection>;

/// The visitor whose `Authorization: Bearer <sessionToken>` this is, or 401.
pub(crate) fn authenticate(sim: &Simulator, headers: &HeaderMap) -> Result<Visitor, ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    sim.read(|s| s.visitor_for_token(token)).ok_or_else(ApiError::unauthorized)
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The path id, or 400 when it could not be decoded.
pub(crate) fn path_id(p: PathArg) -> Result<String, ApiError> {
    p.map(|Path(id)| id).map_err(|_| ApiError::invalid_body("Invalid path parameter", None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer tok".parse().unwrap());
        assert_eq!(bearer(&h), Some("tok"));
        h.insert(header::AUTHORIZATION, "Basic tok".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
