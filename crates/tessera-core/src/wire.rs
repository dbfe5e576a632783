//! The error body every Tessera HTTP API answers with (the portal's, the hub's runner API),
//! and every Tessera client reads: `{"error": {"code": "…", "message": "…"}}`. `code` is a
//! stable word (docs/PROTOCOL.md, docs/HUB.md); `message` is for people.

use serde::{Deserialize, Serialize};

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's stable code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable word for programs.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl ErrorBody {
    /// An error body with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorDetail { code: code.into(), message: message.into() } }
    }
}

/// An error and its causes on one line ("error sending request: … : Connection refused"),
/// for client messages where the top-level text alone says too little.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_has_the_documented_shape() {
        let body = ErrorBody::new("stale_call", "a replay?");
        let json = serde_json::to_string(&body).expect("json");
        assert_eq!(json, r#"{"error":{"code":"stale_call","message":"a replay?"}}"#);
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).expect("back"), body);
    }
}
