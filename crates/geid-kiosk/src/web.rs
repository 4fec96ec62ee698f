//! The kiosk's local web UI (for a full-screen kiosk browser on the same machine) and the
//! operator page.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the kiosk screen (`static/kiosk.html`, `kiosk.js`, `kiosk.css`) |
//! | `GET /api/state?after=N` | the [`View`](crate::session::View) as JSON, answered when its version exceeds `N` (long-poll, at most 25 s) |
//! | `POST /api/pin` `{"pin"}` | PIN typed on the on-screen keypad |
//! | `POST /api/pinpad` | PIN to be typed on the reader's PIN pad |
//! | `POST /api/retry`, `POST /api/finish`, `POST /api/touch` | try again; end the session; a touch (idle timer) |
//! | `GET /print` | the credentials slip for printing (only while credentials are shown) |
//! | `GET /slip.pdf` | the same slip as a PDF (English, name transliterated; see [`crate::pdf`]) |
//! | `GET /operator`, `GET /api/operator` | status for staff: readers, card, portal reachability, last error |
//!
//! Requests must name a loopback host (`Host: 127.0.0.1:…`, `localhost:…`, `[::1]:…`), so a
//! web page elsewhere cannot reach the kiosk through DNS rebinding; POSTs must come with a
//! JSON content type (a cross-site form cannot send one without a CORS preflight, which is
//! refused).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use geid_card::PinEntry;
use geid_protocol::Pin;

use crate::session::{Kiosk, Screen};

/// The router for `kiosk`.
pub fn router(kiosk: Kiosk) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/static/kiosk.js", get(js))
        .route("/static/kiosk.css", get(css))
        .route("/static/print.js", get(print_js))
        .route("/api/state", get(state))
        .route("/api/pin", post(pin))
        .route("/api/pinpad", post(pinpad))
        .route("/api/retry", post(retry))
        .route("/api/finish", post(finish))
        .route("/api/touch", post(touch))
        .route("/print", get(print))
        .route("/slip.pdf", get(slip_pdf))
        .route("/operator", get(operator_page))
        .route("/api/operator", get(operator_json))
        .with_state(kiosk)
        .layer(axum::middleware::from_fn(guard))
}

fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().map(|h| format!("[{h}]"))
    } else {
        host.split(':').next().map(str::to_owned)
    };
    matches!(
        name.as_deref(),
        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
    )
}

async fn guard(req: Request, next: Next) -> Response {
    let host_ok = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(loopback_host);
    if !host_ok {
        return (StatusCode::MISDIRECTED_REQUEST, "loopback only\n").into_response();
    }
    if req.method() == axum::http::Method::POST {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|c| c.starts_with("application/json"));
        if !json {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON only\n").into_response();
        }
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

async fn page() -> Html<&'static str> {
    Html(include_str!("../static/kiosk.html"))
}

async fn js() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/kiosk.js"),
    )
        .into_response()
}

async fn print_js() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/print.js"),
    )
        .into_response()
}

async fn css() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/kiosk.css"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
}

async fn state(State(k): State<Kiosk>, Query(q): Query<After>) -> Response {
    let mut rx = k.subscribe();
    let wait = async {
        loop {
            if rx.borrow_and_update().version > q.after {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(25), wait).await;
    Json(k.view()).into_response()
}

fn refused(code: &str) -> Response {
    (
        StatusCode::CONFLICT,
        Json(serde_json::json!({"error": code})),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct PinBody {
    pin: String,
}

async fn pin(State(k): State<Kiosk>, body: Bytes) -> Response {
    let Ok(mut b) = serde_json::from_slice::<PinBody>(&body) else {
        return refused("BAD_REQUEST");
    };
    let parsed = Pin::new(&b.pin);
    zeroize_string(&mut b.pin);
    let Ok(p) = parsed else {
        return refused("PIN_FORMAT");
    };
    match k.submit_pin(PinEntry::Pin(p)) {
        Ok(()) => Json(k.view()).into_response(),
        Err(_) => refused("WRONG_SCREEN"),
    }
}

/// Overwrites the PIN's string copy (the `Pin` keeps its own zeroising buffer).
fn zeroize_string(s: &mut String) {
    let zeros = "0".repeat(s.len());
    s.replace_range(.., &zeros);
    s.clear();
}

async fn pinpad(State(k): State<Kiosk>) -> Response {
    match k.submit_pin(PinEntry::PinPad) {
        Ok(()) => Json(k.view()).into_response(),
        Err(_) => refused("WRONG_SCREEN"),
    }
}

async fn retry(State(k): State<Kiosk>) -> Response {
    match k.retry() {
        Ok(()) => Json(k.view()).into_response(),
        Err(_) => refused("WRONG_SCREEN"),
    }
}

async fn finish(State(k): State<Kiosk>) -> Response {
    k.finish("FINISHED");
    Json(k.view()).into_response()
}

async fn touch(State(k): State<Kiosk>) -> Response {
    k.touch();
    StatusCode::NO_CONTENT.into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn print(State(k): State<Kiosk>) -> Response {
    let Screen::Issued {
        holder,
        username,
        password,
        portal,
        ..
    } = k.view().screen
    else {
        return (StatusCode::NOT_FOUND, Html("<p>nothing to print</p>")).into_response();
    };
    let html = include_str!("../static/print.html")
        .replace("{holder}", &esc(&holder))
        .replace("{username}", &esc(&username))
        .replace("{password}", &esc(&password))
        .replace("{portal}", &esc(&portal))
        .replace("{date}", &esc(&today()));
    Html(html).into_response()
}

async fn slip_pdf(State(k): State<Kiosk>) -> Response {
    let Screen::Issued {
        holder,
        username,
        password,
        portal,
        ..
    } = k.view().screen
    else {
        return (StatusCode::NOT_FOUND, "nothing to print\n").into_response();
    };
    let date = today();
    let pdf = crate::pdf::slip(
        &[
            ("Name", &holder),
            ("Portal", &portal),
            ("Username", &username),
            ("One-time password", &password),
            ("Issued", &date),
        ],
        "Change the password at your first login. Do not share this slip.",
    );
    ([(CONTENT_TYPE, "application/pdf")], pdf).into_response()
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    )
}

async fn operator_json(State(k): State<Kiosk>) -> Response {
    Json(operator(&k).await).into_response()
}

async fn operator(k: &Kiosk) -> serde_json::Value {
    let portal = k.config().portal.clone();
    let reach = tokio::task::spawn_blocking(move || portal.reachable())
        .await
        .unwrap_or_else(|e| Err(crate::portal::PortalError::Unreachable(e.to_string())));
    let status = k.status();
    let view = k.view();
    serde_json::json!({
        "kioskId": k.config().portal.kiosk_id(),
        "portal": k.config().portal.base(),
        "origin": k.config().origin.as_str(),
        "portalReachable": reach.is_ok(),
        "portalError": reach.err().map(|e| e.to_string()),
        "pcscError": status.pcsc_error,
        "readers": status.readers.iter().map(|r| serde_json::json!({
            "name": r.name, "cardPresent": r.atr.is_some(), "supported": r.supported,
        })).collect::<Vec<_>>(),
        "screen": view.screen.name(),
        "lastError": status.last_error,
        "issued": status.issued,
        "failed": status.failed,
    })
}

async fn operator_page(State(k): State<Kiosk>) -> Response {
    let s = operator(&k).await;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => esc(s),
        serde_json::Value::Null => "—".into(),
        other => esc(&other.to_string()),
    };
    let readers: String = s["readers"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        text(&r["name"]),
                        if r["cardPresent"] == true {
                            "yes"
                        } else {
                            "no"
                        },
                        if r["supported"] == true { "yes" } else { "no" },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let last = &s["lastError"];
    let html = include_str!("../static/operator.html")
        .replace("{kiosk}", &text(&s["kioskId"]))
        .replace("{portal}", &text(&s["portal"]))
        .replace("{origin}", &text(&s["origin"]))
        .replace(
            "{reachable}",
            if s["portalReachable"] == true {
                "reachable"
            } else {
                "UNREACHABLE"
            },
        )
        .replace(
            "{reachable_class}",
            if s["portalReachable"] == true {
                "ok"
            } else {
                "bad"
            },
        )
        .replace("{portal_error}", &text(&s["portalError"]))
        .replace("{pcsc}", &text(&s["pcscError"]))
        .replace("{readers}", &readers)
        .replace("{screen}", &text(&s["screen"]))
        .replace("{issued}", &text(&s["issued"]))
        .replace("{failed}", &text(&s["failed"]))
        .replace("{last_code}", &text(&last["code"]))
        .replace("{last_detail}", &text(&last["detail"]))
        .replace("{last_at}", &text(&last["at"]));
    Html(html).into_response()
}

#[cfg(test)]
mod tests {
    /// `kiosk.js` hides "Try again" (a blocked PIN, a revoked card) and the PIN-pad button (a
    /// reader without a PIN pad) with the `hidden` attribute; the buttons' `display:
    /// inline-flex` used to override it, so both were always on screen.
    #[test]
    fn hidden_elements_stay_hidden() {
        let css = include_str!("../static/kiosk.css");
        let rule = "[hidden] { display: none !important; }";
        assert!(css.contains(rule), "kiosk.css must keep {rule}");
        let js = include_str!("../static/kiosk.js");
        for id in ["retry", "use-pinpad"] {
            assert!(js.contains(&format!("$(\"{id}\").hidden")), "{id}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:8700",
            "localhost:8700",
            "[::1]:8700",
            "localhost",
        ] {
            assert!(super::loopback_host(h), "{h}");
        }
        for h in [
            "kiosk.example:8700",
            "127.0.0.1.evil.example",
            "10.0.0.5:8700",
            "",
        ] {
            assert!(!super::loopback_host(h), "{h}");
        }
    }
}
