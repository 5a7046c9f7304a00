# %postun of lgtm-agent. $1: 0 on removal, 1 on upgrade.
# %systemd_postun_with_restart, written out: on upgrade try-restart the agent only (a stopped
# agent stays stopped); backends are never restarted by a package operation. RPM has no
# purge: /etc/lgtm (agent.toml is %config(noreplace), kept as .rpmsave if changed), the
# backends' units, configs and data, and /var/lib/lgtm-agent all stay after removal.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart lgtm-agent.service >/dev/null 2>&1 || :
fi
