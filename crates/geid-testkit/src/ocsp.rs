//! An OCSP responder (RFC 6960) and CRL server for the test PKI, on loopback.
//!
//! [`OcspServer::start`] binds a port, answers `POST /ocsp/<ca>` with a signed
//! `BasicOCSPResponse` and `GET /crl/<ca>.crl` with a signed CRL, and stops when dropped.
//! Statuses come from the PKI: a citizen marked revoked in the manifest (the `revoked`
//! citizen) answers `revoked`, any serial in [`ResponderOptions::revoked`] too, every other
//! certificate the CA issued answers `good`, and a serial the PKI does not know answers
//! `unknown`. Responses are signed by the CA's delegated responder (id-kp-OCSPSigning,
//! ocsp-nocheck) and carry its certificate.
//!
//! [`Fault`] makes the responder misbehave in one precise way, so a verifier test can assert
//! the exact error each misbehaviour causes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256, SHA_256_WITH_RSA_ENCRYPTION};
use const_oid::db::rfc6960::{ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_NONCE};
use der::asn1::{BitString, Null, OctetString};
use der::{Decode, Encode};
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use openssl::x509::X509;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse,
    Version,
};

use crate::pki::{CertifiedKey, IssuingCa, Pki};
use crate::Error;

/// One deliberate misbehaviour of the responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Answer HTTP 200 with random bytes.
    Garbage,
    /// Sign with the *other* CA's responder key (not authorised for this CA).
    UnauthorisedSigner,
    /// thisUpdate one hour in the past.
    StaleThisUpdate,
    /// Echo a different nonce.
    WrongNonce,
    /// Answer for a different serial number than asked.
    WrongCertId,
    /// Answer the OCSP status `tryLater` (RFC 6960 §2.3).
    TryLater,
    /// Answer HTTP 500.
    HttpError,
    /// thisUpdate two hours and nextUpdate one hour in the past.
    ExpiredNextUpdate,
}

/// How the responder answers.
#[derive(Debug, Clone, Default)]
pub struct ResponderOptions {
    /// Extra serials (hex, any case) to report revoked.
    pub revoked: Vec<String>,
    /// Do not echo request nonces (a pre-producing responder).
    pub no_nonce: bool,
    /// Wait this long before answering.
    pub delay: Duration,
    /// How it misbehaves.
    pub fault: Fault,
    /// nextUpdate offset from now; `None` leaves nextUpdate out.
    pub next_update: Option<Duration>,
    /// Sign with the issuing CA's own key instead of its delegated responder (RFC 6960
    /// §4.2.2.2 allows both).
    pub signed_by_ca: bool,
}

/// A running responder; stops when dropped.
pub struct OcspServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    pki: Pki,
    options: ResponderOptions,
    requests: Arc<AtomicUsize>,
}

impl OcspServer {
    /// Binds `listen` (e.g. `127.0.0.1:0` for a free port) and starts answering.
    pub fn start(pki: Pki, listen: &str, options: ResponderOptions) -> Result<OcspServer, Error> {
        let listener = TcpListener::bind(listen).map_err(|e| Error::Io {
            action: "bind",
            path: listen.into(),
            source: e,
        })?;
        OcspServer::start_on(listener, pki, options)
    }

    /// Generates a fresh test PKI whose AIA and CDP URLs point at a responder on a free
    /// loopback port, and starts that responder.
    pub fn with_new_pki(options: ResponderOptions) -> Result<(Pki, OcspServer), Error> {
        let listen = "127.0.0.1:0";
        let io = |action: &'static str| {
            move |e| Error::Io {
                action,
                path: listen.into(),
                source: e,
            }
        };
        let listener = TcpListener::bind(listen).map_err(io("bind"))?;
        let addr = listener.local_addr().map_err(io("query"))?;
        let pki = Pki::generate(&crate::PkiOptions::with_base_url(&format!("http://{addr}")))?;
        let server = OcspServer::start_on(listener, pki.clone(), options)?;
        Ok((pki, server))
    }

    /// Starts answering on an already bound listener (bind first, generate the PKI with the
    /// port in its AIA URLs, then start).
    pub fn start_on(
        listener: TcpListener,
        pki: Pki,
        options: ResponderOptions,
    ) -> Result<OcspServer, Error> {
        let addr = listener.local_addr().map_err(|e| Error::Io {
            action: "query",
            path: "listener address".into(),
            source: e,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(State {
            pki,
            options,
            requests: requests.clone(),
        });
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Ok(OcspServer {
            addr,
            stop,
            requests,
            thread: Some(thread),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OCSP URL for `ca`, e.g. `http://127.0.0.1:PORT/ocsp/auth`.
    pub fn ocsp_url(&self, ca: IssuingCa) -> String {
        format!("{}/ocsp/{}", self.base_url(), ca.path_segment())
    }

    /// The CRL URL for `ca`.
    pub fn crl_url(&self, ca: IssuingCa) -> String {
        format!("{}/crl/{}.crl", self.base_url(), ca.path_segment())
    }

    /// How many HTTP requests were answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for OcspServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(1024 * 1024);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    state.requests.fetch_add(1, Ordering::SeqCst);
    if !state.options.delay.is_zero() {
        std::thread::sleep(state.options.delay);
    }
    let (status, content_type, payload) = route(method, path, &body, state);
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&payload)?;
    stream.flush()
}

fn ca_of_path(path: &str, prefix: &str) -> Option<IssuingCa> {
    let rest = path.strip_prefix(prefix)?;
    match rest.trim_end_matches(".crl") {
        "auth" => Some(IssuingCa::Authentication),
        "sign" => Some(IssuingCa::Signing),
        _ => None,
    }
}

fn route(
    method: &str,
    path: &str,
    body: &[u8],
    state: &State,
) -> (&'static str, &'static str, Vec<u8>) {
    const OCSP: &str = "application/ocsp-response";
    match (method, state.options.fault) {
        (_, Fault::HttpError) => {
            return ("500 Internal Server Error", "text/plain", b"down".to_vec())
        }
        ("POST", Fault::Garbage) => {
            let mut junk = vec![0u8; 300];
            let _ = openssl::rand::rand_bytes(&mut junk);
            return ("200 OK", OCSP, junk);
        }
        _ => {}
    }
    if method == "GET" {
        if let Some(ca) = ca_of_path(path, "/crl/") {
            return match crl(&state.pki, ca, &state.options) {
                Ok(der) => ("200 OK", "application/pkix-crl", der),
                Err(_) => ("500 Internal Server Error", "text/plain", Vec::new()),
            };
        }
        return ("404 Not Found", "text/plain", Vec::new());
    }
    if method != "POST" {
        return ("405 Method Not Allowed", "text/plain", Vec::new());
    }
    let answer = match OcspRequest::from_der(body) {
        Err(_) => status_only(OcspResponseStatus::MalformedRequest),
        Ok(_) if state.options.fault == Fault::TryLater => {
            status_only(OcspResponseStatus::TryLater)
        }
        Ok(request) => respond(&state.pki, &state.options, &request)
            .unwrap_or_else(|_| status_only(OcspResponseStatus::InternalError)),
    };
    ("200 OK", OCSP, answer)
}

fn status_only(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    .unwrap_or_default()
}

fn parse_cert(cert: &X509) -> Result<Certificate, Error> {
    Certificate::from_der(&cert.to_der()?).map_err(|e| Error::Ocsp(e.to_string()))
}

fn der_err(e: der::Error) -> Error {
    Error::Ocsp(e.to_string())
}

/// `(name hash, key hash)` of `ca` under the hash algorithm `oid`.
fn issuer_hashes(
    ca: &Certificate,
    oid: &const_oid::ObjectIdentifier,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let name = ca.tbs_certificate.subject.to_der().ok()?;
    let key = ca
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if *oid == ID_SHA_1 {
        Some((
            openssl::sha::sha1(&name).to_vec(),
            openssl::sha::sha1(key).to_vec(),
        ))
    } else if *oid == ID_SHA_256 {
        Some((
            openssl::sha::sha256(&name).to_vec(),
            openssl::sha::sha256(key).to_vec(),
        ))
    } else {
        None
    }
}

fn serial_hex(serial: &[u8]) -> String {
    let trimmed: &[u8] = match serial.iter().position(|b| *b != 0) {
        Some(p) => &serial[p..],
        None => &[0],
    };
    trimmed.iter().map(|b| format!("{b:02X}")).collect()
}

fn cert_serial_hex(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
        .unwrap_or_default()
        .to_uppercase()
}

enum Known {
    Good,
    Revoked(SystemTime),
    Unknown,
}

fn status_of(pki: &Pki, options: &ResponderOptions, ca: Option<IssuingCa>, serial: &str) -> Known {
    let Some(ca) = ca else { return Known::Unknown };
    if options.revoked.iter().any(|s| {
        s.trim_start_matches('0')
            .eq_ignore_ascii_case(serial.trim_start_matches('0'))
    }) {
        return Known::Revoked(SystemTime::now() - Duration::from_secs(3600));
    }
    for citizen in pki.citizens() {
        let cert = match ca {
            IssuingCa::Authentication => Some(&citizen.auth_cert),
            IssuingCa::Signing => citizen.sign_cert.as_ref(),
        };
        let Some(cert) = cert else { continue };
        if cert_serial_hex(cert) == serial {
            // The manifest's revocation applies to the authentication certificate.
            return match (ca, citizen.revoked) {
                (IssuingCa::Authentication, Some(r)) => Known::Revoked(r.time),
                _ => Known::Good,
            };
        }
    }
    Known::Unknown
}

fn sign_tbs(signer: &CertifiedKey, tbs: &[u8]) -> Result<Vec<u8>, Error> {
    let mut s = Signer::new(MessageDigest::sha256(), &signer.key)?;
    Ok(s.sign_oneshot_to_vec(tbs)?)
}

fn gtime(t: SystemTime) -> Result<OcspGeneralizedTime, Error> {
    let whole = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
    der::asn1::GeneralizedTime::from_system_time(whole)
        .map(OcspGeneralizedTime::from)
        .map_err(der_err)
}

fn respond(pki: &Pki, options: &ResponderOptions, request: &OcspRequest) -> Result<Vec<u8>, Error> {
    let now = SystemTime::now();
    let first = request
        .tbs_request
        .request_list
        .first()
        .ok_or_else(|| Error::Ocsp("empty request list".into()))?;
    let asked = &first.req_cert;
    let mut ca = None;
    for candidate in [IssuingCa::Authentication, IssuingCa::Signing] {
        let cert = parse_cert(&pki.issuing_ca(candidate).cert)?;
        if let Some((name, key)) = issuer_hashes(&cert, &asked.hash_algorithm.oid) {
            if name == asked.issuer_name_hash.as_bytes() && key == asked.issuer_key_hash.as_bytes()
            {
                ca = Some(candidate);
            }
        }
    }
    let serial = serial_hex(asked.serial_number.as_bytes());
    let status = match status_of(pki, options, ca, &serial) {
        Known::Good => CertStatus::good(),
        Known::Unknown => CertStatus::unknown(),
        Known::Revoked(time) => CertStatus::revoked(RevokedInfo {
            revocation_time: gtime(time)?,
            revocation_reason: Some(x509_cert::ext::pkix::CrlReason::KeyCompromise),
        }),
    };
    let answering_ca = ca.unwrap_or(IssuingCa::Authentication);
    let signer = match (options.fault, answering_ca) {
        (Fault::UnauthorisedSigner, IssuingCa::Authentication) => {
            pki.ocsp_responder(IssuingCa::Signing)
        }
        (Fault::UnauthorisedSigner, IssuingCa::Signing) => {
            pki.ocsp_responder(IssuingCa::Authentication)
        }
        (_, ca) if options.signed_by_ca => pki.issuing_ca(ca),
        (_, ca) => pki.ocsp_responder(ca),
    };
    let signer_cert = parse_cert(&signer.cert)?;

    let mut cert_id: CertId = asked.clone();
    if options.fault == Fault::WrongCertId {
        let mut bytes = cert_id.serial_number.as_bytes().to_vec();
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        cert_id.serial_number = SerialNumber::new(&bytes).map_err(der_err)?;
    }
    let (this_update, next_update) = match options.fault {
        Fault::StaleThisUpdate => (
            now - Duration::from_secs(3600),
            options.next_update.map(|d| now + d),
        ),
        Fault::ExpiredNextUpdate => (
            now - Duration::from_secs(7200),
            Some(now - Duration::from_secs(3600)),
        ),
        _ => (now, options.next_update.map(|d| now + d)),
    };
    let next_update = next_update.map(gtime).transpose()?;

    let request_nonce = request
        .tbs_request
        .request_extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
        .map(|e| e.extn_value.clone());
    let response_extensions = match (options.no_nonce, request_nonce) {
        (false, Some(value)) => {
            let value = if options.fault == Fault::WrongNonce {
                let mut other = [0u8; 32];
                openssl::rand::rand_bytes(&mut other)?;
                OctetString::new(
                    OctetString::new(other.to_vec())
                        .map_err(der_err)?
                        .to_der()
                        .map_err(der_err)?,
                )
                .map_err(der_err)?
            } else {
                value
            };
            Some(vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: value,
            }])
        }
        _ => None,
    };

    let key_hash = openssl::sha::sha1(
        signer_cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    );
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key_hash.to_vec()).map_err(der_err)?),
        produced_at: gtime(now)?,
        responses: vec![SingleResponse {
            cert_id,
            cert_status: status,
            this_update: gtime(this_update)?,
            next_update,
            single_extensions: None,
        }],
        response_extensions,
    };
    let tbs_der = tbs.to_der().map_err(der_err)?;
    let signature = sign_tbs(signer, &tbs_der)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(Null.into()),
        },
        signature: BitString::from_bytes(&signature).map_err(der_err)?,
        certs: Some(vec![signer_cert]),
    };
    OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der().map_err(der_err)?).map_err(der_err)?,
        }),
    }
    .to_der()
    .map_err(der_err)
}

/// A CRL of `ca` listing the revoked citizens and [`ResponderOptions::revoked`], valid for one
/// hour (or [`ResponderOptions::next_update`]), signed by the CA.
pub fn crl(pki: &Pki, ca: IssuingCa, options: &ResponderOptions) -> Result<Vec<u8>, Error> {
    let now = SystemTime::now();
    let issuer = pki.issuing_ca(ca);
    let issuer_cert = parse_cert(&issuer.cert)?;
    let mut revoked = Vec::new();
    for citizen in pki.citizens() {
        if let (IssuingCa::Authentication, Some(r)) = (ca, citizen.revoked) {
            let c = parse_cert(&citizen.auth_cert)?;
            revoked.push(RevokedCert {
                serial_number: c.tbs_certificate.serial_number,
                revocation_date: Time::try_from(whole_seconds(r.time)).map_err(der_err)?,
                crl_entry_extensions: None,
            });
        }
    }
    for serial in &options.revoked {
        let bytes = hex_bytes(serial).ok_or_else(|| Error::Ocsp(format!("bad serial {serial}")))?;
        revoked.push(RevokedCert {
            serial_number: SerialNumber::new(&bytes).map_err(der_err)?,
            revocation_date: Time::try_from(whole_seconds(now)).map_err(der_err)?,
            crl_entry_extensions: None,
        });
    }
    let sig_alg = AlgorithmIdentifierOwned {
        oid: SHA_256_WITH_RSA_ENCRYPTION,
        parameters: Some(Null.into()),
    };
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: sig_alg.clone(),
        issuer: issuer_cert.tbs_certificate.subject,
        this_update: Time::try_from(whole_seconds(now - Duration::from_secs(60)))
            .map_err(der_err)?,
        next_update: Some(
            Time::try_from(whole_seconds(
                now + options.next_update.unwrap_or(Duration::from_secs(3600)),
            ))
            .map_err(der_err)?,
        ),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: None,
    };
    let tbs_der = tbs.to_der().map_err(der_err)?;
    let signature = sign_tbs(issuer, &tbs_der)?;
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: sig_alg,
        signature: BitString::from_bytes(&signature).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_owned()
    };
    let mut out: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    if out.first().is_some_and(|b| *b & 0x80 != 0) {
        out.insert(0, 0);
    }
    Some(out)
}
