# %post of lgtm-agent. $1: 1 on installation, 2 on upgrade.
# Fedora's %tmpfiles_create and %systemd_post, written out (cargo-generate-rpm expands no
# macros): create /var/lib/lgtm, and on installation enable the agent as the presets say
# (80-lgtm-agent.preset: enabled). Not started, as Fedora packages do: it starts on the next
# boot or with `systemctl start lgtm-agent` once /etc/lgtm/agent.toml names the coordinator.
systemd-tmpfiles --create /usr/lib/tmpfiles.d/lgtm-agent.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset lgtm-agent.service >/dev/null 2>&1 || :
fi
