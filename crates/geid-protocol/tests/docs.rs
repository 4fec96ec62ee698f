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

#[test]
fn the_kiosk_request_format_is_documented_as_the_code_builds_it() {
    use geid_protocol::kiosk::*;
    for header in [
        HEADER_KIOSK,
        HEADER_TIMESTAMP,
        HEADER_REQUEST_ID,
        HEADER_SIGNATURE,
    ] {
        assert!(
            DOC.contains(&format!("| `{header}` |")),
            "no row for {header}"
        );
    }
    assert!(DOC.contains(&format!("```\n{SCHEME}\nPOST")));
    assert!(DOC.contains(&format!("within ±{MAX_SKEW_SECS} s")));
    // The documented line order is the order the code signs in.
    let s = String::from_utf8(string_to_sign("post", "/p", 7, &"r".repeat(16), "k", b"")).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines[..6],
        [SCHEME, "POST", "/p", "7", &"r".repeat(16), "k"]
    );
}
