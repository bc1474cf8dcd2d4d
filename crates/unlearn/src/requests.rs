//! Deletion requests as a service receives them: one per line, either a bare id or a JSON
//! object `{"id": "...", "ref": "..."}` carrying the requester's reference.

use serde::Deserialize;

/// What a deletion request erases: rows named by id, or every row of a data subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// These row ids, removed as one batch.
    Ids(Vec<String>),
    /// Every row of this data subject (stores trained with a subject column).
    Subject(String),
}

/// One deletion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The row id to remove.
    pub id: String,
    /// The requester's reference (a ticket number, say), echoed in the output.
    pub reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    id: String,
    #[serde(default, alias = "reference", alias = "request")]
    r#ref: Option<String>,
}

/// Parses one line: `None` for a blank line or a `#` comment, else the request or a message
/// saying what was expected.
pub fn parse_request(line: &str) -> Option<Result<Request, String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if line.starts_with('{') {
        return Some(
            serde_json::from_str::<JsonRequest>(line)
                .map_err(|e| format!("expected {{\"id\": \"…\", \"ref\": \"…\"}}: {e}"))
                .and_then(|r| {
                    if r.id.trim().is_empty() {
                        Err("the id is empty".to_string())
                    } else {
                        Ok(Request {
                            id: r.id,
                            reference: r.r#ref,
                        })
                    }
                }),
        );
    }
    Some(Ok(Request {
        id: line.to_string(),
        reference: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ids_json_lines_comments_and_errors() {
        assert_eq!(parse_request("  # a comment"), None);
        assert_eq!(parse_request("   "), None);
        assert_eq!(
            parse_request(" d0007 "),
            Some(Ok(Request {
                id: "d0007".into(),
                reference: None
            }))
        );
        assert_eq!(
            parse_request(r#"{"id": "d0007", "ref": "ticket-1"}"#),
            Some(Ok(Request {
                id: "d0007".into(),
                reference: Some("ticket-1".into())
            }))
        );
        assert!(matches!(parse_request(r#"{"ident": "x"}"#), Some(Err(_))));
        assert!(matches!(parse_request(r#"{"id": ""}"#), Some(Err(_))));
        assert!(matches!(parse_request("{not json"), Some(Err(_))));
    }
}
