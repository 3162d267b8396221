//! Empty input workbooks (`chieftech template roster|changes -o FILE.xlsx`): the headers of
//! docs/contract.md, a note on each header saying what to type, drop-down lists for 变动类型 and
//! 职业资格等级, date validation on date columns, and ID and account columns formatted as text
//! (so Excel never turns an 18-digit number into a rounded number).

use super::changes::{self, CHANGES_SHEET, CHANGE_COLUMNS};
use super::read::Column;
use super::roster::{self, LEVELS, ROSTER_COLUMNS, ROSTER_SHEET, UNITS_SHEET, UNIT_COLUMNS};
use crate::rules::ChangeKind;
use chrono::NaiveDate;
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationRule, Format, FormatBorder, Note, Workbook, Worksheet,
    XlsxError,
};
use std::path::Path;

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Roster,
    Changes,
}

/// Writing a template failed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot write the template {path}: {source}")]
    Xlsx { path: String, source: XlsxError },
    #[error("cannot write the template {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Rows given formats and validation below the header.
const DATA_ROWS: u32 = 5000;

struct Kinds {
    header: Format,
    text: Format,
    date: Format,
}

fn note_for(sheet: &str, name: &str) -> String {
    let kinds: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.label()).collect();
    if sheet == CHANGES_SHEET {
        match name {
            changes::NAME => return "必填。与名册中的姓名一致。".into(),
            changes::ID_NUMBER => return "必填。18位居民身份证号码，末位可为X。本列已设为文本格式，请勿改为数字格式。".into(),
            changes::DECISION_NO => return "选填。变动决定的文号。".into(),
            _ => {}
        }
    }
    match name {
        roster::NAME => "必填。与身份证上的姓名一致。".into(),
        roster::ID_NUMBER => "必填。18位居民身份证号码，末位可为X。本列已设为文本格式，请勿改为数字格式（Excel只保留15位有效数字）。也可写作“身份证号”。".into(),
        roster::UNIT => "必填。工作单位全称，与“单位”工作表中的单位名称一致。也可写作“单位”。".into(),
        roster::OCCUPATION => "必填。职业或工种，如电工。也可写作“工种”。".into(),
        roster::LEVEL => format!("必填。从下拉列表选择：{}。", LEVELS.join("、")),
        roster::APPROVAL_DATE => "必填。首席技师称号的批准日期，如2021-10-15、2021/10/15、2021.10.15或2021年10月15日。".into(),
        roster::APPROVAL_NO => "必填。称号批准文件的文号，如张政字〔2021〕21号。".into(),
        roster::BANK_ACCOUNT => "必填。本人银行账号，8到30位数字。本列已设为文本格式，请勿改为数字格式。也可写作“银行卡号”。".into(),
        roster::BANK_NAME => "必填。开户银行网点全称。".into(),
        roster::PHONE => "必填。本人联系电话。".into(),
        roster::EMAIL => "选填。本人电子邮箱。".into(),
        roster::UNIT_NAME => "必填。单位全称，与名册中的工作单位一致。".into(),
        roster::CONTACT => "选填。单位联系人。".into(),
        changes::KIND => format!("必填。从下拉列表选择：{}。", kinds.join("、")),
        changes::EFFECTIVE => "必填。变动生效日期，如2023-05-20、2023/05/20、2023.05.20或2023年5月20日。".into(),
        changes::END => "仅“享受其他人才津贴”填写：其他人才津贴的结束日期；无结束日期则留空。其他变动类型不填。".into(),
        changes::NEW_UNIT => "仅“单位变更”填写：调入单位的全称。其他变动类型不填。".into(),
        changes::TITLE_NO => "选填。该人首席技师称号的批准文号；同一人有多届称号时用于指明是哪一届。".into(),
        changes::NOTE => "选填。情况说明。".into(),
        _ => String::new(),
    }
}

fn xlsx_err(path: &Path) -> impl Fn(XlsxError) -> TemplateError + '_ {
    move |source| TemplateError::Xlsx {
        path: path.display().to_string(),
        source,
    }
}

fn date_validation() -> Result<DataValidation, XlsxError> {
    let from = NaiveDate::from_ymd_opt(1949, 10, 1).unwrap_or_default();
    let to = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or_default();
    DataValidation::new()
        .allow_date(DataValidationRule::Between(from, to))
        .set_error_title("日期不正确")?
        .set_error_message("请填写1949年至2100年间的日期，如2021-10-15。")
}

fn list_validation(items: &[&str], title: &str) -> Result<DataValidation, XlsxError> {
    DataValidation::new()
        .allow_list_strings(items)?
        .set_error_title(title)?
        .set_error_message("请从下拉列表中选择。")
}

fn sheet_with_headers(
    ws: &mut Worksheet,
    name: &str,
    columns: &[Column],
    k: &Kinds,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    for (c, col) in columns.iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, col.name, &k.header)?;
        let width = if col.name == roster::ID_NUMBER || col.name == roster::BANK_ACCOUNT {
            24
        } else if col.name == roster::UNIT || col.name == roster::BANK_NAME {
            28
        } else {
            16
        };
        ws.set_column_width(c, width)?;
        let note = note_for(name, col.name);
        if !note.is_empty() {
            ws.insert_note(
                0,
                c,
                &Note::new(note)
                    .set_author("chieftech")
                    .add_author_prefix(false)
                    .set_width(300),
            )?;
        }
        match col.name {
            roster::ID_NUMBER | roster::BANK_ACCOUNT | roster::PHONE => {
                ws.set_column_format(c, &k.text)?;
            }
            roster::APPROVAL_DATE | changes::EFFECTIVE | changes::END => {
                ws.set_column_format(c, &k.date)?;
                ws.add_data_validation(1, c, DATA_ROWS, c, &date_validation()?)?;
            }
            roster::LEVEL => {
                ws.add_data_validation(
                    1,
                    c,
                    DATA_ROWS,
                    c,
                    &list_validation(&LEVELS, "职业资格等级")?,
                )?;
            }
            _ => {}
        }
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Writes an empty input workbook of the given kind.
pub fn write_template(kind: TemplateKind, path: &Path) -> Result<(), TemplateError> {
    let err = xlsx_err(path);
    let mut book = Workbook::new();
    let k = Kinds {
        header: Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_border(FormatBorder::Thin),
        text: Format::new().set_num_format("@"),
        date: Format::new().set_num_format("yyyy-mm-dd"),
    };
    match kind {
        TemplateKind::Roster => {
            let ws = book.add_worksheet();
            sheet_with_headers(ws, ROSTER_SHEET, &ROSTER_COLUMNS, &k).map_err(&err)?;
            let ws = book.add_worksheet();
            sheet_with_headers(ws, UNITS_SHEET, &UNIT_COLUMNS, &k).map_err(&err)?;
        }
        TemplateKind::Changes => {
            let ws = book.add_worksheet();
            sheet_with_headers(ws, CHANGES_SHEET, &CHANGE_COLUMNS, &k).map_err(&err)?;
            let labels: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.label()).collect();
            let kind_col = CHANGE_COLUMNS
                .iter()
                .position(|c| c.name == changes::KIND)
                .unwrap_or(2) as u16;
            ws.add_data_validation(
                1,
                kind_col,
                DATA_ROWS,
                kind_col,
                &list_validation(&labels, "变动类型").map_err(&err)?,
            )
            .map_err(&err)?;
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| TemplateError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    book.save(path).map_err(&err)?;
    Ok(())
}
