//! The PC/SC transport (pcscd on Linux, WinSCard on Windows, CryptoTokenKit's PC/SC on macOS).
//!
//! This is the only module that names `pcsc` types. It lists readers, waits for a reader or a
//! card with `SCardGetStatusChange` (including the `\\?PnP?\Notification` pseudo-reader, so a
//! reader plugged in while waiting is seen without polling), picks the reader that holds a
//! supported card, and maps PC/SC errors to [`CardError`].

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::transport::{CardChannel, ReaderFeatures, Transport};
use crate::CardError;

/// How long a failed exchange waits for pcscd to report the card gone.
const REMOVAL_WAIT: Duration = Duration::from_millis(1000);

/// One reader and what is in it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReaderInfo {
    /// The reader's name.
    pub name: String,
    /// The ATR of the card in it, if any.
    pub atr: Option<Vec<u8>>,
    /// Whether the card is a supported ID card.
    pub supported: bool,
}

fn map_err(operation: &'static str, e: pcsc::Error) -> CardError {
    use pcsc::Error as E;
    match e {
        E::NoService | E::ServiceStopped => CardError::PcscUnavailable,
        E::NoReadersAvailable | E::UnknownReader | E::ReaderUnavailable => CardError::NoReader,
        E::RemovedCard | E::NoSmartcard => CardError::CardRemoved,
        E::ResetCard => CardError::CardReset,
        E::Timeout => CardError::Timeout("a card"),
        E::SharingViolation => CardError::CardInUse,
        E::UnpoweredCard | E::UnresponsiveCard | E::UnsupportedCard => CardError::Pcsc {
            operation,
            message: e.to_string(),
        },
        other => CardError::Pcsc {
            operation,
            message: other.to_string(),
        },
    }
}

/// A PC/SC context: the entry point to readers.
pub struct PcscContext {
    ctx: Context,
}

impl PcscContext {
    /// Connects to the PC/SC service; [`CardError::PcscUnavailable`] when it is not running.
    pub fn establish() -> Result<PcscContext, CardError> {
        let ctx = Context::establish(Scope::User).map_err(|e| match e {
            pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::CommError
            | pcsc::Error::InternalError => CardError::PcscUnavailable,
            other => map_err("SCardEstablishContext", other),
        })?;
        Ok(PcscContext { ctx })
    }

    fn reader_names(&self) -> Result<Vec<CString>, CardError> {
        match self.ctx.list_readers_owned() {
            Ok(r) => Ok(r),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(map_err("SCardListReaders", e)),
        }
    }

    /// A function that makes a blocking wait on this context return at once
    /// (`SCardCancel`); the wait then fails, and the caller knows it cancelled.
    pub fn canceller(&self) -> impl Fn() + Send + Sync + 'static {
        let ctx = self.ctx.clone();
        move || {
            let _ = ctx.cancel();
        }
    }

    /// The readers and their cards, right now.
    pub fn readers(&self) -> Result<Vec<ReaderInfo>, CardError> {
        let names = self.reader_names()?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states: Vec<ReaderState> = names
            .into_iter()
            .map(|n| ReaderState::new(n, State::UNAWARE))
            .collect();
        self.ctx
            .get_status_change(Duration::ZERO, &mut states)
            .map_err(|e| map_err("SCardGetStatusChange", e))?;
        Ok(states.iter().map(info_of).collect())
    }

    /// Waits up to `timeout` until a reader holds a card (any card), without polling: the
    /// wait returns on any reader event, and the PnP pseudo-reader wakes it when readers come
    /// and go. Returns the readers at that moment.
    pub fn wait_for_card(&self, timeout: Duration) -> Result<Vec<ReaderInfo>, CardError> {
        let deadline = Instant::now() + timeout;
        loop {
            let names = self.reader_names()?;
            let mut states: Vec<ReaderState> = names
                .into_iter()
                .map(|n| ReaderState::new(n, State::UNAWARE))
                .collect();
            states.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
            match self.ctx.get_status_change(Duration::ZERO, &mut states) {
                // Nothing to report for the PnP pseudo-reader: not an error here.
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(map_err("SCardGetStatusChange", e)),
            }
            let infos: Vec<ReaderInfo> = states[..states.len() - 1].iter().map(info_of).collect();
            if infos.iter().any(|r| r.atr.is_some()) {
                return Ok(infos);
            }
            for s in &mut states {
                s.sync_current_state();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(if infos.is_empty() {
                    CardError::NoReader
                } else {
                    CardError::NoCard
                });
            }
            match self.ctx.get_status_change(left, &mut states) {
                Ok(()) => continue,
                Err(pcsc::Error::Timeout) => {
                    return Err(if infos.is_empty() {
                        CardError::NoReader
                    } else {
                        CardError::NoCard
                    })
                }
                Err(e) => return Err(map_err("SCardGetStatusChange", e)),
            }
        }
    }

    /// Waits up to `timeout` until the readers differ from `known` (a card inserted or removed,
    /// a reader plugged in or out), without polling, and returns the readers then. Returns
    /// `known` unchanged when the timeout passes; fails when the wait is cancelled
    /// ([`PcscContext::canceller`]) or pcscd goes away. A kiosk uses this to follow the card.
    pub fn wait_for_change(
        &self,
        known: &[ReaderInfo],
        timeout: Duration,
    ) -> Result<Vec<ReaderInfo>, CardError> {
        let names = self.reader_names()?;
        let mut states: Vec<ReaderState> = names
            .into_iter()
            .map(|n| ReaderState::new(n, State::UNAWARE))
            .collect();
        states.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
        match self.ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(map_err("SCardGetStatusChange", e)),
        }
        let now: Vec<ReaderInfo> = states[..states.len() - 1].iter().map(info_of).collect();
        if now != known {
            return Ok(now);
        }
        for s in &mut states {
            s.sync_current_state();
        }
        match self.ctx.get_status_change(timeout, &mut states) {
            Ok(()) => self.readers(),
            Err(pcsc::Error::Timeout) => Ok(known.to_vec()),
            Err(e) => Err(map_err("SCardGetStatusChange", e)),
        }
    }

    /// Picks the reader holding a supported card: the named one, or the only one. Several
    /// supported cards without a name give [`CardError::SeveralCards`].
    pub fn choose(readers: &[ReaderInfo], name: Option<&str>) -> Result<String, CardError> {
        if readers.is_empty() {
            return Err(CardError::NoReader);
        }
        if let Some(name) = name {
            let r = readers
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| CardError::ReaderNotFound(name.into()))?;
            return match (&r.atr, r.supported) {
                (None, _) => Err(CardError::NoCard),
                (Some(atr), false) => Err(CardError::UnsupportedCard {
                    atr: crate::apdu::hex(atr),
                }),
                (Some(_), true) => Ok(r.name.clone()),
            };
        }
        let supported: Vec<&ReaderInfo> = readers.iter().filter(|r| r.supported).collect();
        match supported.as_slice() {
            [one] => Ok(one.name.clone()),
            [] => match readers.iter().find_map(|r| r.atr.as_ref()) {
                Some(atr) => Err(CardError::UnsupportedCard {
                    atr: crate::apdu::hex(atr),
                }),
                None => Err(CardError::NoCard),
            },
            many => Err(CardError::SeveralCards(
                many.iter().map(|r| r.name.clone()).collect(),
            )),
        }
    }

    /// Connects to the reader holding a supported card (see [`PcscContext::choose`]).
    pub fn connect_supported(&self, reader: Option<&str>) -> Result<PcscTransport, CardError> {
        let readers = self.readers()?;
        let name = PcscContext::choose(&readers, reader)?;
        self.connect(&name)
    }

    /// Waits up to `timeout` for a supported card, then connects to it.
    pub fn wait_and_connect(
        &self,
        reader: Option<&str>,
        timeout: Duration,
    ) -> Result<PcscTransport, CardError> {
        let readers = self.wait_for_card(timeout)?;
        let name = PcscContext::choose(&readers, reader)?;
        self.connect(&name)
    }

    /// Connects to the card in `reader` (shared mode; T=0 or T=1).
    pub fn connect(&self, reader: &str) -> Result<PcscTransport, CardError> {
        let cname = CString::new(reader).map_err(|_| CardError::ReaderNotFound(reader.into()))?;
        let card = self
            .ctx
            .connect(&cname, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| map_err("SCardConnect", e))?;
        let atr = card
            .status2_owned()
            .map_err(|e| map_err("SCardStatus", e))?
            .atr()
            .to_vec();
        Ok(PcscTransport {
            ctx: self.ctx.clone(),
            card: Some(card),
            reader: reader.into(),
            reader_c: cname,
            atr,
        })
    }
}

fn info_of(s: &ReaderState) -> ReaderInfo {
    let present =
        s.event_state().contains(State::PRESENT) && !s.event_state().contains(State::MUTE);
    let atr = present.then(|| s.atr().to_vec());
    let supported = atr
        .as_deref()
        .is_some_and(|a| crate::atr::identify(a).is_some());
    ReaderInfo {
        name: s.name().to_string_lossy().into_owned(),
        atr,
        supported,
    }
}

/// A connection to a card through PC/SC.
pub struct PcscTransport {
    ctx: Context,
    card: Option<pcsc::Card>,
    reader: String,
    reader_c: CString,
    atr: Vec<u8>,
}

impl PcscTransport {
    /// Whether the card has left the reader, waiting up to `wait` for pcscd to notice (a
    /// driver may report a failed exchange before the reader state changes).
    fn card_gone(ctx: &Context, reader: &CStr, wait: Duration) -> bool {
        let mut st = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
        if ctx.get_status_change(Duration::ZERO, &mut st).is_err() {
            return true;
        }
        let gone = |s: &ReaderState| !s.event_state().contains(State::PRESENT);
        if gone(&st[0]) {
            return true;
        }
        st[0].sync_current_state();
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match ctx.get_status_change(left, &mut st) {
                Ok(()) if gone(&st[0]) => return true,
                Ok(()) => st[0].sync_current_state(),
                Err(_) => return false,
            }
        }
        false
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            // Leave the card as it is (do not reset it: other programs may be using it).
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

impl Transport for PcscTransport {
    fn reader_name(&self) -> &str {
        &self.reader
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn begin_transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, CardError> {
        let card = self.card.as_mut().ok_or(CardError::CardRemoved)?;
        let tx = card
            .transaction()
            .map_err(|e| map_err("SCardBeginTransaction", e))?;
        Ok(Box::new(PcscChannel {
            tx,
            ctx: &self.ctx,
            reader: &self.reader_c,
        }))
    }

    fn reconnect(&mut self) -> Result<(), CardError> {
        let card = self.card.as_mut().ok_or(CardError::CardRemoved)?;
        card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
            .map_err(|e| map_err("SCardReconnect", e))?;
        self.atr = card
            .status2_owned()
            .map_err(|e| map_err("SCardStatus", e))?
            .atr()
            .to_vec();
        Ok(())
    }
}

struct PcscChannel<'a> {
    tx: pcsc::Transaction<'a>,
    ctx: &'a Context,
    reader: &'a CStr,
}

impl PcscChannel<'_> {
    /// A transmit error that does not say "removed" may still be a removal (vpcd and some
    /// drivers report a communication error first): ask the reader.
    fn classify(&self, operation: &'static str, e: pcsc::Error) -> CardError {
        let mapped = map_err(operation, e);
        if matches!(mapped, CardError::Pcsc { .. })
            && PcscTransport::card_gone(self.ctx, self.reader, REMOVAL_WAIT)
        {
            return CardError::CardRemoved;
        }
        mapped
    }
}

impl CardChannel for PcscChannel<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let n = match self.tx.transmit(command, &mut buf) {
            Ok(r) => r.len(),
            Err(e) => return Err(self.classify("SCardTransmit", e)),
        };
        buf.truncate(n);
        // vpcd (and some drivers) answer an empty response when the card has gone.
        if n < 2 && PcscTransport::card_gone(self.ctx, self.reader, REMOVAL_WAIT) {
            return Err(CardError::CardRemoved);
        }
        Ok(buf)
    }

    fn features(&mut self) -> Result<ReaderFeatures, CardError> {
        let mut buf = [0u8; 256];
        match self.tx.control(pcsc::ctl_code(3400), &[], &mut buf) {
            Ok(r) => ReaderFeatures::parse(r),
            // Readers without part 10 support refuse the request.
            Err(_) => Ok(ReaderFeatures::default()),
        }
    }

    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = [0u8; 512];
        let r = self
            .tx
            .control(code as pcsc::ffi::DWORD, data, &mut buf)
            .map_err(|e| self.classify("SCardControl", e))?;
        Ok(r.to_vec())
    }
}
