//! Georgian and English texts, and choosing between them.

use std::collections::BTreeMap;

use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use axum::http::HeaderMap;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// ქართული (the default).
    Ka,
    /// English.
    En,
}

impl Lang {
    /// `ka` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ka => "ka",
            Lang::En => "en",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        match s.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "ka" => Some(Lang::Ka),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` first, then the `lang` cookie, then the first of `ka`/`en` in Accept-Language,
    /// else Georgian. The bool says whether `?lang=` chose it (so the cookie is to be set).
    pub fn choose(query_lang: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(l) = query_lang.and_then(Lang::parse) {
            return (l, true);
        }
        let cookie = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v));
        if let Some(l) = cookie {
            return (l, false);
        }
        let accept = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let l = accept
            .split(',')
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or("")))
            .next()
            .unwrap_or(Lang::Ka);
        (l, false)
    }

    /// Every text of this language, by key.
    pub fn texts(self) -> BTreeMap<&'static str, &'static str> {
        TEXTS
            .iter()
            .map(|(k, ka, en)| (*k, if self == Lang::Ka { *ka } else { *en }))
            .collect()
    }

    /// One text.
    pub fn t(self, key: &str) -> &'static str {
        TEXTS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, ka, en)| if self == Lang::Ka { *ka } else { *en })
            .unwrap_or("?")
    }
}

/// (key, Georgian, English).
const TEXTS: &[(&str, &str, &str)] = &[
    ("site_name", "მოქალაქის პორტალი", "Citizen portal"),
    ("other_lang", "English", "ქართული"),
    ("other_lang_code", "en", "ka"),
    ("welcome", "შედით ან დარეგისტრირდით პირადობის მოწმობით — იუსტიციის სახლში მისვლის გარეშე.", "Log in or register with your national ID card — no visit to a House of Justice needed."),
    ("login_with_card", "შესვლა პირადობის მოწმობით", "Log in with the ID card"),
    ("register_with_card", "რეგისტრაცია პირადობის მოწმობით", "Register with the ID card"),
    ("login_with_password", "შესვლა მომხმარებლის სახელით და პაროლით", "Log in with username and password"),
    ("card_hint", "ჩადეთ ბარათი წამკითხველში. PIN კოდი შეიყვანეთ გაფართოების ფანჯარაში და არა ამ გვერდზე.", "Insert the card into the reader. Type the PIN in the extension's window, never on this page."),
    ("working", "ველოდებით ბარათს…", "Waiting for the card…"),
    ("card_failed", "ბარათით შესვლა ვერ მოხერხდა", "Logging in with the card failed"),
    ("card_cancelled", "ბარათით შესვლა გაუქმდა. სისტემაში არ შეხვედით.", "Card login cancelled. You are not logged in."),
    ("no_extension", "geid გაფართოება არ არის დაყენებული ან ჩართული ამ ბრაუზერში.", "The geid extension is not installed or not enabled in this browser."),
    ("register_title", "რეგისტრაცია", "Registration"),
    ("register_intro", "ბარათმა დაადასტურა თქვენი ვინაობა. დაამატეთ ელფოსტა და მობილურის ნომერი შეტყობინებებისთვის.", "The card confirmed who you are. Add an e-mail address and a mobile number for notifications."),
    ("name", "სახელი, გვარი", "Name"),
    ("personal_number", "პირადი ნომერი", "Personal number"),
    ("email", "ელფოსტა", "E-mail"),
    ("phone", "მობილურის ნომერი", "Mobile number"),
    ("phone_hint", "მაგ. +995 5XX XXX XXX", "e.g. +995 5XX XXX XXX"),
    ("create_account", "ანგარიშის შექმნა", "Create the account"),
    ("bad_email", "ელფოსტის მისამართი არასწორია.", "The e-mail address is not valid."),
    ("bad_phone", "მობილურის ნომერი უნდა იყოს ფორმით +995 5XX XXX XXX.", "The mobile number must have the form +995 5XX XXX XXX."),
    ("account_title", "ჩემი ანგარიში", "My account"),
    ("existing_account", "თქვენ უკვე გაქვთ ანგარიში; შეხვედით მასში.", "You already have an account; you are now logged in to it."),
    ("registered", "ანგარიში შეიქმნა.", "Your account was created."),
    ("registration_method", "რეგისტრაციის გზა", "Registration method"),
    ("method_id-card", "პირადობის მოწმობით, ონლაინ", "Online, with the ID card"),
    ("method_justice-house", "იუსტიციის სახლში", "At a House of Justice"),
    ("recent_logins", "ბოლო შესვლები", "Recent logins"),
    ("time", "დრო", "Time"),
    ("method", "გზა", "Method"),
    ("result", "შედეგი", "Result"),
    ("logout", "გასვლა", "Log out"),
    ("username", "მომხმარებლის სახელი", "Username"),
    ("password", "პაროლი", "Password"),
    ("login", "შესვლა", "Log in"),
    ("bad_credentials", "მომხმარებლის სახელი ან პაროლი არასწორია.", "The username or password is wrong."),
    ("too_many", "ძალიან ბევრი წარუმატებელი მცდელობა. სცადეთ მოგვიანებით.", "Too many failed attempts. Try again later."),
    ("change_password_title", "პაროლის შეცვლა", "Change the password"),
    ("change_password_intro", "იუსტიციის სახლში გაცემული პაროლი უნდა შეცვალოთ პირველი შესვლისას.", "The password issued at the House of Justice must be changed at the first login."),
    ("new_password", "ახალი პაროლი (მინ. 10 სიმბოლო)", "New password (at least 10 characters)"),
    ("new_password_confirm", "გაიმეორეთ ახალი პაროლი", "Repeat the new password"),
    ("passwords_differ", "პაროლები არ ემთხვევა.", "The passwords differ."),
    ("password_too_short", "პაროლი უნდა იყოს 10-დან 128 სიმბოლომდე.", "The password must have 10 to 128 characters."),
    ("save", "შენახვა", "Save"),
    ("password_changed", "პაროლი შეიცვალა.", "The password was changed."),
    ("csrf", "ფორმის ვადა ამოიწურა. განაახლეთ გვერდი და სცადეთ თავიდან.", "The form expired. Reload the page and try again."),
    ("unavailable_title", "სერვისი დროებით მიუწვდომელია", "The service is temporarily unavailable"),
    ("unavailable", "სცადეთ რამდენიმე წუთში. თქვენი მონაცემები არ დაკარგულა.", "Try again in a few minutes. No data was lost."),
    ("session_expired", "სესია ამოიწურა; დაიწყეთ თავიდან.", "The session expired; start again."),
    ("back_home", "მთავარ გვერდზე", "Back to the start"),
    ("my_letters", "წერილები და განცხადებები", "Letters and requests"),
];
