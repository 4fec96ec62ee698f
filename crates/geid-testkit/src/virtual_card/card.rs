use std::collections::BTreeMap;
use std::time::Duration;

use geid_card::apdu::{Command, Response, StatusWord};
use geid_card::pkcs15::build;
use geid_card::profile::{CardProfile, PinPadding, PinSpec};
use geid_card::tlv::{self, Tlv};
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::x509::X509;

/// The card was "removed": the APDU gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VirtualCardError {
    /// Removed by an injected fault.
    #[error("the virtual card was removed")]
    Removed,
}

/// Injected faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Sleep this long before answering each APDU.
    pub latency: Duration,
    /// After this many APDUs (counted from power-on), the card is removed.
    pub remove_after: Option<u64>,
    /// Answer every command with this INS with this status word instead.
    pub wrong_status: Option<(u8, u16)>,
    /// Split every response longer than this into `61xx` / GET RESPONSE chunks.
    pub chain_above: Option<usize>,
}

/// The keys and certificates of the two slots.
pub struct CardKeys {
    /// Authentication certificate.
    pub auth_cert: X509,
    /// Authentication key.
    pub auth_key: PKey<Private>,
    /// Qualified-signature certificate.
    pub sign_cert: X509,
    /// Qualified-signature key.
    pub sign_key: PKey<Private>,
}

impl CardKeys {
    /// The keys and certificates of a test citizen; `None` when the citizen has no qualified
    /// signature certificate (the broken variants have only an authentication certificate).
    pub fn for_citizen(c: &crate::pki::Citizen) -> Option<CardKeys> {
        Some(CardKeys {
            auth_cert: c.auth_cert.clone(),
            auth_key: c.auth_key.clone(),
            sign_cert: c.sign_cert.clone()?,
            sign_key: c.sign_key.clone()?,
        })
    }
}

/// The initial secrets. `sign_pin: None` means the signature PIN is still to be set from the
/// transport PIN.
#[derive(Debug, Clone)]
pub struct PinValues {
    /// Authentication PIN (4 digits).
    pub auth_pin: String,
    /// Signature PIN (6 digits), or `None` when not set yet.
    pub sign_pin: Option<String>,
    /// Transport PIN (5 digits).
    pub transport_pin: String,
    /// PUK.
    pub puk: String,
}

impl Default for PinValues {
    fn default() -> PinValues {
        PinValues {
            auth_pin: "1234".into(),
            sign_pin: Some("123456".into()),
            transport_pin: "12345".into(),
            puk: "12345678".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Secret {
    value: Vec<u8>,
    retries: u8,
    max: u8,
}

impl Secret {
    fn new(v: &str, max: u8) -> Secret {
        Secret {
            value: v.as_bytes().to_vec(),
            retries: max,
            max,
        }
    }
    /// Checks `digits`; returns the status word of a failed check.
    fn check(&mut self, digits: &[u8]) -> Result<(), StatusWord> {
        if self.retries == 0 {
            return Err(StatusWord::AUTH_BLOCKED);
        }
        if digits == self.value.as_slice() {
            self.retries = self.max;
            Ok(())
        } else {
            self.retries -= 1;
            Err(StatusWord(0x63C0 | u16::from(self.retries)))
        }
    }
}

const MF: [u8; 2] = [0x3F, 0x00];
const APP_FID: [u8; 2] = [0x50, 0x15];

/// The virtual card.
pub struct VirtualCard {
    atr: Vec<u8>,
    profile: CardProfile,
    extended: bool,
    files: BTreeMap<Vec<u8>, Vec<u8>>,
    dfs: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    current_df: Vec<u8>,
    current_ef: Option<Vec<u8>>,
    auth_key: PKey<Private>,
    sign_key: PKey<Private>,
    auth_pin: Secret,
    sign_pin: Option<Secret>,
    transport_pin: Secret,
    puk: Secret,
    auth_verified: bool,
    sign_verified: bool,
    security_env: Option<(u8, u8)>,
    pending: Vec<u8>,
    /// Faults to inject.
    pub faults: Faults,
    apdus: u64,
}

fn abs(base: &[u8], rel: &[u8]) -> Vec<u8> {
    let mut p = base.to_vec();
    p.extend_from_slice(rel);
    p
}

fn fcp(size: usize, fid: &[u8], df: bool) -> Vec<u8> {
    let mut kids = vec![
        Tlv::new(0x82, vec![if df { 0x38 } else { 0x01 }]),
        Tlv::new(0x83, fid.to_vec()),
    ];
    if !df {
        kids.insert(0, Tlv::new(0x80, (size as u16).to_be_bytes().to_vec()));
    }
    Tlv::constructed(0x62, &kids).to_bytes()
}

fn strip(block: &[u8], spec: &PinSpec) -> Vec<u8> {
    match spec.padding.value {
        PinPadding::Pad { byte, .. } => block.iter().copied().take_while(|b| *b != byte).collect(),
        PinPadding::None => block.to_vec(),
    }
}

fn block_len(spec: &PinSpec) -> Option<usize> {
    match spec.padding.value {
        PinPadding::Pad { length, .. } => Some(usize::from(length)),
        PinPadding::None => None,
    }
}

impl VirtualCard {
    /// A card with `atr` (which selects extended-length support through its card capabilities)
    /// whose layout is `profile`, holding `keys` and `pins`.
    pub fn new(
        atr: &[u8],
        profile: CardProfile,
        keys: CardKeys,
        pins: PinValues,
    ) -> Result<VirtualCard, openssl::error::ErrorStack> {
        let app = abs(&MF, &APP_FID);
        let mut files = BTreeMap::new();
        let auth_path = abs(&app, &profile.auth_key.certificate_path.value);
        let sign_path = abs(&app, &profile.sign_key.certificate_path.value);
        files.insert(auth_path.clone(), keys.auth_cert.to_der()?);
        files.insert(sign_path.clone(), keys.sign_cert.to_der()?);
        let aid = profile.pki_aid.value.clone();
        files.insert(
            abs(&MF, &[0x2F, 0x00]),
            build::dir_entry(&aid, "GEID PKI").to_bytes(),
        );
        let (cdf, prkdf, aodf) = (
            abs(&app, &[0x44, 0x01]),
            abs(&app, &[0x44, 0x02]),
            abs(&app, &[0x44, 0x03]),
        );
        files.insert(abs(&app, &[0x50, 0x31]), build::odf(&cdf, &prkdf, &aodf));
        files.insert(
            cdf,
            tlv::encode_all(&[
                build::cert("Authentication", &[1], &auth_path),
                build::cert("Signature", &[2], &sign_path),
            ]),
        );
        let (a_ref, s_ref) = (
            profile.auth_pin.reference.value,
            profile.sign_pin.reference.value,
        );
        files.insert(
            prkdf,
            tlv::encode_all(&[
                build::rsa_key(
                    "Authentication",
                    &[1],
                    &[a_ref],
                    profile.auth_key.reference.value,
                    false,
                ),
                build::rsa_key(
                    "Signature",
                    &[2],
                    &[s_ref],
                    profile.sign_key.reference.value,
                    true,
                ),
            ]),
        );
        let pin_entry = |label: &str, spec: &PinSpec| {
            let (pad, len) = match spec.padding.value {
                PinPadding::Pad { byte, length } => (byte, length),
                PinPadding::None => (0xFF, spec.length.value.1),
            };
            build::pin(
                label,
                &[spec.reference.value],
                spec.reference.value,
                spec.length.value.0,
                len,
                pad,
            )
        };
        files.insert(
            aodf,
            tlv::encode_all(&[
                pin_entry("PIN1", &profile.auth_pin),
                pin_entry("PIN2", &profile.sign_pin),
            ]),
        );
        let mut dfs = BTreeMap::new();
        dfs.insert(MF.to_vec(), None);
        dfs.insert(app, Some(aid));
        let max = |s: &PinSpec| s.max_retries.value;
        Ok(VirtualCard {
            atr: atr.to_vec(),
            extended: geid_card::atr::announces_extended_length(atr),
            files,
            dfs,
            current_df: MF.to_vec(),
            current_ef: None,
            auth_key: keys.auth_key,
            sign_key: keys.sign_key,
            auth_pin: Secret::new(&pins.auth_pin, max(&profile.auth_pin)),
            sign_pin: pins
                .sign_pin
                .as_deref()
                .map(|p| Secret::new(p, max(&profile.sign_pin))),
            transport_pin: Secret::new(&pins.transport_pin, max(&profile.transport_pin)),
            puk: Secret::new(&pins.puk, max(&profile.puk)),
            auth_verified: false,
            sign_verified: false,
            security_env: None,
            pending: Vec::new(),
            faults: Faults::default(),
            apdus: 0,
            profile,
        })
    }

    /// The ATR.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Whether the card takes extended-length APDUs.
    pub fn extended_length(&self) -> bool {
        self.extended
    }

    /// Tries left: `(auth, sign (None if not set), transport, puk)`.
    pub fn retries(&self) -> (u8, Option<u8>, u8, u8) {
        (
            self.auth_pin.retries,
            self.sign_pin.as_ref().map(|s| s.retries),
            self.transport_pin.retries,
            self.puk.retries,
        )
    }

    /// APDUs answered since power-on.
    pub fn apdu_count(&self) -> u64 {
        self.apdus
    }

    /// Cold reset: security state cleared, MF selected. Secrets and counters persist.
    pub fn reset(&mut self) {
        self.current_df = MF.to_vec();
        self.current_ef = None;
        self.auth_verified = false;
        self.sign_verified = false;
        self.security_env = None;
        self.pending.clear();
        self.apdus = 0;
    }

    /// Processes one command APDU and returns the response bytes.
    pub fn process(&mut self, apdu: &[u8]) -> Result<Vec<u8>, VirtualCardError> {
        self.apdus += 1;
        if let Some(n) = self.faults.remove_after {
            if self.apdus > n {
                return Err(VirtualCardError::Removed);
            }
        }
        if !self.faults.latency.is_zero() {
            std::thread::sleep(self.faults.latency);
        }
        let resp = match Command::parse(apdu) {
            Err(_) => Response::status(StatusWord::WRONG_LENGTH),
            Ok(cmd) => {
                let is_extended = apdu.len() > 5 && apdu[4] == 0;
                if is_extended && !self.extended {
                    Response::status(StatusWord::WRONG_LENGTH)
                } else if let Some((ins, sw)) =
                    self.faults.wrong_status.filter(|(ins, _)| *ins == cmd.ins)
                {
                    let _ = ins;
                    Response::status(StatusWord(sw))
                } else {
                    let r = self.dispatch(&cmd);
                    if cmd.ins != 0xC0 {
                        self.chain(r, cmd.le)
                    } else {
                        r
                    }
                }
            }
        };
        Ok(resp.to_bytes())
    }

    /// Splits long responses into 61xx chunks.
    fn chain(&mut self, r: Response, le: Option<usize>) -> Response {
        let limit = self
            .faults
            .chain_above
            .unwrap_or(usize::MAX)
            .min(le.unwrap_or(usize::MAX))
            .min(if self.extended { 65_536 } else { 256 });
        if r.data.len() <= limit || !r.sw.is_ok() {
            return r;
        }
        let mut data = r.data;
        self.pending = data.split_off(limit);
        let sw2 = self.pending.len().min(256) as u8;
        Response {
            data,
            sw: StatusWord::new(0x61, sw2),
        }
    }

    fn dispatch(&mut self, cmd: &Command) -> Response {
        if cmd.cla != 0x00 {
            return Response::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        if cmd.ins != 0xC0 {
            self.pending.clear();
        }
        let result = match cmd.ins {
            0xA4 => self.select(cmd),
            0xB0 => self.read_binary(cmd),
            0xC0 => self.get_response(cmd),
            0x20 => self.verify(cmd),
            0x24 => self.change(cmd),
            0x2C => self.reset_retry_counter(cmd),
            0x22 => self.mse(cmd),
            0x88 => self.sign(cmd, 0xA4),
            0x2A if cmd.p1 == 0x9E && cmd.p2 == 0x9A => self.sign(cmd, 0xB6),
            0x2A => Err(StatusWord::WRONG_P1P2),
            _ => Err(StatusWord::INS_NOT_SUPPORTED),
        };
        result.unwrap_or_else(Response::status)
    }

    fn ok(data: Vec<u8>) -> Result<Response, StatusWord> {
        Ok(Response {
            data,
            sw: StatusWord::OK,
        })
    }

    fn select(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        let target = match cmd.p1 {
            0x04 => self
                .dfs
                .iter()
                .find(|(_, aid)| aid.as_deref() == Some(cmd.data()))
                .map(|(p, _)| p.clone()),
            0x08 => Some(abs(&MF, cmd.data())),
            0x09 => Some(abs(&self.current_df, cmd.data())),
            0x00 | 0x02 if cmd.data() == MF => Some(MF.to_vec()),
            0x00 | 0x02 => Some(abs(&self.current_df, cmd.data())),
            _ => return Err(StatusWord::WRONG_P1P2),
        };
        let Some(path) = target else {
            return Err(StatusWord::FILE_NOT_FOUND);
        };
        if !cmd.data().len().is_multiple_of(2) && cmd.p1 != 0x04 {
            return Err(StatusWord::WRONG_DATA);
        }
        let fid = path[path.len().saturating_sub(2)..].to_vec();
        let fcp = if self.dfs.contains_key(&path) {
            self.current_df = path;
            self.current_ef = None;
            fcp(0, &fid, true)
        } else if let Some(f) = self.files.get(&path) {
            let size = f.len();
            self.current_df = path[..path.len() - 2].to_vec();
            self.current_ef = Some(path);
            fcp(size, &fid, false)
        } else {
            return Err(StatusWord::FILE_NOT_FOUND);
        };
        VirtualCard::ok(if cmd.p2 & 0x0C == 0x0C {
            Vec::new()
        } else {
            fcp
        })
    }

    fn read_binary(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 & 0x80 != 0 {
            return Err(StatusWord::WRONG_P1P2);
        }
        let ef = self.current_ef.as_ref().ok_or(StatusWord(0x6986))?;
        let file = self.files.get(ef).ok_or(StatusWord::FILE_NOT_FOUND)?;
        let off = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        if off > file.len() {
            return Err(StatusWord::WRONG_PARAMS);
        }
        let le = cmd.le.unwrap_or(256);
        let end = (off + le).min(file.len());
        let data = file[off..end].to_vec();
        if data.len() < le {
            return Ok(Response {
                data,
                sw: StatusWord(0x6282),
            });
        }
        VirtualCard::ok(data)
    }

    fn get_response(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if self.pending.is_empty() {
            return Err(StatusWord(0x6985));
        }
        let n = cmd.le.unwrap_or(256).min(self.pending.len());
        let rest = self.pending.split_off(n);
        let data = std::mem::replace(&mut self.pending, rest);
        if self.pending.is_empty() {
            VirtualCard::ok(data)
        } else {
            Ok(Response {
                data,
                sw: StatusWord::new(0x61, self.pending.len().min(256) as u8),
            })
        }
    }

    /// Which PIN a reference names.
    fn which(&self, reference: u8) -> Option<&'static str> {
        let p = &self.profile;
        if reference == p.auth_pin.reference.value {
            Some("auth")
        } else if reference == p.sign_pin.reference.value {
            Some("sign")
        } else if reference == p.puk.reference.value {
            Some("puk")
        } else if reference == p.transport_pin.reference.value {
            Some("transport")
        } else {
            None
        }
    }

    fn secret(&mut self, which: &str) -> Option<(&mut Secret, PinSpec)> {
        let p = &self.profile;
        match which {
            "auth" => Some((&mut self.auth_pin, p.auth_pin.clone())),
            "sign" => self.sign_pin.as_mut().map(|s| (s, p.sign_pin.clone())),
            "puk" => Some((&mut self.puk, p.puk.clone())),
            _ => Some((&mut self.transport_pin, p.transport_pin.clone())),
        }
    }

    fn verify(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 {
            return Err(StatusWord::WRONG_P1P2);
        }
        let which = self.which(cmd.p2).ok_or(StatusWord::REF_NOT_FOUND)?;
        let verified = match which {
            "auth" => self.auth_verified,
            "sign" => self.sign_verified,
            _ => false,
        };
        let data = cmd.data().to_vec();
        let (secret, spec) = self.secret(which).ok_or(StatusWord::CONDITIONS)?;
        if data.is_empty() {
            if secret.retries == 0 {
                return Err(StatusWord::AUTH_BLOCKED);
            }
            return if verified {
                VirtualCard::ok(Vec::new())
            } else {
                Err(StatusWord(0x63C0 | u16::from(secret.retries)))
            };
        }
        if block_len(&spec).is_some_and(|n| n != data.len()) {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let result = secret.check(&strip(&data, &spec));
        // A failed comparison resets the security status (ISO 7816-4 §11.5.6).
        match which {
            "auth" => self.auth_verified = false,
            "sign" => self.sign_verified = false,
            _ => {}
        }
        result?;
        match which {
            "auth" => self.auth_verified = true,
            "sign" => self.sign_verified = true,
            _ => {}
        }
        VirtualCard::ok(Vec::new())
    }

    fn change(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        let which = self.which(cmd.p2).ok_or(StatusWord::REF_NOT_FOUND)?;
        if which == "puk" || which == "transport" {
            return Err(StatusWord::CONDITIONS);
        }
        // Transport-PIN rule: while the signature PIN is not set, CHANGE REFERENCE DATA on it
        // takes the transport PIN as the old value, once.
        let old_which = if which == "sign" && self.sign_pin.is_none() {
            "transport"
        } else {
            which
        };
        let (_, old_spec) = self.secret(old_which).ok_or(StatusWord::CONDITIONS)?;
        let new_spec = if which == "sign" {
            self.profile.sign_pin.clone()
        } else {
            self.profile.auth_pin.clone()
        };
        let (ol, nl) = match (block_len(&old_spec), block_len(&new_spec)) {
            (Some(o), Some(n)) => (o, n),
            _ => return Err(StatusWord::WRONG_DATA),
        };
        let data = cmd.data().to_vec();
        if data.len() != ol + nl {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let new = strip(&data[ol..], &new_spec);
        if !(new_spec.min_len()..=new_spec.max_len()).contains(&new.len())
            || !new.iter().all(u8::is_ascii_digit)
        {
            return Err(StatusWord::WRONG_DATA);
        }
        let (secret, _) = self.secret(old_which).ok_or(StatusWord::CONDITIONS)?;
        secret.check(&strip(&data[..ol], &old_spec))?;
        let max = new_spec.max_retries.value;
        let fresh = Secret {
            value: new,
            retries: max,
            max,
        };
        if which == "sign" {
            if old_which == "transport" {
                self.transport_pin.retries = 0; // the transport PIN is used up
            }
            self.sign_pin = Some(fresh);
        } else {
            self.auth_pin = fresh;
        }
        VirtualCard::ok(Vec::new())
    }

    fn reset_retry_counter(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        let which = self.which(cmd.p2).ok_or(StatusWord::REF_NOT_FOUND)?;
        if which != "auth" {
            // The PUK cannot reset the signature PIN.
            return Err(StatusWord::CONDITIONS);
        }
        let puk_spec = self.profile.puk.clone();
        let pin_spec = self.profile.auth_pin.clone();
        let (pl, nl) = match (block_len(&puk_spec), block_len(&pin_spec)) {
            (Some(p), Some(n)) => (p, n),
            _ => return Err(StatusWord::WRONG_DATA),
        };
        let data = cmd.data().to_vec();
        if cmd.p1 != 0 || data.len() != pl + nl {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let new = strip(&data[pl..], &pin_spec);
        if !(pin_spec.min_len()..=pin_spec.max_len()).contains(&new.len()) {
            return Err(StatusWord::WRONG_DATA);
        }
        self.puk.check(&strip(&data[..pl], &puk_spec))?;
        let max = pin_spec.max_retries.value;
        self.auth_pin = Secret {
            value: new,
            retries: max,
            max,
        };
        VirtualCard::ok(Vec::new())
    }

    fn mse(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0x41 || !(cmd.p2 == 0xA4 || cmd.p2 == 0xB6) {
            return Err(StatusWord::WRONG_P1P2);
        }
        let objs = tlv::parse_all(cmd.data()).map_err(|_| StatusWord::WRONG_DATA)?;
        let key = tlv::find(&objs, 0x84)
            .and_then(|t| t.value.first().copied())
            .ok_or(StatusWord::WRONG_DATA)?;
        let alg = tlv::find(&objs, 0x80)
            .and_then(|t| t.value.first().copied())
            .ok_or(StatusWord::WRONG_DATA)?;
        let p = &self.profile;
        let expected_alg = if key == p.auth_key.reference.value {
            p.auth_key.mse_algorithm.value
        } else if key == p.sign_key.reference.value && cmd.p2 == 0xB6 {
            p.sign_key.mse_algorithm.value
        } else {
            return Err(StatusWord::REF_NOT_FOUND);
        };
        if alg != expected_alg {
            return Err(StatusWord::REF_NOT_FOUND);
        }
        self.security_env = Some((cmd.p2, key));
        VirtualCard::ok(Vec::new())
    }

    fn sign(&mut self, cmd: &Command, crt: u8) -> Result<Response, StatusWord> {
        let (env_crt, key) = self.security_env.ok_or(StatusWord::CONDITIONS)?;
        if env_crt != crt {
            return Err(StatusWord::CONDITIONS);
        }
        let is_auth = key == self.profile.auth_key.reference.value;
        let (pkey, allowed) = if is_auth {
            (&self.auth_key, self.auth_verified)
        } else {
            (&self.sign_key, self.sign_verified)
        };
        if !allowed {
            return Err(StatusWord::SECURITY_STATUS);
        }
        let sig = match pkey.id() {
            Id::RSA => {
                let rsa = pkey.rsa().map_err(|_| StatusWord(0x6F00))?;
                let mut out = vec![0u8; rsa.size() as usize];
                let n = rsa
                    .private_encrypt(cmd.data(), &mut out, Padding::PKCS1)
                    .map_err(|_| StatusWord::WRONG_DATA)?;
                out.truncate(n);
                out
            }
            Id::EC => {
                let ec = pkey.ec_key().map_err(|_| StatusWord(0x6F00))?;
                let field = (ec.group().degree() as usize).div_ceil(8);
                let sig = EcdsaSig::sign(cmd.data(), &ec).map_err(|_| StatusWord::WRONG_DATA)?;
                let mut raw = vec![0u8; 2 * field];
                let (r, s) = (sig.r().to_vec(), sig.s().to_vec());
                raw[field - r.len()..field].copy_from_slice(&r);
                raw[2 * field - s.len()..].copy_from_slice(&s);
                raw
            }
            _ => return Err(StatusWord(0x6F00)),
        };
        if !is_auth {
            // A qualified signature needs the PIN every time.
            self.sign_verified = false;
        }
        VirtualCard::ok(sig)
    }
}
