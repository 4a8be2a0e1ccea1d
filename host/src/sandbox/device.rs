//! The `device` resource: the plugin's one capability, and the checks every RPC passes
//! before it may reach a backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fwctl_devices::uapi::MAX_RPC_LEN;
use fwctl_devices::{DeviceDescriptor, DeviceHandle, DeviceKind, Scope};
use nix::errno::Errno;
use wasmtime::component::Resource;

use fwctl_proto::effect::Classification;

use crate::audit::{self, AuditTrail, RpcOutcome, Sent};
use crate::policy::{KindGrant, classify};

use super::bindings::fwctl::plugin::device::{Host, HostDevice};
use super::bindings::types::{self, RpcError, RpcResponse};
use super::state::{RunFailure, RunState};

/// A device as granted to one plugin run: the open handle plus what the grant allows.
///
/// It lives in the store's resource table; the plugin holds only an index the table
/// checks, so it can neither forge a handle nor reach a device it was not given.
pub struct GrantedDevice {
    pub(crate) descriptor: DeviceDescriptor,
    pub(crate) device_data: Vec<u8>,
    pub(crate) grant: KindGrant,
    /// The open device.
    pub(crate) handle: Box<dyn DeviceHandle>,
    /// Set once the backend said ENODEV; later calls fail without touching it.
    pub(crate) gone: bool,
    /// Where every attempt is recorded, if anywhere.
    pub(crate) audit: Option<AuditTrail>,
    /// Set when the run has a thread of its own ([`Self::run_on_own_thread`]), as every
    /// run on a device that may block has: the call in flight sits here, where a watchdog
    /// outside the thread can declare it abandoned.
    pub(crate) in_flight: Option<Arc<Watched>>,
    /// The plugin's state on this device (WIT `state`), when the host keeps state.
    pub(crate) state: Option<crate::plugin_state::StateSlot>,
}

/// What the watchdog of a run on its own thread shares with the run.
pub(crate) struct Watched {
    /// Where an abandoned call goes on the record, and about which device: the run's own,
    /// taken once when the run got its thread.
    trail: Option<AuditTrail>,
    device: DeviceDescriptor,
    /// The RPC the run is in, if any.
    pending: Mutex<Pending>,
    /// Set once the watchdog gave up on the run: it may send nothing more.
    given_up: AtomicBool,
}

/// The call a run on its own thread has with its device. The request buffer is kept from
/// call to call, so that putting a call here allocates nothing on a kernel RPC's path.
#[derive(Default)]
struct Pending {
    /// `Some` from just before the ioctl until it returns, unless the watchdog took it.
    call: Option<PendingCall>,
    request: Vec<u8>,
}

/// What an `abandoned` line says besides the request.
struct PendingCall {
    scope: Scope,
    capacity: usize,
    classification: Classification,
    seq: u64,
}

impl Watched {
    /// Puts a call where the watchdog sees it (with its `seq` when it is on the record as
    /// `sent`), or says `false` when the watchdog gave up on the run first: the call must
    /// then not be made, and one on the record is recorded as abandoned. Checked under the
    /// lock [`InFlightWatch::abandon`] takes after giving up, so no call slips between.
    fn begin(&self, call: &Call<'_>, seq: Option<u64>) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if self.given_up.load(Ordering::SeqCst) {
            if let Some(seq) = seq {
                self.record_abandoned(call, seq);
            }
            return false;
        }
        if let Some(seq) = seq {
            pending.request.clear();
            pending.request.extend_from_slice(call.request);
            pending.call = Some(PendingCall {
                scope: call.scope,
                capacity: call.capacity,
                classification: call.classification.clone(),
                seq,
            });
        }
        true
    }

    /// Puts `call` (`sent` as `seq`) on the record as abandoned.
    fn record_abandoned(&self, call: &Call<'_>, seq: u64) {
        if let Some(trail) = &self.trail {
            trail.record(&self.device, call.attempt(), Some(seq), RpcOutcome::Abandoned, Duration::ZERO);
        }
    }

    /// Takes the call back once the device answered: `false` when the watchdog took it
    /// first (it is then on the record as abandoned, and its answer must not follow).
    fn end(&self) -> bool {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).call.take().is_some()
    }
}

/// The watchdog's view of a run on its own thread.
#[derive(Clone)]
pub struct InFlightWatch(Arc<Watched>);

impl InFlightWatch {
    /// Gives up on the run: the RPC in flight, if any, goes on the record as `abandoned`
    /// next to its `sent` line now (its answer, should one come, is not recorded after
    /// it), and the run may send no further RPC.
    pub fn abandon(&self) {
        let watched = &*self.0;
        watched.given_up.store(true, Ordering::SeqCst);
        let mut pending = watched.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(taken) = pending.call.take() {
            let call = Call {
                scope: taken.scope,
                request: &pending.request,
                capacity: taken.capacity,
                classification: &taken.classification,
            };
            watched.record_abandoned(&call, taken.seq);
        }
    }
}

impl GrantedDevice {
    /// Pairs an opened device with what was granted on it and the trail its calls go to.
    pub fn new(
        descriptor: DeviceDescriptor,
        device_data: Vec<u8>,
        grant: KindGrant,
        handle: Box<dyn DeviceHandle>,
        audit: Option<AuditTrail>,
    ) -> Self {
        Self { descriptor, device_data, grant, handle, gone: false, audit, in_flight: None, state: None }
    }

    /// Gives the run its plugin's state on this device.
    pub fn with_state(mut self, slot: Option<crate::plugin_state::StateSlot>) -> Self {
        self.state = slot;
        self
    }

    /// Whether an RPC may hold the calling thread for long (a kernel device, or a slow
    /// simulated one).
    pub fn may_block(&self) -> bool {
        self.handle.may_block()
    }

    /// Marks this device's run as having a thread of its own: its RPCs are made in place,
    /// with no hop to another thread, and the returned watch lets the caller abandon the
    /// one in flight when the thread is stuck in the kernel past the deadline.
    pub fn run_on_own_thread(&mut self) -> InFlightWatch {
        let watched = Arc::new(Watched {
            trail: self.audit.clone(),
            device: self.descriptor.clone(),
            pending: Mutex::default(),
            given_up: AtomicBool::new(false),
        });
        self.in_flight = Some(watched.clone());
        InFlightWatch(watched)
    }

    /// Whether the watchdog gave up on this run.
    fn given_up(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|w| w.given_up.load(Ordering::SeqCst))
    }

    /// Checks a call against the grant and the kernel's size limits; `Err` is the answer
    /// the plugin gets without the device being touched.
    fn admit(
        &self,
        scope: Scope,
        request: &[u8],
        capacity: usize,
        classification: &Classification,
    ) -> Result<(), RpcError> {
        if self.audit.as_ref().is_some_and(AuditTrail::is_broken) {
            return Err(RpcError::NotGranted("the audit log cannot be written, so no RPC may be made".into()));
        }
        if request.len() > MAX_RPC_LEN || capacity > MAX_RPC_LEN {
            return Err(RpcError::TooLarge(MAX_RPC_LEN as u32));
        }
        self.grant
            .check(self.descriptor.kind, &self.descriptor.name, scope, request, classification)
            .map_err(|denial| RpcError::NotGranted(denial.0))?;
        if self.gone {
            return Err(RpcError::DeviceGone);
        }
        Ok(())
    }

    /// Writes one attempt's outcome to the audit trail, if there is one.
    fn record(&self, call: &Call<'_>, seq: Option<u64>, outcome: RpcOutcome, took: Duration) {
        if let Some(trail) = &self.audit {
            trail.record(&self.descriptor, call.attempt(), seq, outcome, took);
        }
    }

    /// Writes the answer to a call on the record as `sent`, if there is a trail.
    fn record_answer(&self, call: &Call<'_>, sent: Option<Sent>, outcome: RpcOutcome, took: Duration) {
        if let (Some(trail), Some(sent)) = (&self.audit, sent) {
            trail.record_answer(&self.descriptor, call.attempt(), sent, outcome, took);
        }
    }

    /// Puts an admitted call on the record before it is sent: `Ok(None)` without a trail,
    /// `Err` when the record cannot be written (the call must then not be made).
    fn record_sent(&self, call: &Call<'_>) -> Result<Option<Sent>, RpcError> {
        match &self.audit {
            None => Ok(None),
            Some(trail) => trail
                .record_sent(&self.descriptor, call.attempt())
                .map(Some)
                .ok_or_else(|| RpcError::NotGranted("the audit log cannot be written, so no RPC may be made".into())),
        }
    }

    /// Turns the backend's answer into the plugin's, remembering a removal.
    fn answer(&mut self, result: Result<usize, Errno>, mut response: Vec<u8>) -> Result<RpcResponse, RpcError> {
        match result {
            Ok(length) => {
                // The driver may report more than fits (kernel semantics); hand back only
                // what was copied, and the full length so the plugin can retry.
                response.truncate(length.min(response.len()));
                Ok(RpcResponse { data: response, length: length as u32 })
            }
            Err(Errno::ENODEV) => {
                self.gone = true;
                Err(RpcError::DeviceGone)
            }
            Err(errno) => Err(RpcError::Kernel(to_wit_errno(errno))),
        }
    }
}

/// One RPC as the plugin asked for it, and what the host made of it.
struct Call<'a> {
    scope: Scope,
    request: &'a [u8],
    capacity: usize,
    classification: &'a Classification,
}

impl Call<'_> {
    fn attempt(&self) -> audit::Attempt<'_> {
        audit::Attempt {
            scope: self.scope,
            request: self.request,
            response_capacity: self.capacity,
            classification: self.classification,
        }
    }
}

/// The WIT form of an errno: the number and its symbolic name.
pub fn to_wit_errno(errno: Errno) -> types::Errno {
    types::Errno { code: errno as i32 as u32, name: format!("{errno:?}") }
}

fn wit_scope(scope: Scope) -> types::Scope {
    match scope {
        Scope::Configuration => types::Scope::Configuration,
        Scope::DebugReadOnly => types::Scope::DebugReadOnly,
        Scope::DebugWrite => types::Scope::DebugWrite,
        Scope::DebugWriteFull => types::Scope::DebugWriteFull,
    }
}

fn scope_from_wit(scope: types::Scope) -> Scope {
    match scope {
        types::Scope::Configuration => Scope::Configuration,
        types::Scope::DebugReadOnly => Scope::DebugReadOnly,
        types::Scope::DebugWrite => Scope::DebugWrite,
        types::Scope::DebugWriteFull => Scope::DebugWriteFull,
    }
}

fn wit_kind(kind: DeviceKind) -> types::DeviceKind {
    match kind {
        DeviceKind::Mlx5 => types::DeviceKind::Mlx5,
        DeviceKind::Cxl => types::DeviceKind::Cxl,
        DeviceKind::Bnxt => types::DeviceKind::Bnxt,
        DeviceKind::Pds => types::DeviceKind::Pds,
    }
}

impl Host for RunState {}

impl HostDevice for RunState {
    fn info(&mut self, device: Resource<GrantedDevice>) -> wasmtime::Result<types::DeviceInfo> {
        let device = self.table.get(&device)?;
        let d = &device.descriptor;
        Ok(types::DeviceInfo {
            name: d.name.clone(),
            kind: wit_kind(d.kind),
            parent: d.parent.clone(),
            pci_address: d.pci_address.clone(),
            cxl_memdev: d.cxl_memdev.clone(),
            driver: d.driver.clone(),
            device_data: device.device_data.clone(),
            granted_scope: wit_scope(device.grant.scope),
            simulated: d.simulated,
        })
    }

    fn rpc(
        &mut self,
        device: Resource<GrantedDevice>,
        scope: types::Scope,
        request: Vec<u8>,
        response_capacity: u32,
    ) -> wasmtime::Result<Result<RpcResponse, RpcError>> {
        // A run the watchdog gave up on (stuck in the kernel past its deadline) sends no more.
        let granted = self.table.get_mut(&device)?;
        if granted.given_up() {
            return Err(RunFailure::Timeout { limit: self.limits.timeout }.into());
        }
        // Never on the async executor: a call there could hold every other run.
        if granted.in_flight.is_none() && granted.handle.may_block() {
            return Err(wasmtime::Error::msg(
                "fwctl-run: a device that may block was given to a run without a thread of its own",
            ));
        }
        // The budget counts every attempt, refused ones included, and ends the run when
        // spent: a plugin looping on RPCs must not hold a device forever.
        let attempted = {
            let mut progress = self.progress.lock();
            progress.rpcs += 1;
            progress.rpcs
        };
        if attempted > self.limits.rpc_budget {
            return Err(RunFailure::RpcBudget { limit: self.limits.rpc_budget }.into());
        }
        let scope = scope_from_wit(scope);
        let capacity = response_capacity as usize;
        // Classified once: the same judgement decides the call and goes on the record.
        let classification = classify(granted.descriptor.kind, &request);
        if let Err(refusal) = granted.admit(scope, &request, capacity, &classification) {
            let reason = match &refusal {
                RpcError::NotGranted(reason) => {
                    self.progress.lock().output.denials.push(reason.clone());
                    reason.clone()
                }
                RpcError::TooLarge(limit) => {
                    format!("request or response above fwctl's {limit}-byte limit")
                }
                RpcError::DeviceGone => "the device is gone".into(),
                RpcError::Kernel(e) => e.name.clone(),
            };
            let call = Call { scope, request: &request, capacity, classification: &classification };
            granted.record(&call, None, RpcOutcome::Denied { reason }, Duration::ZERO);
            return Ok(Err(refusal));
        }
        let sent = Call { scope, request: &request, capacity, classification: &classification };
        let on_record = match granted.record_sent(&sent) {
            Ok(on_record) => on_record,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let seq = on_record.map(|sent| sent.seq);
        // The call is made in place: a device that answers at once costs no hop, and one
        // that may wait on firmware runs on a thread of its own, whose watchdog keeps the
        // deadline should the kernel hold the call.
        if let Some(watched) = &granted.in_flight
            && !watched.begin(&sent, seq)
        {
            return Err(RunFailure::Timeout { limit: self.limits.timeout }.into());
        }
        let mut response = vec![0u8; capacity];
        let started = Instant::now();
        let result = granted.handle.rpc(scope.raw(), &request, &mut response);
        let took = started.elapsed();
        // The watchdog abandoned it (on the record) while the kernel held us.
        let abandoned = match (&granted.in_flight, seq) {
            (Some(watched), Some(_)) => !watched.end(),
            _ => false,
        };
        let outcome = match &result {
            Ok(length) => audit::answered(granted.descriptor.kind, &response, *length),
            Err(Errno::ENODEV) => RpcOutcome::Gone,
            Err(errno) => RpcOutcome::Errno(*errno),
        };
        let call = Call { scope, request: &request, capacity, classification: &classification };
        if !abandoned {
            granted.record_answer(&call, on_record, outcome, took);
        }
        let answer = granted.answer(result, response);
        if matches!(answer, Err(RpcError::DeviceGone)) {
            self.progress.lock().device_gone = true;
        }
        Ok(answer)
    }

    fn drop(&mut self, device: Resource<GrantedDevice>) -> wasmtime::Result<()> {
        // The host passes the device as a borrow; the table entry is released when the
        // store goes away, so an explicit drop from the guest is just bookkeeping.
        let _ = device;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, PluginIdentity};
    use fwctl_devices::Backend;

    #[test]
    fn a_call_begun_after_the_watchdog_gave_up_is_not_made_and_is_on_the_record_as_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let plugin = PluginIdentity { name: "p".into(), version: "1".into(), digest: "sha256:00".into(), signer: None };
        let trail = AuditTrail::new(log.clone(), plugin);
        let device = fwctl_devices::sim::SimBackend::default_fleet().discover().unwrap().remove(0);
        let watch = InFlightWatch(Arc::new(Watched {
            trail: Some(trail.clone()),
            device: device.clone(),
            pending: Mutex::default(),
            given_up: AtomicBool::new(false),
        }));
        let request = [0x01, 0x0a, 0, 0, 0, 0, 0, 0];
        let classification = fwctl_proto::effect::classify_mlx5(&request);
        let call =
            Call { scope: Scope::DebugReadOnly, request: &request, capacity: 16, classification: &classification };
        // The run passed its `given_up` check and wrote `sent` (on a slow disk, say) when
        // the watchdog gave up: nothing was in flight then.
        let seq = trail.record_sent(&device, call.attempt()).unwrap().seq;
        watch.abandon();
        assert!(!watch.0.begin(&call, Some(seq)), "the call must not be made");
        log.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let outcomes: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let outcomes: Vec<_> = outcomes.iter().map(|l| (l["seq"].as_u64(), l["outcome"].as_str())).collect();
        assert_eq!(outcomes, [(Some(seq), Some("sent")), (Some(seq), Some("abandoned"))]);
        // Before any giving up, a call begins and is the watchdog's to abandon.
        let fresh = Watched { trail: None, device, pending: Mutex::default(), given_up: AtomicBool::new(false) };
        assert!(fresh.begin(&call, None));
        assert!(!fresh.end(), "nothing on the record to take back");
    }
}
