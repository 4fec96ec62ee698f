//! Who logged in: the fields a portal needs, read from the verified certificate.

use geid_protocol::SignatureAlgorithm;
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};
use serde::Serialize;

use crate::VerifyError;

/// The verified identity of the card holder.
///
/// Strings are taken from the certificate as UTF-8, so Georgian script (`გიორგი`) arrives
/// unchanged. The personal number comes from the subject `serialNumber` attribute in the
/// ETSI EN 319 412-1 §5.1.3 form `PNOGE-01001000001` (also `PNOEE-…`, `IDCLV-…`, `PASxx-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Identity {
    /// The national identifier without its semantics prefix, e.g. `01001000001`.
    pub personal_number: String,
    /// The semantics identifier type, `PNO` (personal number), `IDC` (identity card number),
    /// `PAS` (passport); `None` when the serialNumber carries no ETSI prefix.
    pub identifier_type: Option<String>,
    /// The country of the identifier (from the prefix), else the subject country.
    pub identifier_country: Option<String>,
    /// The full subject serialNumber as written, e.g. `PNOGE-01001000001`.
    pub subject_serial_number: String,
    /// Given name (`givenName`), if present.
    pub given_name: Option<String>,
    /// Surname (`surname`), if present.
    pub surname: Option<String>,
    /// Subject country (`countryName`), if present.
    pub country: Option<String>,
    /// Subject common name.
    pub common_name: Option<String>,
    /// Certificate serial number, upper-case hex.
    pub certificate_serial: String,
    /// Issuer distinguished name, one line (`C=GE, O=…, CN=…`).
    pub issuer: String,
    /// The certificate's notAfter, RFC 3339.
    pub not_after: String,
    /// The token's signature algorithm.
    pub algorithm: SignatureAlgorithm,
}

fn entry(name: &X509NameRef, nid: Nid) -> Result<Option<String>, VerifyError> {
    match name.entries_by_nid(nid).next() {
        None => Ok(None),
        Some(e) => e.data().to_string().map(Some).map_err(|e| {
            VerifyError::CertificateMalformed(format!(
                "subject {} is not a valid string: {e}",
                nid.short_name().unwrap_or("attribute")
            ))
        }),
    }
}

/// Splits an ETSI EN 319 412-1 semantics identifier: `PNOGE-0100…` → (`PNO`, `GE`, `0100…`).
pub(crate) fn split_semantics_identifier(serial: &str) -> Option<(&str, &str, &str)> {
    let (head, value) = serial.split_once('-')?;
    if head.len() != 5 || value.is_empty() {
        return None;
    }
    let (kind, country) = head.split_at(3);
    let known = matches!(kind, "PNO" | "IDC" | "PAS" | "TIN" | "TAX");
    let country_ok = country.chars().all(|c| c.is_ascii_uppercase());
    (known && country_ok).then_some((kind, country, value))
}

/// One-line rendering of a distinguished name.
pub(crate) fn name_line(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Identity {
    /// Reads the identity fields of `cert`; fails when the subject has no serialNumber.
    pub(crate) fn from_certificate(
        cert: &X509Ref,
        algorithm: SignatureAlgorithm,
        not_after: String,
    ) -> Result<Identity, VerifyError> {
        let subject = cert.subject_name();
        let serial = entry(subject, Nid::SERIALNUMBER)?.ok_or_else(|| {
            VerifyError::CertificateMalformed(
                "subject has no serialNumber attribute, so there is no personal number".into(),
            )
        })?;
        let country = entry(subject, Nid::COUNTRYNAME)?;
        let (identifier_type, identifier_country, personal_number) =
            match split_semantics_identifier(&serial) {
                Some((kind, cc, value)) => {
                    (Some(kind.to_owned()), Some(cc.to_owned()), value.to_owned())
                }
                None => (None, country.clone(), serial.clone()),
            };
        let certificate_serial = cert
            .serial_number()
            .to_bn()
            .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
            .map_err(|e| VerifyError::CertificateMalformed(format!("serial number: {e}")))?;
        Ok(Identity {
            personal_number,
            identifier_type,
            identifier_country,
            subject_serial_number: serial,
            given_name: entry(subject, Nid::GIVENNAME)?,
            surname: entry(subject, Nid::SURNAME)?,
            country,
            common_name: entry(subject, Nid::COMMONNAME)?,
            certificate_serial,
            issuer: name_line(cert.issuer_name()),
            not_after,
            algorithm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_semantics_identifier as split;

    #[test]
    fn semantics_identifiers() {
        assert_eq!(
            split("PNOGE-01001000001"),
            Some(("PNO", "GE", "01001000001"))
        );
        assert_eq!(
            split("PNOEE-38001085718"),
            Some(("PNO", "EE", "38001085718"))
        );
        assert_eq!(split("IDCLV-123456"), Some(("IDC", "LV", "123456")));
        assert_eq!(split("38001085718"), None);
        assert_eq!(split("PNOGE-"), None);
        assert_eq!(split("XYZGE-1"), None);
        assert_eq!(split("PNOge-1"), None);
    }
}
