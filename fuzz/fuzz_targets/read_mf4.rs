//! Fuzzes the MF4 reader through `open_reader` on a real file (its links are
//! file offsets, read with seeks): any bytes must give records or an error
//! naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("cankit-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    cankit_fuzz::read_file(&dir.join("fuzz-input.mf4"), data);
});
