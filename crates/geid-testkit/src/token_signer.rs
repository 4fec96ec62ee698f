//! Web eID tokens made with software keys, for tests, integrators and load generators.
//!
//! A [`TokenSigner`] does what the card and `geid-host` do together — sign
//! `H(origin) || H(nonce)` with the authentication key and wrap the result in the Web eID
//! token — but with a key from a file. The token is byte-for-byte what a card would give for the
//! same key, so the verifier cannot tell them apart (which is the point).

use std::path::Path;

use geid_protocol::{
    app_version, ecdsa_der_to_raw, AuthToken, ChallengeNonce, HashFunction, Origin,
    SignatureAlgorithm, SignatureScheme, TOKEN_FORMAT,
};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::X509;

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenSignerError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The certificate or key is not valid PEM/DER.
    #[error("cannot parse {what}: {source}")]
    Parse {
        /// What was parsed.
        what: &'static str,
        /// openssl's explanation.
        source: openssl::error::ErrorStack,
    },
    /// The key does not belong to the certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The algorithm does not fit the key (RS/PS need RSA, ES256 needs P-256, …).
    #[error("algorithm {algorithm} cannot be used with this {key} key")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: SignatureAlgorithm,
        /// The key's type.
        key: String,
    },
    /// openssl failed while signing.
    #[error("signing failed: {0}")]
    Sign(#[from] openssl::error::ErrorStack),
    /// The ECDSA signature could not be converted to the raw form.
    #[error("ECDSA signature conversion failed: {0}")]
    Ecdsa(#[from] geid_protocol::EcdsaSignatureError),
}

/// Signs Web eID login tokens with a software key.
pub struct TokenSigner {
    certificate: Vec<u8>,
    key: PKey<Private>,
}

/// openssl's digest for a hash function; `None` for one this version does not know.
pub fn message_digest(h: HashFunction) -> Option<MessageDigest> {
    Some(match h {
        HashFunction::Sha224 => MessageDigest::sha224(),
        HashFunction::Sha256 => MessageDigest::sha256(),
        HashFunction::Sha384 => MessageDigest::sha384(),
        HashFunction::Sha512 => MessageDigest::sha512(),
        HashFunction::Sha3_224 => MessageDigest::sha3_224(),
        HashFunction::Sha3_256 => MessageDigest::sha3_256(),
        HashFunction::Sha3_384 => MessageDigest::sha3_384(),
        HashFunction::Sha3_512 => MessageDigest::sha3_512(),
        _ => return None,
    })
}

impl TokenSigner {
    /// A signer for `certificate` with its private `key`.
    pub fn new(certificate: &X509, key: PKey<Private>) -> Result<TokenSigner, TokenSignerError> {
        let public = certificate
            .public_key()
            .map_err(|source| TokenSignerError::Parse {
                what: "certificate public key",
                source,
            })?;
        if !public.public_eq(&key) {
            return Err(TokenSignerError::KeyMismatch);
        }
        let certificate = certificate
            .to_der()
            .map_err(|source| TokenSignerError::Parse {
                what: "certificate",
                source,
            })?;
        Ok(TokenSigner { certificate, key })
    }

    /// A signer from a certificate file (PEM or DER) and a private-key file (PEM, PKCS#8 or
    /// traditional).
    pub fn from_files(cert: &Path, key: &Path) -> Result<TokenSigner, TokenSignerError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| TokenSignerError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        let cert_bytes = read(cert)?;
        let certificate = X509::from_pem(&cert_bytes)
            .or_else(|_| X509::from_der(&cert_bytes))
            .map_err(|source| TokenSignerError::Parse {
                what: "certificate",
                source,
            })?;
        let key_bytes = read(key)?;
        let key = PKey::private_key_from_pem(&key_bytes)
            .or_else(|_| PKey::private_key_from_der(&key_bytes))
            .map_err(|source| TokenSignerError::Parse {
                what: "private key",
                source,
            })?;
        TokenSigner::new(&certificate, key)
    }

    /// The DER certificate the tokens carry.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// The algorithm a card with this key would use: RS256 for RSA, ES256/ES384/ES512 by curve.
    pub fn default_algorithm(&self) -> Result<SignatureAlgorithm, TokenSignerError> {
        match self.key.id() {
            Id::RSA => Ok(SignatureAlgorithm::Rs256),
            Id::EC => match self.curve() {
                Some(Nid::X9_62_PRIME256V1) => Ok(SignatureAlgorithm::Es256),
                Some(Nid::SECP384R1) => Ok(SignatureAlgorithm::Es384),
                Some(Nid::SECP521R1) => Ok(SignatureAlgorithm::Es512),
                _ => Err(self.mismatch(SignatureAlgorithm::Es256)),
            },
            _ => Err(self.mismatch(SignatureAlgorithm::Rs256)),
        }
    }

    fn curve(&self) -> Option<Nid> {
        self.key.ec_key().ok().and_then(|k| k.group().curve_name())
    }

    fn mismatch(&self, algorithm: SignatureAlgorithm) -> TokenSignerError {
        let key = match self.key.id() {
            Id::RSA => format!("RSA-{}", self.key.bits()),
            Id::EC => format!("EC {:?}", self.curve()),
            other => format!("{other:?}"),
        };
        TokenSignerError::AlgorithmMismatch { algorithm, key }
    }

    /// Signs `data` with `algorithm` the way the token's signature is made (the hash is applied
    /// here; ECDSA signatures come out raw `r || s`).
    pub fn sign_data(
        &self,
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenSignerError> {
        let fits = match algorithm.scheme() {
            SignatureScheme::RsaPkcs1 | SignatureScheme::RsaPss => self.key.id() == Id::RSA,
            SignatureScheme::Ecdsa => {
                let want = match algorithm {
                    SignatureAlgorithm::Es256 => Nid::X9_62_PRIME256V1,
                    SignatureAlgorithm::Es384 => Nid::SECP384R1,
                    _ => Nid::SECP521R1,
                };
                self.key.id() == Id::EC && self.curve() == Some(want)
            }
        };
        if !fits {
            return Err(self.mismatch(algorithm));
        }
        let md = message_digest(algorithm.hash()).ok_or_else(|| self.mismatch(algorithm))?;
        let mut signer = Signer::new(md, &self.key)?;
        if algorithm.scheme() == SignatureScheme::RsaPss {
            signer.set_rsa_padding(Padding::PKCS1_PSS)?;
            signer.set_rsa_mgf1_md(md)?;
            signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        }
        signer.update(data)?;
        let signature = signer.sign_to_vec()?;
        match algorithm.ecdsa_field_len() {
            Some(field_len) => Ok(ecdsa_der_to_raw(&signature, field_len)?),
            None => Ok(signature),
        }
    }

    /// Makes a login token for `origin` and `nonce`.
    pub fn token(
        &self,
        algorithm: SignatureAlgorithm,
        origin: &Origin,
        nonce: &ChallengeNonce,
    ) -> Result<AuthToken, TokenSignerError> {
        let signature = self.sign_data(algorithm, &algorithm.signed_data(origin, nonce))?;
        Ok(AuthToken {
            certificate: self.certificate.clone(),
            algorithm,
            signature,
            format: TOKEN_FORMAT.into(),
            app_version: app_version(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn self_signed(key: &PKey<Private>) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "token signer test")
            .unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.set_pubkey(key).unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    fn ec(nid: Nid) -> PKey<Private> {
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
            .unwrap()
    }

    fn verify(key: &PKey<Private>, alg: SignatureAlgorithm, data: &[u8], sig: &[u8]) -> bool {
        let md = message_digest(alg.hash()).unwrap();
        let sig = match alg.ecdsa_field_len() {
            Some(n) => geid_protocol::ecdsa_raw_to_der(sig, n).unwrap(),
            None => sig.to_vec(),
        };
        let mut v = Verifier::new(md, key).unwrap();
        if alg.scheme() == SignatureScheme::RsaPss {
            v.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
            v.set_rsa_mgf1_md(md).unwrap();
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
        }
        v.update(data).unwrap();
        v.verify(&sig).unwrap()
    }

    #[test]
    fn tokens_verify_for_every_algorithm_with_a_matching_key() {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let origin = Origin::parse("https://portal.example.ge").unwrap();
        let nonce = ChallengeNonce::generate().unwrap();
        let keys = [
            (
                rsa,
                &[
                    SignatureAlgorithm::Rs256,
                    SignatureAlgorithm::Rs384,
                    SignatureAlgorithm::Rs512,
                    SignatureAlgorithm::Ps256,
                    SignatureAlgorithm::Ps384,
                    SignatureAlgorithm::Ps512,
                ][..],
            ),
            (ec(Nid::X9_62_PRIME256V1), &[SignatureAlgorithm::Es256][..]),
            (ec(Nid::SECP384R1), &[SignatureAlgorithm::Es384][..]),
            (ec(Nid::SECP521R1), &[SignatureAlgorithm::Es512][..]),
        ];
        for (key, algs) in keys {
            let cert = self_signed(&key);
            let signer = TokenSigner::new(&cert, key.clone()).unwrap();
            assert_eq!(signer.default_algorithm().unwrap(), algs[0]);
            for &alg in algs {
                let token = signer.token(alg, &origin, &nonce).unwrap();
                assert_eq!(token.algorithm, alg);
                assert_eq!(token.certificate, cert.to_der().unwrap());
                if let Some(n) = alg.ecdsa_field_len() {
                    assert_eq!(token.signature.len(), 2 * n);
                }
                let data = alg.signed_data(&origin, &nonce);
                assert!(verify(&key, alg, &data, &token.signature), "{alg}");
                let other = alg.signed_data(&Origin::parse("https://evil.ge").unwrap(), &nonce);
                assert!(!verify(&key, alg, &other, &token.signature), "{alg}");
                assert_eq!(AuthToken::parse(&token.to_json()).unwrap(), token);
            }
        }
    }

    #[test]
    fn refuses_wrong_key_or_algorithm() {
        let a = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let b = ec(Nid::X9_62_PRIME256V1);
        let cert_a = self_signed(&a);
        assert!(matches!(
            TokenSigner::new(&cert_a, b.clone()),
            Err(TokenSignerError::KeyMismatch)
        ));
        let signer = TokenSigner::new(&self_signed(&b), b).unwrap();
        for alg in [
            SignatureAlgorithm::Rs256,
            SignatureAlgorithm::Ps256,
            SignatureAlgorithm::Es384,
        ] {
            assert!(matches!(
                signer.sign_data(alg, b"x"),
                Err(TokenSignerError::AlgorithmMismatch { .. })
            ));
        }
    }
}
