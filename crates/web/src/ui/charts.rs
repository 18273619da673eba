//! The analytics page's charts, drawn by `plotters` into SVG strings that the page inlines.
//!
//! It owns the charts' geometry, colours and axis labels (Russian, our own text only: no
//! operator or buyer data ever goes into an SVG). It must not compute any figure: it plots
//! what [`store::Analytics`] says. The colours match the legend classes in `app.css`
//! (`.sw-median`, `.sw-p90`, `.sw-waiting`, `.sw-breached`).

use plotters::coord::Shift;
use plotters::prelude::*;
use store::{DayAnalytics, QueueBucket};

use super::view::duration_label;

/// Median first-response line.
const MEDIAN: RGBColor = RGBColor(0x25, 0x63, 0xeb);
/// p90 first-response line.
const P90: RGBColor = RGBColor(0xf5, 0x9e, 0x0b);
/// Share within the SLA.
const SLA: RGBColor = RGBColor(0x16, 0xa3, 0x4a);
/// Chats waiting.
const WAITING: RGBColor = RGBColor(0x94, 0xa3, 0xb8);
/// Chats past their deadline.
const BREACHED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
const TEXT: RGBColor = RGBColor(0x33, 0x41, 0x55);
const GRID: RGBColor = RGBColor(0xe2, 0xe8, 0xf0);

const WIDTH: u32 = 760;
const HEIGHT: u32 = 250;
const FONT: &str = "sans-serif";

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart: {source}")]
pub struct ChartError {
    chart: &'static str,
    #[source]
    source: DrawingAreaErrorKind<std::io::Error>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws on a fresh SVG canvas and returns the document.
fn svg(
    chart: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present())
            .map_err(|source| ChartError { chart, source })?;
    }
    Ok(out)
}

/// `01.03` of `2026-03-01`.
fn short_date(iso: &str) -> String {
    match (iso.get(8..10), iso.get(5..7)) {
        (Some(d), Some(m)) => format!("{d}.{m}"),
        _ => iso.to_owned(),
    }
}

/// The index of a segment label, if it names one day.
fn segment_index(v: &SegmentValue<i32>) -> Option<usize> {
    match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i).ok(),
        SegmentValue::Last => None,
    }
}

/// How many x labels fit: every day up to two weeks, then about twelve.
fn x_label_count(days: usize) -> usize {
    days.clamp(1, 14)
}

/// The unit the duration axis counts in, so its ticks are round: minutes, hours or days.
fn duration_unit(max_ms: i64) -> f64 {
    if max_ms <= 3 * 3_600_000 {
        60_000.0
    } else if max_ms <= 3 * 86_400_000 {
        3_600_000.0
    } else {
        86_400_000.0
    }
}

/// Median and p90 first-response time per day: two lines with a dot per day that has answers
/// (days without answers leave a gap).
pub fn response_times(days: &[DayAnalytics]) -> Result<String, ChartError> {
    let max_ms = days
        .iter()
        .filter_map(|d| d.responses.p90_ms)
        .max()
        .unwrap_or(0)
        .max(60_000);
    let unit = duration_unit(max_ms);
    let y_max = max_ms as f64 / unit * 1.1;
    let n = i32::try_from(days.len()).unwrap_or(i32::MAX);
    svg("response time", (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(26)
            .y_label_area_size(78)
            .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), 0f64..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(TEXT)
            .label_style((FONT, 13).into_font().color(&TEXT))
            .x_labels(x_label_count(days.len()))
            .x_label_formatter(&|v| {
                segment_index(v)
                    .and_then(|i| days.get(i))
                    .map(|d| short_date(&d.date))
                    .unwrap_or_default()
            })
            .y_labels(5)
            .y_label_formatter(&|y| {
                if *y <= 0.0 {
                    "0".to_owned()
                } else {
                    duration_label((y * unit).round() as i64)
                }
            })
            .draw()?;
        for (pick, color) in [
            (
                (|d: &DayAnalytics| d.responses.median_ms) as fn(&DayAnalytics) -> Option<i64>,
                MEDIAN,
            ),
            (|d: &DayAnalytics| d.responses.p90_ms, P90),
        ] {
            let points: Vec<(SegmentValue<i32>, Option<f64>)> = (0..n)
                .zip(days)
                .map(|(i, d)| {
                    (
                        SegmentValue::CenterOf(i),
                        pick(d).map(|ms| ms as f64 / unit),
                    )
                })
                .collect();
            for run in points.split(|(_, y)| y.is_none()) {
                let run: Vec<(SegmentValue<i32>, f64)> = run
                    .iter()
                    .filter_map(|(x, y)| y.map(|y| (x.clone(), y)))
                    .collect();
                chart.draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))?;
                chart.draw_series(run.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
        }
        Ok(())
    })
}

/// Share answered within the SLA per day, as bars from 0 to 100 %.
pub fn sla_share(days: &[DayAnalytics]) -> Result<String, ChartError> {
    let n = i32::try_from(days.len()).unwrap_or(i32::MAX);
    svg("SLA share", (WIDTH, HEIGHT - 30), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(26)
            .y_label_area_size(78)
            .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), 0f64..100.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(TEXT)
            .label_style((FONT, 13).into_font().color(&TEXT))
            .x_labels(x_label_count(days.len()))
            .x_label_formatter(&|v| {
                segment_index(v)
                    .and_then(|i| days.get(i))
                    .map(|d| short_date(&d.date))
                    .unwrap_or_default()
            })
            .y_labels(5)
            .y_label_formatter(&|y| format!("{y:.0}\u{a0}%"))
            .draw()?;
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(SLA.filled())
                .margin(4)
                .data(
                    (0..n).zip(days).filter_map(|(i, d)| {
                        d.responses.within_sla.map(|share| (i, share * 100.0))
                    }),
                ),
        )?;
        Ok(())
    })
}

/// The open queue by priority: all waiting chats, with the late ones drawn over them in red.
pub fn queue(buckets: &[QueueBucket]) -> Result<String, ChartError> {
    let n = i32::try_from(buckets.len()).unwrap_or(i32::MAX);
    let max = buckets.iter().map(|b| b.waiting).max().unwrap_or(0).max(4);
    let y_max = max as f64 * 1.1;
    svg("queue", (WIDTH / 2 + 40, HEIGHT - 30), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(26)
            .y_label_area_size(44)
            .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), 0f64..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(TEXT)
            .label_style((FONT, 13).into_font().color(&TEXT))
            .x_labels(buckets.len().max(1))
            .x_label_formatter(&|v| {
                segment_index(v)
                    .and_then(|i| buckets.get(i))
                    .map(|b| b.priority.label().to_owned())
                    .unwrap_or_default()
            })
            .y_labels(5)
            .y_label_formatter(&|y| {
                if y.fract() == 0.0 {
                    format!("{y:.0}")
                } else {
                    String::new()
                }
            })
            .draw()?;
        for (pick, color) in [
            (
                (|b: &QueueBucket| b.waiting) as fn(&QueueBucket) -> u64,
                WAITING,
            ),
            (|b: &QueueBucket| b.breached, BREACHED),
        ] {
            chart.draw_series(
                Histogram::vertical(&chart)
                    .style(color.filled())
                    .margin(18)
                    .data((0..n).zip(buckets).map(|(i, b)| (i, pick(b) as f64))),
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Priority;
    use store::ResponseStats;

    fn day(date: &str, median: Option<i64>, p90: Option<i64>, sla: Option<f64>) -> DayAnalytics {
        DayAnalytics {
            date: date.to_owned(),
            responses: ResponseStats {
                answered: u64::from(median.is_some()),
                median_ms: median,
                p90_ms: p90,
                within_sla: sla,
                breaches: 0,
            },
        }
    }

    #[test]
    fn charts_are_svg_with_russian_labels_and_no_inline_styles() {
        let days = vec![
            day("2026-03-01", Some(600_000), Some(3_900_000), Some(0.75)),
            day("2026-03-02", None, None, None),
            day("2026-03-03", Some(1_200_000), Some(7_200_000), Some(1.0)),
        ];
        let times = response_times(&days).ok().unwrap_or_default();
        assert!(times.starts_with("<svg"), "{times}");
        assert!(
            times.contains("01.03") && times.contains("03.03"),
            "{times}"
        );
        assert!(times.contains(" ч"), "{times}");
        let sla = sla_share(&days).ok().unwrap_or_default();
        assert!(sla.contains("100\u{a0}%"), "{sla}");
        let q = queue(&[
            QueueBucket {
                priority: Priority::Urgent,
                waiting: 3,
                breached: 1,
                snoozed: 0,
            },
            QueueBucket {
                priority: Priority::Normal,
                waiting: 0,
                breached: 0,
                snoozed: 0,
            },
        ])
        .ok()
        .unwrap_or_default();
        assert!(q.contains("срочно") && q.contains("обычный"), "{q}");
        for chart in [&times, &sla, &q] {
            // The page's CSP forbids inline styles.
            assert!(!chart.contains("style="), "{chart}");
            assert!(chart.contains("viewBox"));
        }
        // An empty period still draws axes.
        assert!(response_times(&[]).is_ok());
        assert!(sla_share(&[]).is_ok());
    }
}
