//! `config rendered`: each process's config under a header line naming it.

use lgtm_model::wire::RenderedHost;

use super::{join_roles, printable_lines};

/// `# host h1 · lgtm-loki.service · loki:all · /var/lib/lgtm/loki`, then the YAML, per process.
pub fn rendered(r: &RenderedHost) -> String {
    if r.processes.is_empty() {
        return format!(
            "{} runs no backend process here (index {})\n",
            r.host, r.index
        );
    }
    let mut out = String::new();
    for p in &r.processes {
        out.push_str(&format!(
            "# host {} · {} · {} · {} (index {})\n",
            r.host,
            p.unit,
            join_roles(&p.roles),
            printable_lines(&p.data_dir),
            r.index
        ));
        // Control characters cannot reach the terminal; YAML needs none.
        out.push_str(&printable_lines(&p.config));
        out.push_str("\n\n");
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_model::process::ProcessId;
    use lgtm_model::wire::RenderedProcess;

    #[test]
    fn one_header_per_process() {
        let role = "loki:all".parse().unwrap();
        let id = ProcessId::for_role(role);
        let r = RenderedHost {
            host: "h1".parse().unwrap(),
            index: 4,
            processes: vec![RenderedProcess {
                id,
                unit: id.unit_name(),
                roles: vec![role.into()],
                data_dir: "/var/lib/lgtm/loki".into(),
                config: "a: 1\nb: <redacted>\n".into(),
            }],
        };
        assert_eq!(
            rendered(&r),
            "# host h1 · lgtm-loki.service · loki:all · /var/lib/lgtm/loki (index 4)\na: 1\nb: <redacted>\n"
        );
        let empty = RenderedHost {
            processes: vec![],
            ..r
        };
        assert_eq!(
            rendered(&empty),
            "h1 runs no backend process here (index 4)\n"
        );
    }
}
