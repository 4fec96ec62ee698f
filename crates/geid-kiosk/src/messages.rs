//! What the kiosk tells the citizen, in plain words: Georgian first, then English.

use serde::Serialize;

/// A message on the screen, for one stable code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Stable code (`PIN_INCORRECT`, `CERT_REVOKED`, `PORTAL_UNREACHABLE`, …).
    pub code: String,
    /// Georgian.
    pub ka: String,
    /// English.
    pub en: String,
}

/// The notice for `code`; `retries_left` fills in the wrong-PIN message.
pub fn notice(code: &str, retries_left: Option<u8>) -> Notice {
    let n = retries_left.map(|n| n.to_string()).unwrap_or_default();
    let (ka, en): (String, String) = match code {
        "PIN_INCORRECT" => (
            format!("PIN კოდი არასწორია. დარჩენილი მცდელობა: {n}."),
            format!("Wrong PIN. Tries left: {n}."),
        ),
        "PIN_BLOCKED" => (
            "PIN კოდი დაბლოკილია. გთხოვთ, მიმართოთ ოპერატორს.".into(),
            "The PIN is blocked. Please go to the desk.".into(),
        ),
        "PIN_FORMAT" => (
            "PIN კოდი 4 ციფრისგან შედგება.".into(),
            "The PIN has 4 digits.".into(),
        ),
        "CARD_REMOVED" => (
            "ბარათი ამოღებულია. სესია დასრულდა, არაფერი შენახულა.".into(),
            "The card was removed. The session has ended; nothing was kept.".into(),
        ),
        "IDLE_TIMEOUT" => (
            "სესია დასრულდა უმოქმედობის გამო. ამოიღეთ ბარათი.".into(),
            "The session ended because nothing happened for a while. Please take your card.".into(),
        ),
        "FINISHED" => (
            "გმადლობთ. გთხოვთ, ამოიღოთ ბარათი.".into(),
            "Thank you. Please take your card.".into(),
        ),
        "PORTAL_UNREACHABLE" => (
            "პორტალთან კავშირი ვერ დამყარდა. არაფერი გაცემულა. სცადეთ თავიდან.".into(),
            "The portal cannot be reached. Nothing was issued. Please try again.".into(),
        ),
        "CERT_EXPIRED" => (
            "ბარათის სერტიფიკატს ვადა გაუვიდა. ბარათის გასაახლებლად მიმართეთ ოპერატორს.".into(),
            "The card's certificate has expired. Please go to the desk to renew your card.".into(),
        ),
        "CERT_NOT_YET_VALID" => (
            "ბარათის სერტიფიკატი ჯერ არ მოქმედებს. მიმართეთ ოპერატორს.".into(),
            "The card's certificate is not valid yet. Please go to the desk.".into(),
        ),
        "CERT_REVOKED" | "CERT_STATUS_UNKNOWN" => (
            "ბარათის სერტიფიკატი გაუქმებულია (მაგალითად, ბარათი დაკარგულად გამოცხადდა). მიმართეთ ოპერატორს.".into(),
            "The card's certificate has been revoked (for example, the card was reported lost). Please go to the desk.".into(),
        ),
        "CERT_NOT_TRUSTED" | "CERT_KEY_USAGE" | "CERT_EKU" | "CERT_POLICY" | "CERT_MALFORMED" => (
            "ამ ბარათის სერტიფიკატი პორტალისთვის მისაღები არ არის. მიმართეთ ოპერატორს.".into(),
            "The portal does not accept this card's certificate. Please go to the desk.".into(),
        ),
        "OCSP_UNAVAILABLE" | "OCSP_INVALID" | "CRL_UNAVAILABLE" => (
            "ბარათის სტატუსის შემოწმება ახლა ვერ ხერხდება. არაფერი გაცემულა. სცადეთ მოგვიანებით.".into(),
            "The card's status cannot be checked right now. Nothing was issued. Please try again later.".into(),
        ),
        "UNSUPPORTED_CARD" => (
            "ეს ბარათი არ არის საქართველოს პირადობის მოწმობა.".into(),
            "This card is not a Georgian ID card.".into(),
        ),
        "PCSC_UNAVAILABLE" | "NO_READER" => (
            "ბარათის წამკითხველი მიუწვდომელია. მიმართეთ ოპერატორს.".into(),
            "The card reader is not available. Please go to the desk.".into(),
        ),
        "PIN_PAD_CANCELLED" => (
            "PIN კოდის შეყვანა გაუქმდა.".into(),
            "PIN entry was cancelled.".into(),
        ),
        c if c.starts_with("KIOSK_") => (
            "კიოსკი პორტალთან სწორად არ არის დაკავშირებული. მიმართეთ ოპერატორს.".into(),
            "This kiosk is not set up correctly with the portal. Please go to the desk.".into(),
        ),
        _ => (
            "ოპერაცია ვერ შესრულდა. არაფერი გაცემულა. მიმართეთ ოპერატორს.".into(),
            "Something went wrong. Nothing was issued. Please go to the desk.".into(),
        ),
    };
    Notice {
        code: code.to_owned(),
        ka,
        en,
    }
}

/// Whether trying again at the kiosk can help (the portal or a service was away, the card
/// stumbled); `false` for refusals only the desk can resolve.
pub fn retry_helps(code: &str) -> bool {
    matches!(
        code,
        "PORTAL_UNREACHABLE"
            | "PORTAL_MALFORMED"
            | "OCSP_UNAVAILABLE"
            | "OCSP_INVALID"
            | "CRL_UNAVAILABLE"
            | "DATABASE_UNAVAILABLE"
            | "NONCE_EXPIRED"
            | "NONCE_UNKNOWN"
            | "PIN_PAD_CANCELLED"
            | "TIMEOUT"
            | "CARD_RESET"
            | "INTERNAL"
    )
}
