//! Deletion requests as a service receives them: one per line, either a bare id or a JSON
//! object `{"id": "...", "ref": "..."}` or `{"subject": "...", "ref": "..."}` carrying the
//! requester's reference.

use serde::Deserialize;

/// What an erasure request names: row ids, or a data subject (GDPR Art. 17 requests name a
/// person, who may own many rows). [`crate::unlearner::Unlearner::resolve`] turns it into
/// row ids; a subject's rows are removed in one step, with one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// These rows.
    Ids(Vec<String>),
    /// Every remaining row of this data subject.
    Subject(String),
}

/// One deletion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What to erase.
    pub erasure: Erasure,
    /// The requester's reference (a ticket number, say), echoed in the output.
    pub reference: Option<String>,
}

impl Request {
    /// The id or subject the request names, for messages (the operator's own output).
    pub fn named(&self) -> &str {
        match &self.erasure {
            Erasure::Ids(ids) => ids.first().map_or("", String::as_str),
            Erasure::Subject(subject) => subject,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    subject: Option<String>,
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
        let expected = "expected {\"id\": \"…\"} or {\"subject\": \"…\"}, with an optional \"ref\"";
        return Some(
            serde_json::from_str::<JsonRequest>(line)
                .map_err(|e| format!("{expected}: {e}"))
                .and_then(|r| {
                    let erasure = match (r.id, r.subject) {
                        (Some(id), None) if id.trim().is_empty() => {
                            return Err("the id is empty".to_string());
                        }
                        (None, Some(s)) if s.trim().is_empty() => {
                            return Err("the subject is empty".to_string());
                        }
                        (Some(id), None) => Erasure::Ids(vec![id]),
                        (None, Some(subject)) => Erasure::Subject(subject),
                        _ => return Err(format!("{expected}: give exactly one of id and subject")),
                    };
                    Ok(Request {
                        erasure,
                        reference: r.r#ref,
                    })
                }),
        );
    }
    Some(Ok(Request {
        erasure: Erasure::Ids(vec![line.to_string()]),
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
                erasure: Erasure::Ids(vec!["d0007".into()]),
                reference: None
            }))
        );
        assert_eq!(
            parse_request(r#"{"id": "d0007", "ref": "ticket-1"}"#),
            Some(Ok(Request {
                erasure: Erasure::Ids(vec!["d0007".into()]),
                reference: Some("ticket-1".into())
            }))
        );
        assert_eq!(
            parse_request(r#"{"subject": "alice", "ref": "t-2"}"#),
            Some(Ok(Request {
                erasure: Erasure::Subject("alice".into()),
                reference: Some("t-2".into())
            }))
        );
        assert!(matches!(parse_request(r#"{"subject": " "}"#), Some(Err(_))));
        assert!(matches!(
            parse_request(r#"{"id": "a", "subject": "b"}"#),
            Some(Err(e)) if e.contains("exactly one")
        ));
        assert!(matches!(parse_request("{}"), Some(Err(e)) if e.contains("exactly one")));
        assert!(matches!(parse_request(r#"{"ident": "x"}"#), Some(Err(_))));
        assert!(matches!(parse_request(r#"{"id": ""}"#), Some(Err(_))));
        assert!(matches!(parse_request("{not json"), Some(Err(_))));
    }
}
