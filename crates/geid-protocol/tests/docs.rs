//! `docs/protocol.md` stays true to the code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use geid_protocol::ErrorCode;

const DOC: &str = include_str!("../../../docs/protocol.md");

#[test]
fn every_error_code_is_documented_in_the_table() {
    for code in ErrorCode::ALL {
        let row = format!("| `{}` |", code.as_str());
        assert!(
            DOC.contains(&row),
            "docs/protocol.md has no table row for {code}"
        );
    }
}

#[test]
fn every_command_and_event_is_documented() {
    for name in [
        "status",
        "authenticate",
        "get-signing-certificate",
        "sign",
        "pin",
        "cancel",
        "quit",
    ] {
        assert!(
            DOC.contains(&format!("### `{name}`")),
            "no section for {name}"
        );
    }
    for event in ["card-required", "pin-required", "progress"] {
        assert!(DOC.contains(&format!("`{event}`")), "no mention of {event}");
    }
}
