//! The sandbox: how a plugin is compiled, isolated, limited and called.
//!
//! One [`Sandbox`] holds the engine and the linker for a whole invocation. Every run of a
//! plugin on a device gets a fresh [`wasmtime::Store`] with its own WASI context (no
//! files, no network, no environment, a frozen wall clock), its own memory cap, deadline
//! and RPC budget, and exactly one capability: the device it was granted.

mod bindings;
pub mod compile_cache;
pub mod device;
pub mod limits;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtxBuilder};

use self::bindings::{Plugin, PluginPre};
use self::compile_cache::{CacheError, CompileCache};
pub use self::device::GrantedDevice;
pub use self::limits::EPOCH_TICK;
use self::state::RunState;
pub use self::state::{MemoryLimitHit, Progress, Reported, RunFailure};
use crate::outcome::{FailureKind, RunOutput};
use crate::policy::Limits;

/// The world every plugin must target (plugins built against an earlier compatible
/// version of the package are accepted too).
pub const PLUGIN_WORLD: &str = "fwctl:plugin/plugin@0.1.2";

/// How to build a [`Sandbox`].
#[derive(Clone, Debug, Default)]
pub struct SandboxOptions {
    /// Where compiled components are cached (see [`compile_cache`]); `None` compiles
    /// every time. A directory other users could write is not used.
    pub cache_dir: Option<PathBuf>,
    /// Take instances from a pool sized for this many concurrent runs instead of
    /// allocating each one (fleet runs: thousands of short-lived stores).
    pub pool: Option<InstancePool>,
}

/// The size of the pooling instance allocator: slots are reserved once, up front, and
/// each run takes one and gives it back, so memory does not grow with the device count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstancePool {
    /// Runs that may be alive at once (the fleet's `--jobs`).
    pub concurrent_runs: u32,
    /// The largest memory limit of any plugin in the run.
    pub max_memory_bytes: usize,
}

impl InstancePool {
    /// Core instances, memories and tables one plugin component may hold; a Rust
    /// `wasm32-wasip2` plugin has a handful of core instances and one or two of each.
    const CORE_INSTANCES_PER_RUN: u32 = 16;
    const MEMORIES_PER_RUN: u32 = 4;
    const TABLES_PER_RUN: u32 = 16;
    const KEEP_RESIDENT: usize = 4 << 20;

    fn config(&self) -> wasmtime::PoolingAllocationConfig {
        let runs = self.concurrent_runs.max(1);
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(runs)
            .total_core_instances(runs * Self::CORE_INSTANCES_PER_RUN)
            .total_memories(runs * Self::MEMORIES_PER_RUN)
            .total_tables(runs * Self::TABLES_PER_RUN)
            .total_stacks(runs)
            .max_core_instances_per_component(Self::CORE_INSTANCES_PER_RUN)
            .max_memories_per_component(Self::MEMORIES_PER_RUN)
            .max_tables_per_component(Self::TABLES_PER_RUN)
            .max_memory_size(self.max_memory_bytes)
            // A slot handed back is reset in place instead of returned to the kernel and
            // faulted in again by the next run: `madvise` and the TLB shootdowns it sends
            // to the other job's CPU were a third of a fleet's time. A Rust plugin touches
            // 1–2 MiB (its stack is 1 MiB), so a smaller bound kept nothing resident.
            .linear_memory_keep_resident(Self::KEEP_RESIDENT)
            .table_keep_resident(Self::KEEP_RESIDENT / 16)
            // With PAGEMAP_SCAN (Linux 6.7+, so every kernel with fwctl) only the pages a
            // run touched are reset, not the whole resident bound: 10,000 runs of a plugin
            // that returns at once took 0.96 s with 256 KiB resident, 0.29 s with this.
            .pagemap_scan(wasmtime::Enabled::Auto);
        pool
    }
}

/// Why the sandbox could not be set up or a plugin could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The engine configuration was refused (a bug, or an unusable cache directory).
    #[error("cannot set up the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
    /// The bytes are a component but did not compile.
    #[error("the component does not compile: {0:#}")]
    Compile(wasmtime::Error),
    /// The component does not implement the `fwctl:plugin/plugin` world.
    #[error("the component is not a fwctl-run plugin (world {PLUGIN_WORLD}): {0:#}")]
    World(wasmtime::Error),
}

/// The engine and linker shared by every run of one invocation.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<RunState>,
    cache: Result<Option<CompileCache>, CacheError>,
    ticker_stop: Arc<AtomicBool>,
}

impl Sandbox {
    /// Builds the engine (with epoch interruption and, optionally, the compile cache) and
    /// a linker offering WASI 0.2 and the fwctl interfaces, nothing else.
    pub fn new(options: &SandboxOptions) -> Result<Self, PrepareError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
        // An unusable cache is not fatal: every component is compiled instead, and
        // `cache_problem` says why for the operator.
        let cache = options.cache_dir.as_deref().map(CompileCache::open).transpose();
        if let Some(pool) = &options.pool {
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool.config()));
        }
        let engine = Engine::new(&config).map_err(PrepareError::Engine)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(PrepareError::Engine)?;
        Plugin::add_to_linker::<_, HasSelf<RunState>>(&mut linker, |state| state).map_err(PrepareError::Engine)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), Arc::clone(&ticker_stop));
        Ok(Self { engine, linker, cache, ticker_stop })
    }

    /// Compiles a component (or takes it from the cache) and checks it against the plugin
    /// world, so a wrong component is refused once, before any device is touched.
    pub fn prepare(&self, plugin: &crate::plugin::Plugin) -> Result<PreparedPlugin, PrepareError> {
        let component = match &self.cache {
            Ok(Some(cache)) => {
                cache.component(&self.engine, &plugin.bytes, plugin.sha256()).map(|(component, _)| component)
            }
            _ => Component::new(&self.engine, plugin.bytes.as_slice()),
        }
        .map_err(PrepareError::Compile)?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(PrepareError::World)?;
        let pre = PluginPre::new(instance_pre).map_err(PrepareError::World)?;
        Ok(PreparedPlugin { pre, engine: self.engine.clone() })
    }

    /// The imports and exports of a component, whatever world it targets (for `inspect`).
    pub fn describe(&self, wasm: &[u8]) -> Result<ComponentShape, PrepareError> {
        let component = Component::new(&self.engine, wasm).map_err(PrepareError::Compile)?;
        let ty = component.component_type();
        Ok(ComponentShape {
            imports: ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect(),
            exports: ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect(),
        })
    }

    /// Compile-cache hits and misses of this engine so far, when caching is on.
    pub fn cache_stats(&self) -> Option<(usize, usize)> {
        self.cache.as_ref().ok()?.as_ref().map(CompileCache::stats)
    }

    /// Why the compile cache is not used, or what it refused, if anything: a warning for
    /// the operator (the runs themselves are unaffected).
    pub fn cache_problem(&self) -> Option<String> {
        match &self.cache {
            Err(error) => Some(format!("{error}; compiling every plugin")),
            Ok(Some(cache)) if cache.rejected() > 0 => Some(format!(
                "{} compile cache entr{} in {} failed authentication (changed since this user stored {}); discarded and compiled again",
                cache.rejected(),
                if cache.rejected() == 1 { "y" } else { "ies" },
                cache.dir().display(),
                if cache.rejected() == 1 { "it" } else { "them" },
            )),
            Ok(_) => None,
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`]; each run's deadline callback runs
/// on a tick, yields to other runs, and ends the run once its time is up.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("fwctl-run-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread");
}

/// The names a component imports and exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentShape {
    /// Imported interfaces and functions.
    pub imports: Vec<String>,
    /// Exported interfaces and functions.
    pub exports: Vec<String>,
}

/// A plugin compiled and checked against the world, ready to instantiate per device.
#[derive(Clone)]
pub struct PreparedPlugin {
    pre: PluginPre<RunState>,
    engine: Engine,
}

/// How a run ended, before the runner attaches device and timing.
#[derive(Debug)]
pub enum RunEnd {
    /// `run` returned `ok`.
    Completed,
    /// `run` returned `err(message)`.
    PluginError(String),
    /// The host stopped it (deadline, budget, report flood).
    Stopped(RunFailure),
    /// Linear memory or tables would have grown past the cap.
    MemoryLimit {
        /// The limit, in bytes.
        limit: usize,
        /// What would have grown, and to what.
        detail: String,
    },
    /// The plugin trapped (including a Rust panic, which aborts with `unreachable`).
    Trap(String),
}

impl RunEnd {
    /// What kind of failure it was; `None` when the run completed.
    pub fn kind(&self) -> Option<FailureKind> {
        Some(match self {
            Self::Completed => return None,
            Self::PluginError(_) => FailureKind::PluginError,
            Self::Stopped(failure) => failure.kind(),
            Self::MemoryLimit { .. } => FailureKind::MemoryLimit,
            Self::Trap(_) => FailureKind::Trap,
        })
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Completed => f.write_str("completed"),
            Self::PluginError(message) => write!(f, "returned an error: {message}"),
            Self::Stopped(failure) => failure.fmt(f),
            Self::MemoryLimit { limit, detail } => {
                write!(f, "hit its memory limit of {} MiB ({detail}; raise it with --memory-mib)", limit >> 20)
            }
            Self::Trap(message) => write!(f, "trapped: {message}"),
        }
    }
}

/// The result of one run: how it ended, what it reported, how many RPCs it sent.
pub struct RunResult {
    /// How it ended.
    pub end: RunEnd,
    /// What it reported (also when it failed part-way).
    pub output: RunOutput,
    /// RPCs it attempted.
    pub rpcs: u64,
    /// Whether the device answered ENODEV: it vanished during the run.
    pub device_gone: bool,
}

/// A wall clock stuck at the Unix epoch: plugins get no time of day (design: no
/// ambient clock beyond monotonic time).
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl PreparedPlugin {
    /// Runs the plugin once against `device` in a fresh store, keeping what it reports in
    /// `progress` as it goes.
    pub async fn run(
        &self,
        mut device: GrantedDevice,
        args: &[String],
        limits: Limits,
        progress: &Progress,
    ) -> RunResult {
        let stdout = MemoryOutputPipe::new(limits.output_bytes);
        let stderr = MemoryOutputPipe::new(limits.output_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenWallClock)
            .build();
        let state = RunState {
            wasi,
            table: ResourceTable::new(),
            limits,
            usage: Default::default(),
            progress: progress.clone(),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            saved_state: device.state.take(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
        let started = Instant::now();
        let timeout = limits.timeout;
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() >= timeout {
                Err(RunFailure::Timeout { limit: timeout }.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);

        // The epoch callback stops wasm that runs too long; the timeout also stops a run
        // waiting in an asynchronous WASI call (a sleep, a poll). An RPC is a synchronous
        // call no timer interrupts: a device that may hold it runs on a thread of its own,
        // whose watchdog reports the run at its deadline (`runner::run_on_own_thread`).
        let end = match tokio::time::timeout(timeout, self.call(&mut store, device, args)).await {
            Ok(Ok(Ok(()))) => RunEnd::Completed,
            Ok(Ok(Err(message))) => RunEnd::PluginError(message),
            Ok(Err(error)) => classify(error),
            Err(_elapsed) => RunEnd::Stopped(RunFailure::Timeout { limit: timeout }),
        };
        let state = store.into_data();
        let Reported { mut output, rpcs, device_gone, .. } = state.progress.take();
        output.stdout = String::from_utf8_lossy(&state.stdout.contents()).into_owned();
        output.stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
        RunResult { end, output, rpcs, device_gone }
    }

    async fn call(
        &self,
        store: &mut Store<RunState>,
        device: GrantedDevice,
        args: &[String],
    ) -> wasmtime::Result<Result<(), String>> {
        let plugin = self.pre.instantiate_async(&mut *store).await?;
        let handle = store.data_mut().table.push(device)?;
        plugin.call_run(&mut *store, handle, args).await
    }
}

/// Turns a trap into the reason people should read.
fn classify(error: wasmtime::Error) -> RunEnd {
    if let Some(failure) = error.downcast_ref::<RunFailure>() {
        return RunEnd::Stopped(failure.clone());
    }
    if let Some(MemoryLimitHit(over)) = error.downcast_ref::<MemoryLimitHit>() {
        return RunEnd::MemoryLimit { limit: over.limit, detail: over.detail.clone() };
    }
    // The root cause says what happened; the innermost frame where. The full backtrace
    // repeats itself for recursion and buries both.
    let root = error.root_cause().to_string();
    let place = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|trace| trace.frames().first().and_then(|frame| frame.func_name().map(str::to_owned)))
        .map(|name| format!(" (in {name})"))
        .unwrap_or_default();
    RunEnd::Trap(format!("{root}{place}"))
}
