//! Cursor pagination for every list: `?limit=` (1 to 100, default 20)
//! and `?cursor=` from the previous page's `next_cursor`.
//!
//! A cursor is opaque to clients: the position after which the next page
//! starts, bound to the list it came from (the caller and the list). A
//! cursor from another list or another caller is refused; the lists are
//! always read by the caller's own claims, so a cursor can only ever
//! position within the caller's own items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The query of a list.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Position {
    /// The list and caller the cursor belongs to.
    s: String,
    /// The key of the last item returned.
    k: String,
}

fn limit(q: &PageQuery) -> Result<usize, ApiError> {
    match &q.limit {
        None => Ok(DEFAULT_LIMIT as usize),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::bad_request(
                "invalid_query",
                Some("query.limit".into()),
                format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(
        "invalid_cursor",
        Some("query.cursor".into()),
        "the cursor is not one this list gave you",
    )
}

/// The page a query asks for: how many items, and the key of the last
/// item already seen (from the cursor).
///
/// # Errors
///
/// `400` for a bad limit or a cursor not made for this scope.
pub fn wanted(scope: &str, q: &PageQuery) -> Result<(usize, Option<String>), ApiError> {
    let limit = limit(q)?;
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad_cursor())?;
            let p: Position = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
            if p.s != scope {
                return Err(bad_cursor());
            }
            Some(p.k)
        }
    };
    Ok((limit, after))
}

/// [`wanted`], for a list the store pages: the cursor's key must be one
/// the store makes (printable ASCII, at most 200 bytes), else `400`, so a
/// forged cursor never reaches the store's key conditions.
///
/// # Errors
///
/// `400` for a bad limit, a cursor not made for this scope or a key the
/// store never made.
pub fn wanted_from_store(scope: &str, q: &PageQuery) -> Result<(usize, Option<String>), ApiError> {
    let (limit, after) = wanted(scope, q)?;
    if after
        .as_ref()
        .is_some_and(|k| k.len() > 200 || !k.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(bad_cursor());
    }
    Ok((limit, after))
}

/// The cursor of a page that ends at `key`.
///
/// # Errors
///
/// `500` if it cannot be written.
pub fn cursor(scope: &str, key: String) -> Result<String, ApiError> {
    let p = Position {
        s: scope.to_owned(),
        k: key,
    };
    let json = serde_json::to_vec(&p).map_err(|_| ApiError::Internal)?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// Cuts one page from `items`, which are in order of `key` (ascending,
/// unique). `scope` names the list and the caller. For a short list read
/// whole; a list that grows is paged by the store ([`wanted`], [`cursor`]).
///
/// # Errors
///
/// `400` for a bad limit or a cursor not made for this scope.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    scope: &str,
    q: &PageQuery,
) -> Result<Page<T>, ApiError> {
    let (limit, after) = wanted(scope, q)?;
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_ref().is_none_or(|a| key(i) > *a))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = match (more, rest.last()) {
        (true, Some(last)) => Some(cursor(scope, key(last))?),
        _ => None,
    };
    Ok(Page {
        items: rest,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_cursors_stay_in_their_list() {
        let q = PageQuery {
            cursor: None,
            limit: Some("2".into()),
        };
        let p = paginate(vec![1, 2, 3], |i| format!("{i:03}"), "a", &q).expect("page");
        assert_eq!(p.items, vec![1, 2]);
        let next = PageQuery {
            cursor: p.next_cursor.clone(),
            limit: Some("2".into()),
        };
        let p2 = paginate(vec![1, 2, 3], |i| format!("{i:03}"), "a", &next).expect("page");
        assert_eq!(p2.items, vec![3]);
        assert!(p2.next_cursor.is_none());
        let other = paginate(vec![1, 2, 3], |i| format!("{i:03}"), "b", &next);
        assert!(matches!(
            other,
            Err(ApiError::BadRequest {
                code: "invalid_cursor",
                ..
            })
        ));
        let bad = PageQuery {
            cursor: None,
            limit: Some("0".into()),
        };
        assert!(paginate(vec![1], |i| i.to_string(), "a", &bad).is_err());
        let forged = PageQuery {
            cursor: Some(cursor("a", "\u{10ffff}x".into()).expect("cursor")),
            limit: None,
        };
        assert!(
            wanted_from_store("a", &forged).is_err(),
            "a key the store never made"
        );
        let fine = PageQuery {
            cursor: Some(cursor("a", "000000000012#s-1".into()).expect("cursor")),
            limit: None,
        };
        assert_eq!(
            wanted_from_store("a", &fine).expect("page").1.as_deref(),
            Some("000000000012#s-1")
        );
    }
}
