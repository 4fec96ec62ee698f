//! One citizen at the kiosk, from card insertion to card removal.
//!
//! A thread follows the readers with [`PcscContext::wait_for_change`] (pcscd's
//! `SCardGetStatusChange`: the thread sleeps until a card or reader event, nothing polls).
//! Inserting a card starts a session with a new *generation*; removing it, the idle timeout or
//! "finish" ends it by moving to the next generation, dropping the card connection and the
//! issued credentials. Every step that finishes later (a card operation, a portal call)
//! publishes its result only if its generation is still current, so nothing from an ended
//! session can reappear on the screen.
//!
//! The screen is a versioned [`View`] in a `tokio::sync::watch` channel: the page long-polls
//! `GET /api/state?after=VERSION` and is answered as soon as the view changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use geid_card::pcsc::{PcscContext, PcscTransport, ReaderInfo};
use geid_card::{Card, CardError, KeySlot, PinEntry, PinKind};
use geid_protocol::Origin;
use serde::Serialize;
use tokio::sync::watch;

use crate::messages::{notice, retry_helps, Notice};
use crate::portal::{PortalClient, PortalError};

/// What the screen shows.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "screen", rename_all = "kebab-case")]
pub enum Screen {
    /// Waiting for a card (after an optional message about how the last session ended).
    Insert {
        /// Why the last session ended, when worth saying.
        notice: Option<Notice>,
    },
    /// A card is in; reading its certificate.
    Reading,
    /// Asking for PIN1.
    Pin {
        /// The card holder, from the authentication certificate.
        holder: String,
        /// Tries left, when the card says.
        retries_left: Option<u8>,
        /// Tries in total.
        max_retries: u8,
        /// Fewest digits.
        min_length: usize,
        /// Most digits.
        max_length: usize,
        /// The reader has a PIN pad.
        pin_pad: bool,
        /// A message (wrong PIN with tries left, …).
        notice: Option<Notice>,
    },
    /// Talking to the card (`card`) or the portal (`portal`).
    Working {
        /// `card` or `portal`.
        step: &'static str,
    },
    /// Credentials issued.
    Issued {
        /// The account holder.
        holder: String,
        /// Username for the portal's password login.
        username: String,
        /// One-time password.
        password: String,
        /// The account was created now.
        new_account: bool,
        /// Where to log in.
        portal: String,
    },
    /// Refused or failed; `retry` when trying again here can help.
    Failed {
        /// What happened.
        notice: Notice,
        /// Whether to offer "try again".
        retry: bool,
    },
}

impl Screen {
    /// The screen's name as the page sees it (`insert`, `pin`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Screen::Insert { .. } => "insert",
            Screen::Reading => "reading",
            Screen::Pin { .. } => "pin",
            Screen::Working { .. } => "working",
            Screen::Issued { .. } => "issued",
            Screen::Failed { .. } => "failed",
        }
    }
}

/// The screen with a version that grows with every change.
#[derive(Clone, Debug, Serialize)]
pub struct View {
    /// Grows by one with every change.
    pub version: u64,
    /// The screen.
    #[serde(flatten)]
    pub screen: Screen,
}

/// How the kiosk is set up.
#[derive(Clone, Debug)]
pub struct KioskConfig {
    /// The portal's kiosk API client (base URL, kiosk id, key).
    pub portal: PortalClient,
    /// The origin the card signs for (the portal's public origin).
    pub origin: Origin,
    /// Use only this reader (default: the one a card is inserted in).
    pub reader: Option<String>,
    /// Back to the start screen after this long without a touch.
    pub idle_timeout: Duration,
}

/// The last failure, for the operator page.
#[derive(Clone, Debug, Serialize)]
pub struct LastError {
    /// Stable code.
    pub code: String,
    /// Details for staff (never a PIN or a password).
    pub detail: String,
    /// RFC 3339.
    pub at: String,
}

/// What the operator page shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// Why PC/SC is not available, when it is not.
    pub pcsc_error: Option<String>,
    /// Readers and cards as last reported.
    pub readers: Vec<ReaderInfo>,
    /// The last failure.
    pub last_error: Option<LastError>,
    /// Credentials issued since start.
    pub issued: u64,
    /// Refusals and failures since start.
    pub failed: u64,
}

struct PinInfo {
    holder: String,
    max_retries: u8,
    min_length: usize,
    max_length: usize,
    pin_pad: bool,
}

struct Machine {
    generation: u64,
    card_present: bool,
    reader: Option<String>,
    last_activity: Instant,
    pin: Option<PinInfo>,
}

struct Inner {
    config: KioskConfig,
    machine: Mutex<Machine>,
    view: watch::Sender<View>,
    card: Mutex<Option<Card<PcscTransport>>>,
    status: Mutex<Status>,
    shutdown: AtomicBool,
    cancel_wait: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

/// The kiosk: card events in, screens out. Cheap to clone.
#[derive(Clone)]
pub struct Kiosk {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Why the page's request cannot be done now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The screen is not the one the request belongs to.
    WrongScreen,
}

impl Kiosk {
    /// A kiosk with `config`; call [`Kiosk::start`] to follow the readers.
    pub fn new(config: KioskConfig) -> Kiosk {
        let (view, _) = watch::channel(View {
            version: 1,
            screen: Screen::Insert { notice: None },
        });
        Kiosk {
            inner: Arc::new(Inner {
                config,
                machine: Mutex::new(Machine {
                    generation: 0,
                    card_present: false,
                    reader: None,
                    last_activity: Instant::now(),
                    pin: None,
                }),
                view,
                card: Mutex::new(None),
                status: Mutex::new(Status::default()),
                shutdown: AtomicBool::new(false),
                cancel_wait: Mutex::new(None),
            }),
        }
    }

    /// Starts the card-watching thread and the idle timer (needs a tokio runtime).
    pub fn start(&self) {
        let k = self.clone();
        std::thread::Builder::new()
            .name("geid-kiosk-cards".into())
            .spawn(move || k.watch_cards())
            .ok();
        let k = self.clone();
        tokio::spawn(async move { k.idle_timer().await });
    }

    /// Stops the card-watching thread.
    pub fn stop(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        if let Some(cancel) = lock(&self.inner.cancel_wait).as_ref() {
            cancel();
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KioskConfig {
        &self.inner.config
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.inner.view.borrow().clone()
    }

    /// A receiver that wakes on every view change.
    pub fn subscribe(&self) -> watch::Receiver<View> {
        self.inner.view.subscribe()
    }

    /// The operator status.
    pub fn status(&self) -> Status {
        lock(&self.inner.status).clone()
    }

    /// Records a touch on the screen (postpones the idle timeout).
    pub fn touch(&self) {
        lock(&self.inner.machine).last_activity = Instant::now();
    }

    /// Shows `screen` if `generation` is still the current session. Returns whether it did.
    fn show(&self, generation: u64, screen: Screen) -> bool {
        let m = lock(&self.inner.machine);
        if m.generation != generation {
            return false;
        }
        self.inner.view.send_modify(|v| {
            v.version += 1;
            v.screen = screen;
        });
        drop(m);
        true
    }

    fn record_error(&self, code: &str, detail: &str) {
        tracing::warn!(code, "{detail}");
        let mut s = lock(&self.inner.status);
        s.failed += 1;
        s.last_error = Some(LastError {
            code: code.to_owned(),
            detail: detail.to_owned(),
            at: rfc3339_now(),
        });
    }

    fn fail(&self, generation: u64, code: &str, detail: &str) {
        self.record_error(code, detail);
        self.show(
            generation,
            Screen::Failed {
                notice: notice(code, None),
                retry: retry_helps(code),
            },
        );
    }

    // ---- cards ------------------------------------------------------------------------------

    fn watch_cards(&self) {
        while !self.inner.shutdown.load(Ordering::SeqCst) {
            let ctx = match PcscContext::establish() {
                Ok(c) => c,
                Err(e) => {
                    lock(&self.inner.status).pcsc_error = Some(e.to_string());
                    self.readers_changed(&[]);
                    // pcscd is away: wait before trying to connect to the service again.
                    std::thread::sleep(Duration::from_secs(2));
                    continue;
                }
            };
            *lock(&self.inner.cancel_wait) = Some(Box::new(ctx.canceller()));
            lock(&self.inner.status).pcsc_error = None;
            let mut known: Option<Vec<ReaderInfo>> = None;
            while !self.inner.shutdown.load(Ordering::SeqCst) {
                let base = known.clone().unwrap_or_default();
                match ctx.wait_for_change(&base, Duration::from_secs(3600)) {
                    Ok(now) => {
                        if known.as_ref() != Some(&now) {
                            self.readers_changed(&now);
                        }
                        known = Some(now);
                    }
                    Err(e) => {
                        if !self.inner.shutdown.load(Ordering::SeqCst) {
                            lock(&self.inner.status).pcsc_error = Some(e.to_string());
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        break;
                    }
                }
            }
        }
    }

    fn readers_changed(&self, readers: &[ReaderInfo]) {
        lock(&self.inner.status).readers = readers.to_vec();
        let chosen = match &self.inner.config.reader {
            Some(name) => readers.iter().find(|r| &r.name == name),
            None => readers
                .iter()
                .find(|r| r.atr.is_some() && r.supported)
                .or_else(|| readers.iter().find(|r| r.atr.is_some())),
        };
        let present = chosen.is_some_and(|r| r.atr.is_some());
        let mut m = lock(&self.inner.machine);
        if present && !m.card_present {
            m.card_present = true;
            m.generation += 1;
            m.reader = chosen.map(|r| r.name.clone());
            m.last_activity = Instant::now();
            m.pin = None;
            let (generation, reader) = (m.generation, m.reader.clone().unwrap_or_default());
            drop(m);
            tracing::info!("card inserted");
            self.show(generation, Screen::Reading);
            let k = self.clone();
            std::thread::spawn(move || k.open_card(generation, &reader));
        } else if !present && m.card_present {
            m.card_present = false;
            m.generation += 1;
            m.pin = None;
            let generation = m.generation;
            drop(m);
            tracing::info!("card removed; session ended");
            self.forget_card();
            let quiet = matches!(
                self.inner.view.borrow().screen,
                Screen::Insert { .. } | Screen::Issued { .. }
            );
            self.show(
                generation,
                Screen::Insert {
                    notice: (!quiet).then(|| notice("CARD_REMOVED", None)),
                },
            );
        }
    }

    /// Drops the card connection (if an operation holds it, that operation drops it when it
    /// sees its session has ended).
    fn forget_card(&self) {
        if let Ok(mut slot) = self.inner.card.try_lock() {
            *slot = None;
        }
    }

    fn current(&self, generation: u64) -> bool {
        lock(&self.inner.machine).generation == generation
    }

    fn open_card(&self, generation: u64, reader: &str) {
        let opened = (|| {
            let ctx = PcscContext::establish()?;
            let mut card = Card::open(ctx.connect(reader)?)?;
            let info = card.certificate_info(KeySlot::Authentication)?;
            let pin = card.pin_status(PinKind::Authentication)?;
            let pad = card.reader_has_pin_pad().unwrap_or(false);
            Ok::<_, CardError>((card, info, pin, pad))
        })();
        let (card, info, pin, pad) = match opened {
            Ok(x) => x,
            Err(CardError::CardRemoved | CardError::NoCard) => return,
            Err(e) => {
                let code = e.code().as_str().to_owned();
                return self.fail(generation, &code, &e.to_string());
            }
        };
        let holder = match (&info.given_name, &info.surname) {
            (Some(g), Some(s)) => format!("{g} {s}"),
            _ => info.common_name.clone().unwrap_or_default(),
        };
        if pin.blocked {
            return self.fail(generation, "PIN_BLOCKED", "PIN1 is blocked on this card");
        }
        let spec = card.profile().auth_pin.clone();
        let info = PinInfo {
            holder,
            max_retries: pin.max_retries,
            min_length: spec.min_len(),
            max_length: spec.max_len(),
            pin_pad: pad,
        };
        {
            let mut slot = lock(&self.inner.card);
            if !self.current(generation) {
                return;
            }
            *slot = Some(card);
        }
        let screen = self.pin_screen(&info, pin.retries_left, None);
        lock(&self.inner.machine).pin = Some(info);
        self.show(generation, screen);
    }

    fn pin_screen(&self, p: &PinInfo, retries_left: Option<u8>, notice: Option<Notice>) -> Screen {
        Screen::Pin {
            holder: p.holder.clone(),
            retries_left,
            max_retries: p.max_retries,
            min_length: p.min_length,
            max_length: p.max_length,
            pin_pad: p.pin_pad,
            notice,
        }
    }

    fn show_pin_again(&self, generation: u64, retries_left: Option<u8>, n: Notice) {
        let screen = {
            let m = lock(&self.inner.machine);
            m.pin
                .as_ref()
                .map(|p| self.pin_screen(p, retries_left, Some(n.clone())))
        };
        match screen {
            Some(s) => {
                self.show(generation, s);
            }
            None => {
                self.show(
                    generation,
                    Screen::Failed {
                        notice: n,
                        retry: true,
                    },
                );
            }
        }
    }

    // ---- the page's requests ----------------------------------------------------------------

    /// The PIN was entered (`PinEntry::Pin`) or the reader's PIN pad is to be used: fetch a
    /// challenge, sign it with the card, send the token, show the credentials. Returns at once;
    /// the work runs on a blocking thread.
    pub fn submit_pin(&self, entry: PinEntry) -> Result<(), Refusal> {
        let generation = {
            let mut m = lock(&self.inner.machine);
            m.last_activity = Instant::now();
            if !matches!(self.inner.view.borrow().screen, Screen::Pin { .. }) {
                return Err(Refusal::WrongScreen);
            }
            m.generation
        };
        self.show(generation, Screen::Working { step: "portal" });
        let k = self.clone();
        std::thread::spawn(move || k.issue(generation, entry));
        Ok(())
    }

    fn issue(&self, generation: u64, entry: PinEntry) {
        let portal = &self.inner.config.portal;
        // 1. A challenge first: if the portal is away, the PIN has not been used.
        let challenge = match portal.challenge() {
            Ok(c) => c,
            Err(e) => return self.portal_failed(generation, &e),
        };
        let origin = &self.inner.config.origin;
        if Origin::parse(&challenge.origin).ok().as_ref() != Some(origin) {
            return self.fail(
                generation,
                "KIOSK_ORIGIN_MISMATCH",
                &format!(
                    "the portal verifies for {} but this kiosk is set up for {}",
                    challenge.origin,
                    origin.as_str()
                ),
            );
        }
        // 2. The card signs it (PIN1 verified by the card).
        self.show(generation, Screen::Working { step: "card" });
        let token = {
            let mut slot = lock(&self.inner.card);
            if !self.current(generation) {
                *slot = None;
                return;
            }
            let Some(card) = slot.as_mut() else {
                return;
            };
            card.authenticate(origin, &challenge.nonce, entry)
        };
        let token = match token {
            Ok(t) => t,
            Err(CardError::PinIncorrect { retries_left }) if retries_left > 0 => {
                self.record_error("PIN_INCORRECT", &format!("{retries_left} tries left"));
                return self.show_pin_again(
                    generation,
                    Some(retries_left),
                    notice("PIN_INCORRECT", Some(retries_left)),
                );
            }
            Err(CardError::PinIncorrect { .. } | CardError::PinBlocked) => {
                return self.fail(generation, "PIN_BLOCKED", "PIN1 blocked after wrong tries");
            }
            Err(e @ (CardError::PinFormat { .. } | CardError::PinPadCancelled)) => {
                let code = if matches!(e, CardError::PinFormat { .. }) {
                    "PIN_FORMAT"
                } else {
                    "PIN_PAD_CANCELLED"
                };
                return self.show_pin_again(generation, None, notice(code, None));
            }
            Err(CardError::CardRemoved) => {
                // The watcher ends the session; make sure the screen clears even if its event
                // came first.
                self.record_error("CARD_REMOVED", "card removed during signing");
                return;
            }
            Err(e) => {
                let code = e.code().as_str().to_owned();
                return self.fail(generation, &code, &e.to_string());
            }
        };
        // 3. The portal verifies the token and issues credentials.
        self.show(generation, Screen::Working { step: "portal" });
        match portal.credentials(&challenge.nonce, &token) {
            Ok(c) => {
                let shown = self.show(
                    generation,
                    Screen::Issued {
                        holder: format!("{} {}", c.given_name, c.surname),
                        username: c.username,
                        password: c.password,
                        new_account: c.new_account,
                        portal: portal.base().to_owned(),
                    },
                );
                if shown {
                    lock(&self.inner.status).issued += 1;
                    tracing::info!("credentials issued and shown");
                } else {
                    tracing::info!("credentials issued after the session ended; not shown");
                }
            }
            Err(e) => self.portal_failed(generation, &e),
        }
    }

    fn portal_failed(&self, generation: u64, e: &PortalError) {
        self.fail(generation, e.code(), &e.to_string());
    }

    /// "Try again" after a failure that retrying can help: read the card again.
    pub fn retry(&self) -> Result<(), Refusal> {
        let (generation, reader) = {
            let mut m = lock(&self.inner.machine);
            m.last_activity = Instant::now();
            let retry = matches!(
                self.inner.view.borrow().screen,
                Screen::Failed { retry: true, .. }
            );
            if !retry || !m.card_present {
                return Err(Refusal::WrongScreen);
            }
            (m.generation, m.reader.clone().unwrap_or_default())
        };
        self.forget_card();
        self.show(generation, Screen::Reading);
        let k = self.clone();
        std::thread::spawn(move || k.open_card(generation, &reader));
        Ok(())
    }

    /// Ends the session now (the "finish" button, the idle timeout): forgets the card and the
    /// credentials and asks for the card to be taken.
    pub fn finish(&self, code: &str) {
        let generation = {
            let mut m = lock(&self.inner.machine);
            m.generation += 1;
            m.pin = None;
            m.last_activity = Instant::now();
            m.generation
        };
        self.forget_card();
        self.show(
            generation,
            Screen::Insert {
                notice: Some(notice(code, None)),
            },
        );
    }

    async fn idle_timer(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        while !self.inner.shutdown.load(Ordering::SeqCst) {
            tick.tick().await;
            let (generation, present, screen) = {
                let m = lock(&self.inner.machine);
                if m.last_activity.elapsed() < self.inner.config.idle_timeout {
                    continue;
                }
                let screen = self.inner.view.borrow().screen.name();
                let notice = matches!(
                    self.inner.view.borrow().screen,
                    Screen::Insert { notice: Some(_) }
                );
                (
                    m.generation,
                    m.card_present,
                    if notice { "insert-notice" } else { screen },
                )
            };
            match screen {
                // Nothing to forget, or work in progress (it ends by itself).
                "insert" | "reading" | "working" => {}
                // "Take your card" stays while the card is in; otherwise a clean start.
                "insert-notice" if present => {}
                "insert-notice" => {
                    self.show(generation, Screen::Insert { notice: None });
                }
                _ => {
                    tracing::info!("idle timeout; back to the start screen");
                    self.finish(if present { "IDLE_TIMEOUT" } else { "FINISHED" });
                }
            }
        }
    }
}
