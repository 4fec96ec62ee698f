//! The [`Transport`] trait: how card logic reaches a card without naming PC/SC.
//!
//! A transport is a connection to one card in one reader. Every operation opens one exclusive
//! transaction ([`Transport::begin_transaction`]) and sends all its APDUs through the returned
//! [`CardChannel`]; dropping the channel ends the transaction. Implementations: PC/SC
//! ([`crate::pcsc::PcscTransport`]), the in-process virtual card (`geid-testkit`), and
//! wrappers that record traces.
//!
//! [`Session`] sits on a channel and does what every card command needs: encoding, GET
//! RESPONSE chaining on `61xx`, re-issuing with the right Le on `6Cxx` (ISO 7816-4 §5.3.4),
//! counting APDUs and bytes, and tracing with PIN bytes redacted.

use std::sync::{Arc, Mutex};

use crate::apdu::{hex, Command, LengthForm, Response, StatusWord};
use crate::CardError;

/// What a reader offers through its control interface (PC/SC part 10 features).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderFeatures {
    /// Control code of FEATURE_VERIFY_PIN_DIRECT (tag `06`), if the reader has a PIN pad.
    pub verify_pin_direct: Option<u32>,
    /// Control code of FEATURE_MODIFY_PIN_DIRECT (tag `07`).
    pub modify_pin_direct: Option<u32>,
}

impl ReaderFeatures {
    /// Parses the GET_FEATURE_REQUEST answer: `tag(1) 04 code(4, big-endian)` repeated.
    pub fn parse(bytes: &[u8]) -> Result<ReaderFeatures, CardError> {
        let mut f = ReaderFeatures::default();
        for chunk in bytes.chunks(6) {
            let [tag, 4, a, b, c, d] = chunk else {
                return Err(CardError::MalformedTlv {
                    offset: 0,
                    reason: "feature list entry is not 6 bytes",
                });
            };
            let code = u32::from_be_bytes([*a, *b, *c, *d]);
            match tag {
                0x06 => f.verify_pin_direct = Some(code),
                0x07 => f.modify_pin_direct = Some(code),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// A connection to one card in one reader.
pub trait Transport {
    /// The reader's name.
    fn reader_name(&self) -> &str;
    /// The card's answer to reset.
    fn atr(&self) -> &[u8];
    /// Opens an exclusive transaction; it ends when the channel is dropped.
    fn begin_transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, CardError>;
    /// Reconnects after the card was reset by another program (the ATR is read again).
    fn reconnect(&mut self) -> Result<(), CardError>;
}

/// The card inside an exclusive transaction.
pub trait CardChannel {
    /// Sends one encoded command APDU and returns the raw response (data and status word).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError>;
    /// Whether commands may use extended length on this reader (the card's own support is a
    /// property of the card profile).
    fn reader_supports_extended(&self) -> bool {
        true
    }
    /// The reader's part 10 features (PIN pad); readers without any return the default.
    fn features(&mut self) -> Result<ReaderFeatures, CardError> {
        Ok(ReaderFeatures::default())
    }
    /// A reader control call (`SCardControl`).
    fn control(&mut self, _code: u32, _data: &[u8]) -> Result<Vec<u8>, CardError> {
        Err(CardError::NoPinPad)
    }
}

/// APDU and byte counts, for measurement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Command APDUs sent (GET RESPONSE included).
    pub apdus: u64,
    /// Command bytes sent.
    pub bytes_sent: u64,
    /// Response bytes received (status words included).
    pub bytes_received: u64,
}

/// One line of an APDU trace; PIN bytes are already redacted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TraceEntry {
    /// The command in hex (`**` for each redacted byte).
    pub command: String,
    /// The response data in hex (empty when the command failed).
    pub response: String,
    /// The status word, or the error text.
    pub status: String,
}

/// A shared APDU trace that an operation appends to.
#[derive(Clone, Debug, Default)]
pub struct Trace(Arc<Mutex<Vec<TraceEntry>>>);

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }
    fn push(&self, e: TraceEntry) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }
    /// A copy of the entries so far.
    pub fn entries(&self) -> Vec<TraceEntry> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Most GET RESPONSE rounds accepted for one command.
const MAX_CHAIN: usize = 256;

/// A channel plus the bookkeeping every command needs.
pub struct Session<'a> {
    channel: &'a mut dyn CardChannel,
    stats: &'a mut Stats,
    trace: Option<&'a Trace>,
    /// Whether the card and reader both take extended-length commands.
    pub extended: bool,
}

impl<'a> Session<'a> {
    /// A session on `channel`.
    pub fn new(
        channel: &'a mut dyn CardChannel,
        stats: &'a mut Stats,
        trace: Option<&'a Trace>,
        card_extended: bool,
    ) -> Session<'a> {
        let extended = card_extended && channel.reader_supports_extended();
        Session {
            channel,
            stats,
            trace,
            extended,
        }
    }

    /// The underlying channel (for reader control).
    pub fn channel(&mut self) -> &mut dyn CardChannel {
        self.channel
    }

    /// Sends one APDU, without chaining.
    fn send_once(&mut self, cmd: &Command) -> Result<Response, CardError> {
        if cmd.needs_extended() && !self.extended {
            return Err(CardError::InvalidCommand(
                "extended length needed but not supported",
            ));
        }
        let bytes = cmd.to_bytes(LengthForm::Auto)?;
        self.stats.apdus += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        let result = self.channel.transmit(&bytes).and_then(|raw| {
            self.stats.bytes_received += raw.len() as u64;
            Response::parse(&raw)
        });
        if let Some(trace) = self.trace {
            trace.push(TraceEntry {
                command: cmd.to_trace_hex(),
                response: result.as_ref().map(|r| hex(&r.data)).unwrap_or_default(),
                status: match &result {
                    Ok(r) => r.sw.to_string(),
                    Err(e) => format!("error: {e}"),
                },
            });
        }
        match &result {
            Ok(r) => {
                tracing::debug!(header = %hex(&cmd.header()), sw = %r.sw, len = r.data.len(), "apdu")
            }
            Err(e) => tracing::debug!(header = %hex(&cmd.header()), error = %e, "apdu failed"),
        }
        result
    }

    /// Sends a command and completes its response: `61xx` → GET RESPONSE until done, `6Cxx`
    /// → the same command again with Le = xx. The returned status word is the last one.
    pub fn exchange(&mut self, cmd: &Command) -> Result<Response, CardError> {
        let mut resp = self.send_once(cmd)?;
        if resp.sw.sw1() == 0x6C {
            let le = if resp.sw.sw2() == 0 {
                256
            } else {
                usize::from(resp.sw.sw2())
            };
            let mut again = cmd.clone();
            again.le = Some(le);
            resp = self.send_once(&again)?;
        }
        let limit = cmd.le.unwrap_or(0).max(65_536);
        let mut data = std::mem::take(&mut resp.data);
        let mut rounds = 0;
        while resp.sw.sw1() == 0x61 {
            rounds += 1;
            if rounds > MAX_CHAIN {
                return Err(CardError::ResponseChainTooLong(MAX_CHAIN));
            }
            let le = if resp.sw.sw2() == 0 {
                256
            } else {
                usize::from(resp.sw.sw2())
            };
            let get = Command::new(cmd.cla & 0x03, 0xC0, 0, 0).with_le(le);
            resp = self.send_once(&get)?;
            data.extend_from_slice(&resp.data);
            if data.len() > limit {
                return Err(CardError::ResponseTooLong {
                    actual: data.len(),
                    limit,
                });
            }
        }
        if let Some(le) = cmd.le {
            if data.len() > le {
                return Err(CardError::ResponseTooLong {
                    actual: data.len(),
                    limit: le,
                });
            }
        }
        Ok(Response { data, sw: resp.sw })
    }

    /// Sends a command and expects `9000`.
    pub fn ok(&mut self, name: &'static str, cmd: &Command) -> Result<Vec<u8>, CardError> {
        self.exchange(cmd)?.ok(name)
    }
}

/// True when `sw` says "not found" for a SELECT.
pub fn is_not_found(sw: StatusWord) -> bool {
    matches!(sw.0, 0x6A82 | 0x6A88 | 0x6A86 | 0x6A87)
}
