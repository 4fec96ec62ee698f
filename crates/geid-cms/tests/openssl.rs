#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Interoperability with the `openssl cms` command line, both ways.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::time::SystemTime;

use geid_cms::{prepare, HashFunction, SignatureScheme, SignedDocument};
use geid_testkit::pki::{Pki, CITIZEN};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn pki_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Pki::shared().write_to(dir.path()).unwrap();
    dir
}

/// `openssl cms -verify` with the test root as anchor and the Signing CA as intermediate.
///
/// OpenSSL 3.0's `cms -verify` searches `-certfile` only for the signer's certificate, not for
/// chain building, and has no `-untrusted`; the intermediate therefore goes into the
/// `-CAfile` bundle next to the root, and the chain is still built up to the root.
fn openssl_verify(dir: &Path, content: &Path, p7s: &Path) -> (bool, String) {
    let bundle = dir.join("root-and-sign-ca.pem");
    let mut pem = std::fs::read(dir.join("root.cert.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("sign-ca.cert.pem")).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    common::openssl(&[
        os("cms"),
        os("-verify"),
        os("-binary"),
        os("-inform"),
        os("DER"),
        os("-in"),
        p7s.as_os_str(),
        os("-content"),
        content.as_os_str(),
        os("-CAfile"),
        bundle.as_os_str(),
        os("-certfile"),
        dir.join("sign-ca.cert.pem").as_os_str(),
        os("-purpose"),
        os("any"),
        os("-out"),
        os("/dev/null"),
    ])
}

#[test]
fn openssl_verifies_what_geid_makes() {
    let dir = pki_dir();
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    let content = "განცხადება: please answer by mail.\r\n\x00binary\n".as_bytes();
    let content_path = dir.path().join("letter.txt");
    std::fs::write(&content_path, content).unwrap();
    for (hash, md) in [
        (HashFunction::Sha256, openssl::md::Md::sha256()),
        (HashFunction::Sha384, openssl::md::Md::sha384()),
        (HashFunction::Sha512, openssl::md::Md::sha512()),
    ] {
        let p = prepare(content, hash, &cert, SystemTime::now()).unwrap();
        let sig = common::sign_digest(c.sign_key.as_ref().unwrap(), md, &p.digest_to_sign());
        let p7s = p.assemble(&sig, SignatureScheme::RsaPkcs1).unwrap();
        let p7s_path = dir.path().join("letter.txt.p7s");
        std::fs::write(&p7s_path, &p7s).unwrap();
        let (ok, stderr) = openssl_verify(dir.path(), &content_path, &p7s_path);
        assert!(ok, "{hash}: openssl refused geid's signature: {stderr}");

        // A changed document is refused by openssl too.
        let changed = dir.path().join("changed.txt");
        std::fs::write(&changed, b"something else").unwrap();
        let (ok, stderr) = openssl_verify(dir.path(), &changed, &p7s_path);
        assert!(!ok);
        assert!(stderr.contains("CMS_SignerInfo_verify_content"), "{stderr}");
    }
}

#[test]
fn geid_reads_what_openssl_makes() {
    let dir = pki_dir();
    let content = b"a request made with openssl\n";
    let content_path = dir.path().join("request.txt");
    std::fs::write(&content_path, content).unwrap();
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    for cades in [true, false] {
        let p7s_path = dir.path().join("request.txt.p7s");
        let mut args = vec![
            os("cms"),
            os("-sign"),
            os("-binary"),
            os("-md"),
            os("sha256"),
            os("-signer"),
            os("citizen.sign.cert.pem"),
            os("-inkey"),
            os("citizen.sign.key.pem"),
            os("-outform"),
            os("DER"),
            os("-in"),
            content_path.as_os_str(),
            os("-out"),
            p7s_path.as_os_str(),
        ];
        if cades {
            args.push(os("-cades"));
        }
        let signer = dir.path().join("citizen.sign.cert.pem");
        let key = dir.path().join("citizen.sign.key.pem");
        args[6] = signer.as_os_str();
        args[8] = key.as_os_str();
        let (ok, stderr) = common::openssl(&args);
        assert!(ok, "openssl cms -sign failed: {stderr}");
        let doc = SignedDocument::parse(&std::fs::read(&p7s_path).unwrap()).unwrap();
        assert!(doc.is_detached());
        assert_eq!(doc.signer_certificate(), Some(cert.as_slice()));
        assert_eq!(doc.hash_function(), Some(HashFunction::Sha256));
        assert_eq!(doc.signature_scheme(), Some(SignatureScheme::RsaPkcs1));
        assert_eq!(
            doc.message_digest(),
            Some(HashFunction::Sha256.digest(content).as_slice())
        );
        assert!(doc.signing_time().is_some());
        assert_eq!(doc.content_type(), Some(&geid_cms::oids::ID_DATA));
        // signing-certificate-v2 only with -cades.
        assert_eq!(doc.signing_certificate_v2_matches(), cades.then_some(true));
        // The bytes geid would verify are what openssl signed.
        let key = c.sign_cert.as_ref().unwrap().public_key().unwrap();
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        assert!(v
            .verify_oneshot(doc.signature(), doc.signed_attributes_der())
            .unwrap());
    }
}
