//! The credentials slip as a one-page PDF (A6), written by hand: a handful of objects and the
//! standard Helvetica font (PDF 32000-1 §9.6.2.2), so no crate and no embedded font.
//!
//! Helvetica has no Georgian glyphs, so the slip is in English and the holder's name is
//! transliterated with the national Georgian–Latin system (2002). A Georgian slip needs an
//! embedded Georgian font; the HTML print view (`/print`) is bilingual.

/// Georgian → Latin, the national transliteration system.
pub fn transliterate(s: &str) -> String {
    s.chars()
        .map(|c| {
            match c {
                'ა' => "a",
                'ბ' => "b",
                'გ' => "g",
                'დ' => "d",
                'ე' => "e",
                'ვ' => "v",
                'ზ' => "z",
                'თ' => "t",
                'ი' => "i",
                'კ' => "k'",
                'ლ' => "l",
                'მ' => "m",
                'ნ' => "n",
                'ო' => "o",
                'პ' => "p'",
                'ჟ' => "zh",
                'რ' => "r",
                'ს' => "s",
                'ტ' => "t'",
                'უ' => "u",
                'ფ' => "p",
                'ქ' => "k",
                'ღ' => "gh",
                'ყ' => "q'",
                'შ' => "sh",
                'ჩ' => "ch",
                'ც' => "ts",
                'ძ' => "dz",
                'წ' => "ts'",
                'ჭ' => "ch'",
                'ხ' => "kh",
                'ჯ' => "j",
                'ჰ' => "h",
                c if c.is_ascii() && !c.is_ascii_control() => return c.to_string(),
                _ => "?",
            }
            .to_string()
        })
        .collect()
}

/// A PDF string literal: ASCII only, with `\`, `(` and `)` escaped.
fn literal(s: &str) -> String {
    let mut out = String::from("(");
    for c in transliterate(s).chars() {
        if matches!(c, '\\' | '(' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(')');
    out
}

/// The slip: title, then `(label, value)` lines, then a closing note.
pub fn slip(lines: &[(&str, &str)], note: &str) -> Vec<u8> {
    let mut content =
        String::from("BT\n/F1 14 Tf\n24 380 Td\n(House of Justice - portal login) Tj\n");
    for (label, value) in lines {
        content.push_str(&format!(
            "0 -30 Td\n/F1 9 Tf\n{} Tj\n0 -14 Td\n/F1 13 Tf\n{} Tj\n",
            literal(label),
            literal(value)
        ));
    }
    content.push_str(&format!("0 -32 Td\n/F1 8 Tf\n{} Tj\nET\n", literal(note)));
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    #[test]
    fn transliterates_and_escapes() {
        assert_eq!(super::transliterate("გიორგი ბერიძე"), "giorgi beridze");
        assert_eq!(super::literal("a(b)\\"), "(a\\(b\\)\\\\)");
    }

    #[test]
    fn the_xref_points_at_the_objects() {
        let pdf = super::slip(&[("Username", "01001000001")], "note");
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n"));
        for (i, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                text[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "{line}"
            );
        }
        assert!(text.contains("(01001000001) Tj"));
    }
}
