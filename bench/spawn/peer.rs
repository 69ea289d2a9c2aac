// SPDX-License-Identifier: MIT
// Rust peer of the spawn benchmark: std::process::Command with stdout piped
// and pipes on fds 3 and 4 placed by a pre_exec closure (which makes std fork).
// usage: peer CHILD N BIG_MB  -> prints spawns/s
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

extern "C" {
    fn pipe2(fds: *mut i32, flags: i32) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
    fn close(fd: i32) -> i32;
}

const O_CLOEXEC: i32 = 0o2000000;

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    if unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        panic!("pipe2");
    }
    (fds[0], fds[1])
}

fn spawn(child: &str) {
    let (r3, w3) = pipe();
    let (r4, w4) = pipe();
    let mut cmd = Command::new(child);
    cmd.stdout(Stdio::piped());
    unsafe {
        cmd.pre_exec(move || {
            if dup2(w3, 3) < 0 || dup2(w4, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut p = cmd.spawn().expect("spawn");
    unsafe {
        close(w3);
        close(w4);
    }
    let st = p.wait().expect("wait");
    assert!(st.success());
    drop(p.stdout.take());
    unsafe {
        close(r3);
        close(r4);
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let child = &a[1];
    let n: u64 = a[2].parse().unwrap();
    let big_mb: usize = a[3].parse().unwrap();
    let big = vec![1u8; big_mb << 20]; // vec![1; n] writes every byte: a big parent
    spawn(child);
    let t0 = Instant::now();
    for _ in 0..n {
        spawn(child);
    }
    println!("{}", n as f64 / t0.elapsed().as_secs_f64());
    drop(big);
}
