//! Command and response APDUs (ISO/IEC 7816-4 §5.1), short and extended length.
//!
//! A [`Command`] keeps its data in a zeroising buffer and carries a `sensitive` flag (set for
//! commands holding PIN bytes) so that traces redact it. [`Command::to_bytes`] picks the short
//! form when it fits and the extended form otherwise (or when asked); [`Command::parse`] is
//! its inverse, used by the virtual card and the property tests.

use std::fmt;

use zeroize::Zeroizing;

use crate::CardError;

/// Longest data field of a short command (ISO 7816-4 §5.1: Lc is one byte, 1–255).
pub const SHORT_MAX_DATA: usize = 255;
/// Largest Le of a short command (`00` means 256).
pub const SHORT_MAX_LE: usize = 256;
/// Longest data field of an extended command.
pub const EXTENDED_MAX_DATA: usize = 65_535;
/// Largest Le of an extended command (`0000` means 65 536).
pub const EXTENDED_MAX_LE: usize = 65_536;

/// A two-byte status word (SW1 SW2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// `9000`: normal processing.
    pub const OK: StatusWord = StatusWord(0x9000);
    /// `6700`: wrong length.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// `6982`: security status not satisfied.
    pub const SECURITY_STATUS: StatusWord = StatusWord(0x6982);
    /// `6983`: authentication method blocked.
    pub const AUTH_BLOCKED: StatusWord = StatusWord(0x6983);
    /// `6984`: reference data not usable.
    pub const REF_DATA_NOT_USABLE: StatusWord = StatusWord(0x6984);
    /// `6985`: conditions of use not satisfied.
    pub const CONDITIONS: StatusWord = StatusWord(0x6985);
    /// `6A80`: incorrect data field.
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    /// `6A82`: file or application not found.
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    /// `6A86`: incorrect P1-P2.
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6A86);
    /// `6A88`: referenced data not found.
    pub const REF_NOT_FOUND: StatusWord = StatusWord(0x6A88);
    /// `6B00`: wrong parameters (offset outside the file).
    pub const WRONG_PARAMS: StatusWord = StatusWord(0x6B00);
    /// `6D00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// `6400`: PIN-pad timeout (CCID / PC/SC part 10).
    pub const PIN_PAD_TIMEOUT: StatusWord = StatusWord(0x6400);
    /// `6401`: PIN-pad entry cancelled.
    pub const PIN_PAD_CANCELLED: StatusWord = StatusWord(0x6401);

    /// From the two status bytes.
    pub fn new(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord(u16::from_be_bytes([sw1, sw2]))
    }
    /// SW1.
    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// SW2.
    pub fn sw2(self) -> u8 {
        self.0 as u8
    }
    /// `9000`.
    pub fn is_ok(self) -> bool {
        self == StatusWord::OK
    }
    /// For `63Cx`, the retry counter `x`.
    pub fn retries(self) -> Option<u8> {
        (self.sw1() == 0x63 && self.sw2() & 0xF0 == 0xC0).then_some(self.sw2() & 0x0F)
    }

    /// Maps a status word answering a PIN command to the PIN outcome (Web eID rules:
    /// `63Cx` x tries left, `63C0`/`6983`/`6984` blocked, `6400`/`6401` PIN pad timeout /
    /// cancel, `6700`/`6A80` wrong length).
    pub fn pin_result(
        self,
        command: &'static str,
        min: usize,
        max: usize,
    ) -> Result<(), CardError> {
        match self {
            StatusWord::OK => Ok(()),
            StatusWord::AUTH_BLOCKED | StatusWord::REF_DATA_NOT_USABLE => {
                Err(CardError::PinBlocked)
            }
            StatusWord::PIN_PAD_TIMEOUT => Err(CardError::Timeout("PIN entry on the PIN pad")),
            StatusWord::PIN_PAD_CANCELLED => Err(CardError::PinPadCancelled),
            StatusWord::WRONG_LENGTH | StatusWord::WRONG_DATA => {
                Err(CardError::PinFormat { min, max })
            }
            sw => match sw.retries() {
                Some(0) => Err(CardError::PinBlocked),
                Some(retries_left) => Err(CardError::PinIncorrect { retries_left }),
                None => Err(CardError::UnexpectedStatus { command, sw }),
            },
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW {:04X}", self.0)
    }
}

/// The length encoding of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    /// Short when the data and Le fit, extended otherwise.
    Auto,
    /// Always extended (for cases 2–4).
    Extended,
}

/// A command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    /// Expected response length: `None` (cases 1, 3) or 1–65 536.
    pub le: Option<usize>,
    /// Whether the data field holds secrets (PIN bytes): traces redact it.
    pub sensitive: bool,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes{}, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            if self.sensitive { " (redacted)" } else { "" },
            self.le
        )
    }
}

impl Command {
    /// A case 1 command (header only).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(Vec::new()),
            le: None,
            sensitive: false,
        }
    }

    /// Sets the data field.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Command {
        self.data = Zeroizing::new(data.into());
        self
    }

    /// Sets a data field holding secrets: it is zeroised on drop and redacted in traces.
    pub fn with_secret_data(mut self, data: Zeroizing<Vec<u8>>) -> Command {
        self.data = data;
        self.sensitive = true;
        self
    }

    /// Sets Le (1–65 536; 256 is short `00`).
    pub fn with_le(mut self, le: usize) -> Command {
        self.le = Some(le);
        self
    }

    /// The data field.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The header `CLA INS P1 P2`.
    pub fn header(&self) -> [u8; 4] {
        [self.cla, self.ins, self.p1, self.p2]
    }

    /// Whether this command needs the extended form (data over 255 bytes or Le over 256).
    pub fn needs_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|le| le > SHORT_MAX_LE)
    }

    /// Encodes the command (ISO 7816-4 §5.1, cases 1–4 short and extended). The buffer is
    /// zeroised on drop because it may hold PIN bytes.
    pub fn to_bytes(&self, form: LengthForm) -> Result<Zeroizing<Vec<u8>>, CardError> {
        let n = self.data.len();
        if n > EXTENDED_MAX_DATA {
            return Err(CardError::InvalidCommand("data field over 65 535 bytes"));
        }
        if let Some(le) = self.le {
            if le == 0 || le > EXTENDED_MAX_LE {
                return Err(CardError::InvalidCommand("Le must be 1 to 65 536"));
            }
        }
        let extended = form == LengthForm::Extended || self.needs_extended();
        let mut out = Zeroizing::new(Vec::with_capacity(4 + 3 + n + 3));
        out.extend_from_slice(&self.header());
        if !extended {
            if n > 0 {
                out.push(n as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                out.push(if le == SHORT_MAX_LE { 0 } else { le as u8 });
            }
        } else {
            if n == 0 && self.le.is_none() {
                return Ok(out); // case 1 has no extended form
            }
            out.push(0);
            if n > 0 {
                out.extend_from_slice(&(n as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                let le = if le == EXTENDED_MAX_LE { 0 } else { le as u16 };
                out.extend_from_slice(&le.to_be_bytes());
            }
        }
        Ok(out)
    }

    /// Parses a command APDU (the card side). Rejects every length that does not match one
    /// of the seven cases exactly.
    pub fn parse(bytes: &[u8]) -> Result<Command, CardError> {
        let header: [u8; 4] = match bytes.get(..4).and_then(|h| h.try_into().ok()) {
            Some(h) => h,
            None => {
                return Err(CardError::MalformedCommand(
                    "shorter than the 4-byte header",
                ))
            }
        };
        let mut cmd = Command::new(header[0], header[1], header[2], header[3]);
        let body = &bytes[4..];
        match body.len() {
            0 => {}
            1 => cmd.le = Some(if body[0] == 0 { 256 } else { body[0] as usize }),
            _ if body[0] != 0 => {
                let lc = body[0] as usize;
                let rest = &body[1..];
                if rest.len() == lc {
                    cmd.data = Zeroizing::new(rest.to_vec());
                } else if rest.len() == lc + 1 {
                    cmd.data = Zeroizing::new(rest[..lc].to_vec());
                    let le = rest[lc];
                    cmd.le = Some(if le == 0 { 256 } else { le as usize });
                } else {
                    return Err(CardError::MalformedCommand(
                        "Lc does not match the data length",
                    ));
                }
            }
            3 => {
                let le = u16::from_be_bytes([body[1], body[2]]);
                cmd.le = Some(if le == 0 { 65_536 } else { le as usize });
            }
            len if len > 3 => {
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                if lc == 0 {
                    return Err(CardError::MalformedCommand("extended Lc of zero"));
                }
                let rest = &body[3..];
                if rest.len() == lc {
                    cmd.data = Zeroizing::new(rest.to_vec());
                } else if rest.len() == lc + 2 {
                    cmd.data = Zeroizing::new(rest[..lc].to_vec());
                    let le = u16::from_be_bytes([rest[lc], rest[lc + 1]]);
                    cmd.le = Some(if le == 0 { 65_536 } else { le as usize });
                } else {
                    return Err(CardError::MalformedCommand(
                        "extended Lc does not match the data length",
                    ));
                }
            }
            _ => {
                return Err(CardError::MalformedCommand(
                    "a body of 2 bytes starting with 00",
                ))
            }
        }
        Ok(cmd)
    }

    /// The encoded command as hex, with the data field replaced by `**` per byte when the
    /// command is sensitive.
    pub fn to_trace_hex(&self) -> String {
        let Ok(bytes) = self.to_bytes(LengthForm::Auto) else {
            return "<unencodable>".into();
        };
        if !self.sensitive || self.data.is_empty() {
            return hex(&bytes);
        }
        // Header, length bytes, then the data (redacted), then Le.
        let lc_len = if self.needs_extended() { 3 } else { 1 };
        let start = 4 + lc_len;
        let end = start + self.data.len();
        let mut parts: Vec<String> = bytes[..start].iter().map(|b| format!("{b:02X}")).collect();
        parts.extend(std::iter::repeat_n("**".to_string(), self.data.len()));
        parts.extend(bytes[end..].iter().map(|b| format!("{b:02X}")));
        parts.join(" ")
    }
}

/// A response APDU: data and status word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The response data.
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw response bytes into data and status word.
    pub fn parse(bytes: &[u8]) -> Result<Response, CardError> {
        if bytes.len() < 2 {
            return Err(CardError::ResponseTooShort(bytes.len()));
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            sw: StatusWord::new(sw[0], sw[1]),
        })
    }

    /// A response with status word only.
    pub fn status(sw: StatusWord) -> Response {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    /// The bytes `data || SW1 SW2`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.0.to_be_bytes());
        out
    }

    /// `Ok(data)` on `9000`, otherwise [`CardError::UnexpectedStatus`] — or a more specific
    /// error for the status words that have one.
    pub fn ok(self, command: &'static str) -> Result<Vec<u8>, CardError> {
        match self.sw {
            StatusWord::OK => Ok(self.data),
            StatusWord::SECURITY_STATUS => Err(CardError::SecurityStatusNotSatisfied(command)),
            sw => Err(CardError::UnexpectedStatus { command, sw }),
        }
    }
}

/// Upper-case hex with spaces, for traces and messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_the_seven_cases() {
        let c = Command::new(0, 0xA4, 4, 0);
        assert_eq!(&c.to_bytes(LengthForm::Auto).unwrap()[..], [0, 0xA4, 4, 0]);
        let c2s = Command::new(0, 0xB0, 0, 0).with_le(256);
        assert_eq!(
            &c2s.to_bytes(LengthForm::Auto).unwrap()[..],
            [0, 0xB0, 0, 0, 0]
        );
        let c3s = Command::new(0, 0x20, 0, 1).with_data(vec![1, 2]);
        assert_eq!(
            &c3s.to_bytes(LengthForm::Auto).unwrap()[..],
            [0, 0x20, 0, 1, 2, 1, 2]
        );
        let c4s = Command::new(0, 0x88, 0, 0).with_data(vec![9]).with_le(256);
        assert_eq!(
            &c4s.to_bytes(LengthForm::Auto).unwrap()[..],
            [0, 0x88, 0, 0, 1, 9, 0]
        );
        let c2e = Command::new(0, 0xB0, 0, 0).with_le(65_536);
        assert_eq!(
            &c2e.to_bytes(LengthForm::Auto).unwrap()[..],
            [0, 0xB0, 0, 0, 0, 0, 0]
        );
        let c3e = Command::new(0, 0xD6, 0, 0).with_data(vec![7; 300]);
        let b = c3e.to_bytes(LengthForm::Auto).unwrap();
        assert_eq!(b[4..7], [0, 0x01, 0x2C]);
        assert_eq!(b.len(), 307);
        let c4e = Command::new(0, 0x2A, 0x9E, 0x9A)
            .with_data(vec![1])
            .with_le(512);
        assert_eq!(
            &c4e.to_bytes(LengthForm::Auto).unwrap()[..],
            [0, 0x2A, 0x9E, 0x9A, 0, 0, 1, 1, 2, 0]
        );
        assert!(Command::new(0, 0, 0, 0)
            .with_le(0)
            .to_bytes(LengthForm::Auto)
            .is_err());
        assert!(Command::new(0, 0, 0, 0)
            .with_data(vec![0; 65_536])
            .to_bytes(LengthForm::Auto)
            .is_err());
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        assert!(Command::parse(&[0, 0xA4, 4]).is_err());
        assert!(Command::parse(&[0, 0xA4, 4, 0, 3, 1, 2]).is_err());
        assert!(Command::parse(&[0, 0xA4, 4, 0, 0, 1]).is_err());
        assert!(Command::parse(&[0, 0xA4, 4, 0, 0, 0, 0, 1]).is_err());
        assert!(Command::parse(&[0, 0xA4, 4, 0, 0, 0, 2, 1]).is_err());
        assert_eq!(
            Response::parse(&[0x90]),
            Err(CardError::ResponseTooShort(1))
        );
    }

    #[test]
    fn pin_status_words() {
        let r = |sw| StatusWord(sw).pin_result("VERIFY", 4, 4);
        assert_eq!(r(0x63C2), Err(CardError::PinIncorrect { retries_left: 2 }));
        assert_eq!(r(0x63C0), Err(CardError::PinBlocked));
        assert_eq!(r(0x6983), Err(CardError::PinBlocked));
        assert_eq!(r(0x6984), Err(CardError::PinBlocked));
        assert_eq!(r(0x6401), Err(CardError::PinPadCancelled));
        assert!(matches!(r(0x6400), Err(CardError::Timeout(_))));
        assert_eq!(r(0x6700), Err(CardError::PinFormat { min: 4, max: 4 }));
        assert!(matches!(r(0x6F00), Err(CardError::UnexpectedStatus { .. })));
    }

    #[test]
    fn trace_redacts_sensitive_data() {
        let c = Command::new(0, 0x20, 0, 0x81)
            .with_secret_data(Zeroizing::new(b"1234\xff\xff".to_vec()));
        assert_eq!(c.to_trace_hex(), "00 20 00 81 06 ** ** ** ** ** **");
        assert!(!format!("{c:?}").contains("31"));
    }

    proptest! {
        #[test]
        fn command_round_trip(
            header in any::<[u8; 4]>(),
            data in prop::collection::vec(any::<u8>(), 0..600),
            le in prop::option::of(1usize..=65_536),
            extended in any::<bool>(),
        ) {
            let mut c = Command::new(header[0], header[1], header[2], header[3]).with_data(data);
            c.le = le;
            let form = if extended { LengthForm::Extended } else { LengthForm::Auto };
            let bytes = c.to_bytes(form).unwrap();
            let back = Command::parse(&bytes).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn command_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Command::parse(&bytes);
        }

        #[test]
        fn response_round_trip(data in prop::collection::vec(any::<u8>(), 0..300), sw in any::<u16>()) {
            let r = Response { data, sw: StatusWord(sw) };
            prop_assert_eq!(Response::parse(&r.to_bytes()).unwrap(), r);
        }
    }
}
