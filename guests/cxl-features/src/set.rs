//! `set`: provisions a Feature at the scope its effects require.
//!
//! The current value is read first so the report shows the change; `--dry-run` stops
//! there. After the Set the value is read back, and when the Feature's get and set
//! layouts are the same size, the written bytes are checked.

use fwctl_sdk::cxl::{self, DEFAULT_READ_CHUNK, FeatureEntry, Selection};
use fwctl_sdk::{RpcError, Severity, fact, finding};

use crate::command::SetRequest;
use crate::{hex, list};

/// What each reason a Feature cannot be set means, for the operator.
fn explain(why: &str) -> &'static str {
    match why {
        "kernel-owned" => "the kernel owns it (EDAC/RAS) and refuses user-space changes",
        "not-changeable" => "the device reports it as not changeable",
        _ => "its effects are ones the kernel refuses to let user space trigger",
    }
}

pub fn run(device: &fwctl_sdk::Device, entry: &FeatureEntry, request: &SetRequest) -> Result<(), String> {
    let uuid = entry.uuid;
    let name = list::name(entry);
    let scope = entry
        .set_scope()
        .map_err(|why| format!("Feature {uuid} ({name}) cannot be set through fwctl: {}", explain(why)))?;
    let (offset, data) = (request.offset as usize, request.data.as_slice());
    let end = offset + data.len();
    if end > entry.set_size as usize {
        return Err(format!(
            "{} byte(s) at offset {offset} exceed Feature {uuid}'s set size of {} bytes",
            data.len(),
            entry.set_size
        ));
    }
    let read = |when: &str| {
        cxl::read_feature(device, entry, Selection::Current, DEFAULT_READ_CHUNK)
            .map_err(|e| format!("Get Feature {uuid} {when} the Set: {e}"))
    };
    let before = read("before")?;
    fact("feature", uuid.to_string());
    fact("feature-name", name);
    fact("set-scope", scope.as_str());
    fact("offset", request.offset);
    fact("data", hex(data));
    fact("before", hex(&before));

    if request.dry_run {
        finding(
            Severity::Info,
            "cxl.set.dry-run",
            format!(
                "would write {} byte(s) at offset {offset} of {uuid} ({name}) at {scope}; nothing was sent",
                data.len()
            ),
        )
        .detail("scope", scope.as_str())
        .report();
        return Ok(());
    }

    cxl::set_feature(device, entry, request.offset, data).map_err(|e| match e {
        cxl::Error::Rpc(RpcError::NotGranted(reason)) => format!(
            "Set Feature {uuid} needs {scope} and a granted write, which this run does not have ({reason}); \
             the operator's policy must allow both (`writes = [\"cxl\"]`) and the run needs --allow-taint"
        ),
        other => format!("Set Feature {uuid}: {other}"),
    })?;
    let after = read("after")?;
    fact("after", hex(&after));
    // Only a Feature whose get and set layouts match can be checked byte for byte.
    if entry.get_size == entry.set_size && after.get(offset..end) != Some(data) {
        finding(
            Severity::Error,
            "cxl.set.not-applied",
            format!("the device accepted the Set of {uuid} but reads back {}", hex(&after)),
        )
        .report();
    } else {
        finding(
            Severity::Info,
            "cxl.set.applied",
            format!("wrote {} byte(s) at offset {offset} of {uuid} ({name}) at {scope}", data.len()),
        )
        .detail("scope", scope.as_str())
        .report();
    }
    Ok(())
}
