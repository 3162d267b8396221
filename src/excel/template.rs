//! Empty input workbooks (`chieftech template roster|changes|nominations|scores -o FILE.xlsx`):
//! the headers of docs/contract.md in the first row, a note on each header saying what to type,
//! drop-down lists for 变动类型 and 职业资格等级, date validation on date columns, and ID and
//! account columns formatted as text (so Excel never turns an 18-digit number into a rounded
//! number). The selection round's two: 推荐汇总 (the nominating bodies' summary,
//! [`super::nominations`]) and 评审成绩 (the experts' scores, [`super::scores`]).
//!
//! Printed, a template is A4 landscape, one page wide, with the title in the page header and
//! the header row on every page. Under the header: an example row (grey italic, first cell
//! `示例：…`), bordered rows to fill in, the footer units sign (填报单位（盖章）/填报人/联系电话/
//! 填报日期) and a 填表说明 block. The importer ignores the example row and the footer area
//! ([`super::read::TemplateRows`]).
//!
//! [`decorate_sheet`] gives a copy of an input sheet (the error workbook) the same notes,
//! header style, validation and text-formatted columns.

use super::changes::{self, CHANGES_SHEET, CHANGE_COLUMNS};
use super::nominations::{
    self, NOMINATIONS_SHEET, NOMINATION_COLUMNS, NOMINATION_LEVELS, NOMINATION_TEMPLATE_COLUMNS,
};
use super::read::Column;
use super::roster::{self, LEVELS, ROSTER_COLUMNS, ROSTER_SHEET, UNITS_SHEET, UNIT_COLUMNS};
use super::scores::{self, SCORES_SHEET, SCORE_COLUMNS};
use super::summary::{fit_width, text_width, wrapped_lines};
use crate::rules::ChangeKind;
use chrono::NaiveDate;
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationRule, Format, FormatAlign, FormatBorder, Note, Workbook,
    Worksheet, XlsxError,
};
use std::path::Path;

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Roster,
    Changes,
    /// 推荐人选汇总表 (sheet 推荐汇总), filled in by each nominating body.
    Nominations,
    /// 评审成绩 (sheet 评审成绩), the experts' scores.
    Scores,
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

/// Bordered rows to fill in under the example row.
const BLANK_ROWS: u32 = 20;

/// The note on a column's header: what to type.
pub fn note_for(sheet: &str, name: &str) -> String {
    let kinds: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.label()).collect();
    if sheet == NOMINATIONS_SHEET {
        match name {
            roster::NAME => return "必填。推荐人选的姓名，与身份证上的一致。".into(),
            roster::UNIT => return "必填。推荐人选的工作单位全称。也可写作“单位”。".into(),
            roster::LEVEL => {
                return format!(
                    "必填。推荐人选现有的职业资格（职业技能）等级，从下拉列表选择：{}。",
                    NOMINATION_LEVELS.join("、")
                )
            }
            roster::BANK_ACCOUNT => return "选填（入选后须补齐）。本人银行账号，8到30位数字。本列已设为文本格式，请勿改为数字格式。也可写作“银行卡号”。".into(),
            roster::BANK_NAME => return "选填（入选后须补齐）。开户银行网点全称。".into(),
            _ => {}
        }
    }
    if sheet == SCORES_SHEET {
        match name {
            roster::NAME => return "必填。推荐人选的姓名。".into(),
            roster::ID_NUMBER => return "必填。推荐人选的18位居民身份证号码，末位可为X。本列已设为文本格式，请勿改为数字格式。".into(),
            _ => {}
        }
    }
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
        roster::EMAIL if sheet == UNITS_SHEET => "选填。单位登记的电子邮箱（如人事部门的公共邮箱）：区人社局的通知发往该地址，单位报送变动情况报告表也须从该地址发出，其他地址发来的报告不予受理。".into(),
        roster::EMAIL => "选填。本人电子邮箱。".into(),
        roster::UNIT_NAME => "必填。单位全称，与名册中的工作单位一致。".into(),
        roster::CONTACT => "选填。单位联系人。".into(),
        changes::KIND => format!("必填。从下拉列表选择：{}。", kinds.join("、")),
        changes::EFFECTIVE => "必填。变动生效日期，如2023-05-20、2023/05/20、2023.05.20或2023年5月20日。".into(),
        changes::END => "仅“享受其他人才津贴”填写：其他人才津贴的结束日期；无结束日期则留空。其他变动类型不填。".into(),
        changes::NEW_UNIT => "仅“单位变更”填写：调入单位的全称。其他变动类型不填。".into(),
        changes::TITLE_NO => "选填。该人首席技师称号的批准文号；同一人有多届称号时用于指明是哪一届。".into(),
        changes::NOTE => "选填。情况说明。".into(),
        nominations::NOMINATOR => "必填。推荐单位全称（镇、街道、部门、行业协会或企业）。".into(),
        nominations::CERTIFICATE_NO => "必填。职业资格（职业技能等级）证书的编号。本列已设为文本格式。也可写作“职业资格证书编号”。".into(),
        nominations::ACHIEVEMENTS => "必填。主要业绩的简要概括（技术革新、攻关成果、获奖、带徒传技等），详细材料另附。".into(),
        nominations::NOTICE_PERIOD => "必填。推荐单位内部公示的起止日期，开始日期和结束日期写在同一单元格，如2026-04-10至2026-04-16，也可写作2026.4.10-2026.4.16、2026/4/10~2026/4/16或2026年4月10日至4月16日。也可改用“推荐公示开始日期”“推荐公示结束日期”两列。".into(),
        nominations::NOTICE_FROM => "推荐单位内部公示的第一天，如2026-04-10（与“推荐公示结束日期”一起，代替“推荐公示起止日期”）。".into(),
        nominations::NOTICE_TO => "推荐单位内部公示的最后一天，如2026-04-16，不早于开始日期。".into(),
        nominations::RECEIVED => "选填。推荐材料报送区人社局的日期，如2026-04-20。".into(),
        scores::EXPERT => "必填。评审专家的姓名或编号。同一专家对同一人选只填一行。也可写作“专家”。".into(),
        scores::SCORE => "必填。0至100之间的数，最多两位小数，如87.5。".into(),
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

/// How a column's cells are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// ID, account and phone numbers: text cells, never numbers.
    Text,
    Date,
    Other,
}

/// The kind of an input column.
pub fn cell_kind(name: &str) -> CellKind {
    match name {
        roster::ID_NUMBER
        | roster::BANK_ACCOUNT
        | roster::PHONE
        | nominations::CERTIFICATE_NO
        | nominations::NOTICE_PERIOD => CellKind::Text,
        roster::APPROVAL_DATE
        | changes::EFFECTIVE
        | changes::END
        | nominations::RECEIVED
        | nominations::NOTICE_FROM
        | nominations::NOTICE_TO => CellKind::Date,
        _ => CellKind::Other,
    }
}

/// The drop-down list or date check of an input column, if it has one.
pub fn column_validation(sheet: &str, name: &str) -> Result<Option<DataValidation>, XlsxError> {
    if cell_kind(name) == CellKind::Date {
        return date_validation().map(Some);
    }
    if sheet == NOMINATIONS_SHEET && name == roster::LEVEL {
        return list_validation(&NOMINATION_LEVELS, "职业资格等级").map(Some);
    }
    if sheet == SCORES_SHEET && name == scores::SCORE {
        return DataValidation::new()
            .allow_decimal_number(DataValidationRule::Between(0.0, 100.0))
            .set_error_title("得分不正确")
            .and_then(|v| v.set_error_message("得分应为0至100之间的数，最多两位小数。"))
            .map(Some);
    }
    if sheet != UNITS_SHEET && name == roster::LEVEL {
        return list_validation(&LEVELS, "职业资格等级").map(Some);
    }
    if sheet == CHANGES_SHEET && name == changes::KIND {
        let labels: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.label()).collect();
        return list_validation(&labels, "变动类型").map(Some);
    }
    Ok(None)
}

/// A column's width in a template (characters; a CJK character counts two).
pub fn column_width(sheet: &str, name: &str) -> f64 {
    let content: &[&str] = match name {
        roster::NAME => &["张三丰"],
        roster::ID_NUMBER => &["370303199001011234"],
        roster::UNIT | changes::NEW_UNIT => &["张店区示例机械"],
        roster::UNIT_NAME => &["张店区示例机械制造有限公司"],
        roster::OCCUPATION => &["电工"],
        roster::LEVEL => &["高级技师"],
        roster::APPROVAL_DATE | changes::EFFECTIVE | changes::END => &["2021-10-15 "],
        roster::APPROVAL_NO | changes::TITLE_NO => &["张政字〔2021"],
        roster::BANK_ACCOUNT => &["6222020000000000000"],
        roster::BANK_NAME => &["工商银行张店"],
        roster::PHONE => &["0533-2181234"],
        roster::EMAIL if sheet == UNITS_SHEET => &["renshi@example.com.cn"],
        roster::EMAIL => &["zhang@example"],
        roster::CONTACT => &["王五"],
        changes::KIND => &["享受其他人才津贴"],
        changes::NOTE => &["2024年5月办理退休"],
        nominations::NOMINATOR => &["张店区某某街道办"],
        nominations::CERTIFICATE_NO => &["1806000000301234"],
        nominations::ACHIEVEMENTS => &["主持数控机床改造项目，获市级技术革新奖一等奖"],
        nominations::NOTICE_PERIOD => &["2026-04-10至2026-04-16"],
        nominations::RECEIVED | nominations::NOTICE_FROM | nominations::NOTICE_TO => {
            &["2026-04-20 "]
        }
        scores::EXPERT => &["专家甲某"],
        scores::SCORE => &["87.5"],
        _ => &[],
    };
    fit_width(content.iter().copied(), 8.0, 30.0).max((text_width(name) / 2.0 + 2.0).min(12.0))
}

/// The example row's cell of a column.
enum Example {
    Text(&'static str),
    Date(u32, u32, u32),
}

fn example(sheet: &str, name: &str) -> Option<Example> {
    use Example::{Date, Text};
    Some(match (sheet, name) {
        (UNITS_SHEET, roster::UNIT_NAME) => Text("示例：张店区示例机械制造有限公司"),
        (UNITS_SHEET, roster::CONTACT) => Text("王五"),
        (UNITS_SHEET, roster::EMAIL) => Text("renshi@example.com.cn"),
        (CHANGES_SHEET, changes::KIND) => Text("退休"),
        (CHANGES_SHEET, changes::EFFECTIVE) => Date(2024, 5, 20),
        (CHANGES_SHEET, changes::DECISION_NO) => Text("张人社字〔2024〕8号"),
        (CHANGES_SHEET, changes::TITLE_NO) => Text("张政字〔2021〕21号"),
        (CHANGES_SHEET, changes::NOTE) => Text("2024年5月办理退休手续"),
        (NOMINATIONS_SHEET, nominations::NOMINATOR) => Text("示例：张店区某某街道办事处"),
        (NOMINATIONS_SHEET, roster::NAME) => Text("张三"),
        (NOMINATIONS_SHEET, roster::LEVEL) => Text("高级技师"),
        (NOMINATIONS_SHEET, roster::UNIT) => Text("张店区示例机械制造有限公司"),
        (NOMINATIONS_SHEET, nominations::CERTIFICATE_NO) => Text("1806000000301234"),
        (NOMINATIONS_SHEET, nominations::ACHIEVEMENTS) => {
            Text("主持数控机床改造项目，获2025年市级技术革新奖一等奖；带徒12名")
        }
        (NOMINATIONS_SHEET, nominations::NOTICE_PERIOD) => Text("2026-04-10至2026-04-16"),
        (NOMINATIONS_SHEET, nominations::RECEIVED) => Date(2026, 4, 20),
        (NOMINATIONS_SHEET, roster::BANK_ACCOUNT | roster::BANK_NAME) => return None,
        (SCORES_SHEET, roster::NAME) => Text("示例：张三"),
        (SCORES_SHEET, scores::EXPERT) => Text("专家甲"),
        (SCORES_SHEET, scores::SCORE) => Text("87.5"),
        (_, roster::NAME) => Text("示例：张三"),
        (_, roster::ID_NUMBER) => Text("370303199001011234"),
        (_, roster::UNIT) => Text("张店区示例机械制造有限公司"),
        (_, roster::OCCUPATION) => Text("电工"),
        (_, roster::LEVEL) => Text("高级技师"),
        (_, roster::APPROVAL_DATE) => Date(2021, 10, 15),
        (_, roster::APPROVAL_NO) => Text("张政字〔2021〕21号"),
        (_, roster::BANK_ACCOUNT) => Text("6222020000000000000"),
        (_, roster::BANK_NAME) => Text("中国工商银行张店支行"),
        (_, roster::PHONE) => Text("0533-2181234"),
        (_, roster::EMAIL) => Text("zhangsan@example.com"),
        _ => return None,
    })
}

fn title_of(sheet: &str) -> &'static str {
    match sheet {
        ROSTER_SHEET => "张店区首席技师名册",
        UNITS_SHEET => "首席技师所在单位登记表",
        NOMINATIONS_SHEET => "张店区首席技师推荐人选汇总表",
        SCORES_SHEET => "张店区首席技师评审成绩表",
        _ => "首席技师变动情况报告表",
    }
}

fn instructions(sheet: &str) -> Vec<String> {
    let mut v: Vec<String> = match sheet {
        ROSTER_SHEET => vec![
            "1．每行填写一名首席技师的一届称号；同一人有多届称号的，每届一行。工作单位须与“单位”工作表中的单位名称一致。".into(),
            format!("2．职业资格等级从下拉列表选择（{}）。", LEVELS.join("、")),
        ],
        NOMINATIONS_SHEET => vec![
            "1．每行填写一名推荐人选。推荐单位、姓名、身份证号码、工作单位、职业（工种）、职业资格等级、证书编号、主要业绩、联系电话、推荐公示起止日期必须填写；报送日期、开户行、银行账号、电子邮箱选填（入选后须补齐开户行和银行账号）。".into(),
            format!("2．职业资格等级从下拉列表选择（{}）。推荐公示起止日期填推荐单位内部公示的第一天和最后一天，写在同一单元格，如2026-04-10至2026-04-16或2026年4月10日至4月16日。", NOMINATION_LEVELS.join("、")),
        ],
        SCORES_SHEET => vec![
            "1．每行填写一位评审专家对一名推荐人选的得分；同一专家对同一人选只填一行。得分为0至100之间的数，最多两位小数。".into(),
        ],
        UNITS_SHEET => vec![
            "1．每行填写一个单位。电子邮箱填单位登记的邮箱（如人事部门的公共邮箱）：区人社局的通知发往该地址，单位报送变动情况报告表也须从该地址发出。".into(),
        ],
        _ => vec![
            "1．每行填写一项变动，变动类型从下拉列表选择。“结束日期”仅“享受其他人才津贴”填写（无结束日期的留空），“新单位”仅“单位变更”填写。".into(),
            "2．填好后将本表作为邮件附件，从单位登记的电子邮箱发送至区人社局；“恢复待遇”由区人社局决定，单位不报告。".into(),
        ],
    };
    if sheet == NOMINATIONS_SHEET {
        v.push(format!("{}．身份证号码、证书编号、银行账号、联系电话列已设为文本格式，请直接输入全部数字，勿改为数字格式（Excel只保留15位有效数字）。报送日期可写作2026-04-20、2026/04/20、2026.04.20或2026年4月20日。", v.len() + 1));
    } else if sheet == SCORES_SHEET {
        v.push(format!("{}．身份证号码列已设为文本格式，请直接输入全部18位，勿改为数字格式（Excel只保留15位有效数字）。", v.len() + 1));
    } else if sheet != UNITS_SHEET {
        v.push(format!("{}．身份证号码、银行账号、联系电话列已设为文本格式，请直接输入全部数字，勿改为数字格式（Excel只保留15位有效数字）。日期可写作2021-10-15、2021/10/15、2021.10.15或2021年10月15日。", v.len() + 1));
    }
    v.push(format!("{}．灰色斜体的示例行，以及表下的填报单位、填报人、联系电话、填报日期和本说明，导入时不读取，可保留。鼠标指向表头单元格可查看各列的填写要求。", v.len() + 1));
    v
}

/// The formats of a template.
pub struct TemplateFormats {
    pub header: Format,
    pub text: Format,
    pub date: Format,
    pub plain: Format,
    example: Format,
    example_date: Format,
    footer: Format,
    note: Format,
}

impl TemplateFormats {
    pub fn new() -> TemplateFormats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        let example = cell
            .clone()
            .set_text_wrap()
            .set_italic()
            .set_font_color(Color::RGB(0x808080))
            .set_num_format("@");
        TemplateFormats {
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_border(FormatBorder::Thin),
            text: cell.clone().set_num_format("@"),
            date: cell.clone().set_num_format("yyyy-mm-dd"),
            plain: cell.set_text_wrap(),
            example_date: example.clone().set_num_format("yyyy-mm-dd"),
            example,
            footer: Format::new().set_align(FormatAlign::Bottom),
            note: Format::new()
                .set_font_size(9)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
        }
    }

    /// The format of a column's data cells.
    pub fn for_column(&self, name: &str) -> &Format {
        match cell_kind(name) {
            CellKind::Text => &self.text,
            CellKind::Date => &self.date,
            CellKind::Other => &self.plain,
        }
    }
}

impl Default for TemplateFormats {
    fn default() -> Self {
        TemplateFormats::new()
    }
}

/// Gives the header row `header_row` of an input sheet the template's style, notes and
/// column widths, its data columns (rows `header_row + 1 ..= last_row`) the template's
/// validation and text/date formats, freezes the header and repeats it on printed pages.
/// `columns[i]` names the sheet's column `positions[i]`.
pub fn decorate_sheet(
    ws: &mut Worksheet,
    sheet: &str,
    columns: &[(u16, &str)],
    header_row: u32,
    last_row: u32,
) -> Result<(), XlsxError> {
    for &(c, name) in columns {
        ws.set_column_width(c, column_width(sheet, name))?;
        let note = note_for(sheet, name);
        if !note.is_empty() {
            ws.insert_note(
                header_row,
                c,
                &Note::new(note)
                    .set_author("chieftech")
                    .add_author_prefix(false)
                    .set_width(300),
            )?;
        }
        match cell_kind(name) {
            CellKind::Text => {
                ws.set_column_format(c, &Format::new().set_num_format("@"))?;
            }
            CellKind::Date => {
                ws.set_column_format(c, &Format::new().set_num_format("yyyy-mm-dd"))?;
            }
            CellKind::Other => {}
        }
        if last_row > header_row {
            if let Some(v) = column_validation(sheet, name)? {
                ws.add_data_validation(header_row + 1, c, last_row, c, &v)?;
            }
        }
    }
    ws.set_freeze_panes(header_row + 1, 0)?;
    ws.set_repeat_rows(header_row, header_row)?;
    Ok(())
}

/// A4 landscape, one page wide, the title in the page header, page numbers in the footer.
fn template_print(ws: &mut Worksheet, title: &str) {
    ws.set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_print_center_horizontally(true)
        .set_margins(0.3, 0.3, 0.8, 0.6, 0.3, 0.3)
        .set_header(format!("&C&\"-,Bold\"&16{title}"))
        .set_footer("&C第 &P 页，共 &N 页");
}

/// Writes one template sheet: the table, the footer units sign, the 填表说明 and the print
/// setup.
fn template_sheet(
    ws: &mut Worksheet,
    name: &str,
    columns: &[Column],
    k: &TemplateFormats,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    let last_col = columns.len() as u16 - 1;
    let last_data = write_table(ws, name, columns, k)?;
    // The footer units sign, and the instructions.
    let row = last_data + 2;
    write_footer(ws, row, name, columns, k)?;
    let row = write_instructions(ws, row + 2, name, columns, k)?;
    ws.set_print_area(0, 0, row, last_col)?;
    template_print(ws, title_of(name));
    Ok(())
}

/// Writes the header, the example row and the bordered rows to fill in, with the notes and
/// checks; returns the last row to fill in (0-based).
fn write_table(
    ws: &mut Worksheet,
    name: &str,
    columns: &[Column],
    k: &TemplateFormats,
) -> Result<u32, XlsxError> {
    let blank_rows = if name == UNITS_SHEET { 10 } else { BLANK_ROWS };
    ws.set_row_height(0, 32)?;
    for (c, col) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, col.name, &k.header)?;
    }
    // The example row, then bordered rows to fill in.
    ws.set_row_height(1, 30)?;
    for (c, col) in columns.iter().enumerate() {
        let c = c as u16;
        match example(name, col.name) {
            Some(Example::Text(s)) => {
                ws.write_string_with_format(1, c, s, &k.example)?;
            }
            Some(Example::Date(y, m, d)) => {
                let date = NaiveDate::from_ymd_opt(y as i32, m, d).unwrap_or_default();
                ws.write_datetime_with_format(1, c, date, &k.example_date)?;
            }
            None => {
                ws.write_blank(1, c, &k.example)?;
            }
        }
        for r in 2..2 + blank_rows {
            ws.write_blank(r, c, k.for_column(col.name))?;
        }
    }
    let last_data = 1 + blank_rows;
    let pairs: Vec<(u16, &str)> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| (c as u16, col.name))
        .collect();
    decorate_sheet(ws, name, &pairs, 0, last_data)?;
    Ok(last_data)
}

/// Writes the line units sign in `row` (填报单位（盖章）, 填报人, …), its labels spread over
/// the columns.
fn write_footer(
    ws: &mut Worksheet,
    row: u32,
    name: &str,
    columns: &[Column],
    k: &TemplateFormats,
) -> Result<(), XlsxError> {
    let last_col = columns.len() as u16 - 1;
    ws.set_row_height(row, 30)?;
    let n = u16::try_from(columns.len()).unwrap_or(u16::MAX);
    let footer: &[&str] = if name == UNITS_SHEET {
        &["填报单位（盖章）：", "填报日期：　　年　　月　　日"]
    } else if name == SCORES_SHEET {
        // Four narrow columns: two labels (each one the importer skips, see FOOTER_MARKS).
        &["填报人：", "填报日期：　　年　　月　　日"]
    } else {
        &[
            "填报单位（盖章）：",
            "填报人：",
            "联系电话：",
            "填报日期：　　年　　月　　日",
        ]
    };
    let per = (n / footer.len() as u16).max(1);
    for (i, label) in footer.iter().enumerate() {
        let a = i as u16 * per;
        let b = if i + 1 == footer.len() {
            last_col
        } else {
            a + per - 1
        };
        if a == b {
            ws.write_string_with_format(row, a, *label, &k.footer)?;
        } else {
            ws.merge_range(row, a, row, b, label, &k.footer)?;
        }
    }
    Ok(())
}

/// Writes the 填表说明 block from `row`, each line across the table and as high as its
/// wrapped lines; returns its last row.
fn write_instructions(
    ws: &mut Worksheet,
    mut row: u32,
    name: &str,
    columns: &[Column],
    k: &TemplateFormats,
) -> Result<u32, XlsxError> {
    let last_col = columns.len() as u16 - 1;
    ws.write_string_with_format(row, 0, "填表说明：", &k.footer)?;
    let total: f64 = columns
        .iter()
        .map(|c| column_width(name, c.name))
        .sum::<f64>();
    for line in instructions(name) {
        row += 1;
        let lines = wrapped_lines(&line, total * 1.1);
        ws.set_row_height(row, f64::from(lines) * 13.0 + 3.0)?;
        if last_col == 0 {
            ws.write_string_with_format(row, 0, &line, &k.note)?;
        } else {
            ws.merge_range(row, 0, row, last_col, &line, &k.note)?;
        }
    }
    Ok(row)
}

/// Writes an empty input workbook of the given kind.
pub fn write_template(kind: TemplateKind, path: &Path) -> Result<(), TemplateError> {
    let err = xlsx_err(path);
    let mut book = Workbook::new();
    let k = TemplateFormats::new();
    match kind {
        TemplateKind::Roster => {
            let ws = book.add_worksheet();
            template_sheet(ws, ROSTER_SHEET, &ROSTER_COLUMNS, &k).map_err(&err)?;
            let ws = book.add_worksheet();
            template_sheet(ws, UNITS_SHEET, &UNIT_COLUMNS, &k).map_err(&err)?;
        }
        TemplateKind::Changes => {
            let ws = book.add_worksheet();
            template_sheet(ws, CHANGES_SHEET, &CHANGE_COLUMNS, &k).map_err(&err)?;
        }
        TemplateKind::Nominations => {
            let ws = book.add_worksheet();
            let columns = &NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS];
            template_sheet(ws, NOMINATIONS_SHEET, columns, &k).map_err(&err)?;
        }
        TemplateKind::Scores => {
            let ws = book.add_worksheet();
            template_sheet(ws, SCORES_SHEET, &SCORE_COLUMNS, &k).map_err(&err)?;
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
