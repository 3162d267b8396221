//! The forecast workbook (支出预测): what each year will cost, from [`Forecast`].
//!
//! Sheets: 预测汇总 (the year table, the totals in figures and in Chinese capitals, the
//! assumptions in words and a chart of the cost per year on a page of its own), 按单位 and
//! 按评选年度 (each year's cost by unit and by cohort, with subtotals), 未覆盖 (the months no
//! policy covers, by month, with what they would earn). The forecast is aggregate: no person
//! and no ID number appears in it.
//!
//! Printing as the summary of a run ([`super::summary`]): A4 landscape, one page wide, the
//! title and identification line (and a list's header) repeated on every page, page numbers in
//! the footer, `#,##0.00` amounts, formula-like text written as text.

use super::bank::put_text;
use super::style::{self, headers, set_widths, yuan};
use super::summary::{cn_date, fit_width, print_setup, wrapped_lines, Pager, PAGE_PT};
use crate::rules::forecast::Forecast;
use crate::rules::money::{capitals, fen_grouped};
use chrono::NaiveDateTime;
use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, Format, FormatAlign, Workbook, Worksheet, XlsxError,
};
use std::io::{Seek, Write};

/// Sheet names, in order.
pub const SHEETS: [&str; 4] = ["预测汇总", "按单位", "按评选年度", "未覆盖"];

/// The header row of the list sheets (below the title and the identification line).
pub const LIST_HEADER: u32 = 2;

/// What the workbook says besides the forecast: the programme, who issues it, when.
#[derive(Debug, Clone)]
pub struct ForecastLabels {
    /// `张店区首席技师津贴`.
    pub program: String,
    /// `张店区人力资源和社会保障局`.
    pub organization: String,
    pub created: NaiveDateTime,
}

/// Where the parts of 预测汇总 are (rows, 0-based), for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForecastLayout {
    pub year_header: u32,
    pub grand_total: u32,
    pub chart: Option<u32>,
}

/// Writes the forecast workbook to `out`.
pub fn write_forecast_workbook<W: Write + Seek + Send>(
    f: &Forecast,
    labels: &ForecastLabels,
    out: W,
) -> Result<ForecastLayout, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(title(f, labels))
            .set_author(&labels.organization)
            .set_creation_datetime(&labels.created.and_utc()),
    );
    let fm = Formats::new();
    let lay = write_summary_sheet(wb.add_worksheet(), f, labels, &fm)?;
    write_units_sheet(wb.add_worksheet(), f, labels, &fm)?;
    write_cohorts_sheet(wb.add_worksheet(), f, labels, &fm)?;
    write_uncovered_sheet(wb.add_worksheet(), f, labels, &fm)?;
    wb.save_to_writer(out)?;
    Ok(lay)
}

fn title(f: &Forecast, l: &ForecastLabels) -> String {
    if f.from == f.to {
        format!("{}{}年度支出预测", l.program, f.from)
    } else {
        format!("{}{}—{}年度支出预测", l.program, f.from, f.to)
    }
}

struct Formats {
    title: Format,
    subtitle: Format,
    section: Format,
    header: Format,
    text: Format,
    text_quoted: Format,
    int: Format,
    amount: Format,
    total_text: Format,
    total_int: Format,
    total_amount: Format,
    label: Format,
    big_amount: Format,
    capitals: Format,
    note: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = style::cell();
        let total = style::total(&cell);
        let text = cell
            .clone()
            .set_num_format("@")
            .set_text_wrap()
            .set_indent(1);
        Formats {
            title: style::title(),
            subtitle: style::subtitle(),
            section: style::section(),
            header: style::header(&cell),
            text_quoted: text.clone().set_quote_prefix(),
            text,
            int: cell
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            amount: cell.clone().set_num_format("#,##0.00"),
            total_int: total
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            total_amount: total.clone().set_num_format("#,##0.00"),
            total_text: total,
            label: cell.clone().set_bold().set_background_color(0xF2F2F2),
            big_amount: cell.clone().set_bold().set_num_format("¥#,##0.00"),
            capitals: cell.set_bold(),
            note: Format::new()
                .set_font_size(10)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
        }
    }
}

/// Title (row 0), identification line (row 1), print setup repeating rows 0..=`repeat_last`.
fn head(
    ws: &mut Worksheet,
    f: &Forecast,
    l: &ForecastLabels,
    sheet: &str,
    cols: u16,
    repeat_last: u32,
    fm: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(sheet)?;
    let t = title(f, l);
    ws.set_row_height(0, 30)?;
    ws.merge_range(0, 0, 0, cols - 1, &t, &fm.title)?;
    ws.set_row_height(1, 20)?;
    let id = format!(
        "编制单位：{}　　预测年度：{}年至{}年　　编制日期：{}　　金额单位：元",
        l.organization,
        f.from,
        f.to,
        cn_date(&f.today.to_string())
    );
    ws.merge_range(1, 0, 1, cols - 1, &id, &fm.subtitle)?;
    ws.set_freeze_panes(repeat_last + 1, 0)?;
    print_setup(ws, 0, repeat_last, &format!("{} {}", t, sheet))?;
    Ok(())
}

const ROW_PT: f64 = 18.0;
const SECTION_PT: f64 = 26.0;
const SUMMARY_COLS: [f64; 10] = [5.0, 10.0, 9.0, 15.0, 11.0, 15.0, 15.0, 9.0, 15.0, 15.0];

fn write_summary_sheet(
    ws: &mut Worksheet,
    f: &Forecast,
    l: &ForecastLabels,
    fm: &Formats,
) -> Result<ForecastLayout, XlsxError> {
    set_widths(ws, &SUMMARY_COLS)?;
    head(ws, f, l, SHEETS[0], 10, 1, fm)?;
    let mut pager = Pager::new(50.0);
    let mut lay = ForecastLayout::default();
    let row = year_table(ws, f, fm, &mut pager, &mut lay)?;
    let row = grand_totals(ws, f, fm, &mut pager, &mut lay, row + 1)?;
    let row = assumptions(ws, f, fm, &mut pager, row + 1)?;
    year_chart(ws, f, fm, &mut pager, &mut lay, row + 1)?;
    pager.apply(ws)?;
    Ok(lay)
}

/// 一、逐年预测: one row per year and the 合计; returns the 合计's row.
fn year_table(
    ws: &mut Worksheet,
    f: &Forecast,
    fm: &Formats,
    pager: &mut Pager,
    lay: &mut ForecastLayout,
) -> Result<u32, XlsxError> {
    let mut row = 2;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "一、逐年预测", &fm.section)?;
    row += 1;
    lay.year_header = row;
    pager.height(ws, row, 44.0)?;
    let names = [
        "序号",
        "发放年度",
        "名册人数",
        "名册人员金额（元）",
        "新评选人数（假设）",
        "新评选人员金额（元）",
        "预测合计（元）",
        "未覆盖人月数",
        "未覆盖月份影响金额（元）",
        "已审批批次实发（元）",
    ];
    headers(ws, row, &names, &fm.header)?;
    for (i, y) in f.years.iter().enumerate() {
        row += 1;
        pager.height(ws, row, ROW_PT)?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &fm.int)?;
        ws.write_string_with_format(row, 1, format!("{}年", y.year), &fm.text)?;
        ws.write_number_with_format(row, 2, y.roster_people as f64, &fm.int)?;
        ws.write_number_with_format(row, 3, yuan(y.roster_fen), &fm.amount)?;
        ws.write_number_with_format(row, 4, y.new_people as f64, &fm.int)?;
        ws.write_number_with_format(row, 5, yuan(y.new_fen), &fm.amount)?;
        ws.write_number_with_format(row, 6, yuan(y.total_fen()), &fm.amount)?;
        ws.write_number_with_format(row, 7, y.uncovered_months as f64, &fm.int)?;
        ws.write_number_with_format(row, 8, yuan(y.uncovered_fen), &fm.amount)?;
        match y.paid_by_runs {
            Some(p) => ws.write_number_with_format(row, 9, yuan(p), &fm.amount)?,
            None => ws.write_string_with_format(row, 9, "—", &fm.int)?,
        };
    }
    row += 1;
    pager.height(ws, row, ROW_PT)?;
    let (roster, new, uncovered) = f.totals();
    let months: usize = f.years.iter().map(|y| y.uncovered_months).sum();
    ws.write_blank(row, 0, &fm.total_text)?;
    ws.write_string_with_format(row, 1, "合计", &fm.total_text)?;
    ws.write_blank(row, 2, &fm.total_text)?;
    ws.write_number_with_format(row, 3, yuan(roster), &fm.total_amount)?;
    ws.write_blank(row, 4, &fm.total_text)?;
    ws.write_number_with_format(row, 5, yuan(new), &fm.total_amount)?;
    ws.write_number_with_format(row, 6, yuan(roster + new), &fm.total_amount)?;
    ws.write_number_with_format(row, 7, months as f64, &fm.total_int)?;
    ws.write_number_with_format(row, 8, yuan(uncovered), &fm.total_amount)?;
    ws.write_blank(row, 9, &fm.total_text)?;
    pager.block(2, row, false);
    Ok(row)
}

/// 二、预测合计: the forecast total and the uncovered months' amount, in figures and in
/// capitals; returns the last row.
fn grand_totals(
    ws: &mut Worksheet,
    f: &Forecast,
    fm: &Formats,
    pager: &mut Pager,
    lay: &mut ForecastLayout,
    row: u32,
) -> Result<u32, XlsxError> {
    let block = row;
    let mut row = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "二、预测合计", &fm.section)?;
    row += 1;
    lay.grand_total = row;
    let (roster, new, uncovered) = f.totals();
    let items = [
        ("预测支出总额", roster + new),
        ("其中：新评选人员（假设）", new),
        ("未覆盖月份影响金额（不含在总额内）", uncovered),
    ];
    for (i, (label, fen)) in items.into_iter().enumerate() {
        pager.height(ws, row, 22.0)?;
        ws.merge_range(row, 0, row, 3, &format!("{label}（小写）"), &fm.label)?;
        ws.merge_range(row, 4, row, 5, "", &fm.big_amount)?;
        ws.write_number_with_format(row, 4, yuan(fen), &fm.big_amount)?;
        ws.merge_range(row, 6, row, 9, "", &fm.capitals)?;
        ws.write_string_with_format(row, 6, format!("大写：{}", capitals(fen)), &fm.capitals)?;
        if i < 2 {
            row += 1;
        }
    }
    pager.block(block, row, false);
    Ok(row)
}

/// The assumptions in words, one line each.
fn assumption_lines(f: &Forecast) -> Vec<String> {
    let mut v = vec![format!(
        "1. 以{}的首席技师名册和已登记的变动为准，假设今后不再发生变动；每年应发金额为当年发放批次应发放的月份（评选年度当年的月份于次年发放）按日折算后的金额，不含追缴、补发与重发。",
        cn_date(&f.today.to_string())
    )];
    let policies: Vec<String> = f
        .policies
        .iter()
        .map(|p| {
            format!(
                "{}（{}至{}，每月{}元）",
                p.document,
                cn_date(&p.from.to_string()),
                cn_date(&p.to.to_string()),
                fen_grouped(crate::rules::money::to_fen(p.monthly_rate))
            )
        })
        .collect();
    v.push(format!("2. 政策版本：{}。", policies.join("；")));
    v.push(match &f.successor {
        Some(_) => "3. 后续政策为测算假设，并非已出台的政策。".to_string(),
        None => "3. 未假设后续政策：现行政策期满后的月份列为“未覆盖月份”。".to_string(),
    });
    v.push(format!(
        "4. 未覆盖月份：任期内无政策版本覆盖的日期，按每月{}元测算其影响金额，不计入预测支出，须出台后续政策后方可发放（见“未覆盖”表）。",
        fen_grouped(crate::rules::money::to_fen(f.last_rate))
    ));
    v.push(if f.new_cohorts.is_empty() {
        "5. 未假设新评选人员。".to_string()
    } else {
        format!(
            "5. 新评选人员（假设）：{}至{}年每年评选{}人，批准日期为当年{}月{}日，任期三年、无变动，当年月份次年发放；不写入名册。",
            f.new_cohorts[0],
            f.new_cohorts[f.new_cohorts.len() - 1],
            f.selected_per_year,
            f.approval_day.0,
            f.approval_day.1
        )
    });
    v.push(
        "6. “已审批批次实发”为该年度已审批发放批次各明细的合计（含追缴、补发），供与预测核对。"
            .into(),
    );
    v
}

/// 三、预测假设; returns the last row.
fn assumptions(
    ws: &mut Worksheet,
    f: &Forecast,
    fm: &Formats,
    pager: &mut Pager,
    row: u32,
) -> Result<u32, XlsxError> {
    let block = row;
    let mut row = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "三、预测假设", &fm.section)?;
    let width: f64 = SUMMARY_COLS.iter().sum();
    for line in assumption_lines(f) {
        row += 1;
        pager.height(ws, row, f64::from(wrapped_lines(&line, width)) * 14.0 + 4.0)?;
        ws.merge_range(row, 0, row, 9, &line, &fm.note)?;
    }
    pager.block(block, row, false);
    Ok(row)
}

/// 四、the chart of the cost per year (roster and new cohorts stacked), on a page of its own.
fn year_chart(
    ws: &mut Worksheet,
    f: &Forecast,
    fm: &Formats,
    pager: &mut Pager,
    lay: &mut ForecastLayout,
    row: u32,
) -> Result<(), XlsxError> {
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "四、各年度预测支出（图）", &fm.section)?;
    let row = row + 1;
    lay.chart = Some(row);
    let (first, last) = (lay.year_header + 1, lay.year_header + f.years.len() as u32);
    let mut chart = Chart::new(ChartType::ColumnStacked);
    for (name, col) in [("名册人员", 3), ("新评选人员（假设）", 5)] {
        chart
            .add_series()
            .set_name(name)
            .set_categories((SHEETS[0], first, 1, last, 1))
            .set_values((SHEETS[0], first, col, last, col));
    }
    chart.title().set_name("各年度预测支出（元）");
    chart.y_axis().set_num_format("#,##0");
    let covered = ((PAGE_PT - 50.0 - SECTION_PT - 20.0) / 15.0).floor() as u32;
    for r in row..row + covered {
        pager.height(ws, r, 15.0)?;
    }
    let width_px: f64 = SUMMARY_COLS.iter().map(|w| w * 7.0 + 5.0).sum();
    chart
        .set_width(width_px as u32)
        .set_height(covered * 20 - 10);
    ws.insert_chart(row, 0, &chart)?;
    pager.block(block, row + covered - 1, true);
    Ok(())
}

/// A subtotal or total row of a list: label in column `label_col`, people and amount in the
/// last two columns.
fn total_row(
    ws: &mut Worksheet,
    row: u32,
    cols: u16,
    label: &str,
    people: usize,
    fen: i64,
    fm: &Formats,
) -> Result<(), XlsxError> {
    ws.set_row_height(row, ROW_PT)?;
    for c in 0..cols - 2 {
        ws.write_blank(row, c, &fm.total_text)?;
    }
    ws.write_string_with_format(row, 1, label, &fm.total_text)?;
    ws.write_number_with_format(row, cols - 2, people as f64, &fm.total_int)?;
    ws.write_number_with_format(row, cols - 1, yuan(fen), &fm.total_amount)?;
    Ok(())
}

fn write_units_sheet(
    ws: &mut Worksheet,
    f: &Forecast,
    l: &ForecastLabels,
    fm: &Formats,
) -> Result<(), XlsxError> {
    let units = f
        .years
        .iter()
        .flat_map(|y| y.by_unit.iter().map(|u| u.unit.as_str()));
    let widths = [6.0, 12.0, fit_width(units, 30.0, 60.0), 10.0, 18.0];
    set_widths(ws, &widths)?;
    head(ws, f, l, SHEETS[1], 5, LIST_HEADER, fm)?;
    let names = ["序号", "发放年度", "工作单位", "人数", "金额（元）"];
    ws.set_row_height(LIST_HEADER, 30)?;
    headers(ws, LIST_HEADER, &names, &fm.header)?;
    let mut row = LIST_HEADER;
    let mut n = 0;
    for y in &f.years {
        let mut rows: Vec<(String, usize, i64)> = y
            .by_unit
            .iter()
            .map(|u| (u.unit.clone(), u.people, u.fen))
            .collect();
        if y.new_fen != 0 {
            rows.push((
                "新评选人员（假设，单位未定）".into(),
                y.new_people,
                y.new_fen,
            ));
        }
        for (unit, people, fen) in rows {
            row += 1;
            n += 1;
            let unit = if unit.is_empty() {
                "（名册未载单位）".to_string()
            } else {
                unit
            };
            ws.set_row_height(
                row,
                (f64::from(wrapped_lines(&unit, widths[2])) * 14.0 + 4.0).max(ROW_PT),
            )?;
            ws.write_number_with_format(row, 0, f64::from(n), &fm.int)?;
            ws.write_string_with_format(row, 1, format!("{}年", y.year), &fm.text)?;
            put_text(ws, row, 2, &unit, &fm.text, &fm.text_quoted)?;
            ws.write_number_with_format(row, 3, people as f64, &fm.int)?;
            ws.write_number_with_format(row, 4, yuan(fen), &fm.amount)?;
        }
        row += 1;
        let label = format!("{}年小计", y.year);
        total_row(
            ws,
            row,
            5,
            &label,
            y.roster_people + y.new_people,
            y.total_fen(),
            fm,
        )?;
    }
    let (roster, new, _) = f.totals();
    total_row(ws, row + 1, 5, "合计", 0, roster + new, fm)?;
    ws.write_blank(row + 1, 3, &fm.total_text)?;
    Ok(())
}

fn write_cohorts_sheet(
    ws: &mut Worksheet,
    f: &Forecast,
    l: &ForecastLabels,
    fm: &Formats,
) -> Result<(), XlsxError> {
    let widths = [6.0, 12.0, 12.0, 22.0, 10.0, 18.0];
    set_widths(ws, &widths)?;
    head(ws, f, l, SHEETS[2], 6, LIST_HEADER, fm)?;
    let names = ["序号", "发放年度", "评选年度", "类别", "人数", "金额（元）"];
    ws.set_row_height(LIST_HEADER, 30)?;
    headers(ws, LIST_HEADER, &names, &fm.header)?;
    let mut row = LIST_HEADER;
    let mut n = 0;
    for y in &f.years {
        for c in &y.by_cohort {
            row += 1;
            n += 1;
            ws.set_row_height(row, ROW_PT)?;
            let kind = if c.hypothetical {
                "新评选人员（假设）"
            } else {
                "名册人员"
            };
            ws.write_number_with_format(row, 0, f64::from(n), &fm.int)?;
            ws.write_string_with_format(row, 1, format!("{}年", y.year), &fm.text)?;
            ws.write_string_with_format(row, 2, format!("{}年度", c.cohort_year), &fm.text)?;
            ws.write_string_with_format(row, 3, kind, &fm.text)?;
            ws.write_number_with_format(row, 4, c.people as f64, &fm.int)?;
            ws.write_number_with_format(row, 5, yuan(c.fen), &fm.amount)?;
        }
        row += 1;
        let label = format!("{}年小计", y.year);
        total_row(
            ws,
            row,
            6,
            &label,
            y.roster_people + y.new_people,
            y.total_fen(),
            fm,
        )?;
    }
    let (roster, new, _) = f.totals();
    total_row(ws, row + 1, 6, "合计", 0, roster + new, fm)?;
    ws.write_blank(row + 1, 4, &fm.total_text)?;
    Ok(())
}

fn write_uncovered_sheet(
    ws: &mut Worksheet,
    f: &Forecast,
    l: &ForecastLabels,
    fm: &Formats,
) -> Result<(), XlsxError> {
    let widths = [6.0, 12.0, 12.0, 22.0, 12.0, 26.0];
    set_widths(ws, &widths)?;
    head(ws, f, l, SHEETS[3], 6, LIST_HEADER, fm)?;
    let rate = fen_grouped(crate::rules::money::to_fen(f.last_rate));
    let amount_header = format!("影响金额（元，按每月{rate}元）");
    let names = [
        "序号",
        "应发年度",
        "月份",
        "类别",
        "人月数",
        amount_header.as_str(),
    ];
    ws.set_row_height(LIST_HEADER, 30)?;
    headers(ws, LIST_HEADER, &names, &fm.header)?;
    let mut row = LIST_HEADER + 1;
    if f.uncovered.is_empty() {
        ws.set_row_height(row, 20)?;
        ws.merge_range(row, 0, row, 5, "预测期内没有未覆盖的月份", &fm.text)?;
        return Ok(());
    }
    for (i, u) in f.uncovered.iter().enumerate() {
        ws.set_row_height(row, ROW_PT)?;
        let kind = if u.hypothetical {
            "新评选人员（假设）"
        } else {
            "名册人员"
        };
        let month = format!("{}年{}月", u.month.year(), u.month.month());
        ws.write_number_with_format(row, 0, (i + 1) as f64, &fm.int)?;
        ws.write_string_with_format(row, 1, format!("{}年", u.due_year), &fm.text)?;
        ws.write_string_with_format(row, 2, month, &fm.text)?;
        ws.write_string_with_format(row, 3, kind, &fm.text)?;
        ws.write_number_with_format(row, 4, u.appointments as f64, &fm.int)?;
        ws.write_number_with_format(row, 5, yuan(u.fen), &fm.amount)?;
        row += 1;
    }
    let months: usize = f.uncovered.iter().map(|u| u.appointments).sum();
    let fen: i64 = f.uncovered.iter().map(|u| u.fen).sum();
    total_row(ws, row, 6, "合计", months, fen, fm)?;
    let note = "未覆盖月份：任期内、没有任何政策版本覆盖的日期所在的月份。这些月份不计入预测支出；影响金额为出台同标准后续政策时应发的金额，供决策参考。";
    let r = row + 2;
    let w: f64 = widths.iter().sum();
    ws.set_row_height(r, f64::from(wrapped_lines(note, w)) * 14.0 + 4.0)?;
    ws.merge_range(r, 0, r, 5, note, &fm.note)?;
    Ok(())
}
