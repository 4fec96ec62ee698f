//! Writing a [`Pki`] to a directory and reading it back.
//!
//! Layout: for every certificate `<stem>.cert.pem`, `<stem>.cert.der` and its key
//! `<stem>.key.pem` (PKCS#8), where the stem is the entry name for CAs and responders and
//! `<citizen>.auth` / `<citizen>.sign` for citizens; plus `manifest.json`, which names every
//! file with its role, subject, serial and (for citizens) personal number and revocation
//! status. Other processes (OCSP responder, virtual card) start from that directory.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{name_string, subject_string, CertifiedKey, Citizen, Pki, PkiOptions};
use super::{Revocation, RevocationReason};
use crate::Error;

/// Format tag written into and required from `manifest.json`.
const FORMAT: &str = "geid-testkit-pki/1";
/// File name of the manifest inside a PKI directory.
pub(crate) const MANIFEST: &str = "manifest.json";

/// What [`Pki::write_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Path of `manifest.json`.
    pub manifest: PathBuf,
    /// Every file written, the manifest included.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    options: PkiOptions,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Role {
    Root,
    Intermediate,
    OcspResponder,
    UnknownRoot,
    NonCaIntermediate,
    CitizenAuth,
    CitizenSign,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Intermediate => "intermediate",
            Role::OcspResponder => "ocsp-responder",
            Role::UnknownRoot => "unknown-root",
            Role::NonCaIntermediate => "non-ca-intermediate",
            Role::CitizenAuth => "citizen-auth",
            Role::CitizenSign => "citizen-sign",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    name: String,
    role: Role,
    subject: String,
    /// Subject of the issuer, as written in the certificate.
    issuer: String,
    /// Upper-case hex of the serial number.
    serial: String,
    not_before: String,
    not_after: String,
    cert_pem: String,
    cert_der: String,
    key_pem: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    personal_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<Holder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation: Option<RevocationStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    country: String,
    given_name: String,
    surname: String,
    common_name: String,
    description: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
enum RevocationStatus {
    Good,
    Revoked {
        time: String,
        reason: RevocationReason,
    },
}

/// One certificate-and-key to write, with what the manifest says about it.
struct Item<'a> {
    name: &'a str,
    role: Role,
    stem: String,
    cert: &'a X509,
    key: &'a PKey<Private>,
    citizen: Option<&'a Citizen>,
}

impl Pki {
    /// Writes every certificate (PEM and DER), every key (PKCS#8 PEM, mode 0600 on Unix) and
    /// `manifest.json` into `dir`, creating it if needed and overwriting files of the same
    /// names.
    pub fn write_to(&self, dir: impl AsRef<Path>) -> Result<Written, Error> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let mut files = Vec::new();
        let mut entries = Vec::new();
        for item in self.items() {
            let stem = &item.stem;
            let cert_pem = format!("{stem}.cert.pem");
            let cert_der = format!("{stem}.cert.der");
            let key_pem = format!("{stem}.key.pem");
            files.push(write_file(dir, &cert_pem, &item.cert.to_pem()?, false)?);
            files.push(write_file(dir, &cert_der, &item.cert.to_der()?, false)?);
            files.push(write_file(
                dir,
                &key_pem,
                &item.key.private_key_to_pem_pkcs8()?,
                true,
            )?);
            entries.push(Entry {
                name: item.name.to_owned(),
                role: item.role,
                subject: subject_string(item.cert),
                issuer: name_string(item.cert.issuer_name()),
                serial: item.cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
                not_before: rfc3339(asn1_to_unix(item.cert.not_before())?)?,
                not_after: rfc3339(asn1_to_unix(item.cert.not_after())?)?,
                cert_pem,
                cert_der,
                key_pem,
                personal_number: item.citizen.map(|c| c.personal_number.clone()),
                holder: item.citizen.map(|c| Holder {
                    country: c.country.clone(),
                    given_name: c.given_name.clone(),
                    surname: c.surname.clone(),
                    common_name: c.common_name.clone(),
                    description: c.description.clone(),
                }),
                revocation: item
                    .citizen
                    .map(|c| revocation_status(item.role, c))
                    .transpose()?,
            });
        }
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            options: self.options.clone(),
            entries,
        };
        let manifest_path = dir.join(MANIFEST);
        let mut json = serde_json::to_vec_pretty(&manifest).map_err(|source| Error::Manifest {
            path: manifest_path.clone(),
            source,
        })?;
        json.push(b'\n');
        files.push(write_file(dir, MANIFEST, &json, false)?);
        Ok(Written {
            manifest: manifest_path,
            files,
        })
    }

    /// Reads a PKI written by [`Pki::write_to`] back into memory.
    ///
    /// Certificates are taken from the DER files and must match their PEM twins; every key
    /// must belong to its certificate.
    pub fn load(dir: impl AsRef<Path>) -> Result<Pki, Error> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST);
        let json = fs::read(&manifest_path).map_err(io_error("read", &manifest_path))?;
        let manifest: Manifest =
            serde_json::from_slice(&json).map_err(|source| Error::Manifest {
                path: manifest_path.clone(),
                source,
            })?;
        if manifest.format != FORMAT {
            return Err(Error::UnsupportedManifestFormat {
                found: manifest.format,
                expected: FORMAT,
            });
        }

        let mut loaded: HashMap<(String, Role), CertifiedKey> = HashMap::new();
        for entry in &manifest.entries {
            let pair = load_entry(dir, entry)?;
            if loaded
                .insert((entry.name.clone(), entry.role), pair)
                .is_some()
            {
                return Err(entry_error(&entry.name, entry.role, "listed twice"));
            }
        }
        let mut take = |name: &str, role: Role| {
            loaded
                .remove(&(name.to_owned(), role))
                .ok_or_else(|| entry_error(name, role, "missing"))
        };

        let root = take("root", Role::Root)?;
        let auth_ca = take("auth-ca", Role::Intermediate)?;
        let sign_ca = take("sign-ca", Role::Intermediate)?;
        let auth_ocsp = take("auth-ocsp", Role::OcspResponder)?;
        let sign_ocsp = take("sign-ocsp", Role::OcspResponder)?;
        let unknown_root = take("unknown-root", Role::UnknownRoot)?;
        let non_ca_intermediate = take("non-ca-intermediate", Role::NonCaIntermediate)?;

        let mut citizens = Vec::new();
        for entry in manifest
            .entries
            .iter()
            .filter(|e| e.role == Role::CitizenAuth)
        {
            let auth = take(&entry.name, Role::CitizenAuth)?;
            let sign = take(&entry.name, Role::CitizenSign).ok();
            let (Some(holder), Some(personal_number)) = (&entry.holder, &entry.personal_number)
            else {
                return Err(entry_error(
                    &entry.name,
                    entry.role,
                    "missing the holder or personal number",
                ));
            };
            let revoked = match &entry.revocation {
                Some(RevocationStatus::Revoked { time, reason }) => Some(Revocation {
                    time: parse_rfc3339(time)?,
                    reason: *reason,
                }),
                Some(RevocationStatus::Good) | None => None,
            };
            citizens.push(Citizen {
                name: entry.name.clone(),
                description: holder.description.clone(),
                country: holder.country.clone(),
                personal_number: personal_number.clone(),
                given_name: holder.given_name.clone(),
                surname: holder.surname.clone(),
                common_name: holder.common_name.clone(),
                auth_cert: auth.cert,
                auth_key: auth.key,
                sign_cert: sign.as_ref().map(|s| s.cert.clone()),
                sign_key: sign.map(|s| s.key),
                revoked,
            });
        }
        if let Some((name, role)) = loaded.keys().next() {
            return Err(entry_error(
                name,
                *role,
                "not expected (unknown role or orphan)",
            ));
        }

        Ok(Pki {
            options: manifest.options,
            root,
            auth_ca,
            sign_ca,
            auth_ocsp,
            sign_ocsp,
            unknown_root,
            non_ca_intermediate,
            citizens,
        })
    }

    fn items(&self) -> Vec<Item<'_>> {
        let mut items = vec![
            item("root", Role::Root, &self.root),
            item("auth-ca", Role::Intermediate, &self.auth_ca),
            item("sign-ca", Role::Intermediate, &self.sign_ca),
            item("auth-ocsp", Role::OcspResponder, &self.auth_ocsp),
            item("sign-ocsp", Role::OcspResponder, &self.sign_ocsp),
            item("unknown-root", Role::UnknownRoot, &self.unknown_root),
            item(
                "non-ca-intermediate",
                Role::NonCaIntermediate,
                &self.non_ca_intermediate,
            ),
        ];
        for citizen in &self.citizens {
            items.push(Item {
                name: &citizen.name,
                role: Role::CitizenAuth,
                stem: format!("{}.auth", citizen.name),
                cert: &citizen.auth_cert,
                key: &citizen.auth_key,
                citizen: Some(citizen),
            });
            if let (Some(cert), Some(key)) = (&citizen.sign_cert, &citizen.sign_key) {
                items.push(Item {
                    name: &citizen.name,
                    role: Role::CitizenSign,
                    stem: format!("{}.sign", citizen.name),
                    cert,
                    key,
                    citizen: Some(citizen),
                });
            }
        }
        items
    }
}

fn item<'a>(name: &'a str, role: Role, pair: &'a CertifiedKey) -> Item<'a> {
    Item {
        name,
        role,
        stem: name.to_owned(),
        cert: &pair.cert,
        key: &pair.key,
        citizen: None,
    }
}

/// The revocation applies to the authentication certificate only; signing certificates in
/// this PKI are always good.
fn revocation_status(role: Role, citizen: &Citizen) -> Result<RevocationStatus, Error> {
    Ok(match (role, &citizen.revoked) {
        (Role::CitizenAuth, Some(revocation)) => RevocationStatus::Revoked {
            time: rfc3339(system_to_unix(revocation.time)?)?,
            reason: revocation.reason,
        },
        _ => RevocationStatus::Good,
    })
}

fn load_entry(dir: &Path, entry: &Entry) -> Result<CertifiedKey, Error> {
    let pem_path = entry_file(dir, entry, &entry.cert_pem)?;
    let der_path = entry_file(dir, entry, &entry.cert_der)?;
    let key_path = entry_file(dir, entry, &entry.key_pem)?;
    let der = fs::read(&der_path).map_err(io_error("read", &der_path))?;
    let pem = fs::read(&pem_path).map_err(io_error("read", &pem_path))?;
    let cert = X509::from_der(&der)?;
    if X509::from_pem(&pem)?.to_der()? != der {
        return Err(Error::PemDerMismatch {
            pem: pem_path,
            der: der_path,
        });
    }
    let key_pem = fs::read(&key_path).map_err(io_error("read", &key_path))?;
    let key = PKey::private_key_from_pem(&key_pem)?;
    if !cert.public_key()?.public_eq(&key) {
        return Err(Error::KeyMismatch { path: key_path });
    }
    Ok(CertifiedKey { cert, key })
}

/// Resolves a file named in the manifest, refusing anything but a plain file name so a
/// manifest cannot point outside its directory.
fn entry_file(dir: &Path, entry: &Entry, file: &str) -> Result<PathBuf, Error> {
    let plain = Path::new(file)
        .file_name()
        .map(|n| n == file)
        .unwrap_or(false);
    if !plain || file == ".." {
        return Err(entry_error(
            &entry.name,
            entry.role,
            "naming a file outside the PKI directory",
        ));
    }
    Ok(dir.join(file))
}

fn entry_error(name: &str, role: Role, problem: &'static str) -> Error {
    Error::ManifestEntry {
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        problem,
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8], secret: bool) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&path).map_err(io_error("create", &path))?;
    file.write_all(bytes).map_err(io_error("write", &path))?;
    Ok(path)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

fn asn1_to_unix(time: &Asn1TimeRef) -> Result<i64, Error> {
    let diff = Asn1Time::from_unix(0)?.diff(time)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn system_to_unix(time: SystemTime) -> Result<i64, Error> {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::TimeOutOfRange(e.to_string()))?
        .as_secs();
    i64::try_from(secs).map_err(|e| Error::TimeOutOfRange(e.to_string()))
}

fn rfc3339(unix: i64) -> Result<String, Error> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| Error::TimeOutOfRange(e.to_string()))?
        .format(&Rfc3339)
        .map_err(|e| Error::TimeOutOfRange(e.to_string()))
}

fn parse_rfc3339(text: &str) -> Result<SystemTime, Error> {
    let unix = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| Error::TimeOutOfRange(format!("{text:?}: {e}")))?
        .unix_timestamp();
    let secs = u64::try_from(unix).map_err(|e| Error::TimeOutOfRange(e.to_string()))?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_whole_seconds() {
        let text = rfc3339(1_700_000_000).unwrap();
        assert_eq!(text, "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_rfc3339(&text).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }

    #[test]
    fn asn1_time_converts_to_unix() {
        let t = Asn1Time::from_unix(1_700_000_000).unwrap();
        assert_eq!(asn1_to_unix(&t).unwrap(), 1_700_000_000);
    }

    #[test]
    fn manifest_files_must_be_plain_names() {
        let entry = Entry {
            name: "x".into(),
            role: Role::Root,
            subject: String::new(),
            issuer: String::new(),
            serial: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            cert_pem: String::new(),
            cert_der: String::new(),
            key_pem: String::new(),
            personal_number: None,
            holder: None,
            revocation: None,
        };
        let dir = Path::new("/pki");
        assert!(entry_file(dir, &entry, "root.cert.pem").is_ok());
        for bad in ["../root.pem", "/etc/passwd", "a/b", "..", ""] {
            assert!(entry_file(dir, &entry, bad).is_err(), "{bad}");
        }
    }
}
