//! Money: exact decimals in code, integer fen (分) in storage, 四舍五入 to the fen (`docs/rules.md` §8).

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds half away from zero (四舍五入) to the fen.
/// The result always has exactly two decimals (`0.00`, `306.45`).
pub fn round_fen(amount: Decimal) -> Decimal {
    let mut d = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(2);
    d
}

/// Yuan → integer fen. The amount is rounded to the fen first.
pub fn to_fen(amount: Decimal) -> i64 {
    let fen = round_fen(amount) * Decimal::ONE_HUNDRED;
    i64::try_from(fen.trunc()).expect("amount fits in i64 fen")
}

/// Integer fen → yuan with exactly two decimals.
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// `12345` fen → `"123.45"`, `-25000` → `"-250.00"`: the JSON form of docs/contract.md.
pub fn fen_str(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// `1800000` fen → `"18,000.00"`: the `#,##0.00` form for people.
pub fn fen_grouped(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    let whole = (a / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", a % 100)
}

/// The amount in Chinese capitals as a finance office writes it on a voucher:
/// `1800000` fen → `人民币壹万捌仟元整`, `5` fen → `人民币伍分`.
///
/// ```
/// use chieftech::rules::money::capitals;
/// assert_eq!(capitals(1_800_000), "人民币壹万捌仟元整");
/// assert_eq!(capitals(10_000_510), "人民币壹拾万零伍元壹角");
/// ```
pub fn capitals(fen: i64) -> String {
    let negative = fen < 0;
    let a = fen.unsigned_abs();
    let yuan = a / 100;
    let jiao = (a / 10) % 10;
    let fen_d = a % 10;
    let mut out = String::from("人民币");
    if negative {
        out.push('负');
    }
    if yuan == 0 && jiao == 0 && fen_d == 0 {
        out.push_str("零元整");
        return out;
    }
    if yuan > 0 {
        out.push_str(&yuan_capitals(yuan));
        out.push('元');
    }
    push_jiao_fen(&mut out, jiao, fen_d, yuan > 0);
    out
}

/// The capital digits, 零 to 玖.
const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];

/// The whole yuan in capitals, without the 元: groups of 4 digits with 万, 亿, 万亿.
fn yuan_capitals(yuan: u64) -> String {
    const BIG: [&str; 4] = ["", "万", "亿", "万亿"];
    // Split into groups of 4 digits, most significant first.
    let mut groups = Vec::new();
    let mut y = yuan;
    while y > 0 {
        groups.push((y % 10_000) as usize);
        y /= 10_000;
    }
    let mut text = String::new();
    let mut pending_zero = false;
    for (gi, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            pending_zero = !text.is_empty();
            continue;
        }
        if !text.is_empty() && (pending_zero || g < 1000) {
            text.push('零');
        }
        pending_zero = false;
        push_group(&mut text, g);
        text.push_str(BIG[gi.min(3)]);
    }
    text
}

/// One group of up to 4 digits (not 0) with 仟, 佰, 拾; a run of zeros inside it reads 零.
fn push_group(text: &mut String, g: usize) {
    const SMALL: [&str; 4] = ["", "拾", "佰", "仟"];
    let digits = [g / 1000, (g / 100) % 10, (g / 10) % 10, g % 10];
    let mut zero = false;
    let mut started = false;
    for (pos, &d) in digits.iter().enumerate() {
        if d == 0 {
            zero = started;
            continue;
        }
        if zero {
            text.push('零');
            zero = false;
        }
        started = true;
        text.push_str(DIGITS[d]);
        text.push_str(SMALL[3 - pos]);
    }
}

/// The 角 and 分 after the yuan, or 整 when there are none.
fn push_jiao_fen(out: &mut String, jiao: u64, fen_d: u64, has_yuan: bool) {
    match (jiao, fen_d) {
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push_str(DIGITS[j as usize]);
            out.push('角');
        }
        (j, f) => {
            if j > 0 {
                out.push_str(DIGITS[j as usize]);
                out.push('角');
            } else if has_yuan {
                out.push('零');
            }
            out.push_str(DIGITS[f as usize]);
            out.push('分');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(round_fen(dec!(306.4516)), dec!(306.45));
        assert_eq!(round_fen(dec!(155.1724)), dec!(155.17));
        assert_eq!(round_fen(dec!(0.005)), dec!(0.01));
        assert_eq!(round_fen(dec!(-0.005)), dec!(-0.01));
        assert_eq!(to_fen(dec!(250)), 25000);
    }

    #[test]
    fn formats() {
        assert_eq!(fen_str(-25000), "-250.00");
        assert_eq!(fen_str(5), "0.05");
        assert_eq!(fen_grouped(1_800_000), "18,000.00");
        assert_eq!(fen_grouped(10_000_510), "100,005.10");
        assert_eq!(fen_grouped(-1_300_000), "-13,000.00");
        assert_eq!(fen_grouped(99), "0.99");
    }

    #[test]
    fn capitals_tricky_amounts() {
        assert_eq!(capitals(5), "人民币伍分");
        assert_eq!(capitals(1000), "人民币壹拾元整");
        assert_eq!(capitals(10_000_510), "人民币壹拾万零伍元壹角");
        assert_eq!(capitals(1_800_000), "人民币壹万捌仟元整");
        assert_eq!(capitals(100_000_000), "人民币壹佰万元整");
        assert_eq!(capitals(0), "人民币零元整");
        assert_eq!(capitals(530_645), "人民币伍仟叁佰零陆元肆角伍分");
        assert_eq!(capitals(1_005), "人民币壹拾元零伍分");
        assert_eq!(capitals(10_100_000_000), "人民币壹亿零壹佰万元整");
        assert_eq!(capitals(100_010_000), "人民币壹佰万零壹佰元整");
        assert_eq!(capitals(365_517), "人民币叁仟陆佰伍拾伍元壹角柒分");
        assert_eq!(capitals(-1_300_000), "人民币负壹万叁仟元整");
    }
}
