//! Native-messaging messages between the browser extension and `geid-host`.
//!
//! `docs/protocol.md` is the normative description with examples; this module is its typed
//! form. Requests are parsed in stages so that every failure gets the most specific error code
//! and, wherever the request id could be read, carries that id back:
//!
//! 1. UTF-8 and a JSON object (`INVALID_MESSAGE`);
//! 2. a valid `id` (`INVALID_MESSAGE`, no id);
//! 3. only the fields `id`, `command`, `arguments` (`INVALID_ARGUMENT`);
//! 4. a known command (`UNKNOWN_COMMAND`);
//! 5. the command's arguments: required fields present, no others, each valid
//!    (`INVALID_ARGUMENT`; a malformed origin is `ORIGIN_NOT_ALLOWED`).
//!
//! The `pin` command is handled with care: its value is read straight from the frame buffer
//! into a zeroising [`Pin`], and no error message ever repeats it.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::token::BASE64;
use crate::{
    AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin, Pin, SignatureAlgorithm,
    SignatureScheme,
};

/// The protocol version string the host reports in `status`.
pub const PROTOCOL_VERSION: &str = "geid-nm/1";

/// Longest request id, in characters.
pub const REQUEST_ID_MAX_LEN: usize = 64;

/// A request id chosen by the extension: 1–64 characters of `A–Z a–z 0–9 - _ . :`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    /// Validates a request id.
    pub fn new(s: &str) -> Result<RequestId, MessageError> {
        let ok = !s.is_empty()
            && s.len() <= REQUEST_ID_MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            Ok(RequestId(s.to_owned()))
        } else {
            Err(MessageError::new(
                None,
                ErrorCode::InvalidMessage,
                "id must be 1-64 characters of A-Z a-z 0-9 - _ . :",
            ))
        }
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        RequestId::new(&s).map_err(|e| de::Error::custom(e.message))
    }
}

/// A UI language tag such as `ka` or `en-GB` (letters, digits and `-`, at most 35 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lang(String);

impl Lang {
    /// Validates a language tag (loosely, BCP 47 shaped).
    pub fn new(s: &str) -> Option<Lang> {
        let mut parts = s.split('-');
        let primary = parts.next()?;
        let ok = (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && s.len() <= 35
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        ok.then(|| Lang(s.to_ascii_lowercase()))
    }

    /// The tag, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`ka` for `ka-GE`).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A request from the extension.
#[derive(Debug)]
pub struct Request {
    /// The request id; every answer to this request carries it.
    pub id: RequestId,
    /// What is asked.
    pub command: Command,
}

/// The commands the host understands.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Versions, readers, cards.
    Status,
    /// Sign a login challenge with the authentication key; answers with an [`AuthToken`].
    Authenticate(AuthenticateArgs),
    /// Read the qualified-signature certificate.
    GetSigningCertificate(GetSigningCertificateArgs),
    /// Sign a hash with the qualified-signature key.
    Sign(SignArgs),
    /// The PIN the host asked for with a `pin-required` event (same request id).
    Pin(Pin),
    /// Cancel the running request with this id.
    Cancel,
    /// End the host.
    Quit,
}

impl Command {
    /// The wire name of the command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Authenticate(_) => "authenticate",
            Command::GetSigningCertificate(_) => "get-signing-certificate",
            Command::Sign(_) => "sign",
            Command::Pin(_) => "pin",
            Command::Cancel => "cancel",
            Command::Quit => "quit",
        }
    }
}

/// Arguments of `authenticate`.
#[derive(Debug, Clone)]
pub struct AuthenticateArgs {
    /// The portal's challenge.
    pub challenge_nonce: ChallengeNonce,
    /// The page origin, as the extension computed it from the browser-attested sender.
    pub origin: Origin,
    /// UI language for the PIN window.
    pub lang: Option<Lang>,
}

/// Arguments of `get-signing-certificate`.
#[derive(Debug, Clone)]
pub struct GetSigningCertificateArgs {
    /// The page origin.
    pub origin: Origin,
    /// UI language.
    pub lang: Option<Lang>,
}

/// Arguments of `sign`.
#[derive(Debug, Clone)]
pub struct SignArgs {
    /// The page origin.
    pub origin: Origin,
    /// DER of the certificate the page expects to sign with; must be the card's.
    pub certificate: Vec<u8>,
    /// The hash to sign; its length matches `hash_function`.
    pub hash: Vec<u8>,
    /// The hash function that produced `hash`.
    pub hash_function: HashFunction,
    /// UI language.
    pub lang: Option<Lang>,
}

/// A request that could not be accepted, with the code and (when known) the id to answer to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MessageError {
    /// The request id, when it could be read.
    pub id: Option<RequestId>,
    /// The error code.
    pub code: ErrorCode,
    /// A human-readable explanation; never contains a PIN.
    pub message: String,
}

impl MessageError {
    fn new(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> MessageError {
        MessageError {
            id,
            code,
            message: message.into(),
        }
    }

    /// The error as the host's answer.
    pub fn to_host_message(&self) -> HostMessage {
        HostMessage::error(
            self.id.clone(),
            ErrorBody::new(self.code.clone(), &self.message),
        )
    }
}

/// Collects a JSON object's members without copying values, refusing duplicate keys.
struct Members<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(&'a str, &'a RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<&'de str>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate field {:?}",
                            key.chars().take(32).collect::<String>()
                        )));
                    }
                    let value: &'de RawValue = map.next_value()?;
                    out.push((key, value));
                }
                Ok(Members(out))
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'a> Members<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Refuses members other than `allowed`.
    fn only(
        &self,
        allowed: &[&str],
        what: &str,
        id: &Option<RequestId>,
    ) -> Result<(), MessageError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(k)) {
            Some((k, _)) => Err(MessageError::new(
                id.clone(),
                ErrorCode::InvalidArgument,
                format!(
                    "unknown field {:?} in {what}; expected only {}",
                    k.chars().take(32).collect::<String>(),
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// A required string member, borrowed from the input when it has no escapes.
    fn string(
        &self,
        key: &str,
        id: &Option<RequestId>,
    ) -> Result<std::borrow::Cow<'a, str>, MessageError> {
        let raw = self.get(key).ok_or_else(|| {
            MessageError::new(
                id.clone(),
                ErrorCode::InvalidArgument,
                format!("missing field {key:?}"),
            )
        })?;
        serde_json::from_str::<std::borrow::Cow<'a, str>>(raw.get()).map_err(|_| {
            MessageError::new(
                id.clone(),
                ErrorCode::InvalidArgument,
                format!("field {key:?} must be a string"),
            )
        })
    }

    fn optional_lang(&self, id: &Option<RequestId>) -> Result<Option<Lang>, MessageError> {
        if self.get("lang").is_none() {
            return Ok(None);
        }
        let s = self.string("lang", id)?;
        Lang::new(&s).map(Some).ok_or_else(|| {
            MessageError::new(
                id.clone(),
                ErrorCode::InvalidArgument,
                "lang must be a language tag such as \"ka\" or \"en\"",
            )
        })
    }

    fn origin(&self, id: &Option<RequestId>) -> Result<Origin, MessageError> {
        let s = self.string("origin", id)?;
        Origin::parse(&s)
            .map_err(|e| MessageError::new(id.clone(), ErrorCode::OriginNotAllowed, e.to_string()))
    }

    fn base64(&self, key: &str, id: &Option<RequestId>) -> Result<Vec<u8>, MessageError> {
        let s = self.string(key, id)?;
        BASE64.decode(s.as_bytes()).map_err(|e| {
            MessageError::new(
                id.clone(),
                ErrorCode::InvalidArgument,
                format!("field {key:?} is not valid base64: {e}"),
            )
        })
    }
}

fn members<'a>(
    json: &'a str,
    what: &str,
    id: &Option<RequestId>,
) -> Result<Members<'a>, MessageError> {
    serde_json::from_str::<Members<'a>>(json).map_err(|e| {
        let code = if id.is_some() {
            ErrorCode::InvalidArgument
        } else {
            ErrorCode::InvalidMessage
        };
        // serde_json's message for a bad *value* can quote it; for arguments (which may hold a
        // PIN) only the category is reported.
        let detail = if what == "message" {
            e.to_string()
        } else {
            format!("{:?} error", e.classify()).to_lowercase()
        };
        MessageError::new(
            id.clone(),
            code,
            format!("{what} is not a valid JSON object ({detail})"),
        )
    })
}

impl Request {
    /// Parses a request frame body.
    pub fn parse(body: &[u8]) -> Result<Request, MessageError> {
        let json = std::str::from_utf8(body).map_err(|_| {
            MessageError::new(
                None,
                ErrorCode::InvalidMessage,
                "message is not valid UTF-8",
            )
        })?;
        let top = members(json, "message", &None)?;
        let id_raw = top.get("id").ok_or_else(|| {
            MessageError::new(None, ErrorCode::InvalidMessage, "message has no \"id\"")
        })?;
        let id_str: std::borrow::Cow<'_, str> =
            serde_json::from_str(id_raw.get()).map_err(|_| {
                MessageError::new(None, ErrorCode::InvalidMessage, "\"id\" must be a string")
            })?;
        let id = Some(RequestId::new(&id_str)?);
        top.only(&["id", "command", "arguments"], "message", &id)?;
        let command = top.string("command", &id)?;
        let args = match top.get("arguments") {
            Some(raw) => Some(members(raw.get(), "arguments", &id)?),
            None => None,
        };
        let need_args = |allowed: &[&str]| -> Result<&Members<'_>, MessageError> {
            let a = args.as_ref().ok_or_else(|| {
                MessageError::new(
                    id.clone(),
                    ErrorCode::InvalidArgument,
                    format!("{command} needs \"arguments\""),
                )
            })?;
            a.only(allowed, "arguments", &id)?;
            Ok(a)
        };
        let no_args = || -> Result<(), MessageError> {
            match &args {
                Some(a) if !a.0.is_empty() => Err(MessageError::new(
                    id.clone(),
                    ErrorCode::InvalidArgument,
                    format!("{command} takes no arguments"),
                )),
                _ => Ok(()),
            }
        };
        let command = match command.as_ref() {
            "status" => {
                no_args()?;
                Command::Status
            }
            "cancel" => {
                no_args()?;
                Command::Cancel
            }
            "quit" => {
                no_args()?;
                Command::Quit
            }
            "authenticate" => {
                let a = need_args(&["challengeNonce", "origin", "lang"])?;
                let nonce = a.string("challengeNonce", &id)?;
                let challenge_nonce = ChallengeNonce::parse(&nonce).map_err(|e| {
                    MessageError::new(id.clone(), ErrorCode::InvalidArgument, e.to_string())
                })?;
                Command::Authenticate(AuthenticateArgs {
                    challenge_nonce,
                    origin: a.origin(&id)?,
                    lang: a.optional_lang(&id)?,
                })
            }
            "get-signing-certificate" => {
                let a = need_args(&["origin", "lang"])?;
                Command::GetSigningCertificate(GetSigningCertificateArgs {
                    origin: a.origin(&id)?,
                    lang: a.optional_lang(&id)?,
                })
            }
            "sign" => {
                let a = need_args(&["origin", "certificate", "hash", "hashFunction", "lang"])?;
                let origin = a.origin(&id)?;
                let certificate = a.base64("certificate", &id)?;
                let hash = a.base64("hash", &id)?;
                let hf = a.string("hashFunction", &id)?;
                let hash_function: HashFunction = hf.parse().map_err(|e: crate::UnknownAlgorithm| {
                    MessageError::new(
                        id.clone(),
                        ErrorCode::InvalidArgument,
                        format!("hashFunction: {e}; expected one of SHA-224, SHA-256, SHA-384, SHA-512, SHA3-224, SHA3-256, SHA3-384, SHA3-512"),
                    )
                })?;
                if hash.len() != hash_function.output_len() {
                    return Err(MessageError::new(
                        id,
                        ErrorCode::InvalidArgument,
                        format!(
                            "hash is {} bytes but {} gives {}",
                            hash.len(),
                            hash_function,
                            hash_function.output_len()
                        ),
                    ));
                }
                if certificate.is_empty() {
                    return Err(MessageError::new(
                        id,
                        ErrorCode::InvalidArgument,
                        "certificate is empty",
                    ));
                }
                Command::Sign(SignArgs {
                    origin,
                    certificate,
                    hash,
                    hash_function,
                    lang: a.optional_lang(&id)?,
                })
            }
            "pin" => {
                let a = need_args(&["pin"])?;
                let raw = a.get("pin").ok_or_else(|| {
                    MessageError::new(
                        id.clone(),
                        ErrorCode::InvalidArgument,
                        "missing field \"pin\"",
                    )
                })?;
                // A digits-only JSON string is `"` digits `"`: read it straight from the frame
                // buffer, so no un-zeroised copy is made. Anything else is a format error.
                let bytes = raw.get().as_bytes();
                let digits = bytes
                    .strip_prefix(b"\"")
                    .and_then(|b| b.strip_suffix(b"\""))
                    .ok_or_else(|| {
                        MessageError::new(
                            id.clone(),
                            ErrorCode::PinFormat,
                            "pin must be a string of digits",
                        )
                    })?;
                let pin = Pin::from_bytes(digits).map_err(|e| {
                    MessageError::new(id.clone(), ErrorCode::PinFormat, e.to_string())
                })?;
                Command::Pin(pin)
            }
            other => {
                return Err(MessageError::new(
                    id,
                    ErrorCode::UnknownCommand,
                    format!(
                        "unknown command {:?}",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        };
        let id = id.ok_or_else(|| MessageError::new(None, ErrorCode::Internal, "id lost"))?;
        Ok(Request { id, command })
    }

    /// Serialises the request (used by clients written in Rust: tests, the CLI, load tools).
    ///
    /// For `pin`, the returned JSON holds the digits: the caller should zeroise it.
    pub fn to_json(&self) -> String {
        use serde_json::json;
        let lang = |l: &Option<Lang>| l.as_ref().map(|l| l.as_str().to_owned());
        let arguments = match &self.command {
            Command::Status | Command::Cancel | Command::Quit => None,
            Command::Authenticate(a) => Some(json!({
                "challengeNonce": a.challenge_nonce.as_str(),
                "origin": a.origin.as_str(),
                "lang": lang(&a.lang),
            })),
            Command::GetSigningCertificate(a) => Some(json!({
                "origin": a.origin.as_str(),
                "lang": lang(&a.lang),
            })),
            Command::Sign(a) => Some(json!({
                "origin": a.origin.as_str(),
                "certificate": BASE64.encode(&a.certificate),
                "hash": BASE64.encode(&a.hash),
                "hashFunction": a.hash_function.as_str(),
                "lang": lang(&a.lang),
            })),
            Command::Pin(p) => Some(json!({
                "pin": String::from_utf8_lossy(p.expose_digits()),
            })),
        };
        let mut v = json!({"id": self.id.as_str(), "command": self.command.name()});
        if let Some(mut args) = arguments {
            if let Some(obj) = args.as_object_mut() {
                obj.retain(|_, v| !v.is_null());
            }
            v["arguments"] = args;
        }
        v.to_string()
    }
}

/// A message from the host to the extension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostMessage {
    /// The request this message belongs to; `null` when the request id could not be read.
    pub id: Option<RequestId>,
    /// Event, result or error.
    #[serde(flatten)]
    pub body: HostBody,
}

/// The three kinds of host message, told apart by `"type"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HostBody {
    /// Something happened while the request runs; more messages follow.
    Event {
        /// The event.
        #[serde(flatten)]
        event: Event,
    },
    /// The request finished successfully; nothing more follows for this id.
    Result {
        /// The command's result.
        result: CommandResult,
    },
    /// The request failed; nothing more follows for this id.
    Error {
        /// What went wrong.
        error: ErrorBody,
    },
}

impl HostMessage {
    /// An event for request `id`.
    pub fn event(id: RequestId, event: Event) -> HostMessage {
        HostMessage {
            id: Some(id),
            body: HostBody::Event { event },
        }
    }

    /// The final result for request `id`.
    pub fn result(id: RequestId, result: CommandResult) -> HostMessage {
        HostMessage {
            id: Some(id),
            body: HostBody::Result { result },
        }
    }

    /// The final error for a request.
    pub fn error(id: Option<RequestId>, error: ErrorBody) -> HostMessage {
        HostMessage {
            id,
            body: HostBody::Error { error },
        }
    }

    /// Serialises to JSON bytes for a frame.
    pub fn to_json(&self) -> Vec<u8> {
        // Every field is a string, number, bool or list of those: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a host message (used by clients written in Rust).
    pub fn parse(body: &[u8]) -> Result<HostMessage, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// Events the host sends while a request runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// No reader or no card: the host waits for one until the timeout, or `cancel`.
    CardRequired(CardRequired),
    /// The host needs a PIN: answer with `pin` (same id) or `cancel`.
    PinRequired(PinRequired),
    /// A step of a long operation started.
    Progress(Progress),
}

/// Data of `card-required`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardRequired {
    /// `NO_READER` or `NO_CARD`: what is missing.
    pub reason: ErrorCode,
    /// How long the host waits, in milliseconds.
    pub timeout_ms: u64,
}

/// Which PIN is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinKind {
    /// The authentication PIN (PIN1, 4 digits on the Georgian card).
    Authentication,
    /// The qualified-signature PIN (PIN2, 6 digits on the Georgian card).
    Signing,
}

/// Data of `pin-required`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinRequired {
    /// Which PIN.
    pub kind: PinKind,
    /// Tries left before the PIN blocks, when the card tells.
    pub retries_left: Option<u8>,
    /// Fewest digits.
    pub min_length: u8,
    /// Most digits.
    pub max_length: u8,
    /// The card holder's name as on the certificate.
    pub holder: Option<String>,
    /// The requesting origin.
    pub origin: Origin,
    /// `true` when the PIN is typed on the reader's PIN pad: show a prompt, no input field.
    pub pin_pad: bool,
    /// `true` when this is a repeated request after a wrong PIN.
    pub retry: bool,
}

/// Data of `progress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// A short stable stage name, e.g. `reading-certificate`, `signing`.
    pub stage: String,
}

/// The error body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// What happened, in English, for logs and developers.
    pub message: String,
    /// With `PIN_INCORRECT`: tries left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries_left: Option<u8>,
}

impl ErrorBody {
    /// An error body without retry information.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            retries_left: None,
        }
    }
}

/// Results, one shape per command. Told apart by their fields (the client knows what it asked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum CommandResult {
    /// Result of `status`.
    Status(StatusResult),
    /// Result of `authenticate`.
    Token(AuthToken),
    /// Result of `get-signing-certificate`.
    SigningCertificate(SigningCertificateResult),
    /// Result of `sign`.
    Signature(SignatureResult),
    /// Result of `cancel` and `quit`: an empty object.
    Done(Done),
}

/// An empty result object.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Done {}

/// Result of `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    /// The host's version.
    pub version: String,
    /// [`PROTOCOL_VERSION`].
    pub protocol: String,
    /// `true` when the PC/SC service answered.
    pub pcsc_available: bool,
    /// Readers and what is in them.
    pub readers: Vec<ReaderStatus>,
}

/// One reader in `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderStatus {
    /// The reader name as PC/SC reports it.
    pub name: String,
    /// A card is present.
    pub card_present: bool,
    /// The card generation when recognised (`GE1`, `GeorgiaEIDv1`), else `null`.
    pub card: Option<String>,
    /// The holder's name from the authentication certificate, when readable.
    pub holder: Option<String>,
    /// The reader has a PIN pad.
    pub pin_pad: bool,
}

/// Result of `get-signing-certificate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningCertificateResult {
    /// Base64 DER of the qualified-signature certificate.
    pub certificate: String,
    /// What the card can sign.
    pub supported_signature_algorithms: Vec<SignatureAlgorithmInfo>,
}

/// Result of `sign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureResult {
    /// Base64 signature (PKCS#1 v1.5 for RSA; raw `r || s` for ECDSA).
    pub signature: String,
    /// How it was made.
    pub signature_algorithm: SignatureAlgorithmInfo,
}

/// A signature algorithm described the way Web eID does (`cryptoAlgorithm`, `hashFunction`,
/// `paddingScheme`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureAlgorithmInfo {
    /// `RSA` or `ECC`.
    pub crypto_algorithm: String,
    /// The hash function.
    pub hash_function: HashFunction,
    /// `PKCS1.5`, `PSS` or `NONE`.
    pub padding_scheme: String,
}

impl SignatureAlgorithmInfo {
    /// Describes a scheme with a hash function.
    pub fn new(scheme: SignatureScheme, hash_function: HashFunction) -> SignatureAlgorithmInfo {
        let (crypto, padding) = match scheme {
            SignatureScheme::RsaPkcs1 => ("RSA", "PKCS1.5"),
            SignatureScheme::RsaPss => ("RSA", "PSS"),
            SignatureScheme::Ecdsa => ("ECC", "NONE"),
        };
        SignatureAlgorithmInfo {
            crypto_algorithm: crypto.into(),
            hash_function,
            padding_scheme: padding.into(),
        }
    }

    /// Describes a token algorithm.
    pub fn from_algorithm(alg: SignatureAlgorithm) -> SignatureAlgorithmInfo {
        SignatureAlgorithmInfo::new(alg.scheme(), alg.hash())
    }
}
