//! Form input checks: e-mail addresses and Georgian mobile numbers.

/// Normalises a Georgian mobile number to `+9955XXXXXXXX`.
///
/// Accepted forms: `+995 5XX XXX XXX`, `+9955XXXXXXXX`, `995…`, `00995…`, or the national
/// `5XX XXX XXX`; spaces, dashes, dots and parentheses between digits are ignored. Georgian
/// mobile numbers have 9 national digits and start with 5.
pub fn phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.len() > 32 {
        return None;
    }
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let national = if plus {
        digits.strip_prefix("995")?
    } else if let Some(d) = digits.strip_prefix("00995") {
        d
    } else if digits.len() == 12 {
        digits.strip_prefix("995")?
    } else {
        digits.as_str()
    };
    (national.len() == 9 && national.starts_with('5')).then(|| format!("+995{national}"))
}

/// Checks an e-mail address (the practical subset of RFC 5321: `local@domain.tld`) and
/// returns it trimmed, with the domain in lower case.
pub fn email(input: &str) -> Option<String> {
    let s = input.trim();
    if s.len() > 254 {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    (local_ok && domain_ok).then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// A new password: at least 10 characters, at most 128.
pub fn new_password(p: &str) -> bool {
    (10..=128).contains(&p.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn georgian_mobile_numbers() {
        for ok in [
            "+995 555 12 34 56",
            "+995 555 123 456",
            "+995555123456",
            "995555123456",
            "00995 555 123 456",
            "555 123 456",
            "555-12-34-56",
            "(555) 123 456",
        ] {
            assert_eq!(phone(ok).as_deref(), Some("+995555123456"), "{ok}");
        }
        for bad in [
            "",
            "+995 322 123 456",
            "+994 555 123 456",
            "55512345",
            "5551234567",
            "+995 555 123 45a",
            "+1 555 123 456",
            "0555123456",
        ] {
            assert_eq!(phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            email(" nino@Example.GE ").as_deref(),
            Some("nino@example.ge")
        );
        assert!(email("a.b+tag@mail.gov.ge").is_some());
        for bad in [
            "",
            "nino",
            "nino@",
            "@example.ge",
            "nino@example",
            "ni no@example.ge",
            "nino@@example.ge",
            ".nino@example.ge",
            "nino@-example.ge",
            "nino@example.g3",
            "nino..x@example.ge",
        ] {
            assert_eq!(email(bad), None, "{bad}");
        }
    }
}
