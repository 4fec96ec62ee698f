//! SoftHSM2 tokens holding test keys and certificates, for the PKCS#11 fallback's tests.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, when a process first initialises the module, so a test
//! process makes one [`SoftHsm`] store and sets the variable before anything loads the module
//! (child processes are given the variable explicitly).

use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

/// Where Debian's softhsm2 package puts the module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Why SoftHSM2 tests cannot run here, or `None` when they can.
pub fn missing() -> Option<String> {
    if !Path::new(MODULE).is_file() {
        return Some(format!("{MODULE} is missing (Debian package softhsm2)"));
    }
    if Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("softhsm2-util is missing (Debian package softhsm2)".into());
    }
    None
}

/// The module, loaded and initialised once per process and never unloaded: unloading a
/// PKCS#11 module that was not finalised, while other code in the process may still hold it,
/// can crash the process.
fn module() -> Result<Pkcs11, SoftHsmError> {
    static MODULE_CTX: std::sync::Mutex<Option<Pkcs11>> = std::sync::Mutex::new(None);
    let mut slot = MODULE_CTX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(ctx) = slot.as_ref() {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(MODULE).map_err(err)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(err(e)),
    }
    *slot = Some(ctx.clone());
    Ok(ctx)
}

/// A SoftHSM2 token store in a folder of its own.
pub struct SoftHsm {
    conf: PathBuf,
}

/// A failure while making test tokens.
#[derive(Debug, thiserror::Error)]
#[error("SoftHSM2 test token: {0}")]
pub struct SoftHsmError(String);

fn err(e: impl std::fmt::Display) -> SoftHsmError {
    SoftHsmError(e.to_string())
}

/// One token to make: its label, user PIN, and (key, certificate, CKA_ID) triples to import.
pub struct Token<'a> {
    /// The token label.
    pub label: &'a str,
    /// The user PIN.
    pub pin: &'a str,
    /// Keys and certificates, paired by CKA_ID.
    pub objects: &'a [(&'a PKey<Private>, &'a X509, &'a [u8])],
}

impl SoftHsm {
    /// Empties `dir`, makes a token store there with `tokens`, and imports their objects.
    ///
    /// SoftHSM2 sees only the tokens that exist when the module is initialised, and the module
    /// is initialised once per process: so every token is made first (with `softhsm2-util`),
    /// then the module is loaded with this store's configuration (`SOFTHSM2_CONF` is set for
    /// this process) and the objects are imported. Call it once per process.
    pub fn create(dir: &Path, tokens: &[Token<'_>]) -> Result<SoftHsm, SoftHsmError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(format!("{}: {e}", dir.display()))),
        }
        let store = dir.join("tokens");
        std::fs::create_dir_all(&store).map_err(err)?;
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                store.display()
            ),
        )
        .map_err(err)?;
        for token in tokens {
            let out = Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &conf)
                .args(["--init-token", "--free", "--label", token.label])
                .args(["--pin", token.pin, "--so-pin", "12345678"])
                .output()
                .map_err(err)?;
            if !out.status.success() {
                return Err(err(String::from_utf8_lossy(&out.stderr)));
            }
        }
        if std::env::var_os("SOFTHSM2_CONF").as_deref() != Some(conf.as_os_str()) {
            std::env::set_var("SOFTHSM2_CONF", &conf);
        }
        let ctx = module()?;
        for token in tokens {
            let slot = ctx
                .get_slots_with_token()
                .map_err(err)?
                .into_iter()
                .find(|slot| {
                    ctx.get_token_info(*slot)
                        .is_ok_and(|info| info.label().trim_end() == token.label)
                })
                .ok_or_else(|| err(format!("token {} not found after creating it", token.label)))?;
            let session = ctx.open_rw_session(slot).map_err(err)?;
            session
                .login(UserType::User, Some(&AuthPin::new(token.pin.into())))
                .map_err(err)?;
            for (key, cert, id) in token.objects {
                session
                    .create_object(&key_attributes(key, id)?)
                    .map_err(err)?;
                session
                    .create_object(&cert_attributes(cert, id)?)
                    .map_err(err)?;
            }
            session.logout().map_err(err)?;
        }
        Ok(SoftHsm { conf })
    }

    /// The configuration file: the value for `SOFTHSM2_CONF`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }
}

/// PKCS#11 attributes of a certificate object.
pub fn cert_attributes(cert: &X509, id: &[u8]) -> Result<Vec<Attribute>, SoftHsmError> {
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(b"certificate".to_vec()),
        Attribute::Subject(cert.subject_name().to_der().map_err(err)?),
        Attribute::Value(cert.to_der().map_err(err)?),
    ])
}

/// PKCS#11 attributes of a private signing key (RSA, or EC on P-256/P-384/P-521).
pub fn key_attributes(key: &PKey<Private>, id: &[u8]) -> Result<Vec<Attribute>, SoftHsmError> {
    let common = |t: KeyType| {
        vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(t),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(b"key".to_vec()),
        ]
    };
    if let Ok(rsa) = key.rsa() {
        let v = |n: Option<&openssl::bn::BigNumRef>| {
            n.map(|n| n.to_vec())
                .ok_or_else(|| err("RSA key without CRT parameters"))
        };
        let mut a = common(KeyType::RSA);
        a.extend([
            Attribute::Modulus(rsa.n().to_vec()),
            Attribute::PublicExponent(rsa.e().to_vec()),
            Attribute::PrivateExponent(rsa.d().to_vec()),
            Attribute::Prime1(v(rsa.p())?),
            Attribute::Prime2(v(rsa.q())?),
            Attribute::Exponent1(v(rsa.dmp1())?),
            Attribute::Exponent2(v(rsa.dmq1())?),
            Attribute::Coefficient(v(rsa.iqmp())?),
        ]);
        return Ok(a);
    }
    let ec = key.ec_key().map_err(err)?;
    let group = ec.group();
    let curve = group
        .curve_name()
        .ok_or_else(|| err("EC key without a named curve"))?;
    let oid = openssl::asn1::Asn1Object::from_str(curve.short_name().map_err(err)?).map_err(err)?;
    // CKA_EC_PARAMS: the DER of the curve's OID (RFC 5480 namedCurve).
    let oid_der = oid.as_slice().to_vec();
    let mut params = vec![0x06, oid_der.len() as u8];
    params.extend(oid_der);
    let field = usize::try_from(group.degree().div_ceil(8)).map_err(err)?;
    let mut a = common(KeyType::EC);
    a.extend([
        Attribute::EcParams(params),
        Attribute::Value(ec.private_key().to_vec_padded(field as i32).map_err(err)?),
    ]);
    Ok(a)
}
