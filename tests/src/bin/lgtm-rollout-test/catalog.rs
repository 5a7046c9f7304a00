//! The playbook's copy of the role catalog (`ansible/roles/lgtm_common/vars/main.yml`), which
//! it checks inventories against before changing anything, must list the model's roles.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lgtm_model::Backend;
    use lgtm_model::catalog::catalog;

    #[derive(serde::Deserialize)]
    struct Vars {
        lgtm_catalog: BTreeMap<String, Vec<String>>,
    }

    #[test]
    fn the_playbook_knows_every_role_of_the_model() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ansible/roles/lgtm_common/vars/main.yml"
        );
        let text = std::fs::read_to_string(path).expect("read the playbook's vars");
        let vars: Vars = serde_yaml_ng::from_str(&text).expect("vars/main.yml parses");
        for backend in Backend::ALL {
            let mut want: Vec<&str> = catalog(backend).names().collect();
            let mut have: Vec<&str> = vars.lgtm_catalog[backend.as_str()]
                .iter()
                .map(String::as_str)
                .collect();
            want.sort_unstable();
            have.sort_unstable();
            assert_eq!(have, want, "lgtm_catalog.{backend} in {path}");
        }
        assert_eq!(vars.lgtm_catalog.len(), Backend::ALL.len());
    }
}
