//! The House-of-Justice kiosk: a citizen inserts the ID card, proves possession with PIN1,
//! and receives a username and a one-time password for the portal.
//!
//! - [`session`]: the kiosk's state machine — card events from pcscd (no polling), the card
//!   operations ([`geid_card::Card::authenticate`] for the portal's origin), the session that
//!   ends with the card's removal or the idle timeout;
//! - [`portal`]: the portal's kiosk API, every request signed with this kiosk's own key
//!   ([`geid_protocol::kiosk`]);
//! - [`web`]: the local web UI (Georgian first, then English) and the operator page;
//! - [`messages`]: what the citizen is told for each outcome, in plain words.
//!
//! The UI is served on loopback only ([`serve`] refuses other addresses): the kiosk's own
//! full-screen browser is its only client.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod messages;
pub mod pdf;
pub mod portal;
pub mod session;
pub mod web;

use std::net::SocketAddr;

pub use portal::{KioskKey, PortalClient, PortalError};
pub use session::{Kiosk, KioskConfig, Screen, View};

/// Refuses `addr` unless it is a loopback address.
pub fn check_listen(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        anyhow::bail!(
            "the kiosk UI listens on loopback only (127.0.0.1 or [::1]), not {addr}: it holds a PIN entry and one-time passwords"
        );
    }
    Ok(())
}

/// Binds `addr` (loopback only).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    check_listen(addr)?;
    Ok(tokio::net::TcpListener::bind(addr).await?)
}

/// Starts `kiosk` (card watching, idle timer) and serves its UI on `listener` until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    kiosk: Kiosk,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    check_listen(listener.local_addr()?)?;
    kiosk.start();
    let app = web::router(kiosk.clone());
    let r = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    kiosk.stop();
    Ok(r?)
}
