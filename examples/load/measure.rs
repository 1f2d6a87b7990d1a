//! What a process uses, read from `/proc/self` (Linux only), and percentiles.
//!
//! The `/proc` files are opened once and read again from the start each time: at
//! N = 10,000 a process may have used up its file descriptors, and a figure read as
//! zero then would be wrong without a word (seen: 0 ms of CPU per reply).

use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// The whole of `/proc/self/{name}` now, read through a handle opened on first use.
fn proc_self(name: &'static str, file: &'static OnceLock<std::fs::File>) -> String {
    let file = file.get_or_init(|| {
        std::fs::File::open(format!("/proc/self/{name}")).expect("/proc/self is readable")
    });
    let mut buf = vec![0u8; 8192];
    let read = file.read_at(&mut buf, 0).expect("/proc/self reads");
    buf.truncate(read);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Opens the `/proc` files, before a run can use up the descriptors.
pub fn open() {
    let _ = (rss_kib(), cpu_secs());
}

/// Resident memory now, in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    static STATUS: OnceLock<std::fs::File> = OnceLock::new();
    let status = proc_self("status", &STATUS);
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time used so far (user + system), in seconds (`/proc/self/stat` counts in
/// clock ticks of 1/100 s on Linux).
pub fn cpu_secs() -> f64 {
    static STAT: OnceLock<std::fs::File> = OnceLock::new();
    let stat = proc_self("stat", &STAT);
    // The command name may contain spaces; fields are counted after its `)`.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The `p` quantile (0..=1) of `values`, nearest rank; NaN when empty.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i]
}
