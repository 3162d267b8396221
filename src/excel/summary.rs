//! The finance office's summary workbook of an approved run (`summary-<year>-run<N>.xlsx`).
//!
//! Sheets: 汇总 (totals by unit, by cohort and by line kind, head counts, the grand total in
//! figures and in Chinese capitals, the control totals of every bank file part with its batch
//! reference, signature lines and a chart of totals by unit), 明细 (every line with its reason),
//! 追缴 (the recovery list with reasons) and 未覆盖 (months no policy version covers).
//!
//! The writer is pure: [`SummaryModel`] holds everything, built by [`crate::jobs::export`].
//! Every sheet has Chinese headers, a frozen header, column widths, `#,##0.00` amounts and an
//! A4 landscape print setup that repeats the header on each page. Text that starts with `=`,
//! `+`, `-` or `@` is written as quote-prefixed text, never as a formula.

use super::bank::put_text;
use crate::rules::money::capitals;
use crate::rules::{LineKind, Month};
use chrono::NaiveDateTime;
use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
    XlsxError,
};
use std::io::{Seek, Write};

/// Sheet names, in order.
pub const SHEETS: [&str; 4] = ["汇总", "明细", "追缴", "未覆盖"];

/// One unit's totals; a person counts in the unit of their latest appointment in the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitTotal {
    pub unit: String,
    pub people_paid: usize,
    /// Paid through the bank (≥ 0).
    pub paid_fen: i64,
    pub people_recovering: usize,
    /// To be recovered (≤ 0).
    pub recovered_fen: i64,
}

/// One cohort's (评选年度) lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CohortTotal {
    pub cohort_year: i32,
    pub people: usize,
    pub lines: usize,
    /// Sum of positive lines.
    pub positive_fen: i64,
    /// Sum of negative lines (≤ 0).
    pub negative_fen: i64,
}

/// One line kind's count and sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    pub kind: LineKind,
    pub lines: usize,
    pub fen: i64,
}

/// The control totals of one bank file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartControl {
    pub batch_ref: String,
    pub file_name: String,
    /// The bank template's bank.
    pub bank: String,
    pub rows: u64,
    pub fen: i64,
    pub sha256: String,
}

/// One line of the run (明细).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailRow {
    /// As shown (masked by the caller).
    pub id_number: String,
    pub name: String,
    pub unit: String,
    pub cohort_year: i32,
    pub approval_no: String,
    pub month: Month,
    pub kind: LineKind,
    pub fen: i64,
    pub reason: String,
}

/// One person on the recovery list (追缴).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRow {
    pub id_number: String,
    pub name: String,
    pub unit: String,
    /// To be recovered (< 0).
    pub fen: i64,
    /// The months concerned, e.g. `2022-09…2022-12`.
    pub months: String,
    pub reason: String,
}

/// One uncovered month (未覆盖).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncoveredRow {
    pub id_number: String,
    pub name: String,
    pub month: Month,
    pub note: String,
}

/// Everything the summary workbook shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryModel {
    /// `2025年度张店区首席技师津贴发放汇总表`
    pub title: String,
    pub organization: String,
    pub year: i32,
    pub seq: i64,
    pub supplementary: bool,
    /// The run's business date (计算日期).
    pub today: String,
    pub computed_by: String,
    pub approved_by: String,
    /// Date of approval, `2025-12-01`.
    pub approved_on: String,
    pub units: Vec<UnitTotal>,
    pub cohorts: Vec<CohortTotal>,
    pub kinds: Vec<KindTotal>,
    pub paid_fen: i64,
    /// ≤ 0.
    pub recovered_fen: i64,
    pub people_paid: usize,
    pub people_recovering: usize,
    pub parts: Vec<PartControl>,
    pub details: Vec<DetailRow>,
    pub recoveries: Vec<RecoveryRow>,
    pub uncovered: Vec<UncoveredRow>,
    /// Explanatory lines printed under the totals.
    pub notes: Vec<String>,
}

/// Where things are on the 汇总 sheet (zero-based rows), for tests and readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SummaryLayout {
    /// Header row of the unit table; units follow, then its 合计 row.
    pub unit_header: u32,
    pub cohort_header: u32,
    pub kind_header: u32,
    /// Row of 发放总额（小写）; 大写 is the next row.
    pub grand_total: u32,
    pub parts_header: u32,
    pub signatures: u32,
}

struct Formats {
    title: Format,
    subtitle: Format,
    section: Format,
    header: Format,
    text: Format,
    text_quoted: Format,
    wrap: Format,
    int: Format,
    amount: Format,
    total_text: Format,
    total_int: Format,
    total_amount: Format,
    label: Format,
    big_amount: Format,
    capitals: Format,
    small: Format,
    hash: Format,
    note: Format,
    signature: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_font_size(10);
        let total = cell.clone().set_bold().set_background_color(0xF2F2F2);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            subtitle: Format::new().set_font_size(10),
            section: Format::new().set_bold().set_font_size(12),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(0xDDEBF7),
            text: cell.clone().set_num_format("@"),
            text_quoted: cell.clone().set_num_format("@").set_quote_prefix(),
            wrap: cell.clone().set_text_wrap(),
            int: cell
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            amount: cell.clone().set_num_format("#,##0.00"),
            total_text: total.clone(),
            total_int: total
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            total_amount: total.set_num_format("#,##0.00"),
            label: cell.clone().set_bold().set_background_color(0xF2F2F2),
            big_amount: cell.clone().set_bold().set_num_format("¥#,##0.00"),
            capitals: cell.clone().set_bold(),
            small: Format::new().set_font_size(9),
            hash: cell
                .set_font_size(7)
                .set_text_wrap()
                .set_font_name("Consolas"),
            note: Format::new().set_font_size(9).set_text_wrap(),
            signature: Format::new().set_font_size(11),
        }
    }

    fn text_pair(&self) -> (&Format, &Format) {
        (&self.text, &self.text_quoted)
    }
}

fn yuan(fen: i64) -> f64 {
    fen as f64 / 100.0
}

fn print_setup(ws: &mut Worksheet, header_first: u32, header_last: u32) -> Result<(), XlsxError> {
    ws.set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3)
        .set_footer("&C第 &P 页，共 &N 页");
    ws.set_repeat_rows(header_first, header_last)?;
    Ok(())
}

fn headers(ws: &mut Worksheet, row: u32, names: &[&str], f: &Format) -> Result<(), XlsxError> {
    for (i, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *h, f)?;
    }
    Ok(())
}

/// Writes the summary workbook to `out`; returns where the 汇总 sheet's parts are.
pub fn write_summary<W: Write + Seek + Send>(
    m: &SummaryModel,
    created: NaiveDateTime,
    out: W,
) -> Result<SummaryLayout, XlsxError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(&m.title)
            .set_subject(format!("{}年第{}批", m.year, m.seq))
            .set_author(&m.organization)
            .set_company(&m.organization)
            .set_creation_datetime(&created),
    );
    let layout = write_totals_sheet(wb.add_worksheet(), m, &f)?;
    write_details_sheet(wb.add_worksheet_with_constant_memory()?, m, &f)?;
    write_recoveries_sheet(wb.add_worksheet(), m, &f)?;
    write_uncovered_sheet(wb.add_worksheet(), m, &f)?;
    wb.save_to_writer(out)?;
    Ok(layout)
}

fn write_totals_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<SummaryLayout, XlsxError> {
    let (t, tq) = f.text_pair();
    let mut lay = SummaryLayout::default();
    ws.set_name(SHEETS[0])?;
    for (c, w) in [6.0, 34.0, 16.0, 16.0, 16.0, 16.0, 20.0].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    ws.set_row_height(0, 30)?;
    ws.merge_range(0, 0, 0, 6, &m.title, &f.title)?;
    let batch = if m.supplementary {
        "（补发批次）"
    } else {
        ""
    };
    ws.merge_range(
        1,
        0,
        1,
        6,
        &format!(
            "编制单位：{}　　发放年度：{}年　　批次：第{}批{}　　计算日期：{}　　审批日期：{}",
            m.organization, m.year, m.seq, batch, m.today, m.approved_on
        ),
        &f.subtitle,
    )?;
    ws.set_freeze_panes(2, 0)?;
    print_setup(ws, 0, 1)?;

    // 一、按单位汇总
    let mut row = 3;
    ws.write_string_with_format(row, 0, "一、按单位汇总", &f.section)?;
    row += 1;
    lay.unit_header = row;
    headers(
        ws,
        row,
        &[
            "序号",
            "工作单位",
            "发放人数",
            "发放金额（元）",
            "追缴人数",
            "追缴金额（元）",
            "净额（元）",
        ],
        &f.header,
    )?;
    let first_unit = row + 1;
    let (mut pp, mut pf, mut rp, mut rf) = (0usize, 0i64, 0usize, 0i64);
    for (i, u) in m.units.iter().enumerate() {
        row += 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &u.unit, t, tq)?;
        ws.write_number_with_format(row, 2, u.people_paid as f64, &f.int)?;
        ws.write_number_with_format(row, 3, yuan(u.paid_fen), &f.amount)?;
        ws.write_number_with_format(row, 4, u.people_recovering as f64, &f.int)?;
        ws.write_number_with_format(row, 5, yuan(-u.recovered_fen), &f.amount)?;
        ws.write_number_with_format(row, 6, yuan(u.paid_fen + u.recovered_fen), &f.amount)?;
        pp += u.people_paid;
        pf += u.paid_fen;
        rp += u.people_recovering;
        rf += u.recovered_fen;
    }
    let last_unit = row;
    row += 1;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计", &f.total_text)?;
    ws.write_number_with_format(row, 2, pp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, yuan(pf), &f.total_amount)?;
    ws.write_number_with_format(row, 4, rp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 5, yuan(-rf), &f.total_amount)?;
    ws.write_number_with_format(row, 6, yuan(pf + rf), &f.total_amount)?;

    // 二、按评选年度汇总
    row += 2;
    ws.write_string_with_format(row, 0, "二、按评选年度汇总", &f.section)?;
    row += 1;
    lay.cohort_header = row;
    headers(
        ws,
        row,
        &[
            "序号",
            "评选年度",
            "人数",
            "明细笔数",
            "应发金额（元）",
            "追缴金额（元）",
            "净额（元）",
        ],
        &f.header,
    )?;
    let (mut cp, mut cl, mut cpos, mut cneg) = (0usize, 0usize, 0i64, 0i64);
    for (i, c) in m.cohorts.iter().enumerate() {
        row += 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        ws.write_string_with_format(row, 1, format!("{}年度", c.cohort_year), t)?;
        ws.write_number_with_format(row, 2, c.people as f64, &f.int)?;
        ws.write_number_with_format(row, 3, c.lines as f64, &f.int)?;
        ws.write_number_with_format(row, 4, yuan(c.positive_fen), &f.amount)?;
        ws.write_number_with_format(row, 5, yuan(-c.negative_fen), &f.amount)?;
        ws.write_number_with_format(row, 6, yuan(c.positive_fen + c.negative_fen), &f.amount)?;
        cp += c.people;
        cl += c.lines;
        cpos += c.positive_fen;
        cneg += c.negative_fen;
    }
    row += 1;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计", &f.total_text)?;
    ws.write_number_with_format(row, 2, cp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, cl as f64, &f.total_int)?;
    ws.write_number_with_format(row, 4, yuan(cpos), &f.total_amount)?;
    ws.write_number_with_format(row, 5, yuan(-cneg), &f.total_amount)?;
    ws.write_number_with_format(row, 6, yuan(cpos + cneg), &f.total_amount)?;

    // 三、按明细类型汇总
    row += 2;
    ws.write_string_with_format(row, 0, "三、按明细类型汇总", &f.section)?;
    row += 1;
    lay.kind_header = row;
    headers(
        ws,
        row,
        &["序号", "明细类型", "笔数", "金额（元）"],
        &f.header,
    )?;
    let (mut kl, mut kf) = (0usize, 0i64);
    for (i, k) in m.kinds.iter().enumerate() {
        row += 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        ws.write_string_with_format(row, 1, k.kind.label(), t)?;
        ws.write_number_with_format(row, 2, k.lines as f64, &f.int)?;
        ws.write_number_with_format(row, 3, yuan(k.fen), &f.amount)?;
        kl += k.lines;
        kf += k.fen;
    }
    row += 1;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计（净额）", &f.total_text)?;
    ws.write_number_with_format(row, 2, kl as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, yuan(kf), &f.total_amount)?;

    // 四、合计
    row += 2;
    ws.write_string_with_format(row, 0, "四、合计", &f.section)?;
    row += 1;
    lay.grand_total = row;
    let money_rows: [(&str, i64, &str, usize); 2] = [
        ("发放总额", m.paid_fen, "发放人数", m.people_paid),
        (
            "追缴总额",
            -m.recovered_fen,
            "追缴人数",
            m.people_recovering,
        ),
    ];
    for (label, fen, count_label, count) in money_rows {
        ws.merge_range(row, 0, row, 1, &format!("{label}（小写）"), &f.label)?;
        ws.write_number_with_format(row, 2, yuan(fen), &f.big_amount)?;
        ws.write_string_with_format(row, 3, count_label, &f.label)?;
        ws.write_number_with_format(row, 4, count as f64, &f.int)?;
        ws.write_string_with_format(row, 5, "", &f.label)?;
        ws.write_blank(row, 6, &f.text)?;
        row += 1;
        ws.merge_range(row, 0, row, 1, &format!("{label}（大写）"), &f.label)?;
        ws.merge_range(row, 2, row, 6, &capitals(fen), &f.capitals)?;
        row += 1;
    }
    ws.merge_range(row, 0, row, 1, "未覆盖月份", &f.label)?;
    ws.write_number_with_format(row, 2, m.uncovered.len() as f64, &f.int)?;
    ws.merge_range(
        row,
        3,
        row,
        6,
        if m.uncovered.is_empty() {
            "无"
        } else {
            "见“未覆盖”表：须出台后续政策后发放"
        },
        &f.text,
    )?;

    // 五、代发文件控制数
    row += 2;
    ws.write_string_with_format(row, 0, "五、代发文件控制数", &f.section)?;
    row += 1;
    lay.parts_header = row;
    headers(
        ws,
        row,
        &[
            "序号",
            "代发文件",
            "批次号",
            "笔数",
            "金额（元）",
            "代发格式",
            "SHA-256",
        ],
        &f.header,
    )?;
    let (mut pr, mut pfen) = (0u64, 0i64);
    for (i, p) in m.parts.iter().enumerate() {
        row += 1;
        ws.set_row_height(row, 30)?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &p.file_name, t, tq)?;
        put_text(ws, row, 2, &p.batch_ref, t, tq)?;
        ws.write_number_with_format(row, 3, p.rows as f64, &f.int)?;
        ws.write_number_with_format(row, 4, yuan(p.fen), &f.amount)?;
        put_text(ws, row, 5, &p.bank, &f.wrap, &f.wrap)?;
        ws.write_string_with_format(row, 6, &p.sha256, &f.hash)?;
        pr += p.rows;
        pfen += p.fen;
    }
    row += 1;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(
        row,
        1,
        if m.parts.is_empty() {
            "本批次无应发人员，未生成代发文件"
        } else {
            "合计"
        },
        &f.total_text,
    )?;
    ws.write_blank(row, 2, &f.total_text)?;
    ws.write_number_with_format(row, 3, pr as f64, &f.total_int)?;
    ws.write_number_with_format(row, 4, yuan(pfen), &f.total_amount)?;
    ws.write_blank(row, 5, &f.total_text)?;
    ws.write_blank(row, 6, &f.total_text)?;

    // Notes and signatures.
    row += 2;
    for n in &m.notes {
        ws.merge_range(row, 0, row, 6, n, &f.note)?;
        row += 1;
    }
    row += 1;
    lay.signatures = row;
    ws.set_row_height(row, 28)?;
    ws.write_string_with_format(row, 1, "经办人：＿＿＿＿＿＿＿＿", &f.signature)?;
    ws.merge_range(row, 2, row, 3, "审核人：＿＿＿＿＿＿＿＿", &f.signature)?;
    ws.merge_range(row, 4, row, 5, "负责人：＿＿＿＿＿＿＿＿", &f.signature)?;
    row += 1;
    ws.write_string_with_format(row, 1, format!("（系统计算：{}）", m.computed_by), &f.small)?;
    ws.merge_range(
        row,
        2,
        row,
        3,
        &format!("（系统审批：{}）", m.approved_by),
        &f.small,
    )?;
    ws.merge_range(row, 4, row, 6, "日期：　　　　年　　月　　日", &f.small)?;

    // Chart of totals by unit, under the signatures.
    if !m.units.is_empty() {
        row += 2;
        let mut chart = Chart::new(ChartType::Bar);
        chart
            .add_series()
            .set_name("发放金额（元）")
            .set_categories((SHEETS[0], first_unit, 1, last_unit, 1))
            .set_values((SHEETS[0], first_unit, 3, last_unit, 3));
        chart.title().set_name("各单位发放金额");
        chart.x_axis().set_num_format("#,##0");
        chart.y_axis().set_reverse();
        chart.legend().set_hidden();
        let height = (m.units.len() as u32 * 24 + 90).clamp(260, 1400);
        chart.set_width(900).set_height(height);
        ws.insert_chart(row, 0, &chart)?;
    }
    Ok(lay)
}

fn write_details_sheet(ws: &mut Worksheet, m: &SummaryModel, f: &Formats) -> Result<(), XlsxError> {
    let (t, tq) = f.text_pair();
    ws.set_name(SHEETS[1])?;
    let widths = [7.0, 21.0, 10.0, 28.0, 9.0, 20.0, 9.0, 9.0, 12.0, 70.0];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    headers(
        ws,
        0,
        &[
            "序号",
            "身份证号码",
            "姓名",
            "工作单位",
            "评选年度",
            "称号批准文号",
            "月份",
            "类型",
            "金额（元）",
            "说明",
        ],
        &f.header,
    )?;
    ws.set_freeze_panes(1, 0)?;
    print_setup(ws, 0, 0)?;
    let mut total = 0i64;
    for (i, d) in m.details.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &d.id_number, t, tq)?;
        put_text(ws, row, 2, &d.name, t, tq)?;
        put_text(ws, row, 3, &d.unit, t, tq)?;
        ws.write_number_with_format(row, 4, f64::from(d.cohort_year), &f.int)?;
        put_text(ws, row, 5, &d.approval_no, t, tq)?;
        ws.write_string_with_format(row, 6, d.month.to_string(), t)?;
        ws.write_string_with_format(row, 7, d.kind.label(), t)?;
        ws.write_number_with_format(row, 8, yuan(d.fen), &f.amount)?;
        put_text(ws, row, 9, &d.reason, t, tq)?;
        total += d.fen;
    }
    let row = m.details.len() as u32 + 1;
    for c in 0..10u16 {
        match c {
            1 => ws.write_string_with_format(row, c, "合计", &f.total_text)?,
            8 => ws.write_number_with_format(row, c, yuan(total), &f.total_amount)?,
            _ => ws.write_blank(row, c, &f.total_text)?,
        };
    }
    Ok(())
}

fn write_recoveries_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<(), XlsxError> {
    let (t, tq) = f.text_pair();
    ws.set_name(SHEETS[2])?;
    for (c, w) in [7.0, 21.0, 10.0, 28.0, 14.0, 22.0, 80.0].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    headers(
        ws,
        0,
        &[
            "序号",
            "身份证号码",
            "姓名",
            "工作单位",
            "追缴金额（元）",
            "涉及月份",
            "追缴原因",
        ],
        &f.header,
    )?;
    ws.set_freeze_panes(1, 0)?;
    print_setup(ws, 0, 0)?;
    let mut total = 0i64;
    for (i, r) in m.recoveries.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &r.id_number, t, tq)?;
        put_text(ws, row, 2, &r.name, t, tq)?;
        put_text(ws, row, 3, &r.unit, t, tq)?;
        ws.write_number_with_format(row, 4, yuan(-r.fen), &f.amount)?;
        ws.write_string_with_format(row, 5, &r.months, t)?;
        put_text(ws, row, 6, &r.reason, &f.wrap, &f.wrap)?;
        total += r.fen;
    }
    let row = m.recoveries.len() as u32 + 1;
    for c in 0..7u16 {
        match c {
            1 => ws.write_string_with_format(
                row,
                c,
                format!("合计（{}人）", m.recoveries.len()),
                &f.total_text,
            )?,
            4 => ws.write_number_with_format(row, c, yuan(-total), &f.total_amount)?,
            6 => ws.write_string_with_format(row, c, capitals(-total), &f.total_text)?,
            _ => ws.write_blank(row, c, &f.total_text)?,
        };
    }
    Ok(())
}

fn write_uncovered_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<(), XlsxError> {
    let (t, tq) = f.text_pair();
    ws.set_name(SHEETS[3])?;
    for (c, w) in [7.0, 21.0, 10.0, 10.0, 80.0].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    headers(
        ws,
        0,
        &["序号", "身份证号码", "姓名", "月份", "说明"],
        &f.header,
    )?;
    ws.set_freeze_panes(1, 0)?;
    print_setup(ws, 0, 0)?;
    for (i, u) in m.uncovered.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &u.id_number, t, tq)?;
        put_text(ws, row, 2, &u.name, t, tq)?;
        ws.write_string_with_format(row, 3, u.month.to_string(), t)?;
        put_text(ws, row, 4, &u.note, t, tq)?;
    }
    if m.uncovered.is_empty() {
        ws.merge_range(1, 0, 1, 4, "本批次没有未覆盖的月份", &f.text)?;
    }
    Ok(())
}
