//! The virtual machine: the kernel `tests/vm/build.sh` builds, an initramfs of busybox, a
//! release `fwctl-run`, the plugins and a scenario, booted under QEMU (TCG), and the
//! framed results it writes to its second serial port.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{plugin_dir, workspace_root};

/// A kernel built by `tests/vm/build.sh`: `bzImage`, `release`, and `root/lib/modules`.
pub struct Kernel {
    pub dir: PathBuf,
    pub release: String,
}

/// The cached kernel, built on first use (`FWCTL_VM_KERNEL=DIR` names one directly). When
/// it cannot be had, the test fails with the reason: a missing kernel is never a pass.
pub fn kernel() -> &'static Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let dir = match std::env::var_os("FWCTL_VM_KERNEL") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let script = workspace_root().join("tests/vm/build.sh");
                let output = Command::new(&script)
                    .stderr(Stdio::inherit())
                    .output()
                    .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
                assert!(
                    output.status.success(),
                    "the kernel VM test cannot run: {} failed ({}); see its messages above",
                    script.display(),
                    output.status
                );
                PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
            }
        };
        let release = std::fs::read_to_string(dir.join("release"))
            .unwrap_or_else(|e| panic!("{} is not a built kernel (no `release`: {e})", dir.display()));
        Kernel { dir, release: release.trim().to_string() }
    })
}

/// A release build of `fwctl-run`: wasmtime's compiler built without optimisation is too
/// slow to run under instruction emulation.
pub fn fwctl_run_release() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| release_build(&["-p", "fwctl-run", "--bin", "fwctl-run"], "release/fwctl-run"))
}

/// `cargo build --release ARGS` in the suite's own target directory; returns `built`
/// (a path under that directory).
pub fn release_build(args: &[&str], built: &str) -> PathBuf {
    let root = workspace_root();
    let target = root.join("target/e2e");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--release"])
        .args(args)
        .status()
        .expect("running cargo to build a program for the VM");
    assert!(status.success(), "cargo build --release {args:?} for the VM failed ({status})");
    target.join(built)
}

/// How QEMU is configured.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// A plain q35 machine with two NUMA nodes, as `cxl_test` places its mock devices on
    /// nodes 0 and 1 (with one node the mock oopses).
    TwoNumaNodes,
    /// QEMU's own emulated CXL type-3 device behind a CXL host bridge and root port.
    QemuCxlType3,
}

/// The commands the guest runs, in order, as `/scenario.sh`.
#[derive(Default)]
pub struct Scenario {
    script: String,
    files: Vec<(String, Vec<u8>)>,
    binaries: Vec<PathBuf>,
}

impl Scenario {
    /// A step: `args` run with output captured and framed under `name`.
    pub fn step<S: AsRef<str>>(&mut self, name: &str, args: &[S]) -> &mut Self {
        let words: Vec<String> = args.iter().map(|a| quote(a.as_ref())).collect();
        let _ = writeln!(self.script, "step {} {}", quote(name), words.join(" "));
        self
    }

    /// A step that is a shell command line (for pipes, and the init's `wait_for`): `eval`ed
    /// by the init's own shell, where its functions are defined.
    pub fn shell_step(&mut self, name: &str, line: &str) -> &mut Self {
        self.step(name, &["eval", line])
    }

    /// A file placed in the initramfs at `path` (absolute).
    pub fn file(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.files.push((path.trim_start_matches('/').to_string(), contents.into()));
        self
    }

    /// A host program placed in the guest's `/bin`, with the shared libraries it links.
    pub fn binary(&mut self, path: &Path) -> &mut Self {
        self.binaries.push(path.to_path_buf());
        self
    }
}

/// Single-quotes a word for the guest's shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// One framed result.
#[derive(Clone, Debug, Default)]
pub struct Step {
    pub name: String,
    pub rc: i32,
    pub output: String,
    pub stderr: String,
}

/// What a boot produced.
pub struct Boot {
    pub steps: Vec<Step>,
    pub console: String,
    /// The scenario ran to its end (`@@done`).
    pub completed: bool,
}

impl Boot {
    /// The step named `name`; fails the test with the console tail if it is missing.
    pub fn step(&self, name: &str) -> &Step {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("the guest reported no step `{name}`\n{}", self.context()))
    }

    /// The step's output parsed as JSON, asserting the step exited with `rc`.
    pub fn json(&self, name: &str, rc: i32) -> serde_json::Value {
        let step = self.expect_rc(name, rc);
        serde_json::from_str(&step.output)
            .unwrap_or_else(|e| panic!("step `{name}` did not print JSON ({e}):\n{}", step.output))
    }

    /// The step, asserting its exit status.
    pub fn expect_rc(&self, name: &str, rc: i32) -> &Step {
        let step = self.step(name);
        assert_eq!(
            step.rc,
            rc,
            "step `{name}` exit status; its stdout:\n{}\nits stderr:\n{}\n{}",
            step.output,
            step.stderr,
            self.context()
        );
        step
    }

    /// The last lines of the console, for failure messages.
    pub fn context(&self) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "steps seen: {:?}\n--- console (last 40 lines) ---\n{tail}",
            self.steps.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    }
}

/// How long a boot may take before it is killed (`FWCTL_VM_TIMEOUT` seconds overrides).
fn deadline() -> Duration {
    let seconds = std::env::var("FWCTL_VM_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    Duration::from_secs(seconds)
}

/// Builds the initramfs for `scenario`, boots it, and returns the results. A boot that
/// does not finish in time is killed; the caller sees `completed == false` and the console.
pub fn boot(shape: Shape, scenario: &Scenario) -> Boot {
    let kernel = kernel();
    let work = tempfile::tempdir().expect("a temporary directory for the VM");
    let initramfs = work.path().join("initramfs.cpio.gz");
    build_initramfs(kernel, scenario, &work.path().join("root"), &initramfs);

    let console = work.path().join("console.log");
    let results = work.path().join("results.log");
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "2G"])
        .args(["-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults"])
        .arg("-kernel")
        .arg(kernel.dir.join("bzImage"))
        .arg("-initrd")
        .arg(&initramfs)
        .args(["-append", "console=ttyS0 panic=-1 oops=panic rdinit=/init"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(format!("file:{}", results.display()));
    match shape {
        Shape::TwoNumaNodes => {
            qemu.args(["-M", "q35"])
                .args(["-object", "memory-backend-ram,size=1G,id=m0", "-object", "memory-backend-ram,size=1G,id=m1"])
                .args(["-numa", "node,nodeid=0,memdev=m0,cpus=0", "-numa", "node,nodeid=1,memdev=m1,cpus=1"]);
        }
        Shape::QemuCxlType3 => {
            let backing = work.path().join("cxl-mem.raw");
            qemu.args(["-M", "q35,cxl=on"])
                .arg("-object")
                .arg(format!("memory-backend-file,id=cxl-mem0,share=on,mem-path={},size=256M", backing.display()))
                .args(["-device", "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1"])
                .args(["-device", "cxl-rp,port=0,bus=cxl.1,id=cxl_rp0,chassis=0,slot=2"])
                .args(["-device", "cxl-type3,bus=cxl_rp0,volatile-memdev=cxl-mem0,id=cxl-vmem0"])
                .args(["-M", "cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G"]);
        }
    }
    qemu.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = qemu.spawn().expect("starting qemu-system-x86_64 (Debian package qemu-system-x86)");
    let started = Instant::now();
    let limit = deadline();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for QEMU") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut qemu_stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut qemu_stderr);
    }
    let console_text = String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
    let results_text = String::from_utf8_lossy(&std::fs::read(&results).unwrap_or_default()).replace('\r', "");
    let (steps, completed) = parse_results(&results_text);
    let mut console = console_text;
    match status {
        None => {
            let _ = write!(console, "\n[harness] QEMU killed after {} s without finishing", limit.as_secs());
        }
        Some(status) if !status.success() => {
            let _ = write!(console, "\n[harness] QEMU exited with {status}: {qemu_stderr}");
        }
        Some(_) => {}
    }
    Boot { steps, console, completed }
}

/// Splits the results port's text into steps (`@@step NAME`, stdout, `@@stderr NAME`,
/// stderr, `@@end NAME rc=N`).
fn parse_results(text: &str) -> (Vec<Step>, bool) {
    let mut steps = Vec::new();
    let mut current: Option<Step> = None;
    let mut in_stderr = false;
    let mut completed = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("@@step ") {
            current = Some(Step { name: name.to_string(), ..Step::default() });
            in_stderr = false;
        } else if line.strip_prefix("@@stderr ").is_some() {
            in_stderr = true;
        } else if let Some(rest) = line.strip_prefix("@@end ") {
            let (name, rc) = rest.rsplit_once(" rc=").unwrap_or((rest, "-1"));
            let mut step = match current.take() {
                Some(open) if open.name == name => open,
                _ => Step { name: name.to_string(), ..Step::default() },
            };
            step.rc = rc.trim().parse().unwrap_or(-1);
            steps.push(step);
        } else if line == "@@done" {
            completed = true;
        } else if let Some(step) = current.as_mut() {
            let text = if in_stderr { &mut step.stderr } else { &mut step.output };
            text.push_str(line);
            text.push('\n');
        }
    }
    (steps, completed)
}

/// Lays out the guest's root file system and packs it as a gzipped newc cpio archive.
fn build_initramfs(kernel: &Kernel, scenario: &Scenario, root: &Path, out: &Path) {
    let vm = workspace_root().join("tests/vm");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    copy(Path::new("/bin/busybox"), &root.join("bin/busybox"));
    copy(&vm.join("init"), &root.join("init"));
    std::fs::write(root.join("scenario.sh"), &scenario.script).unwrap();

    // fwctl-run (and any other program the scenario needs) and the shared libraries they
    // link, at the paths the loader looks for.
    for binary in std::iter::once(fwctl_run_release()).chain(scenario.binaries.iter().map(PathBuf::as_path)) {
        copy(binary, &root.join("bin").join(binary.file_name().unwrap()));
        for library in shared_libraries(binary) {
            copy(&library, &root.join(library.strip_prefix("/").unwrap()));
        }
    }
    for plugin in ["cxl-features.wasm", "hostile.wasm"] {
        copy(&plugin_dir().join(plugin), &root.join("plugins").join(plugin));
    }
    let modules = format!("lib/modules/{}", kernel.release);
    copy_tree(&kernel.dir.join("root").join(&modules), &root.join(&modules));
    for (path, contents) in &scenario.files {
        let dest = root.join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, contents).unwrap();
    }

    let status = Command::new("sh")
        .arg("-c")
        .arg("find . | cpio --quiet -o -H newc | gzip -1 > \"$0\"")
        .arg(out)
        .current_dir(root)
        .status()
        .expect("running cpio and gzip");
    assert!(status.success(), "packing the initramfs failed ({status})");
}

/// The absolute paths `ldd` resolves for `binary`, the dynamic loader included.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(binary).output().expect("running ldd");
    assert!(output.status.success(), "ldd {} failed", binary.display());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().find(|word| word.starts_with('/')))
        .map(PathBuf::from)
        .collect()
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            copy(&entry.path(), &target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_split_into_framed_steps() {
        let text = "@@boot 7.3.4\n@@step a\nline 1\nline 2\n@@stderr a\nwarning\n@@end a rc=0\nnoise\n\
                    @@step b\n@@stderr b\n@@end b rc=22\n@@done\n";
        let (steps, completed) = parse_results(text);
        assert!(completed);
        assert_eq!(steps.len(), 2);
        let a = &steps[0];
        assert_eq!(
            (a.name.as_str(), a.rc, a.output.as_str(), a.stderr.as_str()),
            ("a", 0, "line 1\nline 2\n", "warning\n")
        );
        assert_eq!((steps[1].name.as_str(), steps[1].rc, steps[1].output.as_str()), ("b", 22, ""));
        let (_, completed) = parse_results("@@step a\n");
        assert!(!completed, "a boot cut short is not complete");
    }

    #[test]
    fn words_are_quoted_for_the_guest_shell() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
