//! Card operations: certificates, PINs, signatures, the Web eID login token.
//!
//! Every public method of [`Card`] is one operation and runs in one exclusive transaction. If
//! another program resets the card in the middle, the transport reconnects and the operation
//! runs once more; a second failure is reported.

use geid_protocol::{
    app_version, AuthToken, ChallengeNonce, HashFunction, Origin, Pin, SignatureAlgorithm,
    TOKEN_FORMAT,
};
use zeroize::Zeroizing;

use crate::apdu::{Command, StatusWord};
use crate::certificate::{CertificateInfo, KeyKind};
use crate::profile::{AuthStyle, CardProfile, PinSpec};
use crate::transport::{is_not_found, Session, Stats, Trace, Transport};
use crate::{pinpad, pkcs15, tlv, CardError};

/// Which key (and certificate) of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySlot {
    /// The authentication key (PIN1).
    Authentication,
    /// The qualified-signature key (PIN2).
    Signing,
}

/// Which secret of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinKind {
    /// The authentication PIN (4 digits).
    Authentication,
    /// The signature PIN (6 digits).
    Signing,
    /// The transport PIN (5 digits) that sets the signature PIN once.
    Transport,
    /// The PUK (unblocks the authentication PIN).
    Puk,
}

/// How a PIN reaches the card.
pub enum PinEntry {
    /// Typed on the computer; consumed by the operation.
    Pin(Pin),
    /// Typed on the reader's PIN pad (FEATURE_VERIFY_PIN_DIRECT).
    PinPad,
}

impl From<Pin> for PinEntry {
    fn from(p: Pin) -> PinEntry {
        PinEntry::Pin(p)
    }
}

/// The state of one PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PinStatus {
    /// Tries left, when the card says (`None` when it reports the PIN as verified).
    pub retries_left: Option<u8>,
    /// Tries in total.
    pub max_retries: u8,
    /// Blocked.
    pub blocked: bool,
    /// Verified in the current card session.
    pub verified: bool,
    /// For the signature PIN: not yet set from the transport PIN.
    pub not_set: bool,
}

/// Mutable knowledge about the card: the profile (patched by discovery) and cached certificates.
#[derive(Clone, Debug)]
struct State {
    profile: CardProfile,
    discovered: bool,
    certs: [Option<Vec<u8>>; 2],
}

/// A card behind a [`Transport`].
pub struct Card<T: Transport> {
    transport: T,
    state: State,
    stats: Stats,
    trace: Option<Trace>,
}

impl<T: Transport> Card<T> {
    /// Opens the card, choosing the profile by ATR.
    pub fn open(transport: T) -> Result<Card<T>, CardError> {
        let profile = crate::atr::profile_for(transport.atr())?;
        Ok(Card::with_profile(transport, profile))
    }

    /// Opens the card with a given profile (e.g. an override read from JSON).
    pub fn with_profile(transport: T, profile: CardProfile) -> Card<T> {
        Card {
            transport,
            state: State {
                profile,
                discovered: false,
                certs: [None, None],
            },
            stats: Stats::default(),
            trace: None,
        }
    }

    /// The profile in use (after any PKCS#15 discovery).
    pub fn profile(&self) -> &CardProfile {
        &self.state.profile
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (e.g. to inject faults in tests).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Records every APDU from now on into `trace` (PIN bytes redacted).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = Some(trace);
    }

    /// APDUs and bytes exchanged so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Forgets cached certificates (the next read goes to the card).
    pub fn clear_cache(&mut self) {
        self.state.certs = [None, None];
    }

    fn run<R>(
        &mut self,
        mut op: impl FnMut(&mut State, &mut Session<'_>) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        let mut attempt = 0;
        loop {
            let card_ext = self.state.profile.extended_length.value;
            let result = match self.transport.begin_transaction() {
                Ok(mut chan) => {
                    let mut s =
                        Session::new(&mut *chan, &mut self.stats, self.trace.as_ref(), card_ext);
                    op(&mut self.state, &mut s)
                }
                Err(e) => Err(e),
            };
            match result {
                Err(CardError::CardReset) if attempt == 0 => {
                    attempt += 1;
                    tracing::info!(
                        "card was reset by another program; reconnecting and retrying once"
                    );
                    self.transport.reconnect()?;
                }
                other => return other,
            }
        }
    }

    /// The DER certificate of `slot` (cached after the first read).
    pub fn certificate(&mut self, slot: KeySlot) -> Result<Vec<u8>, CardError> {
        self.run(|st, s| st.certificate(s, slot))
    }

    /// Holder and certificate details of `slot`.
    pub fn certificate_info(&mut self, slot: KeySlot) -> Result<CertificateInfo, CardError> {
        CertificateInfo::parse(&self.certificate(slot)?)
    }

    /// The state of a PIN.
    pub fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError> {
        self.run(|st, s| {
            st.select_app(s)?;
            st.pin_status(s, kind)
        })
    }

    /// VERIFY a PIN (to check it; signing operations verify by themselves).
    pub fn verify_pin(&mut self, kind: PinKind, pin: PinEntry) -> Result<(), CardError> {
        self.run(|st, s| {
            st.select_app(s)?;
            st.verify(s, kind, &pin)
        })
    }

    /// Changes a PIN (CHANGE REFERENCE DATA with the current and the new PIN).
    pub fn change_pin(&mut self, kind: PinKind, current: Pin, new: Pin) -> Result<(), CardError> {
        self.run(|st, s| {
            st.select_app(s)?;
            if kind == PinKind::Signing && st.pin_status(s, PinKind::Signing)?.not_set {
                return Err(CardError::PinNotSet);
            }
            let spec = st.spec(kind).clone();
            st.change_reference_data(s, &spec, &spec, &current, &new)
        })
    }

    /// Sets the signature PIN once from the transport PIN.
    pub fn set_signing_pin(&mut self, transport: Pin, new: Pin) -> Result<(), CardError> {
        self.run(|st, s| {
            st.select_app(s)?;
            if !st.pin_status(s, PinKind::Signing)?.not_set {
                return Err(CardError::PinAlreadySet);
            }
            let old_spec = st.profile.transport_pin.clone();
            let new_spec = st.profile.sign_pin.clone();
            st.change_reference_data(s, &old_spec, &new_spec, &transport, &new)
        })
    }

    /// Unblocks a PIN with the PUK and sets a new one (RESET RETRY COUNTER). Only the
    /// authentication PIN: the PUK cannot reset the signature PIN.
    pub fn unblock_pin(&mut self, kind: PinKind, puk: Pin, new: Pin) -> Result<(), CardError> {
        if kind != PinKind::Authentication {
            return Err(CardError::PukCannotResetSigningPin);
        }
        self.run(|st, s| {
            st.select_app(s)?;
            let puk_spec = st.profile.puk.clone();
            let pin_spec = st.profile.auth_pin.clone();
            let mut data = Zeroizing::new(format_pin(&puk_spec, &puk)?);
            data.extend_from_slice(&format_pin(&pin_spec, &new)?);
            let cmd =
                Command::new(0x00, 0x2C, 0x00, pin_spec.reference.value).with_secret_data(data);
            let sw = s.exchange(&cmd)?.sw;
            if sw == StatusWord::CONDITIONS {
                return Err(CardError::PukCannotResetSigningPin);
            }
            sw.pin_result(
                "RESET RETRY COUNTER",
                puk_spec.min_len(),
                puk_spec.max_len(),
            )
        })
    }

    /// Whether the reader offers PIN entry on its own keypad (FEATURE_VERIFY_PIN_DIRECT).
    pub fn reader_has_pin_pad(&mut self) -> Result<bool, CardError> {
        let mut chan = self.transport.begin_transaction()?;
        Ok(chan.features()?.verify_pin_direct.is_some())
    }

    /// Signs `digest` (of `hash`) with `slot`'s key after verifying its PIN. RSA keys get a
    /// PKCS#1 v1.5 signature over the DigestInfo; EC keys a raw `r || s` signature.
    pub fn sign(
        &mut self,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: PinEntry,
    ) -> Result<Vec<u8>, CardError> {
        if digest.len() != hash.output_len() {
            return Err(CardError::DigestLength {
                hash: hash.as_str(),
                expected: hash.output_len(),
                actual: digest.len(),
            });
        }
        self.run(|st, s| st.sign(s, slot, hash, digest, &pin))
    }

    /// Makes a Web eID login token: signs `H(H(origin) || H(nonce))` with the authentication key.
    pub fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinEntry,
    ) -> Result<AuthToken, CardError> {
        self.run(|st, s| {
            let certificate = st.certificate(s, KeySlot::Authentication)?;
            let info = CertificateInfo::parse(&certificate)?;
            let algorithm = match info.key {
                KeyKind::Rsa { .. } => SignatureAlgorithm::Rs256,
                KeyKind::Ec { field_len: 32 } => SignatureAlgorithm::Es256,
                KeyKind::Ec { field_len: 48 } => SignatureAlgorithm::Es384,
                KeyKind::Ec { field_len: 66 } => SignatureAlgorithm::Es512,
                KeyKind::Ec { field_len } => {
                    return Err(CardError::UnsupportedKey(format!(
                        "EC key with {field_len}-byte field"
                    )))
                }
            };
            let digest = algorithm.card_digest(origin, nonce);
            let signature = st.sign(s, KeySlot::Authentication, algorithm.hash(), &digest, &pin)?;
            Ok(AuthToken {
                certificate,
                algorithm,
                signature,
                format: TOKEN_FORMAT.into(),
                app_version: app_version(),
            })
        })
    }
}

fn format_pin(spec: &PinSpec, pin: &Pin) -> Result<Vec<u8>, CardError> {
    if !(spec.min_len()..=spec.max_len()).contains(&pin.len()) {
        return Err(CardError::PinFormat {
            min: spec.min_len(),
            max: spec.max_len(),
        });
    }
    Ok(spec.padding.value.apply(pin.expose_digits()))
}

/// SELECT by path: absolute from the MF when the path starts with `3F00`, else from the
/// current DF. Returns the file size from the FCP (tag `80`, else `81`) when present.
fn select_path(s: &mut Session<'_>, path: &[u8]) -> Result<Option<usize>, CardError> {
    let (p1, body) = match path {
        [0x3F, 0x00, rest @ ..] => (0x08, rest),
        _ => (0x09, path),
    };
    let cmd = Command::new(0x00, 0xA4, p1, 0x04)
        .with_data(body.to_vec())
        .with_le(256);
    let r = s.exchange(&cmd)?;
    if is_not_found(r.sw) {
        return Err(CardError::FileNotFound(crate::apdu::hex(path)));
    }
    let fcp = r.ok("SELECT")?;
    let Some(fcp) = tlv::find(&tlv::parse_all(&fcp)?, 0x62).cloned() else {
        return Ok(None);
    };
    let kids = fcp.children()?;
    let size = tlv::find(&kids, 0x80)
        .or_else(|| tlv::find(&kids, 0x81))
        .map(|t| t.as_uint())
        .transpose()?;
    Ok(size.map(|n| n as usize))
}

/// READ BINARY of the selected file: `size` bytes, or up to the end of the DER object at its
/// start when the size is unknown (`der`), or until the card reports the end.
fn read_binary(
    s: &mut Session<'_>,
    size: Option<usize>,
    der: bool,
    chunk: usize,
) -> Result<Vec<u8>, CardError> {
    let step = if s.extended {
        0xFFFF
    } else {
        chunk.clamp(1, 256)
    };
    let mut total = size;
    let mut out: Vec<u8> = Vec::new();
    loop {
        if let Some(t) = total {
            if out.len() >= t {
                out.truncate(t);
                return Ok(out);
            }
        }
        if out.len() > 0x7FFF {
            return Err(CardError::ResponseTooLong {
                actual: out.len(),
                limit: 0x7FFF,
            });
        }
        let want = total.map_or(if der { 4.max(step.min(256)) } else { step }, |t| {
            (t - out.len()).min(step)
        });
        let off = out.len() as u16;
        let cmd = Command::new(0x00, 0xB0, (off >> 8) as u8, off as u8).with_le(want);
        let r = s.exchange(&cmd)?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::WRONG_PARAMS if total.is_none() => return Ok(out),
            sw if sw.0 == 0x6282 => {
                out.extend_from_slice(&r.data);
                return Ok(out);
            }
            sw => {
                return Err(CardError::UnexpectedStatus {
                    command: "READ BINARY",
                    sw,
                })
            }
        }
        if r.data.is_empty() {
            return match total {
                None => Ok(out),
                Some(_) => Err(CardError::UnexpectedStatus {
                    command: "READ BINARY (file shorter than its size)",
                    sw: r.sw,
                }),
            };
        }
        out.extend_from_slice(&r.data);
        if total.is_none() && der && out.len() >= 4 {
            total = Some(tlv::object_length(&out)?);
        }
    }
}

impl State {
    fn spec(&self, kind: PinKind) -> &PinSpec {
        match kind {
            PinKind::Authentication => &self.profile.auth_pin,
            PinKind::Signing => &self.profile.sign_pin,
            PinKind::Transport => &self.profile.transport_pin,
            PinKind::Puk => &self.profile.puk,
        }
    }

    fn select_aid(s: &mut Session<'_>, aid: &[u8]) -> Result<bool, CardError> {
        let r = s.exchange(&Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec()))?;
        if is_not_found(r.sw) {
            return Ok(false);
        }
        r.ok("SELECT application")?;
        Ok(true)
    }

    fn select_app(&mut self, s: &mut Session<'_>) -> Result<(), CardError> {
        let aid = self.profile.pki_aid.value.clone();
        if State::select_aid(s, &aid)? {
            return Ok(());
        }
        if self.discovered {
            return Err(CardError::FileNotFound(format!(
                "application {}",
                crate::apdu::hex(&aid)
            )));
        }
        self.discover(s)
    }

    /// PKCS#15 discovery; patches the profile and leaves the application selected.
    fn discover(&mut self, s: &mut Session<'_>) -> Result<(), CardError> {
        self.discovered = true;
        tracing::info!("profile files not found; discovering objects through PKCS#15");
        let mut aids = Vec::new();
        if let Ok(size) = select_path(s, &[0x3F, 0x00, pkcs15::EF_DIR[0], pkcs15::EF_DIR[1]]) {
            let dir = read_binary(s, size, false, self.profile.read_chunk.value)?;
            aids.extend(pkcs15::parse_dir(&dir)?.into_iter().map(|d| d.aid));
        }
        aids.push(crate::profile::PKCS15_AID.to_vec());
        let mut selected = None;
        for aid in aids {
            if State::select_aid(s, &aid)? {
                selected = Some(aid);
                break;
            }
        }
        let aid = selected.ok_or_else(|| {
            CardError::Pkcs15("no PKI application found (EF.DIR, PKCS#15 AID)".into())
        })?;
        let chunk = self.profile.read_chunk.value;
        let read = |s: &mut Session<'_>, path: &[u8]| -> Result<Vec<u8>, CardError> {
            let size = select_path(s, path)?;
            read_binary(s, size, false, chunk)
        };
        let odf = pkcs15::parse_odf(&read(s, &pkcs15::EF_ODF)?)?;
        let mut certs = Vec::new();
        for p in &odf.cdf {
            certs.extend(pkcs15::parse_cdf(&read(s, p)?)?);
        }
        let mut keys = Vec::new();
        for p in &odf.prkdf {
            keys.extend(pkcs15::parse_prkdf(&read(s, p)?)?);
        }
        let mut pins = Vec::new();
        for p in &odf.aodf {
            pins.extend(pkcs15::parse_aodf(&read(s, p)?)?);
        }
        let src = "discovered through PKCS#15 on this card".to_string();
        for non_rep in [false, true] {
            let Some(key) = keys.iter().find(|k| k.non_repudiation == non_rep) else {
                return Err(CardError::Pkcs15(format!(
                    "no {} key in the PrKDF",
                    if non_rep { "signing" } else { "authentication" }
                )));
            };
            let cert = certs
                .iter()
                .find(|c| c.id == key.id)
                .ok_or_else(|| CardError::Pkcs15("key without a certificate".into()))?;
            let (kspec, pspec) = if non_rep {
                (&mut self.profile.sign_key, &mut self.profile.sign_pin)
            } else {
                (&mut self.profile.auth_key, &mut self.profile.auth_pin)
            };
            kspec.certificate_path = crate::profile::Item {
                value: cert.path.clone(),
                confirmed: true,
                source: src.clone(),
            };
            if let Some(r) = key.key_reference {
                kspec.reference = crate::profile::Item {
                    value: r,
                    confirmed: true,
                    source: src.clone(),
                };
            }
            if let Some(pin) = pins.iter().find(|p| p.auth_id == key.auth_id) {
                pspec.reference = crate::profile::Item {
                    value: pin.reference,
                    confirmed: true,
                    source: src.clone(),
                };
                if let Some(pad) = pin.pad_char {
                    pspec.padding = crate::profile::Item {
                        value: crate::profile::PinPadding::Pad {
                            byte: pad,
                            length: pin.stored_length,
                        },
                        confirmed: true,
                        source: src.clone(),
                    };
                }
            }
        }
        self.profile.pki_aid = crate::profile::Item {
            value: aid.clone(),
            confirmed: true,
            source: src,
        };
        // Leave the application selected for the caller.
        State::select_aid(s, &aid)?;
        Ok(())
    }

    fn certificate(&mut self, s: &mut Session<'_>, slot: KeySlot) -> Result<Vec<u8>, CardError> {
        let i = slot as usize;
        if let Some(c) = &self.certs[i] {
            return Ok(c.clone());
        }
        self.select_app(s)?;
        let path = |st: &State| match slot {
            KeySlot::Authentication => st.profile.auth_key.certificate_path.value.clone(),
            KeySlot::Signing => st.profile.sign_key.certificate_path.value.clone(),
        };
        let size = match select_path(s, &path(self)) {
            Err(CardError::FileNotFound(_)) if !self.discovered => {
                self.discover(s)?;
                select_path(s, &path(self))?
            }
            other => other?,
        };
        let der = read_binary(s, size, true, self.profile.read_chunk.value)?;
        // A size from the FCP may include padding after the certificate.
        let len = tlv::object_length(&der)?;
        if der.len() < len {
            return Err(CardError::MalformedCertificate(format!(
                "file holds {} of {len} bytes",
                der.len()
            )));
        }
        let der = der[..len].to_vec();
        self.certs[i] = Some(der.clone());
        Ok(der)
    }

    fn pin_status(&mut self, s: &mut Session<'_>, kind: PinKind) -> Result<PinStatus, CardError> {
        let spec = self.spec(kind);
        let max = spec.max_retries.value;
        let r = s.exchange(&Command::new(0x00, 0x20, 0x00, spec.reference.value))?;
        let mut st = PinStatus {
            retries_left: None,
            max_retries: max,
            blocked: false,
            verified: false,
            not_set: false,
        };
        match r.sw {
            StatusWord::OK => st.verified = true,
            StatusWord::AUTH_BLOCKED | StatusWord::REF_DATA_NOT_USABLE => {
                st.blocked = true;
                st.retries_left = Some(0);
            }
            StatusWord::CONDITIONS if kind == PinKind::Signing => st.not_set = true,
            sw => match sw.retries() {
                Some(n) => {
                    st.retries_left = Some(n);
                    st.blocked = n == 0;
                }
                None => {
                    return Err(CardError::UnexpectedStatus {
                        command: "VERIFY (retry counter)",
                        sw,
                    })
                }
            },
        }
        Ok(st)
    }

    fn verify(
        &mut self,
        s: &mut Session<'_>,
        kind: PinKind,
        pin: &PinEntry,
    ) -> Result<(), CardError> {
        let spec = self.spec(kind).clone();
        let sw = match pin {
            PinEntry::Pin(pin) => {
                let data = Zeroizing::new(format_pin(&spec, pin)?);
                let cmd =
                    Command::new(0x00, 0x20, 0x00, spec.reference.value).with_secret_data(data);
                s.exchange(&cmd)?.sw
            }
            PinEntry::PinPad => {
                let features = s.channel().features()?;
                let code = features.verify_pin_direct.ok_or(CardError::NoPinPad)?;
                let structure =
                    pinpad::verify_pin_direct(0x00, &spec, pinpad::PIN_PAD_TIMEOUT_SECS);
                let raw = s.channel().control(code, &structure)?;
                crate::apdu::Response::parse(&raw)?.sw
            }
        };
        if sw == StatusWord::CONDITIONS && kind == PinKind::Signing {
            return Err(CardError::PinNotSet);
        }
        sw.pin_result("VERIFY", spec.min_len(), spec.max_len())
    }

    fn change_reference_data(
        &mut self,
        s: &mut Session<'_>,
        old_spec: &PinSpec,
        new_spec: &PinSpec,
        old: &Pin,
        new: &Pin,
    ) -> Result<(), CardError> {
        let mut data = Zeroizing::new(format_pin(old_spec, old)?);
        data.extend_from_slice(&format_pin(new_spec, new)?);
        let cmd = Command::new(0x00, 0x24, 0x00, new_spec.reference.value).with_secret_data(data);
        s.exchange(&cmd)?.sw.pin_result(
            "CHANGE REFERENCE DATA",
            old_spec.min_len(),
            old_spec.max_len(),
        )
    }

    fn sign(
        &mut self,
        s: &mut Session<'_>,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: &PinEntry,
    ) -> Result<Vec<u8>, CardError> {
        let cert = self.certificate(s, slot)?;
        let info = CertificateInfo::parse(&cert)?;
        self.select_app(s)?;
        let (pin_kind, key) = match slot {
            KeySlot::Authentication => (PinKind::Authentication, self.profile.auth_key.clone()),
            KeySlot::Signing => (PinKind::Signing, self.profile.sign_key.clone()),
        };
        self.verify(s, pin_kind, pin)?;
        let input = match info.key {
            KeyKind::Rsa { .. } => hash.digest_info(digest).ok_or(CardError::DigestLength {
                hash: hash.as_str(),
                expected: hash.output_len(),
                actual: digest.len(),
            })?,
            KeyKind::Ec { .. } => digest.to_vec(),
        };
        let internal_auth = slot == KeySlot::Authentication
            && self.profile.auth_style.value == AuthStyle::InternalAuthenticate;
        let crt = if internal_auth { 0xA4 } else { 0xB6 };
        let mse = Command::new(0x00, 0x22, 0x41, crt).with_data(vec![
            0x80,
            0x01,
            key.mse_algorithm.value,
            0x84,
            0x01,
            key.reference.value,
        ]);
        s.ok("MSE:SET", &mse)?;
        let le = match info.key {
            KeyKind::Rsa { modulus_bytes } => modulus_bytes.max(1),
            KeyKind::Ec { field_len } => 2 * field_len + 8,
        };
        let le = if le > 256 && !s.extended {
            256
        } else {
            le.min(65_536)
        };
        let cmd = if internal_auth {
            Command::new(0x00, 0x88, 0x00, 0x00)
                .with_data(input)
                .with_le(256.max(le))
        } else {
            Command::new(0x00, 0x2A, 0x9E, 0x9A)
                .with_data(input)
                .with_le(256.max(le))
        };
        let name = if internal_auth {
            "INTERNAL AUTHENTICATE"
        } else {
            "PSO: COMPUTE DIGITAL SIGNATURE"
        };
        let sig = s.ok(name, &cmd)?;
        match info.key {
            KeyKind::Rsa { modulus_bytes } if sig.len() != modulus_bytes => {
                Err(CardError::MalformedSignature(format!(
                    "the card returned a {}-byte signature for a {}-byte RSA key",
                    sig.len(),
                    modulus_bytes
                )))
            }
            KeyKind::Ec { field_len } if sig.len() != 2 * field_len => {
                geid_protocol::ecdsa_der_to_raw(&sig, field_len)
                    .map_err(|e| CardError::MalformedSignature(e.to_string()))
            }
            _ => Ok(sig),
        }
    }
}
