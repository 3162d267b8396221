//! Resident ID numbers (居民身份证号码, GB 11643) and bank account checks (`docs/rules.md` §1).
//!
//! An ID number is parsed, not validated: once a value is an [`IdNumber`], it is an
//! 18-character number with a valid birth date and check character.

use chrono::NaiveDate;
use std::fmt;

/// An 18-character resident ID number whose birth date and check character are valid.
///
/// ```
/// use chieftech::rules::IdNumber;
/// let id = IdNumber::parse("11010519491231002x").unwrap();
/// assert_eq!(id.as_str(), "11010519491231002X");
/// assert_eq!(id.masked(), "1101**********002X");
/// assert!(IdNumber::parse("110105194912310021").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdNumber(String);

/// Why a text is not a valid ID number; the message is for a clerk (Chinese).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号码应为18位（17位数字加1位校验码0-9或X），实际为{0}位")]
    Length(usize),
    #[error("身份证号码前17位应全部为数字")]
    NotDigits,
    #[error("身份证号码中的出生日期{0}不是有效日期")]
    BirthDate(String),
    #[error("身份证号码校验码错误：按GB 11643应为{expected}，实际为{found}")]
    CheckDigit { expected: char, found: char },
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits.
pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses an ID number; surrounding spaces are ignored and a lowercase `x` is read as `X`.
    /// A 15-digit or otherwise invalid number is refused, never "fixed".
    pub fn parse(text: &str) -> Result<IdNumber, IdNumberError> {
        let s = text.trim().to_ascii_uppercase();
        let chars = s.chars().count();
        if chars != 18 {
            return Err(IdNumberError::Length(chars));
        }
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(IdNumberError::NotDigits);
        }
        let birth = &s[6..14];
        let valid_birth = NaiveDate::parse_from_str(birth, "%Y%m%d")
            .ok()
            .filter(|d| d.format("%Y").to_string().as_str() >= "1900");
        if valid_birth.is_none() {
            return Err(IdNumberError::BirthDate(birth.to_string()));
        }
        let expected = check_char(&bytes[..17]);
        let found = s[17..].chars().next().unwrap_or(' ');
        if expected != found {
            return Err(IdNumberError::CheckDigit { expected, found });
        }
        Ok(IdNumber(s))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date in characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("checked at parse")
    }

    /// The number masked for logs and e-mail: first 4 and last 4 characters kept.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks all but the first 4 and last 4 characters of an ID or account number
/// (`3703**********1234`). Short values are masked whole but for the last 4.
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n <= 8 {
        let keep = n.saturating_sub(4);
        return chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < keep { '*' } else { *c })
            .collect();
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 4 { *c } else { '*' })
        .collect()
}

/// Masks, in a free text, every run that may be an ID or bank account number: 12 or more
/// digits (an ID's last character may be `X`), wherever they stand (`recovery_3703…`,
/// `身份证号码3703…`), except inside a hexadecimal hash of 32 or more characters. Each is shown as
/// [`mask`] shows it (`3703**********1234`). Logs, replies and terminal lines pass through it as
/// a last guard.
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let hash = token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit());
        if hash {
            out.push_str(token);
        } else {
            out.push_str(&mask_digit_runs(token));
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// Masks the runs of 12 or more digits (optionally ending in `X`) of one ASCII word.
fn mask_digit_runs(word: &str) -> String {
    let b = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j - i >= 17 && j < b.len() && (b[j] == b'X' || b[j] == b'x') {
            j += 1;
        }
        if j - i >= 12 {
            out.push_str(&mask(&word[i..j]));
        } else {
            out.push_str(&word[i..j]);
        }
        i = j;
    }
    out
}

/// A stable reference to a person that holds no part of the ID number: the first 16 hex digits of
/// the number's SHA-256 (`p:1a2b…`). Outbox keys, file names and log fields that must tell people
/// apart use it, so no full ID number is ever written where a person reads it.
pub fn person_ref(id_number: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id_number.trim().as_bytes());
    format!("p{}", &hex::encode(digest)[..16])
}

/// A bank account number as the roster gives it: digits only, 8 to 30 of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("银行账号只能包含数字（可含空格），实际为“{0}”")]
    NotDigits(String),
    #[error("银行账号位数应在8到30位之间，实际为{0}位")]
    Length(usize),
}

/// Normalizes a bank account (spaces removed) and checks its digits and length.
pub fn parse_account(text: &str) -> Result<String, AccountError> {
    let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(AccountError::NotDigits(text.trim().to_string()));
    }
    if !(8..=30).contains(&s.len()) {
        return Err(AccountError::Length(s.len()));
    }
    Ok(s)
}

/// The Luhn check bank cards use. Passbook accounts fail it, so a failure is a warning only.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Makes a valid ID number from a 6-digit area code, a birth date and a 3-digit sequence
/// (used by `sample` and tests).
pub fn make_id(area: &str, birth: NaiveDate, seq: u32) -> IdNumber {
    let first17 = format!("{area}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
    let c = check_char(first17.as_bytes());
    IdNumber(format!("{first17}{c}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_numbers_hides_ids_and_accounts_wherever_they_stand() {
        use super::mask_numbers;
        assert_eq!(
            mask_numbers("recovery_2024_1_37030319800101123X.eml"),
            "recovery_2024_1_3703**********123X.eml"
        );
        assert_eq!(
            mask_numbers("身份证号码370303198001011234，账号6222020200112233445"),
            "身份证号码3703**********1234，账号6222***********3445"
        );
        // Dates, amounts and short numbers stay; so does a hash.
        assert_eq!(
            mask_numbers("2024-12-01 6,500.00 1234567"),
            "2024-12-01 6,500.00 1234567"
        );
        let hash = "0123456789012345678901234567890123456789abcdef";
        assert_eq!(mask_numbers(hash), hash);
        assert_eq!(
            mask_numbers("<37030319800101123@x>"),
            "<3703*********1123@x>"
        );
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_numbers() {
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert!(IdNumber::parse(" 11010519491231002x ").is_ok());
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit {
                expected: 'X',
                found: '1'
            })
        );
        assert_eq!(
            IdNumber::parse("110105491231002"),
            Err(IdNumberError::Length(15))
        );
        assert!(matches!(
            IdNumber::parse("110105194902300020"),
            Err(IdNumberError::BirthDate(_))
        ));
        assert_eq!(
            IdNumber::parse("1101051949123100AX"),
            Err(IdNumberError::NotDigits)
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask("370303198001011234"), "3703**********1234");
        assert_eq!(mask("6222020200112233445"), "6222***********3445");
        assert_eq!(mask("123"), "123");
        assert_eq!(mask("12345678"), "****5678");
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok("4111111111111111"));
        assert!(!luhn_ok("4111111111111112"));
        assert!(!luhn_ok(""));
    }

    #[test]
    fn accounts() {
        assert_eq!(
            parse_account("6222 0202 0011 2233").unwrap(),
            "6222020200112233"
        );
        assert!(parse_account("6222-0202").is_err());
        assert!(parse_account("1234567").is_err());
    }

    proptest! {
        #[test]
        fn made_ids_parse_and_one_changed_digit_fails(
            days in 0i64..30000, seq in 0u32..1000, pos in 0usize..17, bump in 1u8..10
        ) {
            let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let id = make_id("370303", birth, seq);
            prop_assert_eq!(IdNumber::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.birth_date(), birth);
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + bump) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(IdNumber::parse(&changed).is_err());
        }
    }
}
