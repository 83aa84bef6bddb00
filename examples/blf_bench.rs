//! Reads a BLF file (or any log) and prints frames per second:
//! `cargo run --release --example blf_bench -- FILE [ROUNDS]`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: blf_bench FILE [ROUNDS]")?;
    let rounds: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    for round in 1..=rounds {
        let t = Instant::now();
        let mut reader = cankit::format::open_reader(path.as_ref(), None)?;
        let (mut n, mut bytes) = (0u64, 0u64);
        while let Some(rec) = reader.read()? {
            n += 1;
            bytes += rec.frame.len() as u64;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {n} frames ({bytes} data bytes) in {:.3} s = {:.2} M frames/s",
            s,
            n as f64 / s / 1e6
        );
    }
    Ok(())
}
