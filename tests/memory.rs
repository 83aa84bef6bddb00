//! Constant memory against hostile input: a small BLF file of highly
//! compressible containers must not make can-convert hold them all inflated, and
//! a container declaring more than the reader accepts is an error at its offset.
//! In a test binary of its own, because it reads the peak memory of the
//! children this process waited for.

mod common;

use std::io::Write;
use std::path::Path;

use flate2::write::ZlibEncoder;
use flate2::Compression;

/// A BLF file of `n` zlib containers, each inflating to `size` zero bytes.
fn zero_containers(path: &Path, n: usize, size: usize) {
    let mut out = vec![0u8; 144];
    out[0..4].copy_from_slice(b"LOGG");
    out[4..8].copy_from_slice(&144u32.to_le_bytes());
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    z.write_all(&vec![0u8; size]).unwrap();
    let payload = z.finish().unwrap();
    for _ in 0..n {
        let objsize = (32 + payload.len()) as u32;
        out.extend_from_slice(b"LOBJ");
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&objsize.to_le_bytes());
        out.extend_from_slice(&10u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&[0; 6]);
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&payload);
        out.resize(out.len() + objsize as usize % 4, 0);
    }
    std::fs::write(path, out).unwrap();
}

fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

#[test]
fn many_large_containers_stay_under_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let blf = dir.path().join("zeros.blf");
    // 40 containers of just under 4 MiB: 160 MiB inflated from a 160 KiB file
    zero_containers(&blf, 40, (4 << 20) - 64);
    assert!(std::fs::metadata(&blf).unwrap().len() < 1 << 20);
    let out = dir.path().join("zeros.log");
    let o = common::tools::tool("can-convert")
        .arg(&blf)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let peak = children_peak_rss_kib();
    eprintln!("can-convert peak RSS: {peak} KiB");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn an_oversized_container_is_an_error_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let blf = dir.path().join("big.blf");
    zero_containers(&blf, 1, 64 << 20);
    let o = common::tools::tool("can-convert")
        .arg(&blf)
        .arg(dir.path().join("big.log"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("big.blf") && err.contains("byte 144"), "{err}");
}
