//! Host facts for reports, gathered with sysinfo: CPUs, load, memory, and the filesystems
//! holding the data directories.

use std::path::Path;

use lgtm_model::wire::{DiskFact, HostFacts};
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System};

/// Keeps sysinfo's handles between reports.
#[derive(Debug)]
pub struct Facts {
    system: System,
    disks: Disks,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::new()
    }
}

impl Facts {
    /// Reads the CPU list once.
    pub fn new() -> Facts {
        let kind = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        Facts {
            system: System::new_with_specifics(kind),
            disks: Disks::new(),
        }
    }

    /// Current facts; `dirs` are the data directories (they need not exist yet).
    pub fn gather(&mut self, dirs: &[String]) -> HostFacts {
        self.system.refresh_memory();
        self.disks.refresh(true);
        let mounts: Vec<(&Path, u64, u64)> = self
            .disks
            .list()
            .iter()
            .map(|d| (d.mount_point(), d.total_space(), d.available_space()))
            .collect();
        let disks = dirs
            .iter()
            .filter_map(|dir| {
                // The filesystem holding a path is the mount point with the longest prefix.
                let (_, total, available) = mounts
                    .iter()
                    .filter(|(m, ..)| Path::new(dir).starts_with(m))
                    .max_by_key(|(m, ..)| m.as_os_str().len())?;
                Some(DiskFact {
                    path: dir.clone(),
                    total_bytes: *total,
                    available_bytes: *available,
                })
            })
            .collect();
        HostFacts {
            cpus: u32::try_from(self.system.cpus().len()).unwrap_or(u32::MAX),
            load1: System::load_average().one,
            memory_total_bytes: self.system.total_memory(),
            memory_available_bytes: self.system.available_memory(),
            disks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_something_real() {
        let mut f = Facts::new();
        let facts = f.gather(&["/var/lib/lgtm/mimir".to_owned()]);
        assert!(facts.cpus >= 1);
        assert!(facts.memory_total_bytes > 0);
        assert!(facts.memory_available_bytes <= facts.memory_total_bytes);
        // `/` (or a mount below it) holds every path, when sysinfo sees any disk at all.
        if !f.disks.list().is_empty() {
            assert_eq!(facts.disks.len(), 1, "{facts:?}");
            assert!(facts.disks[0].total_bytes > 0);
        }
    }
}
